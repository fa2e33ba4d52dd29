"""The GeNN backend: pygenn 5 code generation, single-threaded CPU or CUDA.

Every population and synapse group is rendered from the mc-models definitions. A whole
stage runs with its input and teacher rates resident on the device (array extra global
parameters holding every sample of the stage and every member's presentation order, read
by the rate players); learning and teaching are dynamic parameters. In the step loop Python
only calls ``step_time()`` and pulls the variables a record plan asks for.

Batching: on CUDA the members are one GeNN model with ``batch_size = B`` (per-member
weights and states). The single-threaded CPU backend allows batch size 1 only, so the
members run one after another through one loaded model, each member's state swapped in and
out per stage.

Generated code goes to a cache directory keyed by the model's content (spec, every code
string, pygenn version, device, batch size, precision): ``$MC_GENN_CACHE`` or
``~/.cache/mc-network/genn/<hash>``, never the current directory; a file lock keeps
concurrent builds of the same model apart. GeNN's noise stream cannot be saved: a
checkpoint of this backend restores every variable and weight but not the noise sequence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from mc_network.backends import BackendUnavailable
from mc_network.backends.base import HostArrays, ProgressFn, Simulation, StageInputs
from mc_network.models import neuron_model, neuron_params, synapse_model, synapse_params
from mc_network.record import RecordPlan
from mc_network.topology import PopKind, ProjKind

__all__ = ["GeNNSimulation", "cache_key"]

log = logging.getLogger(__name__)
DEVICES = ("single_threaded_cpu", "cuda")
PLAYERS = (PopKind.INPUT, PopKind.TEACHER)


@dataclass
class _Loaded:
    """A loaded GeNN model, shared by every simulation with the same cache key.

    GeNN loads a model's generated library once per process, so two models built from the
    same code would share (and free) the same memory. Simulations therefore share one
    loaded model per key; each pushes its complete state before it runs a stage.
    """

    model: Any
    pops: dict
    syns: dict
    capacity: int
    users: int = 0


_LOADED: dict[str, _Loaded] = {}


def _pygenn():
    """Import pygenn 5 or raise :class:`BackendUnavailable` saying what to do."""
    hint = (
        "build pygenn 5 from GeNN's sources (https://github.com/genn-team/genn, a 5.x "
        "release; see the mc-network README)"
    )
    try:
        import pygenn
    except ImportError as err:
        raise BackendUnavailable(f"backend 'genn' needs pygenn: {err}; {hint}") from None
    try:
        ver = version("pygenn")
    except PackageNotFoundError:
        ver = getattr(pygenn, "__version__", "0")
    if int(str(ver).split(".")[0]) < 5:
        raise BackendUnavailable(f"backend 'genn' needs pygenn >= 5.0, found {ver}; {hint}")
    return pygenn, ver


def cache_key(spec, device: str, batch: int, pygenn_version: str, optimize: bool) -> str:
    """Content hash of everything that determines the generated code."""
    from mc_network.topology import build_topology

    topo = build_topology(spec)
    codes = []
    for pop in topo.populations:
        kw = neuron_model(spec, pop.kind).genn_model_kwargs()
        codes.append([kw["class_name"], kw["sim_code"], kw["vars"], kw["params"]])
    for proj in topo.projections:
        kw = synapse_model(proj.kind).genn_model_kwargs()
        codes.append([kw["class_name"], kw["synapse_dynamics_code"], kw["vars"]])
    blob = json.dumps(
        [spec.to_dict(), codes, device, batch, pygenn_version, optimize],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@contextmanager
def _locked(path: Path):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class GeNNSimulation(HostArrays, Simulation):
    """GeNN simulation (see the module docstring).

    Parameters
    ----------
    device
        ``"single_threaded_cpu"`` or ``"cuda"``.
    cache_dir
        Root of the code cache (default ``$MC_GENN_CACHE`` or ``~/.cache/mc-network/genn``).
    optimize
        Compile the CPU code with optimisation (``optimize_code=True``).
    max_samples
        Room for this many samples per stage on the device (grown on demand).
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
    ) -> None:
        super().__init__(spec, seeds, weights)
        self._pg, self._pg_version = _pygenn()
        if device not in DEVICES:
            raise ValueError(f"device {device!r} is not valid; use one of {DEVICES}")
        from pygenn.genn_model import backend_modules

        if device not in backend_modules:
            raise BackendUnavailable(
                f"GeNN device {device!r} is not available: this pygenn was built with "
                f"{sorted(backend_modules)} (for CUDA, build pygenn with CUDA_PATH set on a "
                "machine with an NVIDIA GPU)"
            )
        self.device, self.optimize = device, optimize
        self._nb = self.batch_size if device == "cuda" else 1
        if device != "cuda" and self.batch_size > 1:
            log.info(
                "GeNN %s runs batch size 1 only: the %d members run one after another",
                device,
                self.batch_size,
            )
        root = Path(
            cache_dir
            or os.environ.get("MC_GENN_CACHE")
            or Path.home() / ".cache" / "mc-network" / "genn"
        )
        self.key = cache_key(spec, device, self._nb, self._pg_version, optimize)
        self.code_dir = root / self.key
        b = self.batch_size
        self.neurons: dict[str, dict[str, np.ndarray]] = {}
        for pop in self.topology.populations:
            st = neuron_model(spec, pop.kind).initial_state((b, pop.size), self.dtype)
            self.neurons[pop.name] = st
        self.synapses: dict[str, dict[str, np.ndarray]] = {}
        for proj in self.topology.projections:
            if proj.one_to_one:
                continue
            syn = {"g": self._initial_weights[proj.name].copy()}
            if proj.has_delta:
                syn["delta"] = np.zeros_like(syn["g"])
            self.synapses[proj.name] = syn
        self._load(max(1, int(max_samples)))
        _LOADED[self.key].users += 1
        self._closed = False

    @property
    def _model(self):
        return _LOADED[self.key].model

    @property
    def _pops(self) -> dict:
        return _LOADED[self.key].pops

    @property
    def _syns(self) -> dict:
        return _LOADED[self.key].syns

    @property
    def _capacity(self) -> int:
        return _LOADED[self.key].capacity

    # ------------------------------------------------------------------ build and load
    def _load(self, capacity: int) -> None:
        pg = self._pg
        current = _LOADED.get(self.key)
        if current is not None and current.capacity >= capacity:
            return
        if current is not None:
            current.model.unload()
        spec, topo = self.spec, self.topology
        prefs = {"optimize_code": True} if self.device != "cuda" and self.optimize else {}
        prec = "float" if self.dtype == np.float32 else "double"
        model = pg.GeNNModel(prec, f"mc_{self.key[:12]}", backend=self.device, **prefs)
        model.dt = spec.dt
        model.batch_size = self._nb
        seed = int(np.random.SeedSequence(list(self.seeds)).generate_state(1)[0])
        model.seed = seed or 1
        pops, syns = {}, {}
        for pop in topo.populations:
            nm = neuron_model(spec, pop.kind)
            kw = dict(nm.genn_model_kwargs())
            cls = kw.pop("class_name")
            kw.pop("threshold_condition_code")
            if not kw["extra_global_params"]:
                kw.pop("extra_global_params")
            snippet = pg.create_neuron_model(cls, **kw)
            values = {
                **{p.name: p.default for p in nm.params if p.default is not None},
                **neuron_params(spec, pop),
            }
            params = {k: float(values[k]) for k in nm.param_names}
            init = {v.name: v.init for v in (*nm.vars, *nm.genn_vars)}
            grp = model.add_neuron_population(pop.name, pop.size, snippet, params, init)
            for d in nm.dynamic_params:
                grp.set_param_dynamic(d)
            if pop.kind in PLAYERS:
                n = pop.size
                grp.extra_global_params["rates"].set_init_values(
                    np.zeros(self._nb * capacity * n, dtype=self.dtype)
                )
                grp.extra_global_params["order"].set_init_values(
                    np.zeros(self._nb * capacity, dtype=np.uint32)
                )
            pops[pop.name] = grp
        access = pg.VarAccessMode.READ_ONLY
        for proj in topo.projections:
            sm = synapse_model(proj.kind)
            kw = dict(sm.genn_model_kwargs())
            cls = kw.pop("class_name")
            kw["pre_neuron_var_refs"] = [(n, t, access) for n, t, _ in kw["pre_neuron_var_refs"]]
            kw["post_neuron_var_refs"] = [(n, t, access) for n, t, _ in kw["post_neuron_var_refs"]]
            snippet = pg.create_weight_update_model(cls, **kw)
            values = {**{p.name: p.default for p in sm.params}, **synapse_params(spec, proj)}
            params = {k: float(values[k]) for k in sm.param_names}
            wvars = {"g": 1.0} if proj.one_to_one else {"g": 0.0, "delta": 0.0}
            if proj.one_to_one or not proj.has_delta:
                wvars = {"g": wvars["g"]}
            pre, post = pops[proj.pre], pops[proj.post]
            wu = pg.init_weight_update(
                snippet,
                params,
                wvars,
                pre_var_refs={ln: pg.create_var_ref(pre, v) for ln, v in sm.pre_refs},
                post_var_refs={ln: pg.create_var_ref(post, v) for ln, v in sm.post_refs},
            )
            ps = pg.init_postsynaptic("DeltaCurr")
            if proj.one_to_one:
                syn = model.add_synapse_population(
                    proj.name, "SPARSE", pre, post, wu, ps, pg.init_sparse_connectivity("OneToOne")
                )
            else:
                syn = model.add_synapse_population(proj.name, "DENSE", pre, post, wu, ps)
            syn.post_target_var = proj.target
            for d in sm.dynamic_params:
                syn.set_wu_param_dynamic(d)
            syns[proj.name] = syn
        with _locked(self.code_dir.with_suffix(".lock")):
            self.code_dir.mkdir(parents=True, exist_ok=True)
            model.build(path_to_model=str(self.code_dir))
        model.load()
        users = current.users if current is not None else 0
        _LOADED[self.key] = _Loaded(model, pops, syns, capacity, users)

    # ------------------------------------------------------------------ device state
    def _members(self):
        if self._nb == self.batch_size:
            yield slice(0, self.batch_size)
        else:
            for b in range(self.batch_size):
                yield slice(b, b + 1)

    def _push(self, members: slice) -> None:
        for name, grp in self._pops.items():
            for var, arr in self.neurons[name].items():
                grp.vars[var].view[...] = arr[members].reshape(grp.vars[var].view.shape)
                grp.vars[var].push_to_device()
        for name, syn in self._syns.items():
            if name not in self.synapses:
                continue
            for var, arr in self.synapses[name].items():
                syn.vars[var].view[...] = arr[members].reshape(syn.vars[var].view.shape)
                syn.vars[var].push_to_device()

    def _pull(self, members: slice) -> None:
        for name, grp in self._pops.items():
            for var, arr in self.neurons[name].items():
                grp.vars[var].pull_from_device()
                arr[members] = grp.vars[var].view.reshape(arr[members].shape)
        for name, syn in self._syns.items():
            if name not in self.synapses:
                continue
            for var, arr in self.synapses[name].items():
                syn.vars[var].pull_from_device()
                arr[members] = syn.vars[var].view.reshape(arr[members].shape)

    def _set_switches(self, learning: bool, teaching: bool) -> None:
        for proj in self.topology.projections:
            syn = self._syns[proj.name]
            if proj.kind is ProjKind.TEACHER:
                syn.set_dynamic_param_value("teaching", float(teaching))
            elif not proj.one_to_one:
                on = (
                    learning
                    and proj.plastic
                    and not (proj.kind is ProjKind.I2P and not self.spec.i2p_plastic)
                )
                syn.set_dynamic_param_value("learning", float(on))
        self._pops["output"].set_dynamic_param_value("teaching", float(teaching))

    def _load_stage_data(self, stage: StageInputs, members: slice) -> None:
        n_s, nb = stage.n_samples, members.stop - members.start
        for name, data in (
            ("input", stage.inputs),
            ("teacher", stage.teacher),
        ):
            grp, n = self._pops[name], data.shape[2]
            rates = grp.extra_global_params["rates"]
            rates.view[: nb * n_s * n] = data[members].reshape(-1)
            rates.push_to_device()
            order = grp.extra_global_params["order"]
            order.view[: nb * n_s] = stage.order[members].reshape(-1).astype(np.uint32)
            order.push_to_device()
            first = data[members][np.arange(nb), stage.order[members, 0]]  # (nb, n)
            b_idx = np.arange(nb)[:, None]
            setv = {
                "rate": first,
                "rate_last": first,
                "rate0": first,
                "index": np.zeros((nb, n)),
                "step_counter": np.zeros((nb, n)),
                "order_base": np.broadcast_to(b_idx * n_s, (nb, n)),
                "rate_base": b_idx * n_s * n + np.arange(n)[None, :],
                "stride": np.full((nb, n), n),
            }
            for var, val in setv.items():
                v = grp.vars[var]
                v.view[...] = np.asarray(val).reshape(v.view.shape)
                v.push_to_device()

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
        if stage.n_samples > self._capacity:
            self._load(stage.n_samples)
        sps = stage.steps_per_sample
        lag = round(self.spec.player.learning_lag / self.spec.dt) if learning else 0
        recorded = [(v, *v.split(".")) for v in plan.variables]
        for members in self._members():
            self._push(members)
            self._load_stage_data(stage, members)
            self._set_switches(learning, teaching)
            for k in range(stage.n_steps):
                if lag and k % sps == 0:
                    self._set_switches(False, False)
                elif lag and k % sps == lag:
                    self._set_switches(learning, teaching)
                self._model.step_time()
                if k % plan.every == 0:
                    r = k // plan.every
                    for full, owner, var in recorded:
                        grp = self._pops.get(owner) or self._syns[owner]
                        grp.vars[var].pull_from_device()
                        dst = out[full][members, r]
                        dst[...] = grp.vars[var].view.reshape(dst.shape)
                if progress is not None and (k + 1) % sps == 0 and members.start == 0:
                    progress((k + 1) // sps)
            self._pull(members)

    # ------------------------------------------------------------------ weights and state
    def get_state(self) -> dict[str, Any]:
        """Neuron and synapse variables (GeNN's noise stream cannot be captured: ``None``)."""
        return {**self._copy_arrays(), "noise_rng": [None] * self.batch_size}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore neuron and synapse variables (the noise stream continues as it is)."""
        self._restore_arrays(state)

    def close(self) -> None:
        """Release this simulation's use of the shared GeNN model (unloaded with the last)."""
        if self._closed:
            return
        self._closed = True
        loaded = _LOADED.get(self.key)
        if loaded is not None:
            loaded.users -= 1
            if loaded.users <= 0:
                loaded.model.unload()
                del _LOADED[self.key]
