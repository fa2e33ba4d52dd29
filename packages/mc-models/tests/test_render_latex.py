"""The LaTeX rendering prints each model's parsed update as it is evaluated."""

from __future__ import annotations

import pytest

from mc_models import neuron_model, neuron_models, synapse_model, synapse_models
from mc_models.expr import parse_block, parse_expr
from mc_models.render import latex


@pytest.mark.parametrize(
    ("source", "tex"),
    [
        ("(a + b) + c", "a + b + c"),
        ("a + (b + c)", r"a + \left(b + c\right)"),
        ("a - (b - c)", r"a - \left(b - c\right)"),
        ("(a - b) - c", "a - b - c"),
        ("a * (b + c)", r"a \cdot \left(b + c\right)"),
        ("a * b + c", r"a \cdot b + c"),
        ("a / (b + c)", r"\frac{a}{b + c}"),
        ("-(a + b)", r"-\left(a + b\right)"),
        ("-a * b", r"-a \cdot b"),
        ("a * -b", r"a \cdot \left(-b\right)"),
        ("a - -b", r"a - \left(-b\right)"),
        ("-(a * b)", r"-\left(a \cdot b\right)"),
        ("1.0 / tau_w", r"\frac{1}{\tau_{\mathrm{w}}}"),
        ("dt * eta", r"\Delta t \cdot \eta"),
        ("2.5e-05 * x", r"2.5 \cdot 10^{-5} \cdot x"),
        (
            "phi(g_scale * v_basal)",
            r"\varphi\left(g_{\mathrm{scale}} \cdot v_{\mathrm{basal}}\right)",
        ),
        ("rate_highpass_pre", r"\mathrm{rate}_{\mathrm{highpass},\mathrm{pre}}"),
        ("Isyn_up", r"I_{\mathrm{up}}"),
        ("V + tau_soma * v_dot", r"V + \tau_{\mathrm{soma}} \cdot v_{\mathrm{dot}}"),
        ("phi(v_brev)", r"\varphi\left(\breve{v}\right)"),
        ("sigma_noise * normal()", r"\sigma_{\mathrm{noise}} \cdot \mathcal{N}(0, 1)"),
        (
            "a if x > 0.0 else b",
            r"\begin{cases} a & \text{if } x > 0 \\ b & \text{otherwise} \end{cases}",
        ),
        ("x <= 1 and not y", r"x \le 1 \wedge \neg \left(y\right)"),
    ],
)
def test_expressions_print_as_evaluated(source, tex):
    assert latex.expr(parse_expr(source)) == tex


def test_activations_render_as_cases():
    from mc_models import get_activation

    assert latex.activation(get_activation("sigmoid")) == (
        r"\varphi(x) = \frac{1}{1 + \exp\left(-x\right)}"
    )
    assert latex.activation(get_activation("soft_relu")) == (
        r"\varphi(x) = \begin{cases} 0 & \text{if } x < -\mathrm{thr} \\ "
        r"\log\left(1 + \exp\left(x\right)\right) & \text{if } \left|x\right| < \mathrm{thr}"
        r" \\ x & \text{otherwise} \end{cases}"
    )


def test_grouping_is_kept_where_float32_results_differ():
    # the two groupings are different models (different float32 sums): different LaTeX too
    assert latex.expr(parse_expr("(a + b) + c")) != latex.expr(parse_expr("a + (b + c)"))


def test_statements_in_order_with_augmented_assignment_and_branches():
    rows = latex.statement_rows(
        parse_block(
            """
if learning:
    g += h * (d - g)
elif x > 0.0:
    g = 0.0
else:
    g -= 1.0
y = g
"""
        ),
        switches=("learning",),
    )
    assert rows == [
        r"&\textbf{if } \text{learning}:",
        r"&\quad g \leftarrow g + h \cdot \left(d - g\right)",
        r"&\textbf{else if } x > 0:",
        r"&\quad g \leftarrow 0",
        r"&\textbf{else}:",
        r"&\quad g \leftarrow g - 1",
        r"&y \leftarrow g",
    ]


def test_pal_rule_renders_from_its_declaration():
    eq = latex.model_equations(synapse_model("pal"))
    assert eq["update"] == (
        r"\begin{aligned}&\textbf{if } \text{learning}: \\"
        "\n"
        r"&\quad g \leftarrow g + \Delta t \cdot \eta \cdot \left(\mathrm{noise}_{\mathrm{post}}"
        r" \cdot \mathrm{rate}_{\mathrm{highpass},\mathrm{pre}} - \alpha \cdot g\right)"
        r"\end{aligned}"
    )
    assert eq["output"] == (
        r"I_{\mathrm{target}} \mathrel{+}= \sum_{\mathrm{pre}} g \cdot \mathrm{rate}_{\mathrm{pre}}"
    )


def _balanced(tex: str) -> bool:
    depth = 0
    for ch in tex:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0 and tex.count(r"\left(") == tex.count(r"\right)")


@pytest.mark.parametrize(
    "model",
    [*neuron_models().values(), *synapse_models().values()],
    ids=lambda m: m.name,
)
def test_every_registered_model_renders(model):
    eq = latex.model_equations(model)
    rows = latex.statement_rows(model.block, model.switches)
    n_assign = sum(1 for r in rows if r"\leftarrow" in r)
    assert eq["update"].count(r"\leftarrow") == n_assign
    for part in eq.values():
        assert _balanced(part), part


def test_one_row_per_assignment_of_the_pyramidal():
    m = neuron_model("pyramidal")
    rows = latex.statement_rows(m.block, m.switches)
    from mc_models.expr import assigned

    assert sum(r"\leftarrow" in r for r in rows) == len(assigned(m.block))
    assert rows[0] == r"&v_{\mathrm{basal}} \leftarrow I_{\mathrm{up}}"
