"""numba rendering: a model's update as the loop bodies a kernel generator pastes in.

The rendering is Python source for numba (``fastmath`` off), one batch member at a time:
every operation of the model's code on float32 (or float64) scalars in the order written,
constants folded as in ``_lower`` (so the values are those of the NumPy rendering, bit
for bit), the activation in float64 from the state's value and rounded once. What an array
is called, where the constants and draws are and how a matrix is traversed is the kernel
generator's business; it passes the names in.

Neurons (:class:`NeuronCode`)
    ``lines(names)``: statements for one population. Per-neuron statements go into loops
    ``for j in range(size)`` (a variable read in a loop is loaded once at its top, every
    write is stored at once); statements on shared counters, and ``if`` blocks that assign
    them, run once per member between those loops.
Synapses (:class:`SynapseCode`)
    one :class:`SynapseVariant` per combination of the switches the update tests (e.g.
    learning on and off): the postsynaptic terms (subexpressions of ``x_post`` and
    constants, computed once per postsynaptic neuron into buffers before the matrix is
    traversed), the presynaptic terms (computed once per presynaptic neuron), the body of
    the inner loop over the postsynaptic index and the output term that the kernel adds to
    the target input.
Activations
    :func:`activation_source`: a numba function ``f(x, thr)`` of float64 scalars.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

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
    Num,
    Stmt,
    assigned,
    children,
    names,
    walk,
)
from mc_models.model import NeuronModel, SynapseModel
from mc_models.render._lower import Const, Lowered, lower_block
from mc_models.render.nodes import NodeRenderer

__all__ = [
    "ActivationRenderer",
    "NeuronCode",
    "NeuronNames",
    "NumbaRenderer",
    "SynapseCode",
    "SynapseNames",
    "SynapseVariant",
    "VectorActivationRenderer",
    "activation_source",
    "neuron_code",
    "synapse_code",
    "vector_activation_source",
]


class NumbaRenderer(NodeRenderer):
    """A model's expression as numba code of one batch member's scalars.

    The notation's Python syntax; names as ``ref`` gives them, constants, draws and stage
    data where the kernel's ``names_`` (:class:`NeuronNames`, :class:`SynapseNames`) put
    them; ``phi`` the activation in float64, rounded once to the precision ``DT``.
    """

    functions: ClassVar[Mapping[str, str]] = {}  # the model's built-ins only
    target = "numba"

    def __init__(self, ref: Callable[[str], str], names_: Any) -> None:
        self.ref, self.names = ref, names_

    def name(self, name: str) -> str:
        """Where the kernel keeps it (``ref``)."""
        return self.ref(name)

    def const(self, index: int) -> str:
        """The kernel's local of the constant."""
        return self.names.const(index)

    def call_normal(self, e: Call) -> str:
        """The draw, numbered in the order written (see ``_lower``)."""
        return self.names.draw(e.args[0].value)

    def call_phi(self, e: Call) -> str:
        """The activation of the float64 argument, rounded once (threshold: a constant)."""
        arg, thr = self.visit(e.args[0]), self.names.const(e.args[1].index)
        return f"DT({self.names.act}(np.float64({arg}), np.float64({thr})))"

    def call_sample(self, e: Call) -> str:
        """The stored rate at an order position."""
        return self.names.sample(self.visit(e.args[0]))


# ---------------------------------------------------------------------- neurons
@dataclass(frozen=True)
class NeuronNames:
    """How the kernel names one population's things.

    ``prefix`` prefixes the loop's locals; ``var(v)`` is the array of a per-neuron variable,
    ``shared(v)`` the place of a shared counter, ``input(n)`` an input's array,
    ``const(k)`` the local holding constant ``k``, ``draw(k)`` draw ``k`` of neuron ``j``,
    ``sample(i)`` the stored rate of neuron ``j`` at order position ``i``, ``switch(s)`` the
    local bool of a switch, ``act`` the activation function, ``size`` the number of neurons.

    ``defer``: where given, an assignment ``v = phi(x)`` of a per-neuron variable that
    nothing later in its loop reads is deferred to the kernel: the loop stores ``x`` at
    ``defer(k, v, thr)[j]`` (``k`` counts the deferred activations of the population,
    ``thr`` is the threshold's constant) and the kernel computes every deferred activation
    of the step in one loop after the neuron updates (no neuron update reads another
    population's variables) and stores ``v``.
    """

    prefix: str
    size: str
    var: Callable[[str], str]
    shared: Callable[[str], str]
    input: Callable[[str], str]
    const: Callable[[int], str]
    draw: Callable[[int], str] = lambda k: "0.0"
    sample: Callable[[str], str] = lambda i: "0.0"
    switch: Callable[[str], str] = lambda s: s
    act: str = "_act"
    defer: Callable[[int, str, str], str] | None = None


