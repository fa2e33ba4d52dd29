r"""Feedback synapse B with PAL and a cubic decay: an example of a model package of one's own.

At step :math:`k`, reading the state after step :math:`k-1`, if learning is on:

.. math::

    B \leftarrow B + (\Delta t\,\eta_B)\,\big((\xi_{post}\,\hat r_{pre} - \alpha B)
    - \beta B^3\big)

PAL's rule (``mc_models.synapses.feedback``) with a decay that grows with the cube of the
weight, so large feedback weights shrink faster than small ones; :math:`\beta = 0` is PAL.
Always :math:`I_{down} \mathrel{+}= B\,r_{pre}`.

The package's ``pyproject.toml`` declares the model under the entry points
``mc_models.models`` (``pal_cubic = "pal_cubic:MODEL"``); installed, it is selected in a
config with ``network: {rules: {feedback: {model: pal_cubic, beta: 0.001}}}``.
"""

from __future__ import annotations

from mc_models import Param, SynapseModel, Var

__all__ = ["MODEL"]

MODEL = SynapseModel(
    name="pal_cubic",
    doc=__doc__,
    params=(
        Param("eta", "learning rate eta_B (scaled by dt once)"),
        Param("alpha", "linear weight decay alpha of the PAL rule"),
        Param("beta", "cubic weight decay beta", 1e-3, domain="nonnegative"),
    ),
    vars=(Var("g", "weight"),),
    switches=("learning",),
    update="""
if learning:
    g += (dt * eta) * ((noise_post * rate_highpass_pre - alpha * g) - beta * g * g * g)
""",
    output="g * rate_pre",
)
