"""The model classes of the hand-written renderings (being replaced; do not use in new code).

They stay until every backend renders the declarations of :mod:`mc_models.model`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mc_models.model import DerivedParam, Param, ResolvedParams, Var, _numpy_type, _resolve

__all__ = ["LegacyNeuronModel", "LegacySynapseModel"]


def _genn_derived(derived: tuple[DerivedParam, ...]) -> list[tuple[str, Callable]]:
    # GeNN 5 passes a name -> value mapping and dt, exactly our convention.
    return [(d.name, (lambda f: lambda pars, dt: f(pars, dt))(d.func)) for d in derived]


@dataclass(frozen=True)
class LegacyNeuronModel:
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
class LegacySynapseModel:
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
