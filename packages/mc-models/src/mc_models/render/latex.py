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
)
from mc_models.model import NeuronModel, SynapseModel

__all__ = [
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


def _expr(e: Expr) -> tuple[str, int]:
    """LaTeX of ``e`` and its precedence (higher binds tighter)."""
    if isinstance(e, Num):
        return number(e.value), _ATOM
    if isinstance(e, Name):
        return symbol(e.id), _ATOM
    if isinstance(e, Bin):
        if e.op == "/":
            return r"\frac{" + expr(e.left) + "}{" + expr(e.right) + "}", _ATOM
        prec = _PREC[e.op]
        left, lp = _expr(e.left)
        right, rp = _expr(e.right)
        if lp < prec:
            left = _paren(left)
        if rp <= prec or isinstance(e.right, Neg):  # left-grouping: equal precedence on the
            right = _paren(right)  # right needs parentheses (and a negation there reads so)
        op = r" \cdot " if e.op == "*" else f" {e.op} "
        return left + op + right, prec
    if isinstance(e, Neg):
        inner, p = _expr(e.operand)
        return "-" + (inner if p > _PREC["*"] else _paren(inner)), _PREC["*"]
    if isinstance(e, Cmp):
        return f"{expr(e.left)} {_CMP[e.op]} {expr(e.right)}", 0
    if isinstance(e, BoolOp):
        op = r" \wedge " if e.op == "and" else r" \vee "
        parts = [_paren(expr(v)) if isinstance(v, BoolOp) else expr(v) for v in e.values]
        return op.join(parts), 0
    if isinstance(e, Not):
        return r"\neg " + _paren(expr(e.operand)), _ATOM
    if isinstance(e, Call):
        return _call(e), _ATOM
    if isinstance(e, Cond):  # a chain `a if t else (b if u else c)` as one set of cases
        rows = []
        while isinstance(e, Cond):
            rows.append(expr(e.body) + r" & \text{if } " + expr(e.test))
            e = e.orelse
        rows.append(expr(e) + r" & \text{otherwise}")
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}", _ATOM
    raise TypeError(f"not an expression of the notation: {e!r}")


def _call(e: Call) -> str:
    args = [expr(a) for a in e.args]
    if e.func == "normal":
        return r"\mathcal{N}(0, 1)"
    if e.func == "phi":
        return r"\varphi" + _paren(args[0])
    if e.func == "abs":
        return r"\left|" + args[0] + r"\right|"
    if e.func in ("exp", "log"):
        return "\\" + e.func + _paren(args[0])
    return r"\mathrm{" + e.func.replace("_", r"\_") + "}" + _paren(", ".join(args))


def expr(e: Expr) -> str:
    """LaTeX of one expression, parenthesised only where the tree is not left-grouped."""
    return _expr(e)[0]


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
