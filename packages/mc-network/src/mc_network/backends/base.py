"""The backend interface: build a network from a spec, run whole stages, get and set state."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mc_models import get_activation
from mc_models.render.numpy import neuron_step
from mc_network.init import check_self_predicting, initial_weights
from mc_network.program import StepProgram, lower
from mc_network.record import RecordPlan
from mc_network.seeding import run_streams
from mc_network.spec import NetworkSpec
from mc_network.topology import Topology, build_topology

__all__ = [
    "BackendUnavailable",
    "HostArrays",
    "Simulation",
    "StageData",
    "StageInputs",
    "StageStart",
    "prepare_stage",
]

ProgressFn = Callable[[int], None]


class BackendUnavailable(RuntimeError):
    """A backend was requested that cannot run here; the message says how to fix it."""


@dataclass(frozen=True)
class StageInputs:
    """Validated stage data: rates ``(S, N, n)`` and presentation order ``(B, N)``.

    ``S`` is 1 when one copy of the rates is shared by every member (the stage was given
    ``(N, n)`` arrays; nothing is copied per member) or ``B`` when each member has its own.
    Member ``b`` reads ``rates[b % S]``. ``noise``: a replayed noise trace ``(B, n_steps,
    n_draws)`` (in the step program's layout of the draws: every hidden pyramidal neuron,
    layers in order), or ``None`` to draw it.
    """

    inputs: np.ndarray
    teacher: np.ndarray
    order: np.ndarray
    steps_per_sample: int
    noise: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        """Samples in the stage."""
        return self.order.shape[1]

    def first_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """Each member's input and teacher rates of its first sample, ``(B, n)`` each."""
        b, first = np.arange(self.order.shape[0]), self.order[:, 0]
        return tuple(r[b % r.shape[0], first] for r in (self.inputs, self.teacher))

    @property
    def n_steps(self) -> int:
        """Time steps in the stage."""
        return self.n_samples * self.steps_per_sample


class StageData:
    """The rates a player population plays.

    ``sample(i)`` is each member's rates of the sample at position ``i`` of its order (``i``
    a number, or one per member, ``(B, 1)``).
    """

    def __init__(self, rates: np.ndarray, order: np.ndarray) -> None:
        self.rates, self.order = rates, order
        self._b = np.arange(order.shape[0])

    def sample(self, position: Any) -> np.ndarray:
        """``(B, n)``: member ``b``'s rates of sample ``order[b, position[b]]``."""
        if isinstance(position, np.ndarray) and position.shape == (self._b.size, 1):
            idx = position[:, 0]
        else:
            idx = np.broadcast_to(np.asarray(position), (self._b.size, 1))[:, 0]
        return self.rates[self._b % self.rates.shape[0], self.order[self._b, idx]]

    @staticmethod
    def of(program: StepProgram, stage: StageInputs) -> dict[str, StageData]:
        """The stage data of every population that plays some, by population name."""
        rates = {"inputs": stage.inputs, "teacher": stage.teacher}
        return {
            op.population: StageData(rates[op.data], stage.order)
            for op in program.neurons
            if op.data is not None
        }


class StageStart:
    """The populations' stage-start code (the players' reset), run on host arrays.

    Every backend runs it before a stage, on the arrays it holds the state in (or views of
    them): its models' NumPy rendering.
    """

    def __init__(self, program: StepProgram) -> None:
        act = get_activation(program.activation)
        self.program = program
        self.steps = {
            op.population: neuron_step(op.model, act, op.resolved)
            for op in program.neurons
            if op.model.start_block
        }

    def __call__(self, states: Mapping[str, Mapping[str, np.ndarray]], stage: StageInputs):
        """Reset ``states[population]`` (name -> ``(B, n)`` or ``(B, 1)`` arrays) in place."""
        data = StageData.of(self.program, stage)
        for pop, step in self.steps.items():
            step.stage_start(states[pop], data.get(pop))


