"""GeNN 5 rendering: keyword arguments for pygenn's model factories, as plain data.

``neuron_model_kwargs`` for ``pygenn.create_neuron_model``, ``weight_update_model_kwargs``
for ``pygenn.create_weight_update_model``; this package never imports pygenn.

The code strings are the model's code in GeNN's C-like language, every binary operation in
parentheses (GeNN's CPU build may still reassociate them under ``-ffast-math``). Names stay
as written: parameters and derived parameters are GeNN parameters, switches GeNN dynamic
parameters (tested as ``switch > 0.5``), ``x_pre`` / ``x_post`` GeNN neuron variable
references, inputs GeNN additional input variables. ``normal()`` is ``gennrand_normal()``;
``phi(x)`` the activation in double precision from the float argument, rounded once when
assigned; ``sample(i)`` reads the players' resident stage data (the extra global
parameters ``rates`` and ``order`` and three per-neuron offsets, see
``SAMPLE_VARS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from mc_models.expr import Assign, Call, Cond, Expr, If
from mc_models.model import Var
from mc_models.render.nodes import NodeRenderer

__all__ = [
    "GeNNRenderer",
    "SAMPLE_EGPS",
    "activation_code",
    "SAMPLE_VARS",
    "class_name",
    "code",
    "expression",
    "neuron_model_kwargs",
    "weight_update_model_kwargs",
]

# Where a member's resident data start: rates[member][sample][neuron], order[member][sample]
SAMPLE_VARS = (
    Var("order_base", "offset of this member's order (member * n_samples)", "unsigned int", 0),
    Var(
        "rate_base",
        "offset of this neuron's first rate (copy * n_samples * n + id)",
        "unsigned int",
        0,
    ),
    Var("stride", "neurons per sample (n)", "unsigned int", 1),
)
SAMPLE_EGPS = (("rates", "scalar*"), ("order", "unsigned int*"))


def _num(v: float | int, double: bool = False) -> str:
    if isinstance(v, int):
        return str(v)
    text = repr(float(v))
    if "." not in text and "e" not in text:
        text += ".0"
    return text + ("d" if double else "")


class GeNNRenderer(NodeRenderer):
    """A model's expression in GeNN's C-like code.

    Names as ``ref`` gives them (default: as written); a switch is a dynamic parameter,
    tested as ``(switch > 0.5)``. Numbers are ``scalar`` literals, or double ones
    (``1.0d``) in an activation. ``normal()`` is ``gennrand_normal()``, ``sample(i)`` reads
    the players' resident stage data (``SAMPLE_VARS``); ``phi`` is a statement of its own.
    """

    ops: ClassVar[Mapping[str, str]] = {"and": "&&", "or": "||"}
    functions: ClassVar[Mapping[str, str]] = {"exp": "exp", "log": "log", "abs": "fabs"}
    target = "GeNN"

    def __init__(
        self,
        kinds: Mapping[str, str],
        ref: Callable[[str], str] | None = None,
        double: bool = False,
    ) -> None:
        self.kinds, self.ref, self.double = kinds, ref, double

    def number(self, value: float | int) -> str:
        """An integer, or a float literal (``d``: double)."""
        return _num(value, self.double)

    def name(self, name: str) -> str:
        """A switch as ``(switch > 0.5)``, anything else as ``ref`` gives it."""
        if self.kinds.get(name) == "switch":
            return f"({name} > 0.5)"
        return name if self.ref is None else self.ref(name)

    def negation(self, operand: str) -> str:
        """``(!x)``."""
        return f"(!{operand})"

    def conditional(self, test: str, body: str, orelse: str) -> str:
        """``(test ? body : orelse)``."""
        return f"({test} ? {body} : {orelse})"

    def call_normal(self, e: Call) -> str:
        """GeNN's standard-normal draw."""
        return "gennrand_normal()"

    def call_sample(self, e: Call) -> str:
        """The stored rate of this neuron at an order position (``SAMPLE_EGPS``)."""
        return f"rates[rate_base + (order[order_base + {self.visit(e.args[0])}] * stride)]"

    def call_phi(self, e: Call) -> str:
        """Not an expression in GeNN: ``v = phi(x)`` is a statement (see ``_Code``)."""
        raise ValueError(f"phi() must be the whole value of an assignment: {e!r}")


