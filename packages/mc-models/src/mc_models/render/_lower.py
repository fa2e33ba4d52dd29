"""What the NumPy and numba renderings share: ``if`` tests on parameters resolved, constants folded.

Both renderings evaluate the same operations in the model's precision. Every subexpression
that reads only parameters and numbers (``(g_basal + g_apical) + g_leak``, ``1.0 / tau``,
``dt * eta``) is evaluated once, with NumPy scalars of the model's precision in the order
written (exactly what the per-step evaluation would give), and the code reads the result:
a :class:`Const`. An ``if`` whose test reads only parameters (``if le_active > 0.0:``) is
decided once for the population. Integer numbers stay in the code where they meet integers
(counters); next to a floating-point operand they become constants of the precision.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mc_models.expr import (
    Assign,
    Bin,
    BoolOp,
    Call,
    Cmp,
    Cond,
    Expr,
    If,
    Name,
    Neg,
    Not,
    Num,
    Stmt,
    children,
    map_children,
)
from mc_models.render.nodes import NodeVisitor

__all__ = ["Const", "Lowered", "evaluate", "lower_block", "lower_expr"]


@dataclass(frozen=True)
class Const:
    """A folded constant: entry ``index`` of the lowered code's constants."""

    index: int


_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_CMPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def evaluate(e: Expr, values: Mapping[str, Any], dtype: np.dtype) -> Any:
    """Evaluate a parameter-only expression with NumPy scalars of ``dtype``, in order."""
    return _Evaluator(values, dtype).visit(e)


class _Evaluator(NodeVisitor):
    """The value of a parameter-only expression (NumPy scalars of the precision, in order)."""

    def __init__(self, values: Mapping[str, Any], dtype: np.dtype) -> None:
        self.values, self.dtype = values, dtype

    def generic_visit(self, e: Any, *context: Any) -> Any:
        raise ValueError(f"{e!r} is not a constant expression")

    def visit_Num(self, e: Num) -> Any:
        return self.dtype.type(e.value) if isinstance(e.value, float) else e.value

    def visit_Name(self, e: Name) -> Any:
        return self.values[e.id]

    def visit_Bin(self, e: Bin) -> Any:
        return _OPS[e.op](self.visit(e.left), self.visit(e.right))

    def visit_Neg(self, e: Neg) -> Any:
        return -self.visit(e.operand)

    def visit_Cmp(self, e: Cmp) -> bool:
        return bool(_CMPS[e.op](self.visit(e.left), self.visit(e.right)))

    def visit_BoolOp(self, e: BoolOp) -> bool:
        parts = [bool(self.visit(v)) for v in e.values]
        return all(parts) if e.op == "and" else any(parts)

    def visit_Not(self, e: Not) -> bool:
        return not self.visit(e.operand)

    def visit_Cond(self, e: Cond) -> Any:
        return self.visit(e.body if self.visit(e.test) else e.orelse)


class _Folder(NodeVisitor):
    """Folds the constant subexpressions (``fold``); ``visit`` rebuilds the other nodes.

    The context of a node is whether it meets floating-point operands (``floating``): an
    integer number there becomes a constant of the precision.
    """

    def __init__(self, kinds: Mapping[str, str], int_names: set[str]) -> None:
        self.kinds, self.int_names = kinds, int_names
        self.consts: list[Expr] = []
        self._index: dict[Expr, int] = {}

    def is_const(self, e: Expr) -> bool:
        if isinstance(e, Num):
            return True
        if isinstance(e, Name):
            return self.kinds.get(e.id) == "param"
        if isinstance(e, Call):
            return False
        return all(self.is_const(c) for c in children(e))

    def is_int(self, e: Expr) -> bool:
        if isinstance(e, Num):
            return isinstance(e.value, int)
        if isinstance(e, Name):
            return e.id in self.int_names
        if isinstance(e, Bin):
            return e.op != "/" and self.is_int(e.left) and self.is_int(e.right)
        if isinstance(e, Neg):
            return self.is_int(e.operand)
        if isinstance(e, Cond):
            return self.is_int(e.body) and self.is_int(e.orelse)
        return False

    def const(self, e: Expr) -> Const:
        if e not in self._index:
            self._index[e] = len(self.consts)
            self.consts.append(e)
        return Const(self._index[e])

    def fold(self, e: Expr, float_context: bool = False) -> Expr | Const:
        if not isinstance(e, Num | Cmp | BoolOp | Not) and self.is_const(e) and not self.is_int(e):
            return self.const(e)
        return self.visit(e, float_context)

    def generic_visit(self, e: Any, *context: Any) -> Any:
        return e  # a name that is not a parameter

    def visit_Num(self, e: Num, floating: bool) -> Expr | Const:
        if isinstance(e.value, int) and not floating:
            return e  # an integer in integer arithmetic (counters) stays in the code
        return self.const(Num(float(e.value)))

    def visit_Bin(self, e: Bin, floating: bool) -> Bin:
        floating = not (self.is_int(e.left) and self.is_int(e.right))
        return Bin(e.op, self.fold(e.left, floating), self.fold(e.right, floating))

    def visit_Cond(self, e: Cond, floating: bool) -> Cond:
        floating = not (self.is_int(e.body) and self.is_int(e.orelse))
        body, orelse = self.fold(e.body, floating), self.fold(e.orelse, floating)
        return Cond(self.fold(e.test), body, orelse)

    def visit_Cmp(self, e: Cmp, floating: bool) -> Cmp:
        floating = not (self.is_int(e.left) and self.is_int(e.right))
        return Cmp(e.op, self.fold(e.left, floating), self.fold(e.right, floating))

    def visit_Neg(self, e: Neg, floating: bool) -> Neg:
        return Neg(self.fold(e.operand, floating))

    def visit_Not(self, e: Not, floating: bool) -> Not:
        return Not(self.fold(e.operand))

    def visit_BoolOp(self, e: BoolOp, floating: bool) -> BoolOp:
        return BoolOp(e.op, tuple(self.fold(v) for v in e.values))

    def visit_Call(self, e: Call, floating: bool) -> Call:
        if e.func == "normal":  # the draw's number (see _number_draws)
            return e
        return Call(e.func, tuple(self.fold(a, e.func != "sample") for a in e.args))


