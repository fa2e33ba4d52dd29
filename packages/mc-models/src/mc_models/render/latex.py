r"""LaTeX rendering of a model's update, for documentation (MathJax or LaTeX).

Like the other renderers a pure function of the declaration: it prints the parsed tree of
:mod:`mc_models.expr` exactly as it is evaluated. Binary operations group to the left, so a
parenthesis is printed only where the tree differs from that reading: ``(a + b) + c`` prints
as ``a + b + c``, ``a + (b + c)`` as ``a + \left(b + c\right)``; divisions print as
fractions. An assignment prints as ``x \leftarrow e`` (``x += e`` as ``x \leftarrow x + (e)``,
the whole of ``e`` added), ``normal()`` as a fresh draw :math:`\mathcal{N}(0, 1)`, ``phi`` as
:math:`\varphi`. Names print as symbols: ``g_leak`` as :math:`g_{\mathrm{leak}}`, ``tau_w``
as :math:`\tau_{\mathrm{w}}`, ``dt`` as :math:`\Delta t`, ``v_brev`` as :math:`\breve{v}`, a
multi-letter stem upright (``rate_pre`` as :math:`\mathrm{rate}_{\mathrm{pre}}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from mc_models.expr import Assign, Bin, BoolOp, Call, Cmp, Cond, Expr, If, Name, Neg, Not, Stmt
from mc_models.model import NeuronModel, SynapseModel
from mc_models.render.nodes import NodeRenderer

__all__ = [
    "LatexRenderer",
    "activation",
    "block",
    "expr",
    "model_equations",
    "number",
    "statement_rows",
    "symbol",
]

GREEK = {
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "eta",
    "theta",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "phi",
    "chi",
    "psi",
    "omega",
}
_SPECIAL = {"dt": r"\Delta t", "v_brev": r"\breve{v}"}  # the prospective voltage of LE
_STEMS = {"Isyn": "I"}  # the synaptic input sums
_CMP = {"<": "<", "<=": r"\le", ">": ">", ">=": r"\ge", "==": "=", "!=": r"\ne"}
_PREC = {"+": 1, "-": 1, "*": 2}  # division prints as a fraction (no precedence needed)
_ATOM = 9


def _stem(word: str) -> str:
    if word in GREEK:
        return "\\" + word
    if len(word) == 1:
        return word
    return r"\mathrm{" + word.replace("_", r"\_") + "}"


def symbol(name: str) -> str:
    """The LaTeX symbol of a name: stem (Greek, one letter or upright) and upright subscript."""
    if name in _SPECIAL:
        return _SPECIAL[name]
    stem, _, sub = name.partition("_")
    if not stem:  # a name starting with "_"
        return _stem(name)
    out = _STEMS.get(stem) or _stem(stem)
    if sub:
        out += "_{" + ",".join(r"\mathrm{" + p + "}" for p in sub.split("_") if p) + "}"
    return out


def number(value: float | int) -> str:
    """A number as written in the model (``1.0`` as ``1``, ``1e-05`` as ``10^{-5}``)."""
    if isinstance(value, int):
        return str(value)
    text = format(value, "g")
    if "e" in text:
        mant, exp = text.split("e")
        power = "10^{" + str(int(exp)) + "}"
        return power if mant == "1" else mant + r" \cdot " + power
    return text


def _paren(text: str) -> str:
    return r"\left(" + text + r"\right)"


class LatexRenderer(NodeRenderer):
    """An expression as LaTeX, as it is evaluated.

    Names print as symbols, parentheses only where the tree is not left-grouped (by
    :meth:`precedence`), divisions as fractions, a chain of conditionals as one set of cases.
    """

    ops: ClassVar[Mapping[str, str]] = {**_CMP, "*": r"\cdot", "and": r"\wedge", "or": r"\vee"}
    functions: ClassVar[Mapping[str, str]] = {"exp": r"\exp", "log": r"\log", "phi": r"\varphi"}
    target = "LaTeX"

    def name(self, name: str) -> str:
        """:func:`symbol`."""
        return symbol(name)

    def number(self, value: float | int) -> str:
        """:func:`number`."""
        return number(value)

    def precedence(self, e: Expr) -> int:
        """How tightly ``e`` binds as printed (higher binds tighter)."""
        if isinstance(e, Bin):
            return _ATOM if e.op == "/" else _PREC[e.op]
        if isinstance(e, Neg):
            return _PREC["*"]
        if isinstance(e, Cmp | BoolOp):
            return 0
        return _ATOM

    def visit_Bin(self, e: Bin) -> str:
        """Left-grouped: parenthesised operands where the tree is not; ``/`` a fraction.

        The left operand is parenthesised below the operator's precedence, the right one at
        or below it (and a negation there).
        """
        if e.op == "/":
            return r"\frac{" + self.visit(e.left) + "}{" + self.visit(e.right) + "}"
        prec = _PREC[e.op]
        left, right = self.visit(e.left), self.visit(e.right)
        if self.precedence(e.left) < prec:
            left = _paren(left)
        if self.precedence(e.right) <= prec or isinstance(e.right, Neg):
            right = _paren(right)
        return left + f" {self.op(e.op)} " + right

    def visit_Neg(self, e: Neg) -> str:
        """``-x``, the operand in parentheses unless it is an atom."""
        inner = self.visit(e.operand)
        return "-" + (inner if self.precedence(e.operand) > _PREC["*"] else _paren(inner))

    def visit_Cmp(self, e: Cmp) -> str:
        r"""``a \le b`` (the lowest precedence: no parentheses inside)."""
        return f"{self.visit(e.left)} {self.op(e.op)} {self.visit(e.right)}"

    def visit_BoolOp(self, e: BoolOp) -> str:
        r"""``a \wedge b``, a nested ``and``/``or`` in parentheses."""
        parts = [
            _paren(self.visit(v)) if isinstance(v, BoolOp) else self.visit(v) for v in e.values
        ]
        return f" {self.op(e.op)} ".join(parts)

    def negation(self, operand: str) -> str:
        r"""``\neg \left(x\right)``."""
        return r"\neg " + _paren(operand)

    def visit_Cond(self, e: Cond) -> str:
        """A chain ``a if t else (b if u else c)`` as one set of cases."""
        rows = []
        while isinstance(e, Cond):
            rows.append(self.visit(e.body) + r" & \text{if } " + self.visit(e.test))
            e = e.orelse
        rows.append(self.visit(e) + r" & \text{otherwise}")
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"

    def function(self, func: str) -> str:
        """A known function's symbol, any other upright."""
        return self.functions.get(func) or r"\mathrm{" + func.replace("_", r"\_") + "}"

    def call(self, func: str, args: list[str]) -> str:
        r"""``f\left(a, b\right)``."""
        return func + _paren(", ".join(args))

    def call_normal(self, e: Call) -> str:
        """A fresh standard-normal draw."""
        return r"\mathcal{N}(0, 1)"

    def call_abs(self, e: Call) -> str:
        """``|x|``."""
        return r"\left|" + self.visit(e.args[0]) + r"\right|"