class _Code:
    def __init__(self, kinds: dict[str, str], activation) -> None:
        self.kinds, self.activation = kinds, activation
        self.lines: list[str] = []
        self.n_phi = 0

    def emit(self, line: str, ind: int) -> None:
        self.lines.append("    " * ind + line)

    def expr(self, e: Expr, ref: Callable[[str], str] | None = None, double=False) -> str:
        return GeNNRenderer(self.kinds, ref, double).render(e)

    def block(self, block, ind: int = 0) -> None:
        for s in block:
            if isinstance(s, If):
                self.emit(f"if {self.expr(s.test)} {{", ind)
                self.block(s.body, ind + 1)
                if s.orelse:
                    self.emit("}", ind)
                    self.emit("else {", ind)
                    self.block(s.orelse, ind + 1)
                self.emit("}", ind)
            else:
                self.assign(s, ind)

    def assign(self, s: Assign, ind: int) -> None:
        declared = s.target in self.kinds
        if isinstance(s.value, Call) and s.value.func == "phi":
            arg = f"mc_phi{self.n_phi}"
            self.n_phi += 1
            self.emit(f"const scalar {arg} = {self.expr(s.value.args[0])};", ind)
            if not declared:
                self.emit(f"scalar {s.target};", ind)
            self.activation_code(s.target, arg, ind)
            return
        value = self.expr(s.value)
        if declared:
            op = f"{s.op}=" if s.op else "="
            self.emit(f"{s.target} {op} {value};", ind)
        else:
            self.emit(f"const scalar {s.target} = {value};", ind)

    def activation_code(self, target: str, arg: str, ind: int, thr: str = "threshold") -> None:
        """``target = phi(arg)`` in double from the float ``arg``, rounded once."""
        names = {"x": f"((double){arg})", "thr": thr}
        tree = self.activation.tree

        def branch(e: Expr, ind: int) -> None:
            if isinstance(e, Cond):
                self.emit(f"if {self.expr(e.test, names.get, True)} {{", ind)
                branch(e.body, ind + 1)
                self.emit("}", ind)
                self.emit("else {", ind)
                branch(e.orelse, ind + 1)
                self.emit("}", ind)
            else:
                self.emit(f"{target} = {self.expr(e, names.get, True)};", ind)

        branch(tree, ind)


def activation_code(activation, out: str, inp: str, thr: str = "threshold") -> str:
    """GeNN statements assigning ``activation(inp)`` to ``out`` (double, rounded once)."""
    c = _Code({}, activation)
    c.activation_code(out, f"({inp})", 0, thr)
    return "\n".join(c.lines)


def expression(e: Expr, kinds: dict[str, str]) -> str:
    """GeNN code of one expression (no ``phi``), as :func:`code` renders it in a statement."""
    return _Code(kinds, None).expr(e)


def code(block, kinds: dict[str, str], activation=None) -> str:
    """GeNN code of a block of statements (``activation`` renders ``phi``)."""
    c = _Code(kinds, activation)
    c.block(block)
    return "\n".join(c.lines) + ("\n" if c.lines else "")


def class_name(model, activation=None) -> str:
    """The GeNN class name: ``mc_<model>``, with the activation's name if it calls phi."""
    uses_phi = getattr(model, "uses", lambda f: False)("phi")
    return f"mc_{model.name}" + (f"_{activation.name}" if uses_phi and activation else "")


def _derived(model) -> list[tuple[str, Callable]]:
    # GeNN 5 passes a name -> value mapping and dt, exactly our convention.
    return [(d.name, (lambda f: lambda pars, dt: f(pars, dt))(d.func)) for d in model.derived]


def neuron_model_kwargs(model, activation=None) -> dict[str, Any]:
    """Keyword arguments for ``pygenn.create_neuron_model`` (plain data).

    Switches become (dynamic) parameters after the model's own; a model that calls
    ``sample`` gets ``SAMPLE_VARS`` and ``SAMPLE_EGPS``.
    """
    if model.uses("phi") and activation is None:
        raise ValueError(f"model {model.name!r} calls phi(): give the activation")
    sample = model.uses("sample")
    kw: dict[str, Any] = {
        "class_name": class_name(model, activation),
        "params": [*model.param_names, *model.switches],
        "derived_params": _derived(model),
        "vars": [(v.name, v.type) for v in (*model.vars, *(SAMPLE_VARS if sample else ()))],
        "sim_code": code(model.block, model.kinds(), activation),
        "additional_input_vars": [(n, "scalar", 0.0) for n in model.inputs],
    }
    if sample:
        kw["extra_global_params"] = list(SAMPLE_EGPS)
    return kw


def weight_update_model_kwargs(model, activation=None) -> dict[str, Any]:
    """Keyword arguments for ``pygenn.create_weight_update_model`` (plain data).

    The references are declared read-only (``(name, "scalar", "READ_ONLY")``; the caller
    passes pygenn's access mode for the string). The output is ``addToPost(...)`` after the
    update, inside ``if (switch > 0.5)`` when the output is switched.
    """
    kinds = model.kinds()
    update = code(model.block, kinds, activation)
    out = f"addToPost({_Code(kinds, activation).expr(model.output_expr)});\n"
    if model.output_when is not None:
        out = f"if ({model.output_when} > 0.5) {{\n    {out}}}\n"
    return {
        "class_name": class_name(model, activation),
        "params": [*model.param_names, *model.switches],
        "derived_params": _derived(model),
        "vars": [(v.name, v.type) for v in model.vars],
        "pre_neuron_var_refs": [(n, "scalar", "READ_ONLY") for n, _ in model.pre_refs],
        "post_neuron_var_refs": [(n, "scalar", "READ_ONLY") for n, _ in model.post_refs],
        "synapse_dynamics_code": update + out,
    }
