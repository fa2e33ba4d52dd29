"""Neuron and synapse models, each declared once for every backend.

A model declares, in one place, its parameters by name (meaning, unit, default), its derived
parameters (computed *by name*, never by position), its state variables (with their initial
values), its inputs or its references to the pre- and postsynaptic neurons, its run-time
switches and its per-step update, written in the notation of :mod:`mc_models.expr`. From that
one declaration the renderers of :mod:`mc_models.render` make the GeNN 5 code (plain data,
no pygenn needed), the vectorised NumPy step and the numba loop bodies.

Names in a neuron model's code
    its parameters, derived parameters and ``dt`` (constants of the population), its state
    variables, its inputs (``Isyn_up`` ...: the sums of the synapse groups that target them,
    zeroed every step), its switches (run-time on/off, only in ``if`` tests) and local values
    (assigned once, then read in the same block).
Names in a synapse model's code
    the same, without inputs, plus references to the neurons it connects: ``x_pre`` is the
    presynaptic neuron's variable ``x``, ``x_post`` the postsynaptic one's, as they stood
    after the previous step. ``output`` is what each synapse adds to its target input (summed
    over the presynaptic neurons in ascending order), ``output_when`` a switch that gates it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mc_models.expr import (
    Call,
    Expr,
    If,
    Name,
    NotationError,
    Stmt,
    assigned,
    calls,
    names,
    parse_block,
    parse_expr,
    walk,
)

__all__ = [
    "DerivedParam",
    "NeuronModel",
    "Param",
    "ResolvedParams",
    "SynapseModel",
    "Var",
]

BUILTIN_PARAMS = ("dt",)
_NEURON_CALLS = {"normal": 0, "phi": 1, "sample": 1}
_SYNAPSE_CALLS: dict[str, int] = {}


@dataclass(frozen=True)
class Param:
    """A named model parameter.

    Parameters
    ----------
    name
        The name used in equations, configs and GeNN code.
    doc
        What it means.
    default
        Default value, or ``None`` when the network always gives it (e.g. learning rates).
    unit
        Unit (time is in the model's arbitrary time unit, conductances are relative).
    domain
        Valid values: ``"any"``, ``"nonnegative"`` or ``"positive"`` (checked where a
        network description sets the parameter).
    """

    name: str
    doc: str
    default: float | None = None
    unit: str = ""
    domain: str = "any"

    def __post_init__(self) -> None:
        if self.domain not in ("any", "nonnegative", "positive"):
            raise ValueError(f"parameter {self.name!r}: domain {self.domain!r} is not valid")

    def check(self, value: float) -> str | None:
        """Why ``value`` is not valid for this parameter (``None`` if it is)."""
        if self.domain == "positive" and not value > 0:
            return "must be > 0"
        if self.domain == "nonnegative" and not value >= 0:
            return "must be a number >= 0"
        return None


@dataclass(frozen=True)
class DerivedParam:
    """A parameter computed from the named parameters and the time step.

    ``func(params, dt)`` receives a mapping from parameter name to float64 value and the time
    step; its float64 result is cast once to the model's precision (GeNN semantics).
    """

    name: str
    doc: str
    func: Callable[[Mapping[str, float], float], float]


@dataclass(frozen=True)
class Var:
    """A state variable (initial value ``init``, GeNN type ``type``).

    ``init`` is a number or the name of one of the model's parameters, whose value the
    variable then starts at (e.g. the bias neuron's rate starts at its ``value``).
    ``shared``: one value per batch member for the whole population (an integer counter,
    the same in every neuron; GeNN keeps a copy per neuron).
    """

    name: str
    doc: str
    type: str = "scalar"
    init: float | str = 0.0
    shared: bool = False

    def initial_value(self, params: ResolvedParams | None = None) -> float:
        """The starting value: ``init``, or the value of the parameter it names."""
        if isinstance(self.init, str):
            if params is None:
                raise ValueError(f"variable {self.name!r} starts at parameter {self.init!r}")
            return params[self.init]
        return self.init


@dataclass(frozen=True)
class ResolvedParams:
    """Parameter values of one model instance, base and derived, in one precision.

    Attribute access by name: ``p.g_leak`` or ``p["g_leak"]``.
    """

    values: Mapping[str, Any]
    dtype: np.dtype

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def _resolve(
    model_name: str,
    params: tuple[Param, ...],
    derived: tuple[DerivedParam, ...],
    values: Mapping[str, float],
    dt: float,
    dtype: np.dtype | type,
) -> ResolvedParams:
    known = {p.name for p in params}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"{model_name}: unknown parameter(s) {unknown}; valid parameters are {sorted(known)}"
        )
    full: dict[str, float] = {}
    for p in params:
        if p.name in values:
            full[p.name] = float(values[p.name])
        elif p.default is not None:
            full[p.name] = float(p.default)
        else:
            raise ValueError(f"{model_name}: parameter {p.name!r} ({p.doc}) has no default")
    out: dict[str, Any] = {}
    dt_ = np.dtype(dtype)
    for name, v in full.items():
        out[name] = dt_.type(v)
    for d in derived:
        # Derived values are computed in float64 and cast once (GeNN 4/5 semantics).
        out[d.name] = dt_.type(d.func(full, float(dt)))
    out["dt"] = dt_.type(dt)
    return ResolvedParams(values=out, dtype=dt_)


def _numpy_type(genn_type: str, scalar: np.dtype | type) -> np.dtype:
    if genn_type == "scalar":
        return np.dtype(scalar)
    return {"unsigned int": np.dtype(np.uint32), "int": np.dtype(np.int32)}[genn_type]


class _Checker:
    """Classifies the names of one model's code and checks the code against the declarations."""

    def __init__(self, model: NeuronModel | SynapseModel, kinds: dict[str, str], allowed: dict):
        self.model, self.kinds, self.allowed = model, kinds, allowed
        self.locals: dict[str, str] = {}

    def fail(self, what: str) -> None:
        raise NotationError(f"model {self.model.name!r}: {what}")

    def kind(self, name: str) -> str:
        if name in self.kinds:
            return self.kinds[name]
        if name in self.locals:
            return "local"
        ref = _ref_kind(name) if isinstance(self.model, SynapseModel) else None
        if ref is not None:
            return ref
        self.fail(
            f"unknown name {name!r}; declared: {sorted(self.kinds)} (synapses also read "
            "x_pre / x_post of the neurons they connect)"
        )
        raise AssertionError  # pragma: no cover

    def expr(self, e: Expr, scope: set[str], test: bool = False) -> None:
        for n in walk(e):
            if isinstance(n, Name):
                if n.id in self.locals and n.id not in scope:
                    self.fail(f"local {n.id!r} is read outside the block that assigns it")
                k = self.kind(n.id)
                if k == "switch" and not test:
                    self.fail(f"switch {n.id!r} may only appear as an if test")
            elif isinstance(n, Call):
                if n.func not in self.allowed:
                    self.fail(
                        f"{n.func}() is not a built-in here; valid: {sorted(self.allowed)} "
                        "(functions of parameters go into derived parameters)"
                    )
                if len(n.args) != self.allowed[n.func]:
                    self.fail(f"{n.func}() takes {self.allowed[n.func]} argument(s)")
                if n.func == "phi" and "threshold" not in self.kinds:
                    self.fail("phi() needs a parameter 'threshold'")

    def block(self, block: tuple[Stmt, ...], scope: set[str]) -> None:
        scope = set(scope)
        for s in block:
            if isinstance(s, If):
                self.expr(s.test, scope, test=True)
                self.block(s.body, scope)
                self.block(s.orelse, scope)
                continue
            self.expr(s.value, scope)
            top = (
                s.value.args if isinstance(s.value, Call) and s.value.func == "phi" else (s.value,)
            )
            if any(isinstance(n, Call) and n.func == "phi" for e in top for n in walk(e)):
                self.fail(f"{s.target} = ...: phi() must be the whole value of an assignment")
            k = self.kinds.get(s.target)
            if k in ("var", "shared"):
                if s.op:
                    self.expr(Name(s.target), scope)
            elif k is not None or _ref_kind(s.target) and isinstance(self.model, SynapseModel):
                self.fail(f"{s.target!r} ({k or 'a reference'}) cannot be assigned")
            else:
                if s.target in self.locals or s.op:
                    self.fail(f"local {s.target!r} is assigned more than once")
                self.locals[s.target] = "local"
                scope.add(s.target)


def _ref_kind(name: str) -> str | None:
    if name.endswith("_pre") and len(name) > 4:
        return "pre"
    if name.endswith("_post") and len(name) > 5:
        return "post"
    return None


def _base_kinds(params, derived, vars_, switches) -> dict[str, str]:
    kinds: dict[str, str] = {n: "param" for n in BUILTIN_PARAMS}
    for p in (*params, *derived):
        kinds[p.name] = "param"
    for v in vars_:
        kinds[v.name] = "shared" if v.shared else "var"
    for s in switches:
        kinds[s] = "switch"
    return kinds


def _check_declarations(model) -> None:
    declared = [
        *BUILTIN_PARAMS,
        *(p.name for p in model.params),
        *(d.name for d in model.derived),
        *(v.name for v in model.vars),
        *model.switches,
        *getattr(model, "inputs", ()),
    ]
    dup = sorted({n for n in declared if declared.count(n) > 1})
    if dup:
        raise NotationError(f"model {model.name!r}: names declared twice: {dup}")
    params = {p.name for p in model.params}
    for v in model.vars:
        if isinstance(v.init, str) and v.init not in params:
            raise NotationError(
                f"model {model.name!r}: variable {v.name!r} starts at {v.init!r}, which is not "
                f"a parameter; parameters: {sorted(params)}"
            )
        if v.shared and v.type == "scalar":
            raise NotationError(
                f"model {model.name!r}: shared variable {v.name!r} must be an integer counter"
            )


class _Declared:
    """What neuron and synapse models share: parameters and variables by name."""

    name: str
    params: tuple[Param, ...]
    derived: tuple[DerivedParam, ...]
    vars: tuple[Var, ...]

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the base parameters."""
        return tuple(p.name for p in self.params)

    @property
    def var_names(self) -> tuple[str, ...]:
        """Names of the state variables."""
        return tuple(v.name for v in self.vars)

    def param(self, name: str) -> Param:
        """The declaration of a base parameter."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"model {self.name!r} has no parameter {name!r}")

    def resolve(
        self, values: Mapping[str, float], dt: float, dtype: np.dtype | type = np.float32
    ) -> ResolvedParams:
        """Fill defaults, reject unknown names and compute the derived parameters by name."""
        return _resolve(self.name, self.params, self.derived, values, dt, dtype)


@dataclass(frozen=True)
class NeuronModel(_Declared):
    """A neuron model, declared once for every backend.

    Parameters
    ----------
    name
        Registry name (also the GeNN class name, with the activation's name appended when
        the code calls ``phi``).
    doc
        Equations and meaning (the docstring of its module).
    params, derived, vars
        Named parameters, derived parameters and state variables.
    inputs
        Input variables that synapse groups target (zeroed every step), e.g. ``Isyn_up``.
    update
        The per-step update (notation of :mod:`mc_models.expr`).
    switches
        Run-time switches the update tests (``if teaching:``), e.g. the teaching signal.
    stage_start
        Code run once before every stage (e.g. a rate player's reset to the first sample).
    noise_gate
        A parameter whose value 0 means the ``normal()`` draws are not needed (no noise is
        drawn then, the draws read 0).
    hold, at_rest
        A promise a backend may use to skip work (both or neither): ``hold`` is a test of
        shared counters and parameters, ``at_rest`` pairs of per-neuron variables. Where
        ``hold`` is true at the start of an update and, after the previous update, every
        neuron's variables of each pair had the same bits, the update changes no per-neuron
        variable; only its statements on shared counters have an effect. (A rate player
        whose rate has reached its sample's value, within one sample: its update then
        recomputes the same rate every step.) Backends that run the whole update anyway
        need not read it; the model's tests check the promise (the compiled backend, which
        skips, against the reference, which does not).
    """

    name: str
    doc: str
    params: tuple[Param, ...]
    derived: tuple[DerivedParam, ...] = ()
    vars: tuple[Var, ...] = ()
    inputs: tuple[str, ...] = ()
    update: str = ""
    switches: tuple[str, ...] = ()
    stage_start: str = ""
    noise_gate: str | None = None
    hold: str = ""
    at_rest: tuple[tuple[str, str], ...] = ()
    block: tuple[Stmt, ...] = field(init=False, repr=False, compare=False)
    hold_test: Expr | None = field(init=False, repr=False, compare=False)
    start_block: tuple[Stmt, ...] = field(init=False, repr=False, compare=False)
    _calls: frozenset[str] = field(init=False, repr=False, compare=False)
    _draws: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"model {self.name!r}"
        object.__setattr__(self, "block", parse_block(self.update, f"{where} update"))
        object.__setattr__(self, "start_block", parse_block(self.stage_start, f"{where} start"))
        found = [c.func for b in (self.block, self.start_block) for c in calls(b)]
        object.__setattr__(self, "_calls", frozenset(found))
        object.__setattr__(self, "_draws", sum(c.func == "normal" for c in calls(self.block)))
        _check_declarations(self)
        kinds = _base_kinds(self.params, self.derived, self.vars, self.switches)
        kinds.update({n: "input" for n in self.inputs})
        for block in (self.block, self.start_block):
            _Checker(self, kinds, _NEURON_CALLS).block(block, set())
        if self.noise_gate is not None and self.noise_gate not in self.param_names:
            raise NotationError(f"{where}: noise_gate {self.noise_gate!r} is not a parameter")
        for name in assigned(self.block):
            if name in kinds and kinds[name] == "shared":
                _check_shared_assignment(self, name)
        object.__setattr__(self, "hold_test", _hold_test(self, kinds))

    # ------------------------------------------------------------------ declarations
    @property
    def additional_inputs(self) -> tuple[str, ...]:
        """The input variables (GeNN's name for them)."""
        return self.inputs

    def kinds(self) -> dict[str, str]:
        """What each declared name is: param, var, shared, input or switch."""
        kinds = _base_kinds(self.params, self.derived, self.vars, self.switches)
        kinds.update({n: "input" for n in self.inputs})
        return kinds

    def uses(self, func: str) -> bool:
        """Whether the update (or the stage start) calls a built-in, e.g. ``"normal"``."""
        return func in self._calls

    @property
    def n_draws(self) -> int:
        """Standard-normal draws per neuron and step (the ``normal()`` calls in the update)."""
        return self._draws

    def initial_state(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype | type,
        params: ResolvedParams | None = None,
    ) -> dict[str, Any]:
        """Initial values of every state variable, as arrays of ``shape``.

        Shared variables have one value per member: shape ``(shape[0], 1)``. ``params``
        (this model's resolved parameters) gives the values of variables that start at a
        parameter.
        """
        return {
            v.name: np.full(
                (shape[0], 1) if v.shared else shape,
                v.initial_value(params),
                dtype=_numpy_type(v.type, dtype),
            )
            for v in self.vars
        }


def _hold_test(model: NeuronModel, kinds: dict[str, str]) -> Expr | None:
    """The parsed ``hold`` of a model, checked with its ``at_rest`` (see :class:`NeuronModel`)."""
    where = f"model {model.name!r}"
    if bool(model.hold) != bool(model.at_rest):
        raise NotationError(f"{where}: hold and at_rest are given together or not at all")
    if not model.hold:
        return None
    test = parse_expr(model.hold, f"{where} hold")
    bad = sorted({n for n in names(test) if kinds.get(n) not in ("param", "shared")})
    if bad or calls(test):
        raise NotationError(
            f"{where}: hold may read only parameters and shared counters (no calls); "
            f"it reads {bad or [c.func + '()' for c in calls(test)]}"
        )
    for pair in model.at_rest:
        odd = [v for v in pair if kinds.get(v) != "var"]
        if len(pair) != 2 or odd:
            raise NotationError(
                f"{where}: at_rest takes pairs of per-neuron variables; {pair!r} is not one "
                f"(per-neuron variables: {sorted(n for n, k in kinds.items() if k == 'var')})"
            )
    return test


def _check_shared_assignment(model: NeuronModel, name: str) -> None:
    kinds = model.kinds()

    def visit(block: tuple[Stmt, ...]) -> None:
        for s in block:
            if isinstance(s, If):
                visit(s.body)
                visit(s.orelse)
            elif s.target == name:
                bad = {n for n in names(s.full_value) if kinds.get(n) not in ("param", "shared")}
                if bad:
                    raise NotationError(
                        f"model {model.name!r}: shared {name!r} is assigned from per-neuron "
                        f"values {sorted(bad)}"
                    )

    visit(model.block)


@dataclass(frozen=True)
class SynapseModel(_Declared):
    """A weight-update model (continuous synapse dynamics), declared once for every backend.

    Parameters
    ----------
    name
        Registry name (and GeNN class name).
    doc
        Equations and meaning.
    params, derived, vars
        Named parameters, derived parameters and per-synapse state variables (none for a
        one-to-one connection of weight 1).
    update
        The per-step update of each synapse (notation of :mod:`mc_models.expr`), reading
        ``x_pre`` / ``x_post``; it runs before the synapse's output is summed.
    output
        The expression each synapse adds to its target input (with the updated variables).
    output_when
        A switch that gates the output (off: the target input receives nothing).
    switches
        Run-time switches the update tests (``if learning:``).
    """

    name: str
    doc: str
    params: tuple[Param, ...] = ()
    derived: tuple[DerivedParam, ...] = ()
    vars: tuple[Var, ...] = ()
    update: str = ""
    output: str = "0.0"
    output_when: str | None = None
    switches: tuple[str, ...] = ()
    block: tuple[Stmt, ...] = field(init=False, repr=False, compare=False)
    output_expr: Expr = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"model {self.name!r}"
        object.__setattr__(self, "block", parse_block(self.update, f"{where} update"))
        object.__setattr__(self, "output_expr", parse_expr(self.output, f"{where} output"))
        _check_declarations(self)
        if any(v.shared for v in self.vars):
            raise NotationError(f"{where}: synapse variables cannot be shared")
        if self.output_when is not None and self.output_when not in self.switches:
            raise NotationError(f"{where}: output_when {self.output_when!r} is not a switch")
        kinds = _base_kinds(self.params, self.derived, self.vars, self.switches)
        checker = _Checker(self, kinds, _SYNAPSE_CALLS)
        checker.block(self.block, set())
        checker.expr(self.output_expr, set())
        local = set(checker.locals)
        if names(self.output_expr) & local:
            raise NotationError(f"{where}: the output cannot read locals of the update")

    def kinds(self) -> dict[str, str]:
        """What each declared name is: param, var or switch (references end in _pre/_post)."""
        return _base_kinds(self.params, self.derived, self.vars, self.switches)

    def _refs(self, suffix: str) -> tuple[tuple[str, str], ...]:
        found = [*sorted(names(self.block)), *sorted(names(self.output_expr))]
        seen = dict.fromkeys(n for n in found if _ref_kind(n) == suffix)
        cut = len(suffix) + 1
        return tuple((n, n[:-cut]) for n in seen)

    @property
    def pre_refs(self) -> tuple[tuple[str, str], ...]:
        """``(name in the code, presynaptic variable)`` pairs the rule reads."""
        return self._refs("pre")

    @property
    def post_refs(self) -> tuple[tuple[str, str], ...]:
        """``(name in the code, postsynaptic variable)`` pairs the rule reads."""
        return self._refs("post")

    def initial_state(
        self, shape: tuple[int, ...], dtype: np.dtype | type, params: ResolvedParams | None = None
    ) -> dict[str, np.ndarray]:
        """Initial values of every synapse variable, as arrays of ``shape``."""
        return {
            v.name: np.full(shape, v.initial_value(params), dtype=_numpy_type(v.type, dtype))
            for v in self.vars
        }
