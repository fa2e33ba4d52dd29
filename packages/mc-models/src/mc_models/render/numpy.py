"""NumPy rendering: a model's update as a vectorised step over ``(batch, n)`` arrays.

The rendering is Python source, generated from the model's code and compiled once; every
operation is one NumPy operation on arrays of the model's precision, in the order written
(constants folded as in :mod:`._lower`), so float32 results are those of the per-element
float32 evaluation that GeNN's CPU code and the numba kernels perform.

Neurons
    :func:`neuron_step` -> :class:`NeuronStep`, called with the population's state
    (``name -> (batch, n)`` arrays; shared counters ``(batch, 1)``), its inputs, the
    switches, the standard-normal draws (one ``(batch, n)`` array per ``normal()`` call)
    and the stage data (``sample(i)``). ``if`` tests on switches are Python tests; tests on
    values select element-wise (``numpy.where``).
Synapses
    :func:`synapse_step` -> :class:`SynapseStep`: the update on ``(batch, n_pre, n_post)``
    weight arrays (``x_pre`` broadcast along the postsynaptic axis, ``x_post`` along the
    presynaptic one) and the output term; :func:`sum_over_pre` sums it over the
    presynaptic neurons in ascending order, as GeNN's dense CPU loop does.
Activations
    :func:`activation_function`: evaluated in float64 from the argument, rounded once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mc_models.expr import Bin, BoolOp, Call, Cmp, Cond, Expr, If, Name, Neg, Not, Num
from mc_models.model import NeuronModel, ResolvedParams, SynapseModel
from mc_models.render._lower import Const, Lowered, lower_block

__all__ = [
    "NeuronStep",
    "SynapseStep",
    "activation_function",
    "neuron_source",
    "neuron_step",
    "presyn_sum",
    "sum_over_pre",
    "synapse_source",
    "synapse_step",
]


class _Emitter:
    """Python source lines with indentation, and the expression rendering of one model."""

    def __init__(self, ref: Callable[[str], str], kinds: Mapping[str, str]) -> None:
        self.ref, self.kinds = ref, kinds
        self.lines: list[str] = []
        self.ind = 1
        self.masks = 0

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.ind + line)

    def expr(self, e: Expr | Const) -> str:
        if isinstance(e, Const):
            return f"c[{e.index}]"
        if isinstance(e, Num):
            return repr(e.value)
        if isinstance(e, Name):
            return self.ref(e.id)
        if isinstance(e, Bin):
            return f"({self.expr(e.left)} {e.op} {self.expr(e.right)})"
        if isinstance(e, Neg):
            return f"(-{self.expr(e.operand)})"
        if isinstance(e, Cmp):
            return f"({self.expr(e.left)} {e.op} {self.expr(e.right)})"
        if isinstance(e, BoolOp):
            fn = "np.logical_and" if e.op == "and" else "np.logical_or"
            out = self.expr(e.values[0])
            for v in e.values[1:]:
                out = f"{fn}({out}, {self.expr(v)})"
            return out
        if isinstance(e, Not):
            return f"np.logical_not({self.expr(e.operand)})"
        if isinstance(e, Cond):
            return f"np.where({self.expr(e.test)}, {self.expr(e.body)}, {self.expr(e.orelse)})"
        if isinstance(e, Call):
            if e.func == "normal":  # numbered in the order written (see _lower)
                return f"draws[{e.args[0].value}]"
            if e.func == "phi":
                return f"act({self.expr(e.args[0])}, thr)"
            if e.func == "sample":
                return f"data.sample({self.expr(e.args[0])})"
        raise ValueError(f"cannot render {e!r}")  # pragma: no cover - checked by the model

    def switch_test(self, e: Expr) -> str | None:
        """A test of switches only, as a Python test; ``None`` for a test of values."""
        if isinstance(e, Name) and self.kinds.get(e.id) == "switch":
            return f"sw[{e.id!r}]"
        if isinstance(e, Not):
            inner = self.switch_test(e.operand)
            return None if inner is None else f"(not {inner})"
        if isinstance(e, BoolOp):
            parts = [self.switch_test(v) for v in e.values]
            return None if None in parts else "(" + f" {e.op} ".join(parts) + ")"
        return None

    def block(self, block, mask: str | None = None) -> None:
        if not block:
            self("pass")
            return
        for s in block:
            if isinstance(s, If):
                self.if_(s, mask)
                continue
            value = self.expr(s.full_value)
            kind = self.kinds.get(s.target)
            if kind in ("var", "shared"):
                target = self.ref(s.target)
                if mask is not None:
                    value = f"np.where({mask}, {value}, {target})"
                self(f"{target}[...] = {value}")
            else:
                self(f"l_{s.target} = {value}")

    def if_(self, s: If, mask: str | None) -> None:
        test = self.switch_test(s.test)
        if test is not None:
            self(f"if {test}:")
            self.ind += 1
            self.block(s.body, mask)
            self.ind -= 1
            if s.orelse:
                self("else:")
                self.ind += 1
                self.block(s.orelse, mask)
                self.ind -= 1
            return
        m = f"m{self.masks}"
        self.masks += 1
        cond = self.expr(s.test)
        self(f"{m} = {cond}" if mask is None else f"{m} = np.logical_and({mask}, {cond})")
        self.block(s.body, m)
        if s.orelse:
            n = f"m{self.masks}"
            self.masks += 1
            neg = f"np.logical_not({cond})"
            self(f"{n} = {neg}" if mask is None else f"{n} = np.logical_and({mask}, {neg})")
            self.block(s.orelse, n)


def _neuron_ref(kinds: Mapping[str, str]) -> Callable[[str], str]:
    def ref(name: str) -> str:
        k = kinds.get(name, "local")
        if k in ("var", "shared"):
            return f"s[{name!r}]"
        if k == "input":
            return f"i[{name!r}]"
        if k == "switch":
            return f"sw[{name!r}]"
        return f"l_{name}"

    return ref


def _lowered_neuron(model: NeuronModel, params: Mapping[str, Any], dtype, start: bool) -> Lowered:
    kinds = model.kinds()
    ints = {v.name for v in model.vars if v.type != "scalar"}
    block = model.start_block if start else model.block
    return lower_block(block, kinds, ints, params, dtype)


def neuron_source(model: NeuronModel, lowered: Lowered, name: str = "step") -> str:
    """The Python source of a lowered neuron update.

    ``def step(s, i, c, sw, draws, data, act, thr)``: state, inputs, constants, switches,
    draws, stage data, the activation and its threshold.
    """
    kinds = model.kinds()
    e = _Emitter(_neuron_ref(kinds), kinds)
    e.block(lowered.block)
    head = f"def {name}(s, i, c, sw, draws, data, act, thr):"
    return "\n".join([head, *e.lines]) + "\n"


def _compile(source: str, name: str) -> Callable:
    namespace: dict[str, Any] = {"np": np}
    exec(compile(source, f"<mc_models rendering: {name}>", "exec"), namespace)
    return namespace[name]


@dataclass
class NeuronStep:
    """A neuron model's NumPy step bound to one population's parameters."""

    model: NeuronModel
    params: ResolvedParams
    source: str
    start_source: str
    _step: Callable
    _start: Callable
    _consts: tuple
    _start_consts: tuple
    _act: Callable | None
    _thr: Any

    def __call__(
        self,
        state: Mapping[str, np.ndarray],
        inputs: Mapping[str, np.ndarray],
        switches: Mapping[str, bool] | None = None,
        draws: list[np.ndarray] | tuple = (),
        data: Any = None,
    ) -> None:
        """Advance ``state`` by one step, in place."""
        self._step(state, inputs, self._consts, switches or {}, draws, data, self._act, self._thr)

    def stage_start(self, state: Mapping[str, np.ndarray], data: Any = None) -> None:
        """Run the model's stage-start code (e.g. a player's reset), in place."""
        self._start(state, {}, self._start_consts, {}, (), data, self._act, self._thr)


def neuron_step(model: NeuronModel, activation, params: ResolvedParams) -> NeuronStep:
    """Render and bind a neuron model's NumPy step (``activation`` for ``phi``, or ``None``)."""
    lowered = _lowered_neuron(model, params.values, params.dtype, start=False)
    start = _lowered_neuron(model, params.values, params.dtype, start=True)
    src = neuron_source(model, lowered, "step")
    start_src = neuron_source(model, start, "start")
    phi = model.uses("phi")
    return NeuronStep(
        model,
        params,
        src,
        start_src,
        _compile(src, "step"),
        _compile(start_src, "start"),
        lowered.values(params.values, params.dtype),
        start.values(params.values, params.dtype),
        activation_function(activation) if phi else None,
        params.values["threshold"] if phi else None,
    )


