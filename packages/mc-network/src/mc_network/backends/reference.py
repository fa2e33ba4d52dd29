"""The NumPy reference backend: the spec's exact per-step order, float32 by default.

Every step first runs all synapse groups on the neuron state of the previous step (weight
updates, then the input sums in ascending presynaptic order), then every population collects
its inputs (zeroed each step) and runs its update. With the float32 evaluation order of the
spec this reproduces the original GeNN 4.6 code bit for bit. The batch axis simulates
independent members together, each bit-identical to running it alone.

This backend is written for clarity and exactness, not speed: it loops over time steps in
Python. The ``compiled`` backend runs the same maths as compiled code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mc_models import get_activation
from mc_models.neurons import bias, interneuron, output, pyramidal, rate_player
from mc_models.synapses import (
    delta_rule_step,
    feedback,
    forward,
    inter_to_pyr,
    presyn_sum,
    pyr_to_inter,
)
from mc_network.backends.base import HostArrays, ProgressFn, Simulation, StageInputs
from mc_network.models import neuron_model, neuron_params, synapse_model, synapse_params
from mc_network.record import RecordPlan
from mc_network.topology import PopKind, ProjKind

__all__ = ["ReferenceSimulation"]

_TARGET_FN = {
    ProjKind.FORWARD: forward.target,
    ProjKind.P2I: pyr_to_inter.target,
    ProjKind.I2P: inter_to_pyr.target,
}
_COUNTERS = ("index", "step_counter")


class ReferenceSimulation(HostArrays, Simulation):
    """NumPy reference simulation (see the module docstring)."""

    backend_name = "reference"
    supports_noise_replay = True

    def __init__(self, spec, seeds, weights=None) -> None:
        super().__init__(spec, seeds, weights)
        b, dt, dtype = self.batch_size, spec.dt, self.dtype
        self.activation = get_activation(spec.activation)
        self.params = {}
        self.neurons: dict[str, dict[str, np.ndarray]] = {}
        for pop in self.topology.populations:
            model = neuron_model(spec, pop.kind)
            self.params[pop.name] = model.resolve(neuron_params(spec, pop), dt, dtype)
            state = model.initial_state((b, pop.size), dtype, self.params[pop.name])
            for c in _COUNTERS:
                if c in state:
                    state[c] = np.zeros((b, 1), dtype=np.int32)
            self.neurons[pop.name] = state
        self.synapses: dict[str, dict[str, np.ndarray]] = {}
        self.syn_params = {}
        for proj in self.topology.projections:
            model = synapse_model(proj.kind)
            self.syn_params[proj.name] = model.resolve(synapse_params(spec, proj), dt, dtype)
            if proj.one_to_one:
                continue
            syn = {"g": self._initial_weights[proj.name].copy()}
            if proj.has_delta:
                syn["delta"] = np.zeros_like(syn["g"])
            self.synapses[proj.name] = syn
        self._pyr = self.topology.pyramidal_names()
        self._pyr_slices = {}
        start = 0
        for name in self._pyr:
            n = self.topology.population(name).size
            self._pyr_slices[name] = slice(start, start + n)
            start += n
        self._n_noise = start

    # ------------------------------------------------------------------ one step
    def _synapse_phase(self, learning: bool, teaching: bool) -> dict[str, np.ndarray]:
        insyn: dict[str, np.ndarray] = {}
        for proj in self.topology.projections:
            pre, post = self.neurons[proj.pre], self.neurons[proj.post]
            if proj.kind is ProjKind.DOWN_TO_INTER:
                insyn[proj.name] = pre["v_brev"].copy()
                continue
            if proj.kind is ProjKind.TEACHER:
                insyn[proj.name] = pre["rate"].copy() if teaching else None
                continue
            syn, p = self.synapses[proj.name], self.syn_params[proj.name]
            if learning and proj.plastic and proj.eta != 0:
                dt_eta = p.dt * p.eta
                if proj.kind is ProjKind.FEEDBACK:
                    feedback.numpy_update(syn["g"], dt_eta, p.alpha, pre, post)
                else:
                    target = _TARGET_FN[proj.kind](dt_eta, pre, post)
                    delta_rule_step(syn["g"], syn["delta"], target, p.h)
            insyn[proj.name] = presyn_sum(syn["g"], pre["rate"])
        return insyn

    def _collect_inputs(self, insyn: dict[str, np.ndarray | None]) -> dict[str, dict]:
        inputs: dict[str, dict[str, np.ndarray]] = {}
        for proj in self.topology.projections:
            x = insyn[proj.name]
            if x is None:
                continue
            per_pop = inputs.setdefault(proj.post, {})
            # GeNN zeroes every input variable and then adds each group's inSyn in turn.
            acc = per_pop.get(proj.target)
            per_pop[proj.target] = (self._zero(proj.post) if acc is None else acc) + x
        return inputs

    def _zero(self, pop: str) -> np.ndarray:
        return np.zeros_like(self.neurons[pop]["rate"])

    def _neuron_phase(self, inputs, stage: StageInputs, xi, teaching: bool) -> None:
        act = self.activation
        for pop in self.topology.populations:
            s, p = self.neurons[pop.name], self.params[pop.name]
            got = inputs.get(pop.name, {})

            def inp(name, got=got, pop=pop):
                return got[name] if name in got else self._zero(pop.name)

            if pop.kind is PopKind.INPUT:
                rate_player.numpy_step(s, stage.inputs, stage.order, p)
            elif pop.kind is PopKind.TEACHER:
                rate_player.numpy_step(s, stage.teacher, stage.order, p)
            elif pop.kind is PopKind.BIAS:
                bias.numpy_step(s, p)
            elif pop.kind is PopKind.PYRAMIDAL:
                noise = xi[:, self._pyr_slices[pop.name]]
                pyramidal.numpy_step(
                    s, inp("Isyn_up"), inp("Isyn_down"), inp("Isyn_inter"), noise, p, act
                )
            elif pop.kind is PopKind.INTER:
                interneuron.numpy_step(s, inp("Isyn_pyramidal"), inp("Isyn_down"), p, act)
            else:
                output.numpy_step(s, inp("Isyn_up"), inp("Isyn_target"), p, act, teaching)

    # ------------------------------------------------------------------ a stage
    def _reset_players(self, stage: StageInputs) -> None:
        x0, t0 = stage.first_rates()
        rate_player.numpy_reset(self.neurons["input"], x0)
        rate_player.numpy_reset(self.neurons["teacher"], t0)

    def _noise_chunk(self, n_steps: int, stage: StageInputs, start: int) -> np.ndarray:
        """The draws xi of ``n_steps`` steps from ``start``, ``(n_steps, B, n_pyr)``."""
        if stage.noise is not None:  # a replayed trace: the noise streams are not used
            return np.swapaxes(stage.noise[:, start : start + n_steps], 0, 1)
        if not self.spec.noisy:
            return np.zeros((n_steps, self.batch_size, self._n_noise), dtype=self.dtype)
        draws = [
            s.noise.standard_normal((n_steps, self._n_noise), dtype=np.float32)
            for s in self.streams
        ]
        return np.stack(draws, axis=1).astype(self.dtype)

    def _run(
        self,
        stage: StageInputs,
        learning: bool,
        teaching: bool,
        plan: RecordPlan,
        out: dict[str, np.ndarray],
        progress: ProgressFn | None,
    ) -> None:
        self._reset_players(stage)
        sps = stage.steps_per_sample
        lag = round(self.spec.player.learning_lag / self.spec.dt) if learning else 0
        getters = {v: self._getter(v) for v in plan.variables}
        chunk = 4096
        xi_chunk = None
        for k in range(stage.n_steps):
            if k % chunk == 0:
                xi_chunk = self._noise_chunk(min(chunk, stage.n_steps - k), stage, k)
            in_lag = lag > 0 and (k % sps) < lag
            learn_now, teach_now = learning and not in_lag, teaching and not in_lag
            insyn = self._synapse_phase(learn_now, teach_now)
            self._neuron_phase(self._collect_inputs(insyn), stage, xi_chunk[k % chunk], teach_now)
            if k % plan.every == 0:
                r = k // plan.every
                for v, get in getters.items():
                    out[v][:, r] = get()
            if progress is not None and (k + 1) % sps == 0:
                progress((k + 1) // sps)

    def _getter(self, var: str):
        owner, name = var.split(".")
        if owner in self.neurons:
            arrays = self.neurons[owner]
        else:
            arrays = self.synapses[owner]
        return lambda: arrays[name]

    # ------------------------------------------------------------------ weights and state
    def get_state(self) -> dict[str, Any]:
        """Neuron and synapse variables and the noise generators' states, as copies."""
        state = self._copy_arrays()
        state["noise_rng"] = [s.noise.bit_generator.state for s in self.streams]
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""
        self._restore_arrays(state)
        rng_states = state["noise_rng"]
        if len(rng_states) != self.batch_size:
            raise ValueError(f"state: {len(rng_states)} noise streams for batch {self.batch_size}")
        for s, st in zip(self.streams, rng_states, strict=True):
            s.noise.bit_generator.state = st