def expr(e: Expr) -> str:
    """LaTeX of one expression, parenthesised only where the tree is not left-grouped."""
    return LatexRenderer().render(e)


def activation(act) -> str:
    r"""An activation (:class:`mc_models.Activation`) as :math:`\varphi(x) = \dots`."""
    return r"\varphi(x) = " + expr(act.tree)


def _test(e: Expr, switches: tuple[str, ...]) -> str:
    if isinstance(e, Name) and e.id in switches:
        return r"\text{" + e.id + "}"
    if isinstance(e, Not) and isinstance(e.operand, Name) and e.operand.id in switches:
        return r"\text{not " + e.operand.id + "}"
    return expr(e)


def statement_rows(
    stmts: tuple[Stmt, ...], switches: tuple[str, ...] = (), depth: int = 0
) -> list[str]:
    r"""One row per statement (``&``-aligned, ``\quad`` per level of ``if``), in order."""
    indent = r"\quad " * depth
    rows: list[str] = []
    for s in stmts:
        if isinstance(s, Assign):
            rows.append(f"&{indent}{symbol(s.target)} \\leftarrow {expr(s.full_value)}")
            continue
        assert isinstance(s, If)
        rows.append(f"&{indent}" + r"\textbf{if } " + _test(s.test, switches) + ":")
        rows += statement_rows(s.body, switches, depth + 1)
        orelse = s.orelse
        while len(orelse) == 1 and isinstance(orelse[0], If):
            rows.append(
                f"&{indent}" + r"\textbf{else if } " + _test(orelse[0].test, switches) + ":"
            )
            rows += statement_rows(orelse[0].body, switches, depth + 1)
            orelse = orelse[0].orelse
        if orelse:
            rows.append(f"&{indent}" + r"\textbf{else}:")
            rows += statement_rows(orelse, switches, depth + 1)
    return rows


def block(stmts: tuple[Stmt, ...], switches: tuple[str, ...] = ()) -> str:
    r"""A block as the body of an ``aligned`` environment (rows joined by ``\\``)."""
    return r"\begin{aligned}" + " \\\\\n".join(statement_rows(stmts, switches)) + r"\end{aligned}"


def model_equations(model: NeuronModel | SynapseModel) -> dict[str, str]:
    r"""The model's code as LaTeX, by part.

    Returns
    -------
    dict
        ``"update"`` (every model), ``"stage_start"`` (a neuron model with stage-start code),
        ``"output"`` (a synapse model: what each synapse adds to its target input,
        :math:`I \mathrel{+}= \sum_{pre} \dots`); each an ``aligned`` block or ``""`` when the
        part is empty.
    """
    out = {"update": block(model.block, model.switches) if model.block else ""}
    if isinstance(model, NeuronModel):
        if model.start_block:
            out["stage_start"] = block(model.start_block, model.switches)
    else:
        gate = ""
        if model.output_when is not None:
            gate = r" \quad \text{if " + model.output_when + "}"
        out["output"] = r"I_{\mathrm{target}} \mathrel{+}= \sum_{\mathrm{pre}} " + (
            expr(model.output_expr) + gate
        )
    return out
