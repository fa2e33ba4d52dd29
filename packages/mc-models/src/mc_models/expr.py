"""The notation of a model's update: ordered assignments in Python syntax, parsed once.

A model's per-step update is a block of statements written as Python source and parsed with
:mod:`ast` into the small immutable tree below. The tree keeps every operation exactly as
written: operand order and parenthesisation (``(a + b) + c`` is not ``a + (b + c)`` in
float32, and the renderers emit every binary operation in parentheses), so that each
renderer evaluates the same operations in the same order.

Statements
    ``x = e`` and ``x += e`` / ``x -= e`` (``x = x + (e)``: the fully evaluated ``e`` is
    added), and ``if test:`` / ``elif`` / ``else`` blocks.
Expressions
    numbers (``1.0`` is a floating-point constant of the model's precision, ``1`` an
    integer), names, ``+ - * /``, unary ``-``, one comparison (``< <= > >= == !=``),
    ``and`` / ``or`` / ``not`` in tests, ``a if test else b`` and calls of built-in
    functions.
Built-in functions
    ``normal()`` (one standard-normal draw per neuron and call), ``phi(x)`` (the network's
    activation, evaluated in double and rounded once), ``sample(i)`` (a rate player's
    stored rate of the sample at position ``i`` of the presentation order), and, in
    activations only, ``exp``, ``log`` and ``abs``.

What a name means (a parameter, a state variable, an input, a reference to the pre- or
postsynaptic neuron, a run-time switch or a local value) is decided by the model that uses
the block, see :mod:`mc_models.model`.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from mc_models.render.nodes import NotationRenderer

__all__ = [
    "Assign",
    "Bin",
    "BoolOp",
    "Call",
    "Cmp",
    "Cond",
    "Expr",
    "If",
    "Name",
    "Neg",
    "Not",
    "NotationError",
    "Num",
    "Stmt",
    "assigned",
    "calls",
    "map_children",
    "names",
    "parse_block",
    "parse_expr",
    "unparse",
    "walk",
]


class NotationError(ValueError):
    """A model's code is not valid notation; the message names the model and the code."""


@dataclass(frozen=True)
class Num:
    """A number: ``float`` (a constant of the model's precision) or ``int``."""

    value: float | int


@dataclass(frozen=True)
class Name:
    """A name (its meaning is given by the model)."""

    id: str


