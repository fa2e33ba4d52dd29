"""The step program: a network's topology lowered once into an ordered list of operations.

Every backend runs the same program; none of them knows what a pyramidal neuron or a PAL
synapse is. The program says, for one time step:

1. the **window**: during a stage with learning on, every switch is off for the first
   ``StepProgram.lag_steps`` steps of each sample (the learning lag);
2. the **draws**: ``StepProgram.n_draws`` standard-normal numbers per member, in the
   order of the neuron operations (``NeuronOp.noise_offset``);
3. every :class:`SynapseOp`, in accumulation order: its model's update on the neuron state
   of the previous step, then its output summed over the presynaptic neurons in ascending
   order into its target input (the first operation onto an input starts it from zero, the
   next ones are added to it);
4. every :class:`NeuronOp`: its model's update, reading its inputs (zero where nothing
   targets them), its draws and, for a rate player, the stage data.

Before a stage every neuron operation whose model has stage-start code runs it (the rate
players' reset to the first sample). Run-time switches are the stage's flags
(``StepProgram.switches``: ``learning``, ``teaching``), switched off in the window and,
per operation, held off where ``SynapseOp.frozen`` says so (a projection that never
learns). The teacher's mute window is the rate player's own parameter.

A backend may lower an operation its own way as long as the results are those of the
program. One such lowering is marked in the program itself: with the network's
``input_mode: fast``, every all-to-all projection from a rate player whose synapse model is
a rank-one delta rule (:mod:`mc_models.factorise`; the forward rule) is a
:class:`FactorisedOp`, which carries that rule. While every presynaptic variable the rule
reads holds one vector ``x`` (the player holds a sample; checked at run time, every step),
the backends run the *sample-factorised* update instead of the per-synapse one:

* at the segment's first step ``p = G0^T x``, ``q = D0^T x`` and ``s = x.x`` (float64,
  ascending presynaptic order), ``a = 1``, ``A = 0``, ``u = U = 0`` (float64); no segment
  starts in a sample's first step (the players switch after the synapses have read the
  previous sample's rates, so such a segment would last one step);
* each step with the rule's switch on, with ``e`` the rule's postsynaptic factor evaluated
  as the rule evaluates it (float32): ``A += a``, ``U += u``, ``a *= 1 - h``,
  ``u = (1 - h) u + h e`` (the weight takes the old increment, as in the rule);
* each step the output is ``p + A q + U s`` rounded once to the precision;
* the segment ends (``g = G0 + A D0 + U x^T``, ``delta = a D0 + u x^T``, float64, rounded
  once) when a presynaptic variable leaves ``x``, before a record of synapse variables and
  at the end of the stage. A sample's first step still reads the previous sample's rates,
  so it continues the previous sample's segment; a backend that splits a stage into pieces
  carries the segments from one piece to the next (where segments end does not depend on
  how a backend splits a stage).

Every other step runs the rule exactly: with ``tau_0 = dt`` the second step of each sample
(it reads ``rate_last`` of the previous sample), sometimes the third (the rates may take one
step more to settle in float32), and the first of a stage. In real arithmetic both are
the same; they differ in float32 rounding only (see the mc-network README).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mc_models import NeuronModel, ResolvedParams, SynapseModel
from mc_models.factorise import Rank1DeltaRule, rank1_delta_rule
from mc_network.models import (
    neuron_params,
    population_data,
    population_model,
    projection_frozen,
    projection_model,
    synapse_params,
)
from mc_network.spec import NetworkSpec
from mc_network.topology import Topology

__all__ = [
    "INPUT_MODES",
    "STAGE_SWITCHES",
    "FactorisedOp",
    "NeuronOp",
    "StepProgram",
    "SynapseOp",
    "lower",
]

log = logging.getLogger(__name__)

INPUT_MODES = ("exact", "fast")
"""How projections from rate players run: per synapse every step, or sample-factorised."""

STAGE_SWITCHES = ("learning", "teaching")
"""The switches a stage sets (``run_stage(learning=..., teaching=...)``)."""


class _Switched:
    """An operation whose model tests switches."""

    model: NeuronModel | SynapseModel
    frozen: frozenset[str]

    def switches(self, values: Mapping[str, bool]) -> dict[str, bool]:
        """The switch values of this operation for the step's ``values``."""
        return {s: bool(values[s]) and s not in self.frozen for s in self.model.switches}


