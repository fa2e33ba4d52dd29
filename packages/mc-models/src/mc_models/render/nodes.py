"""The one walker of the notation's tree, and the printing every target starts from.

:class:`NodeVisitor` dispatches on a node's class: ``visit(e)`` calls ``visit_Bin(e)`` for a
:class:`~mc_models.expr.Bin` (and ``visit_Const`` for a constant folded by ``_lower``).
:class:`NodeRenderer` is the walker that prints an expression: one method per node type,
which renders the operands in their order and writes every compound node in parentheses
(the tree keeps operand order and grouping, and so does every rendering). As written here it
prints the notation itself (Python syntax: ``(a - (b - c))``, ``(x if t else y)``); a target
is a subclass that says only how its leaves, operators, functions and the built-ins print:

- ``name(id)``, ``number(value)``, ``const(index)``: the leaves;
- ``ops``: how the target writes an operator (``and`` as ``&&`` in C++);
- ``functions``: the functions it knows, by the notation's name (``abs`` as ``fabs``);
  ``None`` prints every function as named;
- ``call_<function>(e)``: a built-in that is not a plain call (``normal()`` as a draw);
- ``negation``, ``conditional``, ``call``: how ``not``, ``a if t else b`` and a call read;
- a ``visit_<Node>`` of its own where a node prints differently altogether (NumPy's nested
  ``logical_and``, LaTeX's precedence and fractions).

The targets: the notation itself (:class:`NotationRenderer`, :func:`mc_models.expr.unparse`),
:mod:`mc_models.render.numpy`, :mod:`mc_models.render.numba` (the model's code and the
activations, scalar and vectorised), :mod:`mc_models.render.genn` and
:mod:`mc_models.render.latex`, each with its table next to the statements it emits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

__all__ = ["NodeRenderer", "NodeVisitor", "NotationRenderer"]


class NodeVisitor:
    """Calls ``visit_<class name>(node, *context)`` for each node it is given.

    A subclass defines the methods of the node types it handles; any other node goes to
    :meth:`generic_visit` (an error by default).
    """

    def visit(self, e: Any, *context: Any) -> Any:
        """Dispatch ``e`` to the method of its node type."""
        method = getattr(self, "visit_" + type(e).__name__, None)
        if method is None:
            return self.generic_visit(e, *context)
        return method(e, *context)

    def generic_visit(self, e: Any, *context: Any) -> Any:
        """A node without a method of its own: an error naming the node and the visitor."""
        raise ValueError(f"{type(self).__name__}: cannot render {e!r}")


class NodeRenderer(NodeVisitor):
    """The walker that prints an expression; as it stands it prints the notation."""

    #: How the target writes an operator (``+ - * /``, comparisons, ``and``/``or``).
    ops: ClassVar[Mapping[str, str]] = {}
    #: The functions the target knows, by the notation's name; ``None``: any, as named.
    functions: ClassVar[Mapping[str, str] | None] = None
    #: What the error of an unknown function calls the target.
    target: ClassVar[str] = "notation"

    def render(self, e: Any) -> str:
        """The target's text of an expression."""
        return self.visit(e)

    # ---------------------------------------------------------------- leaves
    def visit_Num(self, e: Any) -> str:
        """A number: :meth:`number` of its value."""
        return self.number(e.value)

    def visit_Name(self, e: Any) -> str:
        """A name: :meth:`name` of it."""
        return self.name(e.id)

    def visit_Const(self, e: Any) -> str:
        """A folded constant (``_lower``): :meth:`const` of its index."""
        return self.const(e.index)

    def number(self, value: float | int) -> str:
        """How a number prints (``repr``: ``1`` an integer, ``1.0`` a float)."""
        return repr(value)

    def name(self, name: str) -> str:
        """How a name prints (as written)."""
        return name

    def const(self, index: int) -> str:
        """How folded constant ``index`` prints (a target without constants has none)."""
        raise ValueError(f"{type(self).__name__}: no folded constants here (constant {index})")

    def op(self, op: str) -> str:
        """How the target writes the notation's operator ``op``."""
        return self.ops.get(op, op)

    # ---------------------------------------------------------------- compound nodes
    def visit_Bin(self, e: Any) -> str:
        """``(left op right)``, the operands in their order."""
        return f"({self.visit(e.left)} {self.op(e.op)} {self.visit(e.right)})"

    def visit_Cmp(self, e: Any) -> str:
        """``(left op right)``."""
        return f"({self.visit(e.left)} {self.op(e.op)} {self.visit(e.right)})"

    def visit_Neg(self, e: Any) -> str:
        """``(-operand)``."""
        return f"(-{self.visit(e.operand)})"

    def visit_Not(self, e: Any) -> str:
        """:meth:`negation` of the operand."""
        return self.negation(self.visit(e.operand))

    def negation(self, operand: str) -> str:
        """How ``not operand`` reads."""
        return f"(not {operand})"

    def visit_BoolOp(self, e: Any) -> str:
        """``(a and b and ...)``, the operands in their order."""
        return "(" + f" {self.op(e.op)} ".join(self.visit(v) for v in e.values) + ")"

    def visit_Cond(self, e: Any) -> str:
        """:meth:`conditional` of the rendered parts.

        They are rendered in the order the notation prints them (body, test, alternative):
        a renderer that numbers what it meets (the synapses' loop terms) numbers them so.
        """
        body = self.visit(e.body)
        test = self.visit(e.test)
        return self.conditional(test, body, self.visit(e.orelse))

    def conditional(self, test: str, body: str, orelse: str) -> str:
        """How ``body if test else orelse`` reads."""
        return f"({body} if {test} else {orelse})"

    def visit_Call(self, e: Any) -> str:
        """A built-in's own method ``call_<function>(e)``, else :meth:`call`."""
        special = getattr(self, "call_" + e.func, None)
        if special is not None:
            return special(e)
        return self.call(self.function(e.func), [self.visit(a) for a in e.args])

    def function(self, func: str) -> str:
        """The target's name of a function (from :attr:`functions`)."""
        if self.functions is None:
            return func
        if func not in self.functions:
            raise ValueError(
                f"{self.target}: no rendering of {func}(); known: {sorted(self.functions)}"
            )
        return self.functions[func]

    def call(self, func: str, args: list[str]) -> str:
        """How a call reads: ``func(a, b)``."""
        return f"{func}({', '.join(args)})"


class NotationRenderer(NodeRenderer):
    """The notation (parses back to the same tree), with optional number and function hooks.

    ``number`` prints a literal (default ``repr``), ``call`` maps a function's name to the
    name printed (default: itself).
    """

    def __init__(
        self,
        number: Callable[[float], str] = repr,
        call: Callable[[str], str] | None = None,
    ) -> None:
        self._number, self._call = number, call

    def number(self, value: float | int) -> str:
        """The ``number`` hook."""
        return self._number(value)

    def function(self, func: str) -> str:
        """The ``call`` hook."""
        return func if self._call is None else self._call(func)