@dataclass(frozen=True)
class Bin:
    """A binary operation ``left op right``, ``op`` one of ``+ - * /``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Neg:
    """Unary minus."""

    operand: Expr


@dataclass(frozen=True)
class Cmp:
    """One comparison ``left op right``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` of comparisons (in tests)."""

    op: str
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """``not`` of a test."""

    operand: Expr


@dataclass(frozen=True)
class Call:
    """A call of a built-in function."""

    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Cond:
    """``body if test else orelse``."""

    test: Expr
    body: Expr
    orelse: Expr


Expr = Num | Name | Bin | Neg | Cmp | BoolOp | Not | Call | Cond


@dataclass(frozen=True)
class Assign:
    """``target = value``, or ``target op= value`` (``op`` is ``+`` or ``-``; else ``""``)."""

    target: str
    value: Expr
    op: str = ""

    @property
    def full_value(self) -> Expr:
        """The value assigned: ``target op (value)`` for an augmented assignment."""
        return Bin(self.op, Name(self.target), self.value) if self.op else self.value


@dataclass(frozen=True)
class If:
    """``if test: body else: orelse``."""

    test: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()


Stmt = Assign | If

_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_AUG = {ast.Add: "+", ast.Sub: "-"}


def _expr(node: ast.AST, where: str) -> Expr:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return Num(node.value)
    if isinstance(node, ast.Name):
        return Name(node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        return Bin(_BIN[type(node.op)], _expr(node.left, where), _expr(node.right, where))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return Neg(_expr(node.operand, where))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_expr(node.operand, where))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP:
        return Cmp(
            _CMP[type(node.ops[0])], _expr(node.left, where), _expr(node.comparators[0], where)
        )
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        return BoolOp(op, tuple(_expr(v, where) for v in node.values))
    if isinstance(node, ast.IfExp):
        return Cond(_expr(node.test, where), _expr(node.body, where), _expr(node.orelse, where))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        return Call(node.func.id, tuple(_expr(a, where) for a in node.args))
    raise NotationError(f"{where}: {ast.unparse(node)!r} is not part of the notation")


def _stmts(body: list[ast.stmt], where: str) -> tuple[Stmt, ...]:
    out: list[Stmt] = []
    for node in body:
        if isinstance(node, ast.Assign):
            if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                raise NotationError(f"{where}: {ast.unparse(node)!r}: assign to one name")
            out.append(Assign(node.targets[0].id, _expr(node.value, where)))
        elif isinstance(node, ast.AugAssign):
            if type(node.op) not in _AUG or not isinstance(node.target, ast.Name):
                raise NotationError(f"{where}: {ast.unparse(node)!r}: only x += e and x -= e")
            out.append(Assign(node.target.id, _expr(node.value, where), _AUG[type(node.op)]))
        elif isinstance(node, ast.If):
            out.append(
                If(_expr(node.test, where), _stmts(node.body, where), _stmts(node.orelse, where))
            )
        elif isinstance(node, ast.Pass):
            continue
        else:
            raise NotationError(
                f"{where}: {ast.unparse(node)!r} is not a statement of the notation"
            )
    return tuple(out)


def parse_block(source: str, where: str = "code") -> tuple[Stmt, ...]:
    """Parse statements (Python syntax, any common indentation) into the tree."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError as err:
        raise NotationError(f"{where}: {err.msg} in line {err.lineno}: {err.text!r}") from None
    return _stmts(tree.body, where)


def parse_expr(source: str, where: str = "expression") -> Expr:
    """Parse one expression into the tree."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as err:
        raise NotationError(f"{where}: {err.msg}: {source!r}") from None
    return _expr(tree.body, where)


def unparse(
    e: Expr,
    number: Callable[[float], str] = repr,
    call: Callable[[str], str] | None = None,
) -> str:
    """The notation of an expression (parses back to the same tree).

    ``number`` prints a literal (default ``repr``: ``1`` stays an integer); ``call`` maps a
    function's name to the name printed (default: itself). The printing is
    :class:`mc_models.render.nodes.NotationRenderer`, the walker every rendering starts from.
    """
    return NotationRenderer(number, call).render(e)


# The subexpressions of each compound node type, in their order (a tuple field holds several).
_CHILDREN: dict[type, tuple[str, ...]] = {
    Bin: ("left", "right"),
    Cmp: ("left", "right"),
    Neg: ("operand",),
    Not: ("operand",),
    BoolOp: ("values",),
    Call: ("args",),
    Cond: ("test", "body", "orelse"),
}


def children(e: Expr) -> tuple[Expr, ...]:
    """The direct subexpressions of ``e``."""
    out: list[Expr] = []
    for field in _CHILDREN.get(type(e), ()):
        value = getattr(e, field)
        out += value if isinstance(value, tuple) else (value,)
    return tuple(out)


def map_children(e: Expr, f: Callable[[Expr], Expr]) -> Expr:
    """``e`` with each direct subexpression ``c`` replaced by ``f(c)``, called in order."""
    fields = _CHILDREN.get(type(e))
    if not fields:
        return e
    new: dict[str, Expr | tuple[Expr, ...]] = {}
    for field in fields:
        value = getattr(e, field)
        new[field] = tuple(f(v) for v in value) if isinstance(value, tuple) else f(value)
    return replace(e, **new)


def walk(e: Expr) -> Iterator[Expr]:
    """Every node of ``e``, parents before children."""
    yield e
    for c in children(e):
        yield from walk(c)


def _exprs(block: tuple[Stmt, ...]) -> Iterator[Expr]:
    for s in block:
        if isinstance(s, Assign):
            yield s.value
        else:
            yield s.test
            yield from _exprs(s.body)
            yield from _exprs(s.orelse)


def names(block: tuple[Stmt, ...] | Expr) -> set[str]:
    """Every name read in a block or expression (assignment targets excluded)."""
    exprs = [block] if not isinstance(block, tuple) else list(_exprs(block))
    out = {n.id for e in exprs for n in walk(e) if isinstance(n, Name)}
    if isinstance(block, tuple):  # x += e reads x
        out |= {s.target for s in _flat(block) if isinstance(s, Assign) and s.op}
    return out


def calls(block: tuple[Stmt, ...] | Expr) -> list[Call]:
    """Every call, in the order written."""
    exprs = [block] if not isinstance(block, tuple) else list(_exprs(block))
    return [n for e in exprs for n in walk(e) if isinstance(n, Call)]


def _flat(block: tuple[Stmt, ...]) -> Iterator[Stmt]:
    for s in block:
        yield s
        if isinstance(s, If):
            yield from _flat(s.body)
            yield from _flat(s.orelse)


def assigned(block: tuple[Stmt, ...]) -> list[str]:
    """The assignment targets of a block, in the order written (with repeats)."""
    return [s.target for s in _flat(block) if isinstance(s, Assign)]
