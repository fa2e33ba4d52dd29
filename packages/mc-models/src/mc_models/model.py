"""Declarative model definitions shared by every backend.

A model is defined once: its parameters by name (with meaning, unit and default), its derived
parameters (computed *by name*, never by position), its state variables and its equations.
From that one definition come

* the GeNN 5 rendering, as plain data (:meth:`NeuronModel.genn_model_kwargs`), so that this
  package imports without pygenn, and
* the resolved float parameters that the NumPy step functions use
  (:meth:`NeuronModel.resolve`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DerivedParam",
    "NeuronModel",
    "Param",
    "ResolvedParams",
    "SynapseModel",
    "Var",
]


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
        Default value, or ``None`` when the parameter must be given.
    unit
        Unit (time is in the model's arbitrary time unit, conductances are relative).
    """

    name: str
    doc: str
    default: float | None = None
    unit: str = ""


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
    """

    name: str
    doc: str
    type: str = "scalar"
    init: float | str = 0.0

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


def _genn_derived(derived: tuple[DerivedParam, ...]) -> list[tuple[str, Callable]]:
    # GeNN 5 passes a name -> value mapping and dt, exactly our convention.
    return [(d.name, (lambda f: lambda pars, dt: f(pars, dt))(d.func)) for d in derived]


@dataclass(frozen=True)
class NeuronModel:
    """A neuron model, defined once for every backend.

    Parameters
    ----------
    name
        GeNN class name.
    doc
        Equations and meaning (also the docstring of its module).
    params, derived, vars
        Named parameters, derived parameters and state variables.
    additional_inputs
        Names of the input variables that synapse groups target (zeroed every step).
    sim_code
        GeNN 5 simulation code, with ``{activation:out:in}`` placeholders already expanded
        by :func:`mc_models.activations.render`.
    dynamic_params
        Parameters switched at run time (GeNN dynamic parameters), e.g. the teaching switch.
    extra_global_params
        ``(name, type)`` pairs of GeNN extra global parameters.
    genn_vars
        Variables only the GeNN rendering has (e.g. where a batch member's resident data
        starts); they are not part of the NumPy state.
    """

    name: str
    doc: str
    params: tuple[Param, ...]
    derived: tuple[DerivedParam, ...]
    vars: tuple[Var, ...]
    additional_inputs: tuple[str, ...]
    sim_code: str
    dynamic_params: tuple[str, ...] = ()
    extra_global_params: tuple[tuple[str, str], ...] = ()
    genn_vars: tuple[Var, ...] = ()

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the base parameters."""
        return tuple(p.name for p in self.params)

    @property
    def var_names(self) -> tuple[str, ...]:
        """Names of the state variables."""
        return tuple(v.name for v in self.vars)

    def resolve(
        self, values: Mapping[str, float], dt: float, dtype: np.dtype | type = np.float32
    ) -> ResolvedParams:
        """Fill defaults, reject unknown names and compute the derived parameters by name."""
        return _resolve(self.name, self.params, self.derived, values, dt, dtype)

    def initial_state(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype | type,
        params: ResolvedParams | None = None,
    ) -> dict[str, Any]:
        """Initial values of every state variable, as arrays of ``shape``.

        ``params`` (this model's resolved parameters) gives the values of variables that
        start at a parameter.
        """
        return {
            v.name: np.full(shape, v.initial_value(params), dtype=_numpy_type(v.type, dtype))
            for v in self.vars
        }

    def genn_model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``pygenn.create_neuron_model`` (plain data, no pygenn)."""
        return {
            "class_name": self.name,
            "params": list(self.param_names),
            "derived_params": _genn_derived(self.derived),
            "vars": [(v.name, v.type) for v in (*self.vars, *self.genn_vars)],
            "sim_code": self.sim_code,
            "threshold_condition_code": None,
            "additional_input_vars": [(n, "scalar", 0.0) for n in self.additional_inputs],
            "extra_global_params": list(self.extra_global_params),
        }


@dataclass(frozen=True)
class SynapseModel:
    """A weight-update model (continuous synapse dynamics), defined once for every backend.

    ``pre_refs`` and ``post_refs`` name the neuron variables the rule reads, as
    ``(local name, neuron variable)`` pairs (GeNN 5 neuron variable references).
    ``synapse_dynamics_code`` is GeNN 5 code; ``addToPost`` feeds the postsynaptic input.
    """

    name: str
    doc: str
    params: tuple[Param, ...]
    derived: tuple[DerivedParam, ...]
    vars: tuple[Var, ...]
    pre_refs: tuple[tuple[str, str], ...]
    post_refs: tuple[tuple[str, str], ...]
    synapse_dynamics_code: str
    dynamic_params: tuple[str, ...] = field(default=())
    plastic: bool = True

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the base parameters."""
        return tuple(p.name for p in self.params)

    @property
    def var_names(self) -> tuple[str, ...]:
        """Names of the per-synapse state variables."""
        return tuple(v.name for v in self.vars)

    def resolve(
        self, values: Mapping[str, float], dt: float, dtype: np.dtype | type = np.float32
    ) -> ResolvedParams:
        """Fill defaults, reject unknown names and compute the derived parameters by name."""
        return _resolve(self.name, self.params, self.derived, values, dt, dtype)

    def genn_model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``pygenn.create_weight_update_model`` (plain data)."""
        return {
            "class_name": self.name,
            "params": list(self.param_names),
            "derived_params": _genn_derived(self.derived),
            "vars": [(v.name, v.type) for v in self.vars],
            "pre_neuron_var_refs": [(local, "scalar", "READ_ONLY") for local, _ in self.pre_refs],
            "post_neuron_var_refs": [(local, "scalar", "READ_ONLY") for local, _ in self.post_refs],
            "synapse_dynamics_code": self.synapse_dynamics_code,
        }


def _numpy_type(genn_type: str, scalar: np.dtype | type) -> np.dtype:
    if genn_type == "scalar":
        return np.dtype(scalar)
    return {"unsigned int": np.dtype(np.uint32), "int": np.dtype(np.int32)}[genn_type]