@dataclass(frozen=True)
class NeuronOp(_Switched):
    """Update a population with its neuron model.

    ``params``: its parameter values by name; ``data``: the stage data its ``sample()``
    reads (``"inputs"`` or ``"teacher"``; ``None`` for other models); ``draws``: its
    ``normal()`` draws per neuron and step (0 when its noise is off), at
    ``noise_offset`` in the step's draws (draw ``k`` of neuron ``j`` at
    ``noise_offset + k * size + j``).
    """

    population: str
    model: NeuronModel
    size: int
    params: Mapping[str, float]
    resolved: ResolvedParams
    data: str | None = None
    draws: int = 0
    noise_offset: int = 0
    frozen: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SynapseOp(_Switched):
    """Update a projection with its synapse model and add its output to the target input.

    ``one_to_one``: neuron ``j`` to neuron ``j`` (no synapse state); else all-to-all with
    ``(n_pre, n_post)`` matrices, pre-major. ``frozen``: switches held off for this
    projection (``learning`` where it never learns). ``first``: the first operation onto
    ``post.target`` in the step (it starts the input from zero; later ones are added).
    """

    projection: str
    model: SynapseModel
    pre: str
    post: str
    target: str
    n_pre: int
    n_post: int
    one_to_one: bool
    params: Mapping[str, float]
    resolved: ResolvedParams
    frozen: frozenset[str]
    first: bool


@dataclass(frozen=True)
class FactorisedOp(SynapseOp):
    """A projection from a rate player that runs sample-factorised (``input_mode: fast``).

    Its synapse model is a rank-one delta rule, ``rule`` (:mod:`mc_models.factorise`), with
    ``factor_resolved`` the parameters of its postsynaptic factor. The operation's results
    are the algorithm of the module docstring: factorised while the presynaptic variables
    hold a sample, the model's own update otherwise. Each backend handles this operation
    type in one place.
    """

    rule: Rank1DeltaRule
    factor_resolved: ResolvedParams


@dataclass(frozen=True)
class StepProgram:
    """A network lowered into the operations of one time step (see the module docstring)."""

    synapses: tuple[SynapseOp, ...]
    neurons: tuple[NeuronOp, ...]
    lag_steps: int
    n_draws: int
    dtype: np.dtype
    activation: str
    switches: tuple[str, ...] = STAGE_SWITCHES
    input_mode: str = "exact"

    @property
    def factorised(self) -> tuple[FactorisedOp, ...]:
        """The sample-factorised projections, in program order."""
        return tuple(op for op in self.synapses if isinstance(op, FactorisedOp))

    def neuron(self, name: str) -> NeuronOp:
        """The operation of a population."""
        for op in self.neurons:
            if op.population == name:
                return op
        raise KeyError(f"no population {name!r}; have {[o.population for o in self.neurons]}")

    def synapse(self, name: str) -> SynapseOp:
        """The operation of a projection."""
        for op in self.synapses:
            if op.projection == name:
                return op
        raise KeyError(f"no projection {name!r}; have {[o.projection for o in self.synapses]}")

    @property
    def noisy(self) -> bool:
        """Whether any population draws noise."""
        return self.n_draws > 0

    def window(self, learning: bool) -> int:
        """Steps at the start of each sample with every switch off (0: none)."""
        return self.lag_steps if learning else 0

    def step_switches(
        self, stage: Mapping[str, bool], step_in_sample: int, window: int
    ) -> dict[str, bool]:
        """The switch values of one step of a stage."""
        off = window > 0 and step_in_sample < window
        return {s: bool(stage[s]) and not off for s in self.switches}