@dataclass(frozen=True)
class NeuronCode:
    """A neuron model's lowered update (constants to fill in, statements to render)."""

    model: NeuronModel
    lowered: Lowered

    @property
    def consts(self) -> tuple[Expr, ...]:
        """The constants, in the order of their indices (evaluate with :meth:`values`)."""
        return self.lowered.consts

    def values(self, params: Mapping[str, Any], dtype) -> tuple[Any, ...]:
        """The constants' values for resolved parameters."""
        return self.lowered.values(params, dtype)

    def lines(self, names_: NeuronNames) -> list[str]:
        """The population's statements (no indentation)."""
        out: list[str] = []
        _NeuronEmitter(self.model, names_, out).segment(self.lowered.block, 0)
        return out

    def hold(self, names_: NeuronNames) -> tuple[str, list[str]] | None:
        """The model's ``hold`` test and its update's statements on shared counters only.

        What runs in place of the update where the model's promise applies (see
        :class:`~mc_models.model.NeuronModel`); ``None`` for a model that makes none.
        """
        if self.lowered.expr is None:
            return None
        out: list[str] = []
        emitter = _NeuronEmitter(self.model, names_, out, loops=False)
        emitter.segment(self.lowered.block, 0)
        return emitter.expr(self.lowered.expr), out


class _NeuronEmitter:
    def __init__(
        self, model: NeuronModel, names_: NeuronNames, out: list[str], loops: bool = True
    ) -> None:
        self.model, self.n, self.out, self.loops = model, names_, out, loops
        self.kinds = model.kinds()
        self.cached: set[str] = set()
        self.deferred = 0
        self.renderer = NumbaRenderer(self.ref, names_)

    def ref(self, name: str) -> str:
        k = self.kinds.get(name, "local")
        p = self.n.prefix
        if k == "var":
            return f"{p}_{name}"
        if k == "shared":
            return self.n.shared(name)
        if k == "input":
            return f"{self.n.input(name)}[j]"
        if k == "switch":
            return self.n.switch(name)
        return f"{p}l_{name}"

    def expr(self, e) -> str:
        return self.renderer.render(e)

    def population_level(self, s: Stmt) -> bool:
        shared = {n for n, k in self.kinds.items() if k == "shared"}
        if isinstance(s, Assign):
            return s.target in shared
        return bool(set(assigned(s.body + s.orelse)) & shared)

    def segment(self, block: tuple[Stmt, ...], ind: int) -> None:
        run: list[Stmt] = []
        for s in block:
            if self.population_level(s):
                self.loop(run, ind)
                run = []
                if isinstance(s, Assign):
                    self.emit(f"{self.n.shared(s.target)} = {self.expr(s.full_value)}", ind)
                else:
                    self.emit(f"if {self.expr(s.test)}:", ind)
                    self.branch(s.body, ind + 1)
                    if s.orelse:
                        self.emit("else:", ind)
                        self.branch(s.orelse, ind + 1)
            else:
                run.append(s)
        self.loop(run, ind)

    def branch(self, block: tuple[Stmt, ...], ind: int) -> None:
        n = len(self.out)
        self.segment(block, ind)
        if len(self.out) == n:  # empty, or only per-neuron statements left out
            self.emit("pass", ind)

    def emit(self, line: str, ind: int) -> None:
        self.out.append("    " * ind + line)

    def loop(self, run: list[Stmt], ind: int) -> None:
        if not run or not self.loops:
            return
        vector = self.vector_phis(run)
        self.emit(f"for j in range({self.n.size}):", ind)
        read = _read_before_written(tuple(run))
        for v in self.model.vars:
            if not v.shared and v.name in read:
                self.emit(f"{self.ref(v.name)} = {self.n.var(v.name)}[j]", ind + 1)
        self.statements(run, ind + 1, vector)

    def vector_phis(self, run: list[Stmt]) -> dict[int, tuple[Assign, int]]:
        """The loop's top-level ``v = phi(x)`` that are deferred (see :class:`NeuronNames`).

        By the statement's ``id``: the statement and its index among the population's.
        """
        if self.n.defer is None:
            return {}
        out: dict[int, tuple[Assign, int]] = {}
        for t, s in enumerate(run):
            if not (isinstance(s, Assign) and not s.op and isinstance(s.value, Call)):
                continue
            if s.value.func != "phi" or self.kinds.get(s.target) != "var":
                continue
            if any(s.target in _reads(later) for later in run[t + 1 :]):
                continue
            out[id(s)] = (s, self.deferred)
            self.deferred += 1
        return out

    def statements(
        self, block: tuple[Stmt, ...] | list[Stmt], ind: int, vector: Mapping = {}
    ) -> None:
        if not block:
            self.emit("pass", ind)
        for s in block:
            if id(s) in vector:
                self.vector_phi(*vector[id(s)], ind)
                continue
            if isinstance(s, If):
                self.emit(f"if {self.expr(s.test)}:", ind)
                self.statements(s.body, ind + 1)
                if s.orelse:
                    self.emit("else:", ind)
                    self.statements(s.orelse, ind + 1)
                continue
            local = self.ref(s.target)
            self.emit(f"{local} = {self.expr(s.full_value)}", ind)
            if self.kinds.get(s.target) == "var":
                self.emit(f"{self.n.var(s.target)}[j] = {local}", ind)

    def vector_phi(self, s: Assign, k: int, ind: int) -> None:
        """In the neurons' loop: store the deferred activation's argument."""
        thr = self.n.const(s.full_value.args[1].index)
        where = self.n.defer(k, s.target, thr)
        self.emit(f"{where}[j] = {self.expr(s.full_value.args[0])}", ind)


