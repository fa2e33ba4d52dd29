r"""Interneuron -> pyramidal synapse: learns to silence the apical potential.

.. math::

    \delta^\ast = (\Delta t\,\eta)\,\big((-v^A_{post})\,r^{last}_{pre}\big),
    \qquad g \leftarrow g + \delta,\qquad \delta \leftarrow \delta + h(\delta^\ast-\delta)

(the product of the post and pre terms is formed first) and
:math:`I_{inter} \mathrel{+}= g\,r_{pre}`. :math:`v^A` excludes the apical noise.
"""

from __future__ import annotations

from mc_models.synapses._common import (
    delta_rule_model,
)

__all__ = ["MODEL"]

MODEL = delta_rule_model("inter_to_pyr", __doc__, "(dt * eta) * ((-v_apical_post) * rate_last_pre)")
