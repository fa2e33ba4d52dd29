"""Randomness modes of a run: the toolkit's named streams, or the original code's sequence.

``randomness: toolkit`` (the default): one run seed gives independent named streams
(:func:`mc_network.run_streams`: weights, noise, order, data), so that no stream depends on
how much another one was used.

``randomness: original``: the draws of the original code (unibe-cns/pal_microcircuits_genn)
for the same seed, so that an original config gives the original's trajectory. The original
calls numpy's *global* RNG; here one legacy :class:`numpy.random.RandomState` object per run,
seeded with the run seed (the original's ``numpy_seed``), makes the same draws in the same
order and the global RNG is never touched:

1. the initial weights (:func:`original_initial_weights`, the order of the original's
   ``Network.__init__``), drawn in float64 and rounded to float32 as GeNN stores them;
2. then, continuing the same object, one ``shuffle`` of ``arange(N)`` per stage run, in the
   original's sequence: validation before each epoch, the training epoch, the final
   validation, the test (:meth:`Experiment` asks for them in that sequence). ``N`` is the
   whole split; the stage shows the first ``n_shown`` entries (all of them except for MNIST,
   see :mod:`mc_experiments.data`).

The OU noise is not part of it: the original never seeds GeNN's RNG, so its noise cannot be
reproduced (a recorded noise trace can be replayed instead, see
:mod:`mc_experiments.replay`); both modes draw the noise from the toolkit's ``noise`` stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mc_network import NetworkSpec, build_topology

__all__ = [
    "RANDOMNESS_MODES",
    "original_initial_weights",
    "original_streams",
    "rng_state",
    "set_rng_state",
    "shuffled_order",
]

#: Valid values of the config key ``randomness``.
RANDOMNESS_MODES = ("toolkit", "original")

Rng = np.random.Generator | np.random.RandomState


def _uniform(rs: np.random.RandomState, lim: Any, shape: tuple[int, int]) -> np.ndarray:
    """``U(-lim, lim)``, or ``U(lim[0], lim[1])`` for a pair, as the original draws it."""
    lo, hi = (-lim, lim) if np.isscalar(lim) else lim
    return rs.uniform(lo, hi, size=shape)


def original_initial_weights(spec: NetworkSpec, rs: np.random.RandomState) -> dict[str, np.ndarray]:
    """Draw the initial weights as the original's ``Network.__init__`` does.

    The draw order (that of the original's network constructor): every forward matrix
    bottom-up (``ff_1``, ``ff_2``, ...), every feedback matrix top-down (``fb_L``, ...,
    ``fb_1``), the lateral ones per hidden layer (``p2i_l`` then ``i2p_l``; no draw with the
    self-predicting start, which copies ``ff_{l+1}`` and ``-fb_l``), then with the bias on,
    per hidden layer, ``bias_inter_l`` before ``bias_pyr_l``. Each matrix is
    ``rs.uniform(...)`` of shape ``(n_pre, n_post)`` in float64, then cast to the network's
    dtype.

    Parameters
    ----------
    spec
        The network.
    rs
        The run's legacy generator, freshly seeded (it continues into the shuffles).

    Returns
    -------
    dict
        ``name -> (n_pre, n_post)`` for every plastic projection.
    """
    topo = build_topology(spec)
    init, n_hidden = spec.init, spec.n_hidden

    def draw(name: str, lim: Any) -> np.ndarray:
        p = topo.projection(name)
        return _uniform(rs, lim, (p.n_pre, p.n_post))

    w: dict[str, np.ndarray] = {}
    for layer in range(1, n_hidden + 2):
        w[f"ff_{layer}"] = draw(f"ff_{layer}", init.up)
    for layer in range(n_hidden, 0, -1):
        w[f"fb_{layer}"] = draw(f"fb_{layer}", init.down)
    for layer in range(1, n_hidden + 1):
        if init.self_predicting:
            w[f"p2i_{layer}"] = w[f"ff_{layer + 1}"].copy()
            w[f"i2p_{layer}"] = -w[f"fb_{layer}"]
        else:
            w[f"p2i_{layer}"] = draw(f"p2i_{layer}", init.ip)
            w[f"i2p_{layer}"] = draw(f"i2p_{layer}", init.pi)
    if spec.bias.enabled:
        for layer in range(1, n_hidden + 1):
            w[f"bias_inter_{layer}"] = draw(f"bias_inter_{layer}", init.ip)
            w[f"bias_pyr_{layer}"] = draw(f"bias_pyr_{layer}", init.up)
    missing = set(topo.weight_names) - set(w)
    if missing:  # pragma: no cover - a projection kind this function does not know
        raise ValueError(f"original weights: no rule for {sorted(missing)}")
    dtype = np.dtype(spec.dtype)
    return {k: v.astype(dtype) for k, v in w.items()}


def original_streams(
    spec: NetworkSpec, seed: int
) -> tuple[dict[str, np.ndarray], np.random.RandomState]:
    """The original's initial weights and the generator that then makes its shuffles.

    Parameters
    ----------
    spec
        The network.
    seed
        The run seed (the original's ``numpy_seed``).

    Returns
    -------
    weights : dict
        From :func:`original_initial_weights`.
    order_rng : numpy.random.RandomState
        ``RandomState(seed)`` after those draws.
    """
    rs = np.random.RandomState(seed)
    return original_initial_weights(spec, rs), rs


def shuffled_order(rng: Rng, n_total: int, n_shown: int | None = None) -> np.ndarray:
    """One stage run's presentation order: a permutation of ``n_total``, first ``n_shown``.

    ``rng.permutation(n)`` shuffles ``arange(n)``: for a ``RandomState`` these are exactly the
    draws of the original's ``np.random.shuffle(np.arange(n))``.
    """
    order = rng.permutation(n_total)
    return order if n_shown is None or n_shown == n_total else order[:n_shown]


def rng_state(rng: Rng) -> dict[str, Any]:
    """The state of a ``Generator`` or ``RandomState`` (plain data for a checkpoint)."""
    if isinstance(rng, np.random.RandomState):
        return rng.get_state(legacy=False)
    return rng.bit_generator.state


def set_rng_state(rng: Rng, state: dict[str, Any]) -> None:
    """Restore a state from :func:`rng_state`."""
    if isinstance(rng, np.random.RandomState):
        state = dict(state)
        state["state"] = {**state["state"], "key": np.asarray(state["state"]["key"], np.uint32)}
        rng.set_state(state)
    else:
        rng.bit_generator.state = state
