r"""Pyramidal -> interneuron synapse: the interneuron learns to predict the next layer.

Same low-pass delta scheme as the forward synapse, with the dendritic error:

.. math::

    \delta^\ast = \big((\Delta t\,\eta)\,(r_{post} - r^D_{post})\big)\,r^{last}_{pre},
    \qquad g \leftarrow g + \delta,\qquad \delta \leftarrow \delta + h(\delta^\ast-\delta)

and :math:`I_{pyramidal} \mathrel{+}= g\,r_{pre}`. Also used for bias -> interneuron.
"""

from __future__ import annotations

from mc_models.synapses._common import (
    delta_rule_model,
)

__all__ = ["MODEL"]

MODEL = delta_rule_model(
    "pyr_to_inter", __doc__, "((dt * eta) * (rate_post - rate_dendrite_post)) * rate_last_pre"
)
