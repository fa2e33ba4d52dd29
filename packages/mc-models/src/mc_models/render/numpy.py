"""NumPy rendering: a model's update as a vectorised step over ``(batch, n)`` arrays.

The rendering is Python source, generated from the model's code and compiled once; every
operation is one NumPy operation on arrays of the model's precision, in the order written
(constants folded as in ``_lower``), so float32 results are those of the per-element
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
    presynaptic one) and the output term; ``sum_over_pre`` sums it over the
    presynaptic neurons in ascending order, as GeNN's dense CPU loop does.
Activations
    :func:`activation_function`: evaluated in float64 from the argument, rounded once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mc_models.expr import (
    Assign,
    Bin,
    BoolOp,
    Call,
    Expr,
    If,
    Name,
    Neg,
    Not,
    walk,
)
from mc_models.model import NeuronModel, ResolvedParams, SynapseModel
from mc_models.render._lower import Const, Lowered, lower_block
from mc_models.render.nodes import NodeRenderer

__all__ = [
    "ActivationRenderer",
    "NeuronStep",
    "NumpyRenderer",
    "SynapseStep",
    "activation_function",
    "neuron_source",
    "neuron_step",
    "presyn_sum",
    "sum_over_pre",
    "synapse_source",
    "synapse_step",
]


_UFUNCS = {"+": "add", "-": "subtract", "*": "multiply", "/": "true_divide"}


class _NumpySyntax(NodeRenderer):
    """What NumPy writes differently from the notation: element-wise tests and selection."""

    def visit_BoolOp(self, e: BoolOp) -> str:
        """``np.logical_and(np.logical_and(a, b), c)``: the operands in their order."""
        fn = "np.logical_and" if e.op == "and" else "np.logical_or"
        out = self.visit(e.values[0])
        for v in e.values[1:]:
            out = f"{fn}({out}, {self.visit(v)})"
        return out

    def negation(self, operand: str) -> str:
        """``np.logical_not(x)``."""
        return f"np.logical_not({operand})"

    def conditional(self, test: str, body: str, orelse: str) -> str:
        """``np.where(test, body, orelse)``."""
        return f"np.where({test}, {body}, {orelse})"


class NumpyRenderer(_NumpySyntax):
    """A model's expression as NumPy code on arrays (names as ``ref`` gives them).

    Constants are ``c[k]``, draws ``draws[k]``, ``phi(x)`` is ``act(x, thr)`` and
    ``sample(i)`` reads the stage data.
    """

    functions: ClassVar[Mapping[str, str]] = {}  # the model's built-ins only
    target = "numpy"

    def __init__(self, ref: Callable[[str], str]) -> None:
        self.ref = ref

    def name(self, name: str) -> str:
        """Where the step keeps it (``ref``)."""
        return self.ref(name)

    def const(self, index: int) -> str:
        """``c[k]``."""
        return f"c[{index}]"

    def call_normal(self, e: Call) -> str:
        """``draws[k]``: the draws numbered in the order written (see ``_lower``)."""
        return f"draws[{e.args[0].value}]"

    def call_phi(self, e: Call) -> str:
        """``act(x, thr)``."""
        return f"act({self.visit(e.args[0])}, thr)"

    def call_sample(self, e: Call) -> str:
        """``data.sample(i)``."""
        return f"data.sample({self.visit(e.args[0])})"


class ActivationRenderer(_NumpySyntax):
    """An activation as NumPy code of the float64 arrays ``x`` and ``thr``."""

    functions: ClassVar[Mapping[str, str]] = {"exp": "np.exp", "log": "np.log", "abs": "np.abs"}
    target = "activation: numpy"

    def number(self, value: float | int) -> str:
        """A float (an integer literal too)."""
        return repr(float(value))


class _Emitter:
    """Python source lines with indentation, and the expression rendering of one model."""

    def __init__(self, ref: Callable[[str], str], kinds: Mapping[str, str]) -> None:
        self.ref, self.kinds = ref, kinds
        self.lines: list[str] = []
        self.ind = 1
        self.masks = 0
        self.renderer = NumpyRenderer(ref)

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.ind + line)

    def expr(self, e: Expr | Const) -> str:
        return self.renderer.render(e)

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
            kind = self.kinds.get(s.target)
            if kind in ("var", "shared"):
                self.assign(self.ref(s.target), s, mask)
            else:
                self.local(s)

    def local(self, s: Assign) -> None:
        """A local value (assigned once)."""
        self(f"l_{s.target} = {self.expr(s.full_value)}")

    def assign(self, target: str, s: Assign, mask: str | None) -> None:
        """Write a state variable in place, with the operations of the notation.

        ``x += e`` adds the evaluated ``e`` in place and an operation's result goes straight
        into the variable (``np.add(a, b, out=x)``): the same float results as a temporary
        copied in, one pass fewer over large (synapse) arrays.
        """
        if mask is not None:
            self(f"{target}[...] = np.where({mask}, {self.expr(s.full_value)}, {target})")
        elif s.op:
            self(f"{target} {s.op}= {self.expr(s.value)}")
        elif isinstance(s.value, Bin):
            a, b = self.expr(s.value.left), self.expr(s.value.right)
            self(f"np.{_UFUNCS[s.value.op]}({a}, {b}, out={target})")
        elif isinstance(s.value, Neg):
            self(f"np.negative({self.expr(s.value.operand)}, out={target})")
        else:
            self(f"{target}[...] = {self.expr(s.value)}")

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


class _MatrixEmitter(_Emitter):
    """An all-to-all synapse update: operations on whole matrices write into kept buffers.

    An operation whose result is a ``(batch, n_pre, n_post)`` matrix (it reads a synapse
    variable, such a local, or both a pre- and a postsynaptic reference) is written with
    ``out=`` into a scratch buffer ``t[k]`` (or straight into the variable it is assigned
    to), so a step allocates no matrix; operands of one side only stay small broadcasts.
    The values are those of the plain expression.
    """

    def __init__(self, ref: Callable[[str], str], kinds: Mapping[str, str]) -> None:
        super().__init__(ref, kinds)
        self.n_temps = 0
        self.free: list[int] = []
        self.matrix_locals: set[str] = set()

    def is_matrix(self, e: Expr | Const) -> bool:
        found = (
            {n.id for n in walk(e) if isinstance(n, Name)} if not isinstance(e, Const) else set()
        )
        if any(self.kinds.get(n) == "var" or n in self.matrix_locals for n in found):
            return True
        refs = {n[-4:] if n.endswith("_pre") else n[-5:] for n in found if n not in self.kinds}
        return {"_pre", "_post"} <= refs

    def temp(self) -> str:
        """A free scratch matrix (the lowest free one; a new one if none is free)."""
        if self.free:
            return f"t[{self.free.pop(0)}]"
        self.n_temps += 1
        return f"t[{self.n_temps - 1}]"

    def release(self, *names: str) -> None:
        for name in names:
            if name.startswith("t["):
                self.free = sorted({*self.free, int(name[2:-1])})

    def operand(self, e: Expr | Const) -> str:
        if isinstance(e, Bin | Neg) and self.is_matrix(e):
            dest = self.temp()
            self.into(e, dest)
            return dest
        return self.expr(e)

    def into(self, e: Expr | Const, dest: str) -> None:
        if isinstance(e, Bin) and self.is_matrix(e):
            a, b = self.operand(e.left), self.operand(e.right)
            self(f"np.{_UFUNCS[e.op]}({a}, {b}, out={dest})")
            self.release(*(x for x in (a, b) if x != dest))
        elif isinstance(e, Neg) and self.is_matrix(e):
            a = self.operand(e.operand)
            self(f"np.negative({a}, out={dest})")
            self.release(*(x for x in (a,) if x != dest))
        else:
            self(f"{dest}[...] = {self.expr(e)}")

    def assign(self, target: str, s: Assign, mask: str | None) -> None:
        matrix = isinstance(s.value, Bin | Neg) and self.is_matrix(s.value)
        if mask is not None or not matrix:
            super().assign(target, s, mask)
        elif s.op:
            value = self.operand(s.value)
            self(f"{target} {s.op}= {value}")
            self.release(value)
        else:
            self.into(s.value, target)

    def local(self, s: Assign) -> None:
        if isinstance(s.value, Bin | Neg) and self.is_matrix(s.value):
            dest = self.temp()
            self.into(s.value, dest)
            self(f"l_{s.target} = {dest}")
            self.matrix_locals.add(s.target)
        else:
            super().local(s)


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

    ``update(w, pre, post, c, sw, t)`` (``t``: ``N_TEMPS`` scratch matrices),
    ``output(w, pre, post, c)`` and ``output_into(w, pre, post, c, out)`` (the same terms,
    written into ``out``).
    """
    kinds = model.kinds()
    e = (_Emitter if one_to_one else _MatrixEmitter)(_synapse_ref(kinds, one_to_one), kinds)
    e.block(lowered.block)
    n_temps = getattr(e, "n_temps", 0)
    out = e.expr(lowered.expr)
    top = lowered.expr
    if isinstance(top, Bin):  # the terms straight into the caller's buffer
        into = f"np.{_UFUNCS[top.op]}({e.expr(top.left)}, {e.expr(top.right)}, out=out)"
    else:
        into = f"out[...] = {out}"
    return (
        f"N_TEMPS = {n_temps}\n\n\n"
        + "\n".join(["def update(w, pre, post, c, sw, t):", *e.lines])
        + f"\n\n\ndef output(w, pre, post, c):\n    return {out}\n"
        + f"\n\ndef output_into(w, pre, post, c, out):\n    {into}\n"
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
    _output_into: Callable
    _consts: tuple
    _n_temps: int = 0
    scratch: dict = field(default_factory=dict)

    def update(self, weights, pre, post, switches: Mapping[str, bool] | None = None) -> None:
        """Update the synapse variables ``weights`` (``(batch, n_pre, n_post)``) in place."""
        temps = self._scratch(weights["g"], self._n_temps) if self._n_temps else ()
        self._update(weights, pre, post, self._consts, switches or {}, temps)

    def _scratch(self, like: np.ndarray, n: int) -> list[np.ndarray]:
        """``n`` scratch matrices shaped like ``like``, from the (shared) pool."""
        key = (like.shape, like.dtype.str)
        kept = self.scratch.setdefault(key, [])
        while len(kept) < n:
            kept.append(np.empty_like(like))
        return kept

    def output(self, weights, pre, post) -> np.ndarray:
        """Each synapse's output term: ``(batch, n_pre, n_post)``, one-to-one ``(batch, n)``."""
        return self._output(weights, pre, post, self._consts)

    def input_sum(self, weights, pre, post, switches: Mapping[str, bool] | None = None):
        """What the projection adds to its target input, ``(batch, n_post)``.

        ``None`` while its output switch is off. An all-to-all projection's terms and their
        running sum go into buffers kept for the next step (a stage runs many steps of
        large matrices: no allocation per step).
        """
        gate = self.model.output_when
        if gate is not None and not (switches or {}).get(gate, False):
            return None
        if self.one_to_one:
            return np.array(self.output(weights, pre, post), copy=True)
        g = weights["g"]  # an all-to-all projection's weights: (batch, n_pre, n_post)
        terms, running = self._scratch(g, 2)[:2]
        self._output_into(weights, pre, post, self._consts, terms)
        if g.shape[1] == 1:
            return terms[:, 0, :].copy()
        np.cumsum(terms, axis=1, dtype=terms.dtype, out=running)
        return running[:, -1, :].copy()


def synapse_step(
    model: SynapseModel,
    params: ResolvedParams,
    one_to_one: bool = False,
    scratch: dict | None = None,
) -> SynapseStep:
    """Render and bind a synapse model's NumPy update and output.

    ``scratch``: a pool of scratch matrices (by shape) to share between the projections of
    one simulation, which run one after another.
    """
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
        namespace["output_into"],
        lowered.values(params.values, params.dtype),
        namespace["N_TEMPS"],
        {} if scratch is None else scratch,
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
    """``sum_i g[b, i, j] * x_pre[b, i]`` in ascending presynaptic order (``sum_over_pre``)."""
    return sum_over_pre(g * x_pre[:, :, None])


# ---------------------------------------------------------------------- activations
def activation_function(activation) -> Callable[[np.ndarray, Any], np.ndarray]:
    """``f(x, thr)``: the activation in float64 from ``x``, rounded once to ``x``'s dtype."""
    body = ActivationRenderer().render(activation.tree)
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