def _reads(s: Stmt) -> set[str]:
    """Names a statement reads (an ``if``: its test and every branch)."""
    if isinstance(s, If):
        out = names(s.test)
        for t in (*s.body, *s.orelse):
            out |= _reads(t)
        return out
    return names(s.value) | ({s.target} if s.op else set())


def _read_before_written(block: tuple[Stmt, ...]) -> set[str]:
    """Names a block may read before it assigns them (those a loop body loads first)."""
    need: set[str] = set()
    written: set[str] = set()

    def visit(block: tuple[Stmt, ...], definite: bool) -> None:
        for s in block:
            if isinstance(s, If):
                need.update(names(s.test) - written)
                visit(s.body, False)
                visit(s.orelse, False)
                continue
            reads = names(s.value) | ({s.target} if s.op else set())
            need.update(reads - written)
            if definite:
                written.add(s.target)

    visit(block, True)
    return need


def neuron_code(model: NeuronModel, params: Mapping[str, Any], dtype) -> NeuronCode:
    """Lower a neuron model's update for one population.

    ``params`` are its resolved values; they decide the ``if`` tests on parameters.
    """
    ints = {v.name for v in model.vars if v.type != "scalar"}
    block = _with_threshold(model.block) if model.uses("phi") else model.block
    lowered = lower_block(block, model.kinds(), ints, params, dtype, model.hold_test)
    return NeuronCode(model, lowered)