# ---------------------------------------------------------------------- synapses
def _synapse_ref(kinds: Mapping[str, str], one_to_one: bool) -> Callable[[str], str]:
    pre_ax, post_ax = ("", "") if one_to_one else ("[:, :, None]", "[:, None, :]")

    def ref(name: str) -> str:
        k = kinds.get(name)
        if k == "var":
            return f"w[{name!r}]"
        if k == "switch":
            return f"sw[{name!r}]"
        if name.endswith("_pre") and k is None:
            return f"pre[{name[:-4]!r}]{pre_ax}"
        if name.endswith("_post") and k is None:
            return f"post[{name[:-5]!r}]{post_ax}"
        return f"l_{name}"

    return ref


def synapse_source(model: SynapseModel, lowered: Lowered, one_to_one: bool = False) -> str:
    """Python source of a lowered synapse model.

    ``update(w, pre, post, c, sw)`` and ``output(w, pre, post, c)``.
    """
    kinds = model.kinds()
    e = _Emitter(_synapse_ref(kinds, one_to_one), kinds)
    e.block(lowered.block)
    out = e.expr(lowered.expr)
    return (
        "\n".join(["def update(w, pre, post, c, sw):", *e.lines])
        + f"\n\n\ndef output(w, pre, post, c):\n    return {out}\n"
    )