def lower(spec: NetworkSpec, topo: Topology) -> StepProgram:
    """Lower a network description and its topology into its step program."""
    dtype = np.dtype(spec.dtype)
    neurons: list[NeuronOp] = []
    offset = 0
    for pop in topo.populations:
        model = population_model(spec, pop)
        params = neuron_params(spec, pop, model)
        resolved = model.resolve(params, spec.dt, dtype)
        gate = model.noise_gate
        draws = model.n_draws if gate is None or params.get(gate, 0.0) > 0 else 0
        data = population_data(pop) if model.uses("sample") else None
        neurons.append(NeuronOp(pop.name, model, pop.size, params, resolved, data, draws, offset))
        offset += draws * pop.size
    synapses: list[SynapseOp] = []
    seen: set[tuple[str, str]] = set()
    for proj in topo.projections:
        model = projection_model(spec, proj)
        pre, post = _by_name(neurons, proj.pre), _by_name(neurons, proj.post)
        _check_refs(proj.name, model, pre, post, proj.target)
        if proj.one_to_one and model.vars:
            raise ValueError(
                f"projection {proj.name!r} is one-to-one: model {model.name!r} cannot have "
                f"synapse variables ({list(model.var_names)})"
            )
        if not proj.one_to_one and "g" not in model.var_names:
            raise ValueError(
                f"projection {proj.name!r}: model {model.name!r} needs the weight variable 'g'"
            )
        params = synapse_params(spec, proj, model)
        key = (proj.post, proj.target)
        fields = dict(
            projection=proj.name,
            model=model,
            pre=proj.pre,
            post=proj.post,
            target=proj.target,
            n_pre=proj.n_pre,
            n_post=proj.n_post,
            one_to_one=proj.one_to_one,
            params=params,
            resolved=model.resolve(params, spec.dt, dtype),
            frozen=projection_frozen(proj),
            first=key not in seen,
        )
        rule = _fast_rule(spec, proj.name, model, pre, proj.one_to_one)
        if rule is None:
            synapses.append(SynapseOp(**fields))
        else:
            factor = rule.factor.resolve(params, spec.dt, dtype)
            synapses.append(FactorisedOp(**fields, rule=rule, factor_resolved=factor))
        seen.add(key)
    for op in [*neurons, *synapses]:
        unknown = set(op.model.switches) - set(STAGE_SWITCHES)
        if unknown:
            raise ValueError(
                f"model {op.model.name!r}: switch(es) {sorted(unknown)} are not driven by the "
                f"network; the stage switches are {list(STAGE_SWITCHES)}"
            )
    lag = round(spec.player.learning_lag / spec.dt)
    return StepProgram(
        tuple(synapses),
        tuple(neurons),
        lag,
        offset,
        dtype,
        spec.activation,
        input_mode=spec.input_mode,
    )


def _fast_rule(
    spec: NetworkSpec, name: str, model: SynapseModel, pre: NeuronOp, one_to_one: bool
) -> Rank1DeltaRule | None:
    """The rule of a projection that runs sample-factorised, or ``None``."""
    if spec.input_mode != "fast" or one_to_one or pre.data is None:
        return None
    rule = rank1_delta_rule(model)
    if rule is None:
        log.info("input_mode fast: projection %r (model %r) runs exactly", name, model.name)
        return None
    if any(v not in {x.name for x in pre.model.vars} for v in rule.pre_vars):
        return None
    if spec.player.tau_0 > spec.dt:
        log.warning(
            "input_mode fast: player.tau_0 = %r > dt = %r, so the rates of %r approach each "
            "sample gradually and projection %r runs its exact rule until they settle (the "
            "fast mode gains little); use tau_0 = dt for the fast mode to pay",
            spec.player.tau_0,
            spec.dt,
            pre.population,
            name,
        )
    return rule


def _by_name(neurons: list[NeuronOp], name: str) -> NeuronOp:
    return next(op for op in neurons if op.population == name)


def _check_refs(name: str, model: SynapseModel, pre: NeuronOp, post: NeuronOp, target: str):
    """The synapse model reads variables its neurons have and feeds an input that exists."""
    for refs, op in ((model.pre_refs, pre), (model.post_refs, post)):
        have = {v.name for v in op.model.vars if not v.shared}
        missing = sorted({v for _, v in refs} - have)
        if missing:
            raise ValueError(
                f"projection {name!r}: model {model.name!r} reads {missing} of population "
                f"{op.population!r}, whose model {op.model.name!r} has no such variable "
                f"(it has {sorted(have)})"
            )
    if target not in post.model.inputs:
        raise ValueError(
            f"projection {name!r} feeds {target!r} of {post.population!r}, whose model "
            f"{post.model.name!r} has the inputs {list(post.model.inputs)}"
        )
