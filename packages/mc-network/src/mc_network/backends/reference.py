"""The NumPy reference backend: it interprets the step program, float32 by default.

Every step first runs all synapse operations on the neuron state of the previous step
(weight updates, then the input sums in ascending presynaptic order), then every population
collects its inputs (zeroed each step) and runs its update, each operation being its model's
NumPy rendering (:mod:`mc_models.render.numpy`). With the float32 evaluation order of the
spec this reproduces the original GeNN 4.6 code bit for bit. The batch axis simulates
independent members together, each bit-identical to running it alone.

This backend is written for clarity and exactness, not speed: it loops over time steps in
Python. The ``compiled`` backend runs the same program as compiled code.

The noise comes from one place, ``ReferenceSimulation._noise``: each member's
``noise`` stream, ``standard_normal((steps, n_draws), float32)`` per chunk of steps, or a
replayed trace (``run_stage(noise=...)``, in the layout of the step program's draws).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mc_models import get_activation
from mc_models.render.numpy import neuron_step, synapse_step
from mc_network.backends._factorised import Factorised
from mc_network.backends.base import (
    HostArrays,
    ProgressFn,
    Simulation,
    StageData,
    StageInputs,
    StageStart,
)
from mc_network.program import FactorisedOp
from mc_network.record import RecordPlan

__all__ = ["ReferenceSimulation"]

_CHUNK = 4096  # steps of noise drawn at a time


class ReferenceSimulation(HostArrays, Simulation):
    """NumPy reference simulation (see the module docstring)."""

    backend_name = "reference"
    supports_noise_replay = True

    def __init__(self, spec, seeds, weights=None) -> None:
        super().__init__(spec, seeds, weights)
        b, dtype = self.batch_size, self.dtype
        self._stage_start = StageStart(self.program)
        act = get_activation(spec.activation)
        self.neurons: dict[str, dict[str, np.ndarray]] = {}
        self._neuron_steps = {}
        for op in self.program.neurons:
            self._neuron_steps[op.population] = neuron_step(op.model, act, op.resolved)
            self.neurons[op.population] = op.model.initial_state((b, op.size), dtype, op.resolved)
        self._zeros = {
            op.population: np.zeros((b, op.size), dtype=dtype) for op in self.program.neurons
        }
        self.synapses: dict[str, dict[str, np.ndarray]] = {}
        self._synapse_steps = {}
        scratch: dict = {}  # the projections run one after another: one pool of matrices
        for op in self.program.synapses:
            self._synapse_steps[op.projection] = synapse_step(
                op.model, op.resolved, op.one_to_one, scratch
            )
            if op.model.vars:
                self.synapses[op.projection] = self._synapse_state(op)
        # what each operation works on, looked up once
        self._synapse_plan = [
            (
                op,
                self._synapse_steps[op.projection],
                self.synapses.get(op.projection),
                self.neurons[op.pre],
                self.neurons[op.post],
                self._zeros[op.post],
            )
            for op in self.program.synapses
        ]
        # input_mode fast: the sample-factorised projections (see mc_network.program)
        self._factorised = {
            op.projection: Factorised(op, step, weights, pre, post, b, dtype)
            for op, step, weights, pre, post, _ in self._synapse_plan
            if isinstance(op, FactorisedOp)
        }
        self._neuron_plan = [
            (
                op,
                self._neuron_steps[op.population],
                self.neurons[op.population],
                self._zeros[op.population],
            )
            for op in self.program.neurons
        ]

    # ------------------------------------------------------------------ one step
    def _step(
        self, switches: Mapping[str, bool], draws: np.ndarray, data, sample_start: bool = False
    ) -> None:
        inputs: dict[str, dict[str, np.ndarray]] = {name: {} for name in self.neurons}
        for op, step, weights, pre, post, zero in self._synapse_plan:
            if op.projection in self._factorised:
                x = self._factorised[op.projection](switches, sample_start)
                per_pop = inputs[op.post]
                acc = per_pop.get(op.target)
                per_pop[op.target] = (zero if acc is None else acc) + x
                continue
            sw = op.switches(switches)
            if weights is not None:
                step.update(weights, pre, post, sw)
            x = step.input_sum(weights, pre, post, sw)
            if x is None:
                continue
            # GeNN zeroes every input variable and then adds each group's inSyn in turn
            per_pop = inputs[op.post]
            acc = per_pop.get(op.target)
            per_pop[op.target] = (zero if acc is None else acc) + x
        for op, step, state, zero in self._neuron_plan:
            got = inputs[op.population]
            x = {i: got.get(i, zero) for i in op.model.inputs}  # zero: read only
            n, k0 = op.size, op.noise_offset
            mine = [draws[:, k0 + k * n : k0 + (k + 1) * n] for k in range(op.draws)]
            mine += [zero] * (op.model.n_draws - op.draws)  # noise off: the draws read 0
            step(state, x, op.switches(switches), mine, data.get(op.population))

    # ------------------------------------------------------------------ a stage
    def _noise(self, n_steps: int, stage: StageInputs, start: int) -> np.ndarray:
        """The draws of ``n_steps`` steps from ``start``, ``(n_steps, batch, n_draws)``.

        The one source of the noise: a replayed trace (``run_stage(noise=...)``; the noise
        streams are not used) or each member's ``noise`` stream.
        """
        if stage.noise is not None:
            return np.swapaxes(stage.noise[:, start : start + n_steps], 0, 1)
        n = self.program.n_draws
        if not n:
            return np.zeros((n_steps, self.batch_size, 0), dtype=self.dtype)
        draws = [s.noise.standard_normal((n_steps, n), dtype=np.float32) for s in self.streams]
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
        program, sps = self.program, stage.steps_per_sample
        self._stage_start(self.neurons, stage)
        data = StageData.of(program, stage)
        flags = {"learning": learning, "teaching": teaching}
        window = program.window(learning)
        getters = {v: self._getter(v) for v in plan.variables}
        fast = list(self._factorised.values())
        for f in fast:
            f.begin(flags)
        # a segment's weights are written back before they are recorded
        flush_on_record = fast and any(v.split(".")[0] in self.synapses for v in plan.variables)
        draws = None
        try:
            for k in range(stage.n_steps):
                if k % _CHUNK == 0:
                    draws = self._noise(min(_CHUNK, stage.n_steps - k), stage, k)
                switches = program.step_switches(flags, k % sps, window)
                self._step(switches, draws[k % _CHUNK], data, k % sps == 0)
                # segments end before a record of synapse variables (and when the rates change)
                if flush_on_record and k % plan.every == 0:
                    for f in fast:
                        f.flush()
                if k % plan.every == 0:
                    r = k // plan.every
                    for v, get in getters.items():
                        out[v][:, r] = get()
                if progress is not None and (k + 1) % sps == 0:
                    progress((k + 1) // sps)
        finally:
            for f in fast:
                f.flush()

    def _getter(self, var: str):
        owner, name = var.split(".")
        arrays = self.neurons[owner] if owner in self.neurons else self.synapses[owner]
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