@dataclass
class SynapseStep:
    """A synapse model's NumPy update and output bound to one projection's parameters."""

    model: SynapseModel
    params: ResolvedParams
    source: str
    one_to_one: bool
    _update: Callable
    _output: Callable
    _consts: tuple

    def update(self, weights, pre, post, switches: Mapping[str, bool] | None = None) -> None:
        """Update the synapse variables ``weights`` (``(batch, n_pre, n_post)``) in place."""
        self._update(weights, pre, post, self._consts, switches or {})

    def output(self, weights, pre, post) -> np.ndarray:
        """Each synapse's output term: ``(batch, n_pre, n_post)``, one-to-one ``(batch, n)``."""
        return self._output(weights, pre, post, self._consts)

    def input_sum(self, weights, pre, post, switches: Mapping[str, bool] | None = None):
        """What the projection adds to its target input, ``(batch, n_post)``.

        ``None`` while its output switch is off.
        """
        gate = self.model.output_when
        if gate is not None and not (switches or {}).get(gate, False):
            return None
        out = self.output(weights, pre, post)
        if self.one_to_one:
            return np.array(out, copy=True)
        shape = weights["g"].shape  # an all-to-all projection's weights: (batch, n_pre, n_post)
        return sum_over_pre(out if out.shape == shape else np.broadcast_to(out, shape))


def synapse_step(
    model: SynapseModel, params: ResolvedParams, one_to_one: bool = False
) -> SynapseStep:
    """Render and bind a synapse model's NumPy update and output."""
    kinds = model.kinds()
    lowered = lower_block(model.block, kinds, set(), params.values, params.dtype, model.output_expr)
    src = synapse_source(model, lowered, one_to_one)
    namespace: dict[str, Any] = {"np": np}
    exec(compile(src, f"<mc_models rendering: {model.name}>", "exec"), namespace)
    return SynapseStep(
        model,
        params,
        src,
        one_to_one,
        namespace["update"],
        namespace["output"],
        lowered.values(params.values, params.dtype),
    )


def sum_over_pre(prod: np.ndarray) -> np.ndarray:
    """Sum ``prod[b, i, j]`` over ``i`` in ascending presynaptic order, in its precision.

    The terms are added one after another into an accumulator, exactly as GeNN's dense CPU
    kernel does (``inSyn``). A BLAS product or a pairwise sum would change the last bits.
    """
    if prod.shape[1] == 1:
        return prod[:, 0, :].copy()
    return np.cumsum(prod, axis=1, dtype=prod.dtype)[:, -1, :]


def presyn_sum(g: np.ndarray, x_pre: np.ndarray) -> np.ndarray:
    """``sum_i g[b, i, j] * x_pre[b, i]`` in ascending presynaptic order (:func:`sum_over_pre`)."""
    return sum_over_pre(g * x_pre[:, :, None])


# ---------------------------------------------------------------------- activations
def activation_function(activation) -> Callable[[np.ndarray, Any], np.ndarray]:
    """``f(x, thr)``: the activation in float64 from ``x``, rounded once to ``x``'s dtype."""
    e = _Emitter(lambda n: {"x": "x", "thr": "thr"}[n], {})
    body = _act_expr(activation.tree, e)
    src = (
        "def act(x, thr):\n"
        "    x = np.asarray(x)\n"
        "    dtype = x.dtype if x.dtype.kind == 'f' else np.dtype(np.float64)\n"
        "    x = x.astype(np.float64)\n"
        "    thr = float(thr)\n"
        "    with np.errstate(over='ignore', invalid='ignore'):\n"
        f"        y = np.asarray({body}, dtype=np.float64)\n"
        "    if y.shape != x.shape:  # an expression that does not read x\n"
        "        y = np.broadcast_to(y, x.shape)\n"
        "    return y.astype(dtype)\n"
    )
    return _compile(src, "act")


def _act_expr(e: Expr, em: _Emitter) -> str:
    if isinstance(e, Call):
        fn = {"exp": "np.exp", "log": "np.log", "abs": "np.abs"}[e.func]
        return f"{fn}({_act_expr(e.args[0], em)})"
    if isinstance(e, Num):
        return repr(float(e.value))
    if isinstance(e, Name):
        return e.id
    if isinstance(e, Bin | Cmp):
        return f"({_act_expr(e.left, em)} {e.op} {_act_expr(e.right, em)})"
    if isinstance(e, Neg):
        return f"(-{_act_expr(e.operand, em)})"
    if isinstance(e, Cond):
        t, a, b = (_act_expr(x, em) for x in (e.test, e.body, e.orelse))
        return f"np.where({t}, {a}, {b})"
    raise ValueError(f"activation: cannot render {e!r}")
