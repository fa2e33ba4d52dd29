"""The GeNN backend: pygenn 5 code generation, single-threaded CPU or CUDA.

Every population and synapse group is rendered from the mc-models definitions (see
``mc_network.backends._genn_build``). A whole stage runs with its input and teacher rates
resident on the device: array extra global parameters hold every sample of the stage and
every member's presentation order, and the rate players index them. Learning and teaching
are GeNN dynamic parameters. In the step loop Python only calls ``step_time()``, pulls the
variables a record plan asks for every ``plan.every`` steps, and switches learning and
teaching off and on around the learning-lag window when ``player.learning_lag > 0``.

Resident stage data: the players' arrays are allocated for ``max_samples`` samples (a
constructor hint, default 1). Rates given as ``(N, n)`` (shared by the batch) are stored
once; per-member rates ``(B, N, n)`` once per member. A larger stage (or the first
per-member one) unloads the model and loads it again with room for it; the generated code
does not depend on the size, so this rebuild compiles nothing. Pass the largest stage's
size as ``max_samples`` to avoid it.

Batching: on CUDA the members are one GeNN model with ``batch_size = B`` (every neuron and
weight variable duplicated per member). GeNN's single-threaded CPU backend allows batch size
1 only, so there the members run one after another through one loaded model, each member's
state (and noise generator) swapped in and out around each stage.

Noise: on the CPU backend (64-bit Linux) each member's OU noise comes from its own
generator, seeded from the member's run seed and saved in :meth:`GeNNSimulation.get_state`
(see ``mc_network.backends._genn_rng``): a batch member draws the noise it draws alone,
and a checkpoint continues bit for bit. On CUDA (and on the CPU elsewhere or with
``MC_GENN_HOST_RNG=0``) GeNN's generators are seeded once from all members' seeds, compiled
into the code (so part of the cache key when the noise is on); they cannot be saved, so
``noise_rng`` is ``None`` per member and a checkpoint restores everything except the noise
stream; simulations of one process that share a loaded model share its stream. The noise is
GeNN's own (``gennrand_normal``), statistically but not sample-wise equal to the NumPy
backends' noise.

Input mode: with the network's ``input_mode: fast`` the projections the step program marks
run sample-factorised (``mc_network.backends._genn_fast``): Python ends, starts and steps
their segments around ``step_time()``. On the CPU device the results are the reference
backend's fast-mode results bit for bit.

Build mode: ``exact=True`` (the default) compiles without value-changing floating-point
flags (CPU: ``-O3 -ffp-contract=off``, every parameter written as its float32 value), so the
CPU device equals the reference backend bit for bit; ``exact=False`` is GeNN's fast build
(``-O3 -ffast-math``). :meth:`GeNNSimulation.build_info` reports the mode.

Code cache: the generated code goes to ``<root>/<key>/``, ``root`` being ``cache_dir``,
``$MC_GENN_CACHE`` or ``~/.cache/mc-network/genn``, never the current directory; ``key``
hashes everything that determines the code (:func:`cache_key`); a file lock keeps
concurrent builds of one key apart.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from mc_network.backends import _genn_rng
from mc_network.backends._genn_build import (
    LOADED,
    Loaded,
    build_and_load,
    build_mode,
    cache_key,
    cache_root,
    check_cuda_device,
    check_device,
    import_pygenn,
)
from mc_network.backends._genn_fast import Segments
from mc_network.backends._genn_groups import describe as describe_groups
from mc_network.backends.base import HostArrays, ProgressFn, Simulation, StageInputs, StageStart
from mc_network.record import RecordPlan

__all__ = ["GeNNSimulation", "cache_key"]

log = logging.getLogger(__name__)
_NOISE_TAG = 0x47454E4E  # spawn-key word of the GeNN noise stream ("GENN")


def _fill(v, values, nb: int) -> None:
    """Write ``values`` (broadcast to ``(nb, per-member size)``) into a variable and push it."""
    v.view[...] = np.broadcast_to(values, (nb, v.view.size // nb)).reshape(v.view.shape)
    v.push_to_device()


class GeNNSimulation(HostArrays, Simulation):
    """GeNN simulation (see the module docstring).

    Parameters
    ----------
    spec, seeds, weights
        As for every backend (:class:`~mc_network.backends.base.Simulation`).
    device
        ``"single_threaded_cpu"`` or ``"cuda"``.
    cache_dir
        Root of the code cache (default ``$MC_GENN_CACHE`` or ``~/.cache/mc-network/genn``).
    optimize
        Compile the CPU code with optimisation (``-O3``). No effect on CUDA, where nvcc
        optimises the device code by default.
    exact
        The exact build (the default): no value-changing floating-point flags, so every
        operation is the IEEE float operation the code spells, in its order, and the CPU
        device gives the reference backend's numbers bit for bit. On the CPU ``-O3
        -ffp-contract=off`` (GCC or Clang; another compiler builds unoptimised) instead of
        GeNN's ``-O3 -ffast-math``; on CUDA ``-fmad=false`` (no multiply-add contraction;
        CUDA's atomic summation order and device ``exp``/``log`` still differ). ``False``:
        the fast build (CPU: GeNN's ``-O3 -ffast-math``; CUDA: nvcc's default contraction),
        equal to the reference to float round-off only.
    max_samples
        Room for this many samples per stage on the device (grown on demand).
    cuda_device
        The GPU to run on (CUDA ordinal, after ``CUDA_VISIBLE_DEVICES``); default: GeNN
        chooses the device with the best occupancy for the model. Set it (or give each
        process its own ``CUDA_VISIBLE_DEVICES``) to spread processes over the GPUs of a node.

    Raises
    ------
    BackendUnavailable
        pygenn is missing or older than 5.0, or the device cannot be used here.
    ValueError
        An unknown device, or ``cuda_device`` that is not a GPU ordinal of a CUDA run.
    """

    backend_name = "genn"

    def __init__(
        self,
        spec,
        seeds,
        weights=None,
        device: str = "single_threaded_cpu",
        cache_dir: str | os.PathLike | None = None,
        optimize: bool = True,
        max_samples: int = 1,
        cuda_device: int | None = None,
        exact: bool = True,
    ) -> None:
        super().__init__(spec, seeds, weights)
        _, self._pg_version = import_pygenn()
        check_device(device)
        check_cuda_device(device, cuda_device)
        self.device, self.optimize, self.cuda_device = device, bool(optimize), cuda_device
        self.exact = bool(exact)
        self.build = build_mode(device, self.optimize, self.exact)
        if self.exact and self.optimize and device != "cuda" and self.build["cxx"] is None:
            log.warning(
                "GeNN exact build: the compiler %r is neither GCC nor Clang, so its "
                "value-preserving flags are unknown; building without optimisation",
                os.environ.get("CXX") or "g++",
            )
        b = self.batch_size
        self._nb = b if device == "cuda" else 1
        if self._nb < b:
            log.info(
                "GeNN %s runs batch size 1 only: the %d members run one after another",
                device,
                b,
            )
        self._swap_rng = device != "cuda" and _genn_rng.supported()
        if self._swap_rng or not spec.noisy:
            self._seed, key_seed = 1, None  # the compiled-in seed is not used
        else:
            word = np.random.SeedSequence(list(self.seeds)).generate_state(1)[0]
            self._seed = key_seed = int(word) or 1
        self._root = cache_root(cache_dir)
        # described once: what the cache key hashes is what is built
        self._descriptions = describe_groups(spec, self.program)
        self.key = cache_key(
            spec,
            device,
            self._nb,
            self._pg_version,
            self.optimize,
            key_seed,
            cuda_device,
            exact=self.exact,
            groups=self._descriptions,
        )
        self.code_dir = self._root / self.key
        self.neurons: dict[str, dict[str, np.ndarray]] = {}
        for op in self.program.neurons:
            self.neurons[op.population] = op.model.initial_state(
                (b, op.size), self.dtype, op.resolved
            )
        self.synapses: dict[str, dict[str, np.ndarray]] = {}
        for op in self.program.synapses:
            if op.model.vars:
                self.synapses[op.projection] = self._synapse_state(op)
        self._shared = {
            (op.population, v.name)
            for op in self.program.neurons
            for v in op.model.vars
            if v.shared
        }
        self._stage_start = StageStart(self.program)
        self._noise: list[dict[str, Any] | None] = [None] * b
        if self._swap_rng:
            for i, s in enumerate(self.streams):
                ss = s.noise.bit_generator.seed_seq
                child = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, _NOISE_TAG))
                self._noise[i] = _genn_rng.initial_state(child)
        self._warned_rng = False
        self._closed = True
        self._load(max(1, int(max_samples)), 1)
        LOADED[self.key].users += 1
        self._closed = False

    # ------------------------------------------------------------------ the loaded model
    @property
    def _loaded(self) -> Loaded:
        return LOADED[self.key]

    def _load(self, capacity: int, copies: int) -> None:
        current = LOADED.get(self.key)
        if current is not None:
            if current.capacity >= capacity and current.copies >= copies:
                return
            capacity = max(capacity, current.capacity)
            copies = max(copies, current.copies)
            log.info(
                "GeNN: reloading with room for %d samples per stage (%d copies of the rates)",
                capacity,
                copies,
            )
            current.model.unload()
        try:
            loaded = build_and_load(
                self.spec,
                self._descriptions,
                key=self.key,
                root=self._root,
                device=self.device,
                batch=self._nb,
                capacity=capacity,
                copies=copies,
                seed=self._seed,
                cuda_device=self.cuda_device,
                optimize=self.optimize,
                exact=self.exact,
                host_rng=self._swap_rng,
            )
        except BaseException:
            LOADED.pop(self.key, None)  # the old model (if any) is unloaded already
            raise
        loaded.users = current.users if current is not None else 0
        LOADED[self.key] = loaded

    # ------------------------------------------------------------------ device state
    def _members(self):
        if self._nb == self.batch_size:
            yield slice(0, self.batch_size)
        else:
            for b in range(self.batch_size):
                yield slice(b, b + 1)

    def _groups(self):
        ld = self._loaded
        for name, arrays in self.neurons.items():
            yield name, ld.pops[name], arrays
        for name, arrays in self.synapses.items():
            yield name, ld.syns[name], arrays

    def _push(self, members: slice) -> None:
        nb = members.stop - members.start
        for _, grp, arrays in self._groups():
            for var, arr in arrays.items():
                _fill(grp.vars[var], arr[members].reshape(nb, -1), nb)
        if self._swap_rng:
            self._loaded.host_rng.set(self._noise[members.start])

    def _pull(self, members: slice) -> None:
        for owner, grp, arrays in self._groups():
            for var, arr in arrays.items():
                v = grp.vars[var]
                v.pull_from_device()
                got = v.view.reshape(arr[members].shape[0], -1)
                # a shared counter: GeNN keeps one copy per neuron, all equal
                shared = (owner, var) in self._shared
                arr[members] = got[:, :1] if shared else got.reshape(arr[members].shape)
        if self._swap_rng:
            self._noise[members.start] = self._loaded.host_rng.get()

    def _set_switches(self, values: dict[str, bool]) -> None:
        """Set every group's switches (GeNN dynamic parameters) for the step's ``values``."""
        ld = self._loaded
        for ops, groups in ((self.program.neurons, ld.pops), (self.program.synapses, ld.syns)):
            for op in ops:
                name = getattr(op, "population", None) or op.projection
                for switch, on in op.switches(values).items():
                    groups[name].set_dynamic_param_value(switch, float(on))

    @staticmethod
    def _copies(stage: StageInputs, nb: int) -> int:
        """Copies of the rates the players hold: 1 if the batch shares them, else ``nb``."""
        return 1 if stage.inputs.shape[0] == stage.teacher.shape[0] == 1 else nb

    def _load_stage_data(self, stage: StageInputs, members: slice) -> None:
        """The players' resident data: these members' rates and orders, and their offsets."""
        n_s, nb = stage.n_samples, members.stop - members.start
        order = stage.order[members]
        b_idx = np.arange(nb)[:, None]
        rates = {"inputs": stage.inputs, "teacher": stage.teacher}
        for op in self.program.neurons:
            if op.data is None:
                continue
            data, grp, n = rates[op.data], self._loaded.pops[op.population], op.size
            # shared rates: one copy, every member reads it; else this group's members' rates
            mine = data[:1] if data.shape[0] == 1 else data[members]
            copy_of = b_idx * 0 if data.shape[0] == 1 else b_idx
            egp = grp.extra_global_params
            egp["rates"].view[: mine.size] = mine.reshape(-1)
            egp["rates"].push_to_device()
            egp["order"].view[: nb * n_s] = order.reshape(-1).astype(np.uint32)
            egp["order"].push_to_device()
            values = {
                "order_base": b_idx * n_s,
                "rate_base": copy_of * n_s * n + np.arange(n)[None, :],
                "stride": n,
            }
            for var, val in values.items():
                _fill(grp.vars[var], val, nb)

    # ------------------------------------------------------------------ a stage
    def _run(
        self,
        stage: StageInputs,
        learning: bool,
        teaching: bool,
        plan: RecordPlan,
        out: dict[str, np.ndarray],
        progress: ProgressFn | None,
    ) -> None:
        self._load(stage.n_samples, self._copies(stage, self._nb))
        model = self._loaded.model
        sps, n_s, n_members = stage.steps_per_sample, stage.n_samples, self.batch_size
        lag = self.program.window(learning)
        ld = self._loaded
        recorded = []
        for full in plan.variables:
            owner, var = full.split(".")
            grp = ld.pops[owner] if owner in ld.pops else ld.syns[owner]
            recorded.append((full, grp.vars[var]))
        reported = 0
        self._stage_start(self.neurons, stage)  # the players' reset, on the host arrays
        flags = {"learning": learning, "teaching": teaching}
        off = dict.fromkeys(self.program.switches, False)
        # input_mode fast: the sample-factorised projections' segments (see _genn_fast)
        fast = [
            (
                Segments(
                    op,
                    model,
                    ld.syns[op.projection],
                    ld.pops[op.pre],
                    ld.segments[op.projection],
                    self._nb,
                    self.dtype,
                    copies=self.device == "cuda",
                ),
                [
                    op.switches(self.program.step_switches(flags, m, lag))[op.rule.switch]
                    for m in range(sps)
                ],
            )
            for op in self.program.factorised
        ]
        # a segment's weights are written back before they are recorded
        flush_on_record = fast and any(full.split(".")[0] in ld.syns for full in plan.variables)
        for members in self._members():
            self._push(members)
            self._load_stage_data(stage, members)
            self._set_switches(flags)
            for seg, _ in fast:
                seg.begin(flags)
            for k in range(stage.n_steps):
                if lag and k % sps == 0:
                    self._set_switches(off)
                elif lag and k % sps == lag:
                    self._set_switches(flags)
                for seg, learn in fast:
                    seg.before_step(learn[k % sps], k % sps == 0)
                model.step_time()
                if k % plan.every == 0:
                    if flush_on_record:
                        for seg, _ in fast:
                            seg.flush()
                    r = k // plan.every
                    for full, v in recorded:
                        v.pull_from_device()
                        dst = out[full][members, r]
                        dst[...] = v.view.reshape(dst.shape)
                if progress is not None and (k + 1) % sps == 0:
                    done = members.start * n_s + (k + 1) // sps * (members.stop - members.start)
                    done //= n_members
                    if done > reported:
                        reported = done
                        progress(done)
            for seg, _ in fast:
                seg.flush()
            self._pull(members)

    def build_info(self) -> dict[str, Any]:
        """The device, the build mode, the code-cache key and pygenn's version (JSON-ready).

        The build mode is ``mc_network.backends._genn_build.build_mode``'s: ``exact``,
        ``optimize``, GeNN's ``optimize_code``, the compiler command and the nvcc flags.
        """
        return {
            "device": self.device,
            "cuda_device": self.cuda_device,
            **self.build,
            "cache_key": self.key,
            "pygenn": self._pg_version,
        }

    # ------------------------------------------------------------------ weights and state
    def get_state(self) -> dict[str, Any]:
        """Neuron and synapse variables and each member's noise generator, as copies.

        ``noise_rng`` holds one JSON-ready dict per member on the CPU backend and ``None``
        per member on CUDA (GeNN's device generators cannot be saved).
        """
        return {**self._copy_arrays(), "noise_rng": copy.deepcopy(self._noise)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`get_state`.

        A ``noise_rng`` entry that is ``None`` or from another backend (or device) leaves
        that member's noise stream where it is (logged once, if the network has noise).
        """
        rng_states = state["noise_rng"]
        if len(rng_states) != self.batch_size:
            raise ValueError(f"state: {len(rng_states)} noise streams for batch {self.batch_size}")
        self._restore_arrays(state)
        for b, st in enumerate(rng_states):
            if self._swap_rng and isinstance(st, Mapping) and st.get("kind") == _genn_rng.KIND:
                self._noise[b] = copy.deepcopy(dict(st))
            elif self.spec.noisy and not self._warned_rng:
                self._warned_rng = True
                log.warning(
                    "GeNN (%s): the saved noise stream cannot be restored here; the noise "
                    "continues from the current generator state",
                    self.device,
                )

    def close(self) -> None:
        """Release this simulation's use of the shared GeNN model (unloaded with the last)."""
        if self._closed:
            return
        self._closed = True
        loaded = LOADED.get(self.key)
        if loaded is not None:
            loaded.users -= 1
            if loaded.users <= 0:
                loaded.model.unload()
                del LOADED[self.key]
