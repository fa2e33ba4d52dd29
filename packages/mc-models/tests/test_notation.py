"""The notation: parsed once, operand order and parentheses kept, names checked."""

import numpy as np
import pytest

from mc_models import NeuronModel, NotationError, Param, SynapseModel, Var
from mc_models.expr import Assign, Bin, Call, If, Name, Num, parse_block, parse_expr
from mc_models.render._lower import Const, lower_block


def test_operand_order_and_parentheses_are_kept():
    left = parse_expr("a + b + c")
    right = parse_expr("a + (b + c)")
    assert left == Bin("+", Bin("+", Name("a"), Name("b")), Name("c"))
    assert right == Bin("+", Name("a"), Bin("+", Name("b"), Name("c")))
    # ... and they are different in float32, which is why the tree keeps them apart
    a, b, c = np.float32(1e8), np.float32(-1e8), np.float32(1.0)
    assert (a + b) + c != a + (b + c)


def test_augmented_assignment_adds_the_evaluated_value():
    (s,) = parse_block("x += a - b")
    assert s == Assign("x", Bin("-", Name("a"), Name("b")), "+")
    assert s.full_value == Bin("+", Name("x"), Bin("-", Name("a"), Name("b")))


def test_blocks_with_if_else_and_calls():
    block = parse_block(
        """
        if learning:
            g += c * normal()
        else:
            g = phi(x)
        """
    )
    assert isinstance(block[0], If) and block[0].test == Name("learning")
    assert block[0].body[0].value == Bin("*", Name("c"), Call("normal", ()))
    assert block[0].orelse[0].value == Call("phi", (Name("x"),))


@pytest.mark.parametrize(
    ("code", "match"),
    [
        ("x = a ** 2", "not part of the notation"),
        ("x, y = a, b", "assign to one name"),
        ("x *= 2.0", "only x \\+= e and x -= e"),
        ("for i in a:\n    x = i", "not a statement"),
        ("x = (", "line 1"),
    ],
)
def test_what_is_not_notation_is_an_error(code, match):
    with pytest.raises(NotationError, match=match):
        parse_block(code)


def _neuron(update, **kw):
    return NeuronModel(
        name="probe",
        doc="",
        params=(Param("a", "a", 1.0), Param("threshold", "t", 1.0)),
        vars=(Var("x", "x"),),
        inputs=("I",),
        update=update,
        **kw,
    )


@pytest.mark.parametrize(
    ("update", "kw", "match"),
    [
        ("x = y", {}, "unknown name 'y'"),
        ("a = x", {}, "'a' \\(param\\) cannot be assigned"),
        ("I = x", {}, "'I' \\(input\\) cannot be assigned"),
        ("t = x\nt = a", {}, "local 't' is assigned more than once"),
        ("if x > 0.0:\n    t = a\nx = t", {}, "read outside the block"),
        ("x = exp(a)", {}, "exp\\(\\) is not a built-in"),
        ("x = on", {"switches": ("on",)}, "switch 'on' may only appear as an if test"),
        ("x = normal(a)", {}, "normal\\(\\) takes 0"),
    ],
)
def test_model_code_is_checked_against_its_declarations(update, kw, match):
    with pytest.raises(NotationError, match=match):
        _neuron(update, **kw)


def test_declarations_are_checked():
    with pytest.raises(NotationError, match="names declared twice"):
        NeuronModel("p", "", (Param("x", "x"),), vars=(Var("x", "x"),))
    with pytest.raises(NotationError, match="starts at 'b', which is not a parameter"):
        NeuronModel("p", "", (Param("a", "a"),), vars=(Var("x", "x", init="b"),))
    with pytest.raises(NotationError, match="must be an integer counter"):
        NeuronModel("p", "", (), vars=(Var("x", "x", shared=True),))
    with pytest.raises(NotationError, match="output_when 'on' is not a switch"):
        SynapseModel("s", "", output="r_pre", output_when="on")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"hold": "n < 3"}, "hold and at_rest are given together"),
        ({"at_rest": (("x", "y"),)}, "hold and at_rest are given together"),
        ({"hold": "x < a", "at_rest": (("x", "y"),)}, "reads \\['x'\\]"),
        ({"hold": "n < a", "at_rest": (("x", "n"),)}, "\\('x', 'n'\\) is not one"),
        ({"hold": "n <", "at_rest": (("x", "y"),)}, "hold"),
    ],
)
def test_a_hold_promise_is_checked(kw, match):
    with pytest.raises(NotationError, match=match):
        NeuronModel(
            "p",
            "",
            (Param("a", "a"),),
            vars=(Var("x", "x"), Var("y", "y"), Var("n", "n", "int", 0, shared=True)),
            update="x = y",
            **kw,
        )
    ok = NeuronModel(
        "p",
        "",
        (Param("a", "a"),),
        vars=(Var("x", "x"), Var("y", "y"), Var("n", "n", "int", 0, shared=True)),
        update="x = y",
        hold="n < a",
        at_rest=(("x", "y"),),
    )
    assert ok.hold_test == parse_expr("n < a")


def test_synapse_references_come_from_the_code():
    m = SynapseModel(
        "s",
        "",
        params=(Param("eta", "eta"),),
        vars=(Var("g", "g"),),
        switches=("learning",),
        update="if learning:\n    g += eta * (v_post * r_last_pre)",
        output="g * r_pre",
    )
    assert m.pre_refs == (("r_last_pre", "r_last"), ("r_pre", "r"))
    assert m.post_refs == (("v_post", "v"),)


def test_lowering_folds_parameter_expressions_and_decides_parameter_tests():
    m = _neuron("x = (a + a) * x + 1.0\nif a > 0.5:\n    x += I\nelse:\n    x = I")
    lowered = lower_block(m.block, m.kinds(), set(), {"a": np.float32(0.7)}, np.float32)
    assert lowered.block == (
        Assign("x", Bin("+", Bin("*", Const(0), Name("x")), Const(1))),
        Assign("x", Name("I"), "+"),
    )
    assert lowered.consts == (Bin("+", Name("a"), Name("a")), Num(1.0))
    vals = lowered.values({"a": np.float32(0.7)}, np.float32)
    assert vals == (np.float32(0.7) + np.float32(0.7), np.float32(1.0))
    assert all(isinstance(v, np.float32) for v in vals)
