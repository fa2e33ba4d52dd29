"""Recognising rank-one delta rules (the structure the fast input mode factorises)."""

import pytest

from mc_models import SynapseModel, Var, synapse_model
from mc_models.expr import parse_expr, unparse
from mc_models.factorise import rank1_delta_rule
from mc_models.synapses._common import ETA, TAU_W, H, delta_rule


@pytest.mark.parametrize(
    "src",
    [
        "((dt * eta) * (rate_post - rate_basal_post)) * rate_last_pre",
        "-a + b / 2.0",
        "x if a > 0 else 1",
    ],
)
def test_unparse_parses_back_to_the_same_tree(src):
    e = parse_expr(src)
    assert parse_expr(unparse(e)) == e


def test_which_registered_rules_are_rank_one():
    found = {
        name: rank1_delta_rule(synapse_model(name))
        for name in ("forward", "pyr_to_inter", "inter_to_pyr", "pal", "teacher")
    }
    assert found["forward"].factor.output == "((dt * eta) * (rate_post - rate_basal_post))"
    assert found["pyr_to_inter"].target_pre == "rate_last"
    assert found["inter_to_pyr"] is None and found["pal"] is None and found["teacher"] is None


def _rule(target: str, output: str = "g * rate_pre") -> SynapseModel:
    return SynapseModel(
        name="t",
        doc="",
        params=(ETA, TAU_W),
        derived=(H,),
        vars=(Var("g", "weight"), Var("delta", "increment")),
        switches=("learning",),
        update=delta_rule(target),
        output=output,
    )


def test_other_forms_are_not_rank_one():
    assert rank1_delta_rule(_rule("rate_last_pre * (eta * rate_post)")) is not None  # either order
    assert rank1_delta_rule(_rule("(eta * rate_post) * rate_post")) is None  # no pre factor
    assert rank1_delta_rule(_rule("(eta * rate_pre) * rate_last_pre")) is None  # pre in E
    assert rank1_delta_rule(_rule("(eta * g) * rate_last_pre")) is None  # a variable in E
    assert rank1_delta_rule(_rule("eta * rate_last_pre", "g * rate_post")) is None  # output