def _batched(name: str, a: Any, batch: int, n: int, dtype: np.dtype) -> np.ndarray:
    """``(1, N, n)`` for rates shared by the batch, ``(batch, N, n)`` for per-member rates."""
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[0] not in (1, batch) or a.shape[2] != n:
        raise ValueError(
            f"{name}: expected shape (n_samples, {n}) or ({batch}, n_samples, {n}), got {a.shape}"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return np.ascontiguousarray(a, dtype=dtype)


def _noise_trace(
    program: StepProgram, batch: int, n_steps: int, noise: Mapping[str, Any]
) -> np.ndarray:
    """``{population: (n_steps, n) or (B, n_steps, n)}`` as ``(B, n_steps, n_draws)``.

    One trace for every population that draws noise (the hidden pyramidals), laid out as
    the step program lays out its draws.
    """
    drawing = [op for op in program.neurons if op.draws]
    if not drawing:
        raise ValueError(
            "noise: the network has no apical noise (pyramidal.sigma_noise = 0), so a noise "
            "trace would have no effect"
        )
    names = [op.population for op in drawing]
    if not isinstance(noise, Mapping):
        raise TypeError(f"noise: expected a mapping population -> array for {names}")
    unknown, missing = sorted(set(noise) - set(names)), [n for n in names if n not in noise]
    if unknown or missing:
        raise ValueError(
            f"noise: give one trace for every population that draws noise {names} "
            f"(missing {missing}, unknown {unknown})"
        )
    parts = []
    for op in drawing:
        size = op.draws * op.size
        a = np.asarray(noise[op.population])
        if a.ndim == 2:
            a = np.broadcast_to(a, (batch, *a.shape))
        if a.shape != (batch, n_steps, size):
            raise ValueError(
                f"noise[{op.population!r}]: expected shape ({n_steps}, {size}) or ({batch}, "
                f"{n_steps}, {size}) (steps of the stage x neurons), got {a.shape}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"noise[{op.population!r}]: contains NaN or infinite values")
        parts.append(a)
    return np.ascontiguousarray(np.concatenate(parts, axis=2), dtype=program.dtype)


def prepare_stage(
    spec: NetworkSpec,
    batch: int,
    inputs: Any,
    teacher: Any,
    order: Any,
    steps_per_sample: int | None,
    noise: Mapping[str, Any] | None = None,
    program: StepProgram | None = None,
) -> StageInputs:
    """Check shapes and the pattern time; shared ``(N, n)`` rates stay one copy (``S = 1``)."""
    dtype = np.dtype(spec.dtype)
    x = _batched("inputs", inputs, batch, spec.dims[0], dtype)
    t = _batched("teacher", teacher, batch, spec.dims[-1], dtype)
    n = x.shape[1]
    if t.shape[1] != n:
        raise ValueError(f"teacher has {t.shape[1]} samples but inputs have {n}")
    if n < 1:
        raise ValueError("a stage needs at least one sample")
    if order is None:
        o = np.broadcast_to(np.arange(n), (batch, n))
    else:
        o = np.asarray(order)
        if o.ndim == 1:
            o = np.broadcast_to(o, (batch, o.shape[0]))
        if o.shape != (batch, n):
            raise ValueError(f"order: expected shape ({n},) or ({batch}, {n}), got {o.shape}")
        if o.size and (o.min() < 0 or o.max() >= n):
            raise ValueError(f"order: indices must lie in [0, {n})")
    if steps_per_sample is None:
        steps_per_sample = spec.steps_per_sample
    if steps_per_sample != spec.steps_per_sample:
        raise ValueError(
            f"steps_per_sample={steps_per_sample} does not match the network's pattern time "
            f"(player.t_pattern / dt = {spec.steps_per_sample})"
        )
    o = np.ascontiguousarray(o, dtype=np.int64)
    trace = None
    if noise is not None:
        program = program or lower(spec, build_topology(spec))
        trace = _noise_trace(program, batch, o.shape[1] * int(steps_per_sample), noise)
    return StageInputs(x, t, o, int(steps_per_sample), trace)


class Simulation(abc.ABC):
    """A built network of ``batch_size`` independent members (own weights, noise, seeds).

    Subclasses implement ``_run``, the state accessors and the weight accessors. Every
    array has a leading batch axis.
    """

    backend_name: str = "?"
    #: Whether :meth:`~mc_network.Simulation.run_stage` accepts a ``noise`` trace to replay.
    supports_noise_replay: bool = False

    def __init__(
        self,
        spec: NetworkSpec,
        seeds: int | Sequence[int],
        weights: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.spec = spec
        self.topology: Topology = build_topology(spec)
        self.seeds = (int(seeds),) if np.isscalar(seeds) else tuple(int(s) for s in seeds)
        if not self.seeds:
            raise ValueError("seeds: give at least one seed (one per batch member)")
        self.streams = [run_streams(s) for s in self.seeds]
        self.dtype = np.dtype(spec.dtype)
        self.program: StepProgram = lower(spec, self.topology)
        drawn = [initial_weights(spec, self.topology, s.weights) for s in self.streams]
        w0 = {k: np.stack([d[k] for d in drawn]) for k in drawn[0]}
        if weights is not None:
            w0.update(self._coerce_weights(weights))
        if spec.init.self_predicting:
            check_self_predicting(spec, w0)
        self._initial_weights = w0

    def _synapse_state(self, op) -> dict[str, np.ndarray]:
        """A projection's initial variables, ``(B, n_pre, n_post)`` each.

        ``g`` holds the initial weights, the others their model's initial values.
        """
        shape, out = (self.batch_size, op.n_pre, op.n_post), {}
        for v in op.model.vars:
            if v.name == "g":
                # a copy: _initial_weights stays the initial weights
                out["g"] = np.array(self._initial_weights[op.projection], dtype=self.dtype)
            else:
                out[v.name] = np.full(shape, v.initial_value(op.resolved), dtype=self.dtype)
        return out

    @property
    def batch_size(self) -> int:
        """Number of independent members simulated together."""
        return len(self.seeds)

    def build_info(self) -> dict[str, Any]:
        """How this simulation was built, beyond its options, as JSON-ready data.

        Run directories record it (``environment.json``); e.g. the GeNN backend's device,
        build mode (exact or fast) and compiler command. Empty where there is nothing to add.
        """
        return {}

    def input_info(self) -> dict[str, Any]:
        """The network's ``input_mode`` and its sample-factorised projections.

        ``{"input_mode": ..., "fast_projections": [...]}``; run directories record it
        (``environment.json``, ``backend``).
        """
        return {
            "input_mode": self.program.input_mode,
            "fast_projections": [op.projection for op in self.program.factorised],
        }

    # ------------------------------------------------------------------ stages
    def run_stage(
        self,
        inputs: Any,
        teacher: Any,
        order: Any = None,
        *,
        learning: bool,
        teaching: bool,
        steps_per_sample: int | None = None,
        record: RecordPlan | None = None,
        progress: ProgressFn | None = None,
        noise: Mapping[str, Any] | None = None,
    ) -> dict[str, np.ndarray]:
        """Simulate a whole stage: every sample in presentation order, in one call.

        Parameters
        ----------
        inputs, teacher
            Rates per sample, ``(N, n_in)`` / ``(N, n_out)`` shared by the batch or
            ``(B, N, ...)`` per member.
        order
            Presentation order, ``(N,)`` or ``(B, N)`` indices into the samples (default:
            as given).
        learning, teaching
            Plasticity on/off and the teacher nudging on/off for the whole stage.
        steps_per_sample
            Checked against the spec's ``t_pattern / dt``.
        record
            Variables and cadence to record (nothing by default).
        progress
            Called with the number of samples completed (at most once per sample).
        noise
            Replay a given noise trace instead of drawing it: for every hidden pyramidal
            population, ``{name: (n_steps, n) or (B, n_steps, n)}`` of the standard-normal
            draws xi_k that step ``k`` of the stage feeds into the apical OU noise (the
            original's ``gennrand_normal()``); the members' noise streams are not advanced.
            Only backends with ``supports_noise_replay`` (``reference``) take it.

        Returns
        -------
        dict
            ``name -> array (B, n_records, ...)`` for every recorded variable.

        Raises
        ------
        NotImplementedError
            If ``noise`` is given to a backend that cannot replay it.
        """
        if noise is not None and not self.supports_noise_replay:
            raise NotImplementedError(
                f"the {self.backend_name!r} backend cannot replay a noise trace; use the "
                "'reference' backend for noise replay"
            )
        stage = prepare_stage(
            self.spec,
            self.batch_size,
            inputs,
            teacher,
            order,
            steps_per_sample,
            noise,
            self.program,
        )
        plan = record or RecordPlan()
        shapes = {v: self._record_shape(v) for v in plan.variables}
        n_rec = plan.n_records(stage.n_steps)
        out = {
            v: np.zeros((self.batch_size, n_rec, *shape), dtype=self._record_dtype(v))
            for v, shape in shapes.items()
        }
        self._run(stage, bool(learning), bool(teaching), plan, out, progress)
        return out

    @abc.abstractmethod
    def _run(
        self,
        stage: StageInputs,
        learning: bool,
        teaching: bool,
        plan: RecordPlan,
        out: dict[str, np.ndarray],
        progress: ProgressFn | None,
    ) -> None:
        """Simulate the stage, filling ``out`` in place."""

    def _record_shape(self, var: str) -> tuple[int, ...]:
        owner, name = var.split(".")
        program = self.program
        pops = {op.population: op for op in program.neurons}
        projs = {op.projection: op for op in program.synapses if op.model.vars}
        if owner in pops:
            names = pops[owner].model.var_names
            if name not in names:
                raise ValueError(
                    f"record {var!r}: population {owner!r} has no variable {name!r}; "
                    f"valid: {sorted(names)}"
                )
            return (pops[owner].size,)
        if owner in projs:
            op = projs[owner]
            if name not in op.model.var_names:
                raise ValueError(
                    f"record {var!r}: projection {owner!r} has only {op.model.var_names}"
                )
            return (op.n_pre, op.n_post)
        raise ValueError(
            f"record {var!r}: no population or plastic projection {owner!r}; populations: "
            f"{list(pops)}, projections: {list(projs)}"
        )

    def _record_dtype(self, var: str) -> np.dtype:
        owner, name = var.split(".")
        for op in self.program.neurons:
            if op.population == owner:
                for v in op.model.vars:
                    if v.name == name and v.type != "scalar":
                        return np.dtype(np.int32)
        return self.dtype

    def neuron_var_names(self, kind: str) -> tuple[str, ...]:
        """Recordable state variables of the populations of a kind (their model's)."""
        for pop in self.topology.populations:
            if pop.kind == kind:
                return self.program.neuron(pop.name).model.var_names
        raise KeyError(f"this network has no population of kind {kind!r}")

    # ------------------------------------------------------------------ weights and state
    def _coerce_weights(self, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for name, w in weights.items():
            if name not in self.topology.weight_names:
                raise KeyError(
                    f"weights: unknown projection {name!r}; "
                    f"valid: {list(self.topology.weight_names)}"
                )
            proj = self.topology.projection(name)
            w = np.asarray(w, dtype=self.dtype)
            if w.ndim == 2:
                w = np.broadcast_to(w, (self.batch_size, *w.shape))
            if w.shape != (self.batch_size, proj.n_pre, proj.n_post):
                raise ValueError(
                    f"weights[{name!r}]: expected shape ({proj.n_pre}, {proj.n_post}) or "
                    f"({self.batch_size}, {proj.n_pre}, {proj.n_post}), got {w.shape}"
                )
            out[name] = np.array(w)
        return out

    @abc.abstractmethod
    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of every weight matrix, ``name -> (B, n_pre, n_post)``."""

    @abc.abstractmethod
    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Set some or all weight matrices (``(n_pre, n_post)`` or ``(B, n_pre, n_post)``)."""

    @abc.abstractmethod
    def get_state(self) -> dict[str, Any]:
        """The complete dynamic state (neurons, synapses, random streams), as copies.

        Restoring it with :meth:`set_state` continues the simulation bit for bit.
        """

    @abc.abstractmethod
    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a state obtained from :meth:`get_state` (same spec and batch size)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release backend resources."""

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ protocol helpers
    def align_feedback_to_transpose(self) -> None:
        """Set every ``fb_l`` to ``ff_{l+1}^T`` and ``i2p_l`` to its negative."""
        w = self.get_weights()
        new = {}
        for layer in range(1, self.spec.n_hidden + 1):
            wt = np.swapaxes(w[f"ff_{layer + 1}"], 1, 2)
            new[f"fb_{layer}"] = wt
            new[f"i2p_{layer}"] = -wt
        self.set_weights(new)

    def reinforce_self_prediction(self) -> None:
        """Set every ``p2i_l`` to ``ff_{l+1}`` (the original's ``reinforce_self_predict``)."""
        w = self.get_weights()
        layers = range(1, self.spec.n_hidden + 1)
        self.set_weights({f"p2i_{k}": w[f"ff_{k + 1}"] for k in layers})


class HostArrays:
    """Weights and state kept as host arrays ``neurons[pop][var]``, ``synapses[proj][var]``.

    Shared by the backends that hold their canonical state in NumPy arrays (the reference
    backend; the GeNN backend, which pushes and pulls them around each stage).
    """

    neurons: dict[str, dict[str, np.ndarray]]
    synapses: dict[str, dict[str, np.ndarray]]

    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of every weight matrix, ``name -> (B, n_pre, n_post)``."""
        return {name: syn["g"].copy() for name, syn in self.synapses.items()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Set some or all weight matrices."""
        for name, w in self._coerce_weights(weights).items():
            self.synapses[name]["g"][...] = w

    def _copy_arrays(self) -> dict[str, Any]:
        return {
            "neurons": {p: {k: v.copy() for k, v in s.items()} for p, s in self.neurons.items()},
            "synapses": {p: {k: v.copy() for k, v in s.items()} for p, s in self.synapses.items()},
        }

    def _restore_arrays(self, state: Mapping[str, Any]) -> None:
        for group, target in (("neurons", self.neurons), ("synapses", self.synapses)):
            for owner, arrays in state[group].items():
                if owner not in target:
                    raise KeyError(f"state: unknown {group[:-1]} {owner!r}")
                for k, v in arrays.items():
                    if target[owner][k].shape != np.shape(v):
                        raise ValueError(
                            f"state[{group!r}][{owner!r}][{k!r}]: shape {np.shape(v)} != "
                            f"{target[owner][k].shape}"
                        )
                    target[owner][k][...] = v
