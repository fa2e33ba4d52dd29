"""The GeNN backend's groups, described once from the step program.

:func:`describe` turns a step program into one list of plain group descriptions: the code
strings, variables, parameter and derived-parameter values, initial values, references and
dynamic parameters of every population, every projection and every sample-factorised
projection's segment groups. That list is what the code cache key hashes
(``_genn_build.cache_key``) and what :func:`add_groups` builds the GeNN model from, so the
key cannot miss anything the model is built with. Nothing here imports pygenn: the builder
receives the module.

Populations are rendered from the mc-models definitions; DENSE matrices for all-to-all
projections, SPARSE with the ``OneToOne`` initialiser for the one-to-one ones,
``DeltaCurr`` postsynaptic models feeding each projection's target variable; switches are
dynamic parameters. A :class:`~mc_network.program.FactorisedOp` is handled in one place:
its own group's code is gated (``_genn_fast.gate``) and its segment groups follow it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mc_models import get_activation
from mc_models.render.genn import SAMPLE_VARS, neuron_model_kwargs, weight_update_model_kwargs
from mc_network.backends import _genn_fast
from mc_network.backends._genn_fast import SegmentGroups
from mc_network.program import FactorisedOp, StepProgram

__all__ = ["NeuronGroup", "SegmentGroups", "SynapseGroup", "add_groups", "describe"]


@dataclass(frozen=True)
class NeuronGroup:
    """A population, as plain data.

    Its neuron model (``create_neuron_model`` keyword arguments without the derived
    parameters), parameter values, derived-parameter values, initial values, switches
    (dynamic parameters) and whether it plays stage data (resident arrays).
    """

    name: str
    size: int
    model: dict[str, Any]
    params: dict[str, float]
    derived: dict[str, float]
    init: dict[str, Any]
    switches: tuple[str, ...]
    player: bool


@dataclass(frozen=True)
class SynapseGroup:
    """A projection, as plain data.

    Its weight update model (keyword arguments as for a population), parameter,
    derived-parameter and initial values, the neuron variables it reads (``(local name,
    population variable)``), its switches and whether its code is gated by a segment (a
    sample-factorised projection).
    """

    name: str
    pre: str
    post: str
    target: str
    one_to_one: bool
    model: dict[str, Any]
    params: dict[str, float]
    derived: dict[str, float]
    init: dict[str, float]
    pre_refs: tuple[tuple[str, str], ...]
    post_refs: tuple[tuple[str, str], ...]
    switches: tuple[str, ...]
    gated: bool


Group = NeuronGroup | SynapseGroup | SegmentGroups


def _values(model, params, spec) -> dict[str, float]:
    """The parameter values GeNN writes into the code: the reference's, in the spec's dtype.

    Base and derived parameters as the NumPy backends resolve them (derived ones computed in
    float64 from the float64 parameters, then cast once), as Python floats. GeNN writes a
    float value into float code as a decimal of 10 significant digits that the compiler
    rounds to float; for a float32 value that is exact, but for a double it gives another
    float than the cast in about 0.1% of cases (a double within 1e-10 of a midpoint between
    two floats), so the values are cast to the spec's dtype here, not by the compiler.
    """
    resolved = model.resolve(params, spec.dt, np.dtype(spec.dtype))
    return {k: float(v) for k, v in resolved.values.items()}


def _split(model, values: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """``(parameters, derived parameters)`` of resolved values (derived: the model's order)."""
    derived = {d.name: values[d.name] for d in model.derived}
    return {k: v for k, v in values.items() if k not in derived}, derived


def _plain_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if k != "derived_params"}


