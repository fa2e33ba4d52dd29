r"""Rank-one delta rules: the structure a backend can factorise while the presynaptic rates hold.

A synapse model written as the low-pass delta rule with a rank-one target (the forward rule,
:mod:`mc_models.synapses.forward`)::

    if learning:
        delta_target = E * y_pre
        g += delta
        delta += h * (delta_target - delta)

with ``E`` an expression of postsynaptic variables and parameters only, ``y_pre`` a
presynaptic variable and the output ``g * r_pre``, keeps, while every presynaptic variable
it reads equals one constant vector :math:`x` (a rate player holding a sample), the form

.. math::

    \delta_k = a_k D_0 + u_k x^T, \qquad g_k = G_0 + A_k D_0 + U_k x^T,

with the scalars :math:`a_0 = 1,\ a_k = (1-h) a_{k-1},\ A_k = \sum_{m<k} a_m` and the
postsynaptic vectors :math:`u_0 = 0,\ u_k = (1-h) u_{k-1} + h e_k,\ U_k = \sum_{m<k} u_m`
(:math:`e_k` the value of ``E`` at step :math:`k`). The output sum is then
:math:`g_k^T x = p + A_k q + U_k s` with :math:`p = G_0^T x`, :math:`q = D_0^T x`,
:math:`s = x \cdot x`: O(n_post) work per step instead of O(n_pre n_post).

:func:`rank1_delta_rule` recognises the form in a model's notation and returns the pieces a
backend needs, among them ``E`` as a model of its own (``Rank1DeltaRule.factor``, a
synapse model whose output is ``E``) that every rendering renders as it renders any model,
so ``e_k`` is computed exactly as the full rule computes it. Nothing here is specific to one
model: any model written in this form is recognised.
"""

from __future__ import annotations

from dataclasses import dataclass

from mc_models.expr import Assign, Bin, Call, Expr, If, Name, names, unparse, walk
from mc_models.model import SynapseModel

__all__ = ["Rank1DeltaRule", "rank1_delta_rule"]


@dataclass(frozen=True)
class Rank1DeltaRule:
    """The pieces of a rank-one delta rule (see the module docstring).

    ``switch``: the switch the update runs under; ``weight`` / ``filtered``: the synapse
    variables ``g`` and ``delta``; ``h``: the parameter of the filter factor;
    ``target_pre`` / ``output_pre``: the presynaptic variables of the target and of the
    output; ``factor``: a synapse model (no variables) whose output is ``E``.
    """

    switch: str
    weight: str
    filtered: str
    filter_param: str
    target_pre: str
    output_pre: str
    factor: SynapseModel

    @property
    def pre_vars(self) -> tuple[str, ...]:
        """The presynaptic variables that must all hold the segment's rates."""
        return tuple(dict.fromkeys((self.output_pre, self.target_pre)))


def _pre(e: Expr) -> str | None:
    return e.id[:-4] if isinstance(e, Name) and e.id.endswith("_pre") else None


def rank1_delta_rule(model: SynapseModel) -> Rank1DeltaRule | None:
    """The rank-one delta rule of ``model``, or ``None`` where its code has another form."""
    kinds = model.kinds()
    block = model.block
    if model.output_when is not None or len(block) != 1 or not isinstance(block[0], If):
        return None
    test, body = block[0].test, block[0].body
    if block[0].orelse or not isinstance(test, Name) or kinds.get(test.id) != "switch":
        return None
    if len(body) != 3 or not all(isinstance(s, Assign) for s in body):
        return None
    target, step, relax = body
    var_names = {v.name for v in model.vars}
    # g += delta
    if step.op != "+" or not isinstance(step.value, Name) or step.target == step.value.id:
        return None
    g, d = step.target, step.value.id
    if var_names != {g, d} or target.op or target.target in var_names:
        return None
    # delta += h * (delta_target - delta)
    v = relax.value
    if not (
        relax.target == d
        and relax.op == "+"
        and isinstance(v, Bin)
        and v.op == "*"
        and isinstance(v.left, Name)
        and kinds.get(v.left.id) == "param"
        and v.right == Bin("-", Name(target.target), Name(d))
    ):
        return None
    # delta_target = E * y_pre (either order), E reads only post variables and parameters
    t = target.value
    if not (isinstance(t, Bin) and t.op == "*"):
        return None
    for factor, y in ((t.left, t.right), (t.right, t.left)):
        if _pre(y) is not None and _post_only(factor, kinds):
            break
    else:
        return None
    # output g * r_pre (either order)
    out = model.output_expr
    if not (isinstance(out, Bin) and out.op == "*"):
        return None
    sides = (out.left, out.right)
    r = next((_pre(s) for s in sides if _pre(s) is not None), None)
    if r is None or Name(g) not in sides:
        return None
    factor_model = SynapseModel(
        name=f"{model.name}_factor",
        doc=f"The postsynaptic factor of {model.name!r}'s rank-one target.",
        params=model.params,
        derived=model.derived,
        output=unparse(factor),
    )
    return Rank1DeltaRule(test.id, g, d, v.left.id, _pre(y), r, factor_model)


def _post_only(e: Expr, kinds) -> bool:
    if any(isinstance(c, Call) for c in walk(e)):
        return False
    return all(kinds.get(n) == "param" or n.endswith("_post") for n in names(e))