def _with_threshold(block: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
    """``phi(x)`` -> ``phi(x, threshold)``: the threshold becomes one of the constants."""
    out: list[Stmt] = []
    for s in block:
        if isinstance(s, If):
            out.append(If(s.test, _with_threshold(s.body), _with_threshold(s.orelse)))
        elif isinstance(s.value, Call) and s.value.func == "phi":
            phi = Call("phi", (s.value.args[0], Name("threshold")))
            out.append(Assign(s.target, phi, s.op))
        else:
            out.append(s)
    return tuple(out)


# ---------------------------------------------------------------------- synapses
def _lane_j(arr: str) -> str:
    """Lane ``j`` of a postsynaptic array, one element."""
    return f"{arr}[j]"


@dataclass(frozen=True)
class SynapseNames:
    """How the kernel names one projection's things.

    ``prefix`` prefixes locals; ``pre(v)`` / ``post(v)`` are the arrays of the connected
    neurons' variables, ``var(v)`` the matrix of a synapse variable, ``const(k)`` a
    constant's local, ``post_term(k)`` the buffer of postsynaptic term ``k`` (indexed by
    ``j``), ``pre_term(k)`` the local of presynaptic term ``k``.

    How the inner loop reaches its elements: ``at_synapse(m)`` reads synapse ``(i, j)`` of
    matrix ``m``, ``put_synapse(m, v)`` is the statement that stores ``v`` there,
    ``at_post(a)`` reads lane ``j`` of a postsynaptic array or term buffer there. The
    defaults index one element; a kernel that runs a whole row at once passes its own (the
    postsynaptic terms' own loop, ``post_lines``, always reads one element).
    """

    prefix: str
    pre: Callable[[str], str]
    post: Callable[[str], str]
    var: Callable[[str], str]
    const: Callable[[int], str]
    post_term: Callable[[int], str] = lambda k: f"pt{k}"
    pre_term: Callable[[int], str] = lambda k: f"pr{k}"
    at_synapse: Callable[[str], str] = lambda m: f"{m}[i, j]"
    put_synapse: Callable[[str, str], str] = lambda m, v: f"{m}[i, j] = {v}"
    at_post: Callable[[str], str] = _lane_j


@dataclass(frozen=True)
class SynapseVariant:
    """The loop bodies of a synapse model for one setting of its switches.

    ``post_lines`` go into a loop ``for j`` over the postsynaptic neurons before the matrix
    is traversed, ``pre_lines`` into the loop ``for i`` over the presynaptic ones,
    ``inner_lines`` into the inner loop ``for j`` (synapse ``(i, j)``), and ``output`` is the
    term the kernel adds to the target input at ``j`` (``None`` while the output is switched
    off). For a one-to-one connection only ``output`` is used (neuron ``j`` to neuron ``j``).
    ``updates``: whether the synapse variables change; ``n_post_terms``: buffers needed.
    ``elementwise``: not one-to-one, and the inner loop's statements are plain
    assignments whose values, terms included, only add, subtract, multiply, divide and
    negate variables and constants (no tests, no number literals), so they read the same
    when every per-synapse and postsynaptic value is a run of lanes of the network's float
    type and every presynaptic term a scalar of it (:class:`SynapseNames` says how such
    runs are reached).
    """

    switches: Mapping[str, bool]
    post_lines: tuple[str, ...]
    pre_lines: tuple[str, ...]
    inner_lines: tuple[str, ...]
    output: str | None
    updates: bool
    n_post_terms: int
    elementwise: bool = False


@dataclass(frozen=True)
class SynapseCode:
    """A synapse model's lowered update and output, ready to render per switch setting."""

    model: SynapseModel
    lowered: Lowered
    switches: tuple[str, ...] = field(default=())

    @property
    def consts(self) -> tuple[Expr, ...]:
        """The constants, in the order of their indices."""
        return self.lowered.consts

    def values(self, params: Mapping[str, Any], dtype) -> tuple[Any, ...]:
        """The constants' values for resolved parameters."""
        return self.lowered.values(params, dtype)

    def settings(self) -> list[dict[str, bool]]:
        """Every combination of the switches the code tests, all on first."""
        return [
            dict(zip(self.switches, vals, strict=True))
            for vals in itertools.product((True, False), repeat=len(self.switches))
        ]

    def render(
        self, names_: SynapseNames, switches: Mapping[str, bool], one_to_one: bool = False
    ) -> SynapseVariant:
        """The :class:`SynapseVariant` for one switch setting."""
        block = tuple(_settle(self.lowered.block, switches))
        gate = self.model.output_when
        output = self.lowered.expr if gate is None or switches.get(gate, False) else None
        return _SynapseEmitter(self.model, names_, one_to_one).variant(block, output, switches)


def _settle(block: tuple[Stmt, ...], switches: Mapping[str, bool]) -> list[Stmt]:
    """Decide the ``if`` tests on switches for one setting."""
    out: list[Stmt] = []
    for s in block:
        if isinstance(s, If):
            value = _switch_value(s.test, switches)
            if value is None:
                body, orelse = _settle(s.body, switches), _settle(s.orelse, switches)
                out.append(If(s.test, tuple(body), tuple(orelse)))
            else:
                out += _settle(s.body if value else s.orelse, switches)
        else:
            out.append(s)
    return out


def _switch_value(e: Expr, switches: Mapping[str, bool]) -> bool | None:
    if isinstance(e, Name) and e.id in switches:
        return switches[e.id]
    if isinstance(e, Not):
        v = _switch_value(e.operand, switches)
        return None if v is None else not v
    if isinstance(e, BoolOp):
        vals = [_switch_value(v, switches) for v in e.values]
        if None in vals:
            return None
        return all(vals) if e.op == "and" else any(vals)
    return None


class _SynapseEmitter:
    def __init__(self, model: SynapseModel, names_: SynapseNames, one_to_one: bool) -> None:
        self.model, self.n, self.one_to_one = model, names_, one_to_one
        self.kinds = model.kinds()
        self.post_terms: dict[Expr, int] = {}
        self.pre_terms: dict[Expr, int] = {}
        self.plain_renderer = NumbaRenderer(self.ref, names_)
        self.inner_renderer = self.plain_renderer if one_to_one else _InnerLoopRenderer(self)
        # the postsynaptic terms run in their own loop over j, one element at a time
        self.post_renderer = NumbaRenderer(lambda name: self.ref(name, _lane_j), names_)

    def side(self, e: Expr | Const) -> str | None:
        """``pre``, ``post`` or ``const`` when ``e`` reads only that side and constants."""
        if isinstance(e, Const | Num):
            return "const"
        if isinstance(e, Name):
            return _ref_side(e.id, self.kinds)
        if isinstance(e, Call):
            return None
        sides = {self.side(c) for c in children(e)} - {"const"}
        if None in sides or len(sides) > 1:
            return None
        return sides.pop() if sides else "const"

    def ref(self, name: str, at_post: Callable[[str], str] | None = None) -> str:
        side = _ref_side(name, self.kinds)
        if side == "pre":
            return f"{self.n.pre(name[:-4])}[{'j' if self.one_to_one else 'i'}]"
        if side == "post":
            return (at_post or self.n.at_post)(self.n.post(name[:-5]))
        if self.kinds.get(name) == "var":
            return f"{self.n.prefix}_{name}"
        return f"{self.n.prefix}l_{name}"

    def plain(self, e) -> str:
        return self.plain_renderer.render(e)

    def expr(self, e) -> str:
        """The inner loop's rendering of ``e`` (see :class:`_InnerLoopRenderer`)."""
        return self.inner_renderer.render(e)

    def variant(self, block, output, switches) -> SynapseVariant:
        inner: list[str] = []
        read = names(tuple(block)) | (names(output) if isinstance(output, Expr) else set())
        for v in self.model.vars:
            if v.name in read:
                inner.append(f"{self.ref(v.name)} = {self.n.at_synapse(self.n.var(v.name))}")
        self.statements(block, inner, 0)
        out = None if output is None else self.expr(output)
        post = tuple(
            f"{self.n.post_term(k)}[j] = {self.post_renderer.render(e)}"
            for e, k in self.post_terms.items()
        )
        pre = tuple(f"{self.n.pre_term(k)} = {self.plain(e)}" for e, k in self.pre_terms.items())
        values = [s.full_value for s in block if isinstance(s, Assign)]
        values += [output] if isinstance(output, Expr) else []
        elementwise = not self.one_to_one and all(isinstance(s, Assign) for s in block)
        elementwise = elementwise and all(self.elementwise(v) for v in values)
        return SynapseVariant(
            dict(switches),
            post,
            pre,
            tuple(inner),
            out,
            bool(block),
            len(self.post_terms),
            elementwise,
        )

    def elementwise(self, e: Expr | Const) -> bool:
        """Whether ``e`` is lane-wise arithmetic of the network's float type.

        Every node, the terms' included: ``+ - * /``, negation, variables, locals and
        constants (no tests, no number literals, no switches).
        """
        for n in walk(e):
            if isinstance(n, Bin) and n.op in ("+", "-", "*", "/"):
                continue
            if isinstance(n, Neg | Const):
                continue
            if isinstance(n, Name) and self.kinds.get(n.id) != "switch":
                continue
            return False
        return True

    def statements(self, block, out: list[str], ind: int) -> None:
        pad = "    " * ind
        for s in block:
            if isinstance(s, If):
                out.append(f"{pad}if {self.expr(s.test)}:")
                self.statements(s.body or (), out, ind + 1)
                if not s.body:
                    out.append(f"{pad}    pass")
                if s.orelse:
                    out.append(f"{pad}else:")
                    self.statements(s.orelse, out, ind + 1)
                continue
            local = self.ref(s.target)
            out.append(f"{pad}{local} = {self.expr(s.full_value)}")
            if self.kinds.get(s.target) == "var":
                out.append(f"{pad}{self.n.put_synapse(self.n.var(s.target), local)}")


def _ref_side(name: str, kinds: Mapping[str, str]) -> str | None:
    if name in kinds:
        return None
    if name.endswith("_pre"):
        return "pre"
    if name.endswith("_post"):
        return "post"
    return None


class _InnerLoopRenderer(NumbaRenderer):
    """The synapses' inner loop: terms of one side are read from where they were computed.

    Presynaptic terms and compound postsynaptic ones are numbered as met (the kernel
    computes them before the inner loop); everything else is the plain rendering.
    """

    def __init__(self, emitter: _SynapseEmitter) -> None:
        super().__init__(emitter.ref, emitter.n)
        self.emitter = emitter

    def visit(self, e: Any, *context: Any) -> str:
        em = self.emitter
        side = em.side(e)
        if side == "post" and not isinstance(e, Name):
            k = em.post_terms.setdefault(e, len(em.post_terms))
            return em.n.at_post(em.n.post_term(k))
        if side == "pre":
            k = em.pre_terms.setdefault(e, len(em.pre_terms))
            return em.n.pre_term(k)
        if side is not None or isinstance(e, Name | Num | Const | Call):
            return em.plain(e)
        return super().visit(e)  # a compound node: its operands through this rendering


def synapse_code(model: SynapseModel, params: Mapping[str, Any], dtype) -> SynapseCode:
    """Lower a synapse model for one projection (``params`` decide tests on parameters)."""
    lowered = lower_block(model.block, model.kinds(), set(), params, dtype, model.output_expr)
    used = sorted(
        {n for n in names(model.block) if model.kinds().get(n) == "switch"}
        | ({model.output_when} if model.output_when else set())
    )
    return SynapseCode(model, lowered, tuple(used))


# ---------------------------------------------------------------------- activations
def activation_source(activation, name: str = "_act") -> list[str]:
    """Lines of a function ``name(x, thr)`` of float64 scalars (``math`` imported)."""
    return [f"def {name}(x, thr):", f"    return {ActivationRenderer().render(activation.tree)}"]


def vector_activation_source(activation, name: str = "_vact") -> list[str] | None:
    """Lines of the vectorisable twin of :func:`activation_source`, or ``None``.

    The function calls ``_vexp`` for ``exp`` and returns ``_vguard(value, x)`` (both from
    ``mc_network.backends._vecmath``: NaN where the value must be recomputed). ``None``
    where the activation calls a function without a vectorisable rendering (``log``).
    """
    calls = {n.func for n in walk(activation.tree) if isinstance(n, Call)}
    if not calls <= set(VectorActivationRenderer.functions):
        return None
    body = VectorActivationRenderer().render(activation.tree)
    return [f"def {name}(x, thr):", f"    return _vguard({body}, x)"]


class ActivationRenderer(NodeRenderer):
    """An activation as numba code of the float64 scalars ``x`` and ``thr``.

    The notation's printing, with numbers as floats and the functions of ``math``.
    """

    functions: ClassVar[Mapping[str, str]] = {"exp": "math.exp", "log": "math.log", "abs": "abs"}
    target = "activation: numba"

    def number(self, value: float | int) -> str:
        """A float (an integer literal too)."""
        return repr(float(value))


class VectorActivationRenderer(ActivationRenderer):
    """The vectorisable activation: ``exp`` is the kernel's ``_vexp``."""

    functions: ClassVar[Mapping[str, str]] = {"exp": "_vexp", "abs": "abs"}
    target = "activation: vectorised numba"