def describe(spec, program: StepProgram) -> tuple[Group, ...]:
    """Every group of the program's GeNN model, in the order it is added."""
    act = get_activation(spec.activation)
    out: list[Group] = []
    for op in program.neurons:
        params, derived = _split(op.model, _values(op.model, op.params, spec))
        values = {**params, **derived}
        player = op.model.uses("sample")
        init: dict[str, Any] = {v.name: float(v.initial_value(values)) for v in op.model.vars}
        init.update({v.name: v.init for v in SAMPLE_VARS} if player else {})
        out.append(
            NeuronGroup(
                op.population,
                op.size,
                _plain_kwargs(neuron_model_kwargs(op.model, act)),
                {
                    **{k: values[k] for k in op.model.param_names},
                    **dict.fromkeys(op.model.switches, 1.0),
                },
                derived,
                init,
                tuple(op.model.switches),
                player,
            )
        )
    for op in program.synapses:
        kw = weight_update_model_kwargs(op.model, act)
        gated = isinstance(op, FactorisedOp)
        if gated:
            kw = _genn_fast.gate(kw)
        if not op.one_to_one:
            # A distinct comment per projection keeps GeNN from merging the groups: merged,
            # their sizes and parameters become run-time fields that GCC must assume the
            # weight stores alias, and the loops do not vectorise (784-100-10: 4 000 -> 8 000
            # steps/s).
            kw["synapse_dynamics_code"] += f"// projection {op.projection}\n"
        params, derived = _split(op.model, _values(op.model, op.params, spec))
        values = {**params, **derived}
        out.append(
            SynapseGroup(
                op.projection,
                op.pre,
                op.post,
                op.target,
                op.one_to_one,
                _plain_kwargs(kw),
                {
                    **{k: values[k] for k in op.model.param_names},
                    **dict.fromkeys(op.model.switches, 1.0),
                    **({_genn_fast.GATE: 0.0} if gated else {}),
                },
                derived,
                {v.name: float(v.initial_value(values)) for v in op.model.vars},
                tuple(op.model.pre_refs),
                tuple(op.model.post_refs),
                tuple(op.model.switches),
                gated,
            )
        )
        if gated:
            factor = op.rule.factor
            fparams, fderived = _split(factor, _values(factor, op.params, spec))
            out.append(_genn_fast.describe(op, fparams, fderived))
    return tuple(out)


def plain(groups: tuple[Group, ...]) -> list[Any]:
    """The groups as JSON-able data (the cache key hashes it)."""
    return [[type(g).__name__, asdict(g)] for g in groups]


def _derived_kwargs(derived: dict[str, float]) -> list[tuple[str, Any]]:
    """GeNN derived parameters that return the given values.

    GeNN would call each derived parameter's function with the values it was given, which
    are already cast; the cast results of the float64 computation are handed over instead.
    """
    return [(name, (lambda x: lambda pars, dt: x)(v)) for name, v in derived.items()]


def add_groups(pg, model, groups: tuple[Group, ...], dtype, batch: int, capacity: int, copies: int):
    """Add the described groups to the GeNN ``model`` (``pg``: the pygenn module).

    A player gets its resident arrays: ``copies`` copies of ``capacity`` samples' rates and
    ``capacity`` order entries per member. Returns the populations and projections by
    name, the segment groups by projection and the snippets (kept alive with the model).
    """
    dtype = np.dtype(dtype)
    pops: dict[str, Any] = {}
    syns: dict[str, Any] = {}
    segments: dict[str, dict[str, Any]] = {}
    keep: list[Any] = []
    read_only = pg.VarAccessMode.READ_ONLY
    for g in groups:
        if isinstance(g, NeuronGroup):
            kw = dict(g.model, derived_params=_derived_kwargs(g.derived))
            keep.append(pg.create_neuron_model(kw.pop("class_name"), **kw))
            grp = model.add_neuron_population(g.name, g.size, keep[-1], g.params, g.init)
            for switch in g.switches:
                grp.set_param_dynamic(switch)
            if g.player:
                egp = grp.extra_global_params
                egp["rates"].set_init_values(np.zeros(copies * capacity * g.size, dtype=dtype))
                egp["order"].set_init_values(np.zeros(batch * capacity, dtype=np.uint32))
            pops[g.name] = grp
        elif isinstance(g, SynapseGroup):
            kw = dict(g.model, derived_params=_derived_kwargs(g.derived))
            for refs in ("pre_neuron_var_refs", "post_neuron_var_refs"):
                kw[refs] = [(n, t, read_only) for n, t, _ in kw[refs]]
            keep.append(pg.create_weight_update_model(kw.pop("class_name"), **kw))
            pre, post = pops[g.pre], pops[g.post]
            wu = pg.init_weight_update(
                keep[-1],
                g.params,
                g.init,
                pre_var_refs={ln: pg.create_var_ref(pre, v) for ln, v in g.pre_refs},
                post_var_refs={ln: pg.create_var_ref(post, v) for ln, v in g.post_refs},
            )
            ps = pg.init_postsynaptic("DeltaCurr")
            if g.one_to_one:
                conn = pg.init_sparse_connectivity("OneToOne")
                syn = model.add_synapse_population(g.name, "SPARSE", pre, post, wu, ps, conn)
            else:
                syn = model.add_synapse_population(g.name, "DENSE", pre, post, wu, ps)
            syn.post_target_var = g.target
            for switch in g.switches:
                syn.set_wu_param_dynamic(switch)
            if g.gated:
                syn.set_wu_param_dynamic(_genn_fast.GATE)
            syns[g.name] = syn
        else:
            segments[g.projection] = _genn_fast.add_segment_groups(
                pg, model, g, pops[g.post], _derived_kwargs(g.derived), keep
            )
    return pops, syns, segments, keep
