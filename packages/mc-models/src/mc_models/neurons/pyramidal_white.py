r"""Pyramidal neuron with *white* apical noise (a worked example of a new neuron model).

The three-compartment neuron of :mod:`mc_models.neurons.pyramidal` with the apical noise
process replaced: instead of the Ornstein-Uhlenbeck state, each step draws fresh noise of
standard deviation :math:`\sigma_n`,

.. math::

    n[k] = \sigma_n\,\xi_k, \qquad \xi_k\sim\mathcal N(0,1),

uncorrelated from step to step; everything else (inputs, high-pass, soma, LE, rates) is the
pyramidal's own code. It asks what PAL needs from its noise: the feedback rule correlates
the noise state at :math:`k-1` with the upper neuron's high-passed rate, which carries the
noise's effect two steps later (one step to the pyramidal neuron's own rate, one more to
the upper layer's rate); the OU noise is correlated over those steps
(:math:`(1-\Delta t/\tau_n)^2 \approx 0.81`), white noise is not, so B should not align.
Select it with ``network.pyramidal.model: pyramidal_white`` (e.g.
``configs/yinyang_pal_white_noise.yaml``).
"""

from __future__ import annotations

from mc_models.model import NeuronModel
from mc_models.neurons import pyramidal

__all__ = ["MODEL"]

WHITE_NOISE = """
noise = sigma_noise * normal()
"""

MODEL = NeuronModel(
    name="pyramidal_white",
    doc=__doc__,
    params=tuple(p for p in pyramidal.PARAMS if p.name != "tau_noise"),
    derived=pyramidal.SOMA_DERIVED,
    vars=pyramidal.VARS,
    inputs=pyramidal.INPUTS,
    update=pyramidal.READ_INPUTS + WHITE_NOISE + pyramidal.SOMA,
    noise_gate="sigma_noise",
)
