"""One walker of the notation's tree prints every target; each target only says how nodes print.

Every renderer is a subclass of :class:`NodeRenderer` that does not walk the tree itself, so a
node type added to the walker reaches every target; each target prints precedence and
parentheses as the tree says (checked against hand-written strings).
"""

from dataclasses import dataclass

import numpy as np
import pytest

from mc_models import NeuronModel, Param, SynapseModel, Var
from mc_models.expr import Bin, Call, Name, Num, parse_expr, unparse
from mc_models.render import genn, latex
from mc_models.render import numba as rnb
from mc_models.render import numpy as rnp
from mc_models.render._lower import Const
from mc_models.render.nodes import NodeRenderer, NotationRenderer

TARGETS = [
    NotationRenderer,
    rnp.NumpyRenderer,
    rnp.ActivationRenderer,
    rnb.NumbaRenderer,
    rnb.ActivationRenderer,
    rnb.VectorActivationRenderer,
    genn.GeNNRenderer,
    latex.LatexRenderer,
]


@pytest.mark.parametrize("cls", TARGETS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_target_is_a_table_on_the_one_walker(cls):
    assert issubclass(cls, NodeRenderer)
    # the walking (dispatch and recursion) is the base class's; a target only prints nodes
    for klass in cls.__mro__[: cls.__mro__.index(NodeRenderer)]:
        assert "visit" not in vars(klass) and "render" not in vars(klass), klass


@dataclass(frozen=True)
class Toy:
    """A node type the notation does not have."""

    operand: object


class _Act:
    """An activation-like object around a tree (the renderers read ``tree`` only)."""

    name = "toy"

    def __init__(self, tree):
        self.tree = tree


def _renderings(e):
    """``e`` through every target's rendering."""
    names = rnb.NeuronNames("p", "n", str, str, str, lambda k: f"C[{k}]")
    return {
        "notation": unparse(e),
        "numpy": rnp.NumpyRenderer(lambda n: f"s[{n!r}]").render(e),
        "numpy activation": rnp.ActivationRenderer().render(e),
        "numba": rnb.NumbaRenderer(lambda n: f"p_{n}", names).render(e),
        "numba activation": rnb.activation_source(_Act(e))[1],
        "numba vectorised": rnb.vector_activation_source(_Act(e))[1],
        "genn": genn.expression(e, {}),
        "latex": latex.expr(e),
    }


def test_a_node_type_added_to_the_walker_reaches_every_target(monkeypatch):
    e = Bin("-", Name("x"), Toy(Bin("*", Name("x"), Num(2))))
    with pytest.raises(ValueError, match="cannot render Toy"):
        genn.expression(e, {})
    monkeypatch.setattr(
        NodeRenderer, "visit_Toy", lambda self, e: f"toy[{self.visit(e.operand)}]", raising=False
    )
    # the node prints in every target, its operand in that target's printing
    assert _renderings(e) == {
        "notation": "(x - toy[(x * 2)])",
        "numpy": "(s['x'] - toy[(s['x'] * 2)])",
        "numpy activation": "(x - toy[(x * 2.0)])",
        "numba": "(p_x - toy[(p_x * 2)])",
        "numba activation": "    return (x - toy[(x * 2.0)])",
        "numba vectorised": "    return _vguard((x - toy[(x * 2.0)]), x)",
        "genn": "(x - toy[(x * 2)])",
        "latex": r"x - toy[x \cdot 2]",
    }


# (source, notation, numpy, numba, GeNN (``c`` a switch), LaTeX)
CASES = [
    (
        "a - (b - c)",
        "(a - (b - c))",
        "(s['a'] - (s['b'] - sw['c']))",
        "(p_a - (p_b - (SW0 != 0)))",
        "(a - (b - (c > 0.5)))",
        r"a - \left(b - c\right)",
    ),
    (
        "(a - b) - c",
        "((a - b) - c)",
        "((s['a'] - s['b']) - sw['c'])",
        "((p_a - p_b) - (SW0 != 0))",
        "((a - b) - (c > 0.5))",
        "a - b - c",
    ),
    (
        "-(a * b)",
        "(-(a * b))",
        "(-(s['a'] * s['b']))",
        "(-(p_a * p_b))",
        "(-(a * b))",
        r"-\left(a \cdot b\right)",
    ),
    (
        "a * -b",
        "(a * (-b))",
        "(s['a'] * (-s['b']))",
        "(p_a * (-p_b))",
        "(a * (-b))",
        r"a \cdot \left(-b\right)",
    ),
    (
        "a / (b * d)",
        "(a / (b * d))",
        "(s['a'] / (s['b'] * s['d']))",
        "(p_a / (p_b * p_d))",
        "(a / (b * d))",
        r"\frac{a}{b \cdot d}",
    ),
    (
        "1.0 / (2 + a)",
        "(1.0 / (2 + a))",
        "(1.0 / (2 + s['a']))",
        "(1.0 / (2 + p_a))",
        "(1.0 / (2 + a))",
        r"\frac{1}{2 + a}",
    ),
    (
        "x if a < b else (y if d >= 1.5 else z)",
        "(x if (a < b) else (y if (d >= 1.5) else z))",
        "np.where((s['a'] < s['b']), s['x'], np.where((s['d'] >= 1.5), s['y'], s['z']))",
        "(p_x if (p_a < p_b) else (p_y if (p_d >= 1.5) else p_z))",
        "((a < b) ? x : ((d >= 1.5) ? y : z))",
        r"\begin{cases} x & \text{if } a < b \\ y & \text{if } d \ge 1.5 \\ z & \text{otherwise}"
        r" \end{cases}",
    ),
    (
        "(x if a else y) - (z if not c and a != b and d else x)",
        "((x if a else y) - (z if ((not c) and (a != b) and d) else x))",
        "(np.where(s['a'], s['x'], s['y']) - np.where(np.logical_and(np.logical_and("
        "np.logical_not(sw['c']), (s['a'] != s['b'])), s['d']), s['z'], s['x']))",
        "((p_x if p_a else p_y) - (p_z if ((not (SW0 != 0)) and (p_a != p_b) and p_d) else p_x))",
        "((a ? x : y) - (((!(c > 0.5)) && (a != b) && d) ? z : x))",
        r"\begin{cases} x & \text{if } a \\ y & \text{otherwise} \end{cases} - \begin{cases} z"
        r" & \text{if } \neg \left(c\right) \wedge a \ne b \wedge d \\ x & \text{otherwise}"
        r" \end{cases}",
    ),
]


@pytest.mark.parametrize(("src", "notation", "numpy", "numba", "genn_", "latex_"), CASES)
def test_each_target_prints_precedence_and_parentheses(src, notation, numpy, numba, genn_, latex_):
    e = parse_expr(src)
    names = rnb.NeuronNames(
        "p", "n", str, str, str, lambda k: f"C[{k}]", switch=lambda s: "(SW0 != 0)"
    )
    kinds = {"c": "switch"}
    numpy_ref = lambda n: f"sw[{n!r}]" if n == "c" else f"s[{n!r}]"  # noqa: E731
    numba_ref = lambda n: names.switch(n) if n == "c" else f"p_{n}"  # noqa: E731
    assert unparse(e) == notation
    assert parse_expr(notation) == e  # the notation parses back to the same tree
    assert rnp.NumpyRenderer(numpy_ref).render(e) == numpy
    assert rnb.NumbaRenderer(numba_ref, names).render(e) == numba
    assert genn.expression(e, kinds) == genn_
    assert latex.expr(e) == latex_


def test_the_built_ins_and_constants_per_target():
    names = rnb.NeuronNames(
        "p",
        "n",
        str,
        str,
        str,
        lambda k: f"C[{k}]",
        draw=lambda k: f"XI[{k}, j]",
        sample=lambda i: f"X[ORD[{i}], j]",
        act="_act",
    )
    draw = Bin("*", Const(1), Call("normal", (Num(3),)))  # as _lower numbers and folds them
    phi = Call("phi", (Bin("-", Name("v"), Const(0)), Const(2)))
    sample = Call("sample", (Bin("+", Name("i"), Num(1)),))
    nb = rnb.NumbaRenderer(lambda n: f"p_{n}", names)
    assert nb.render(draw) == "(C[1] * XI[3, j])"
    assert nb.render(phi) == "DT(_act(np.float64((p_v - C[0])), np.float64(C[2])))"
    assert nb.render(sample) == "X[ORD[(p_i + 1)], j]"
    np_ = rnp.NumpyRenderer(lambda n: f"s[{n!r}]")
    assert np_.render(draw) == "(c[1] * draws[3])"
    assert np_.render(Call("phi", (Bin("-", Name("v"), Const(0)),))) == "act((s['v'] - c[0]), thr)"
    assert np_.render(sample) == "data.sample((s['i'] + 1))"
    assert genn.expression(Call("normal", ()), {}) == "gennrand_normal()"
    assert (
        genn.expression(parse_expr("sample(i + 1)"), {})
        == "rates[rate_base + (order[order_base + (i + 1)] * stride)]"
    )
    with pytest.raises(ValueError, match="phi\\(\\) must be the whole value"):
        genn.expression(parse_expr("phi(v)"), {})
    assert (
        latex.expr(parse_expr("phi(v) + normal()")) == r"\varphi\left(v\right) + \mathcal{N}(0, 1)"
    )
    with pytest.raises(ValueError, match="no folded constants"):
        unparse(Const(0))


def test_activation_tables():
    act = _Act(parse_expr("0.0 if x < -thr else (log(1 + exp(x)) if abs(x) < thr else x)"))
    body = "(0.0 if (x < (-thr)) else (math.log((1.0 + math.exp(x))) if (abs(x) < thr) else x))"
    assert rnb.activation_source(act, "f") == ["def f(x, thr):", f"    return {body}"]
    assert rnb.vector_activation_source(act) is None  # no vectorised log
    sig = _Act(parse_expr("1 / (1.0 + exp(-x)) if abs(x) < thr else 1.0"))
    assert rnb.vector_activation_source(sig)[1] == (
        "    return _vguard(((1.0 / (1.0 + _vexp((-x)))) if (abs(x) < thr) else 1.0), x)"
    )
    assert rnp.ActivationRenderer().render(act.tree) == (
        "np.where((x < (-thr)), 0.0, np.where((np.abs(x) < thr), np.log((1.0 + np.exp(x))), x))"
    )
    assert genn.activation_code(sig, "r", "v", "T").splitlines() == [
        "if (fabs(((double)(v))) < T) {",
        "    r = (1 / (1.0d + exp((-((double)(v))))));",
        "}",
        "else {",
        "    r = 1.0d;",
        "}",
    ]
    with pytest.raises(ValueError, match="activation: numba: no rendering of tanh"):
        rnb.activation_source(_Act(parse_expr("tanh(x)")))


def test_a_model_through_every_target():
    """Constants folded (``_lower``), then each target's printing of the same update."""
    model = NeuronModel(
        name="probe",
        doc="",
        params=(Param("a", "a", 0.5), Param("b", "b", 2.0)),
        vars=(Var("x", "x"), Var("y", "y")),
        update="x = x - (y - a * b)\ny = -(x * y) / (a * (x - b))",
    )
    params = model.resolve({}, 0.1, np.float32)
    lines = rnb.neuron_code(model, params.values, params.dtype).lines(
        rnb.NeuronNames("p", "n", lambda v: f"S_{v}", str, str, lambda k: f"C[{k}]")
    )
    assert lines == [
        "for j in range(n):",
        "    p_x = S_x[j]",
        "    p_y = S_y[j]",
        "    p_x = (p_x - (p_y - C[0]))",
        "    S_x[j] = p_x",
        "    p_y = ((-(p_x * p_y)) / (C[1] * (p_x - C[2])))",
        "    S_y[j] = p_y",
    ]
    src = rnp.neuron_step(model, None, params).source
    assert src.splitlines()[1:] == [
        "    np.subtract(s['x'], (s['y'] - c[0]), out=s['x'])",
        "    np.true_divide((-(s['x'] * s['y'])), (c[1] * (s['x'] - c[2])), out=s['y'])",
    ]
    assert genn.neuron_model_kwargs(model)["sim_code"] == (
        "x = (x - (y - (a * b)));\ny = ((-(x * y)) / (a * (x - b)));\n"
    )
    assert latex.block(model.block) == (
        r"\begin{aligned}&x \leftarrow x - \left(y - a \cdot b\right) \\"
        "\n"
        r"&y \leftarrow \frac{-\left(x \cdot y\right)}{a \cdot \left(x - b\right)}\end{aligned}"
    )


def _probe_names(**hooks) -> rnb.SynapseNames:
    """Kernel names that print plainly (``PRE_x``, ``W_g``, ``C0``), with ``hooks`` changed."""
    plain = {
        "pre": lambda v: f"PRE_{v}",
        "post": lambda v: f"POST_{v}",
        "var": lambda v: f"W_{v}",
        "const": lambda k: f"C{k}",
    }
    return rnb.SynapseNames("q", **{**plain, **hooks})


def test_synapse_inner_loop_numbers_terms_in_printed_order():
    """The inner loop reads one side's terms from buffers, numbered as printed."""
    model = SynapseModel(
        name="probe_syn",
        doc="",
        params=(Param("eta", "eta", 0.5),),
        vars=(Var("g", "g"),),
        output="g * (x_pre if z_pre > eta else y_post - eta)",
    )
    code = rnb.synapse_code(model, model.resolve({}, 0.1, np.float32).values, np.float32)
    names = _probe_names(const=lambda k: f"C[{k}]", post_term=lambda k: f"PT{k}")
    v = code.render(names, {})
    assert v.output == "(q_g * (pr0 if pr1 else PT0[j]))"
    assert v.pre_lines == ("pr0 = PRE_x[i]", "pr1 = (PRE_z[i] > C[0])")
    assert v.post_lines == ("PT0[j] = (POST_y[j] - C[0])",)
    assert code.render(names, {}, one_to_one=True).output == (
        "(q_g * (PRE_x[j] if (PRE_z[j] > C[0]) else (POST_y[j] - C[0])))"
    )


def _rule(update: str, output: str = "g * r_pre") -> SynapseModel:
    return SynapseModel(
        name="probe_rule",
        doc="",
        params=(Param("eta", "eta", 0.5),),
        vars=(Var("g", "g"), Var("d", "d")),
        switches=("learning",),
        update=update,
        output=output,
    )


def test_synapse_inner_loop_takes_the_kernels_element_access_and_says_if_it_is_elementwise():
    """A kernel may pass its own reads and writes of synapses and postsynaptic lanes (rows
    of lanes at once); the variant says whether its body is arithmetic a row can run."""
    names = _probe_names(
        at_synapse=lambda m: f"LOAD({m})",
        put_synapse=lambda m, v: f"STORE({m}, {v})",
        at_post=lambda a: f"ROW({a})",
    )
    model = _rule("if learning:\n    d += eta * (x_post * r_pre - d)\n    g += d\n")
    code = rnb.synapse_code(model, model.resolve({}, 0.1, np.float32).values, np.float32)
    on = code.render(names, {"learning": True})
    assert on.elementwise and code.render(names, {"learning": False}).elementwise
    assert on.inner_lines == (
        "q_g = LOAD(W_g)",
        "q_d = LOAD(W_d)",
        "q_d = (q_d + (C0 * ((ROW(POST_x) * pr0) - q_d)))",
        "STORE(W_d, q_d)",
        "q_g = (q_g + q_d)",
        "STORE(W_g, q_g)",
    )
    assert on.output == "(q_g * pr0)" and on.pre_lines == ("pr0 = PRE_r[i]",)
    # a compound postsynaptic term: computed in its own loop over j, one element at a
    # time; the inner loop reads its buffer through the kernel's hook
    model = _rule("if learning:\n    g += (x_post - eta) * r_pre\n")
    with_term = rnb.synapse_code(
        model, model.resolve({}, 0.1, np.float32).values, np.float32
    ).render(names, {"learning": True})
    assert with_term.post_lines == ("pt0[j] = (POST_x[j] - C0)",)
    assert "q_g = (q_g + (ROW(pt0) * pr0))" in with_term.inner_lines
    # a one-to-one connection has no inner loop to run by rows
    assert not code.render(names, {"learning": True}, one_to_one=True).elementwise
    # a test inside the body, a conditional value, a comparison: not elementwise
    for update in (
        "if learning:\n    if x_post > eta:\n        g += d\n",
        "if learning:\n    g += (d if x_post > eta else eta)\n",
    ):
        code = rnb.synapse_code(_rule(update), {"eta": np.float32(0.5)}, np.float32)
        assert not code.render(names, {"learning": True}).elementwise, update