@dataclass(frozen=True)
class Lowered:
    """Lowered code: statements (and an expression) with constants folded."""

    block: tuple[Stmt, ...]
    expr: Any
    consts: tuple[Expr, ...]

    def values(self, params: Mapping[str, Any], dtype: np.dtype) -> tuple[Any, ...]:
        """The constants' values for resolved parameters (NumPy scalars of ``dtype``)."""
        return tuple(evaluate(c, params, np.dtype(dtype)) for c in self.consts)


def _numbered(e: Expr, count: list[int]) -> Expr:
    if isinstance(e, Call) and e.func == "normal":
        count[0] += 1
        return Call("normal", (Num(count[0] - 1),))
    return map_children(e, lambda c: _numbered(c, count))


def _number_draws(block: tuple[Stmt, ...], count: list[int]) -> tuple[Stmt, ...]:
    """``normal()`` -> ``normal(k)``, the k-th draw of the code in the order written.

    Every rendering (and the network's noise layout) numbers the draws alike, also where an
    ``if`` on parameters drops some.
    """
    out: list[Stmt] = []
    for s in block:
        if isinstance(s, If):
            test = _numbered(s.test, count)
            body = _number_draws(s.body, count)
            out.append(If(test, body, _number_draws(s.orelse, count)))
        else:
            out.append(Assign(s.target, _numbered(s.value, count), s.op))
    return tuple(out)


def _static(test: Expr, folder: _Folder) -> bool:
    return folder.is_const(test)


def _lower(block: tuple[Stmt, ...], folder: _Folder, params: Mapping[str, Any], dtype) -> list:
    out: list[Stmt] = []
    for s in block:
        if isinstance(s, If):
            if _static(s.test, folder):
                taken = s.body if evaluate(s.test, params, dtype) else s.orelse
                out += _lower(taken, folder, params, dtype)
            else:
                body = tuple(_lower(s.body, folder, params, dtype))
                orelse = tuple(_lower(s.orelse, folder, params, dtype))
                out.append(If(folder.fold(s.test), body, orelse))
        else:
            floating = not (s.target in folder.int_names and folder.is_int(s.value))
            out.append(Assign(s.target, folder.fold(s.value, floating), s.op))
    return out


def lower_block(
    block: tuple[Stmt, ...],
    kinds: Mapping[str, str],
    int_names: set[str],
    params: Mapping[str, Any],
    dtype: np.dtype | type,
    expr: Expr | None = None,
) -> Lowered:
    """Resolve the parameter-only ``if`` tests and fold the constants of a block.

    ``kinds`` says what each name is (``param`` names are constants), ``int_names`` the
    integer variables; ``params`` holds the values the parameter-only tests need. ``expr``
    (a synapse's output, a neuron model's ``hold`` test) is folded with the same constants.
    """
    folder = _Folder(kinds, int_names)
    dt = np.dtype(dtype)
    lowered = tuple(_lower(_number_draws(block, [0]), folder, params, dt))
    folded = folder.fold(expr, True) if expr is not None else None
    return Lowered(lowered, folded, tuple(folder.consts))


def lower_expr(expr: Expr, kinds: Mapping[str, str], dtype: np.dtype | type) -> Lowered:
    """Fold the constants of one expression."""
    return lower_block((), kinds, set(), {}, dtype, expr)
