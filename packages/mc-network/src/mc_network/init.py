"""Initial weights: uniform draws in the original's order, and the self-predicting start."""

from __future__ import annotations

import numpy as np

from mc_network.spec import NetworkSpec
from mc_network.topology import ProjKind, Topology

__all__ = ["check_self_predicting", "initial_weights"]


def _uniform(rng: np.random.Generator, lim, shape) -> np.ndarray:
    lo, hi = (-lim, lim) if np.isscalar(lim) else lim
    return rng.uniform(lo, hi, size=shape)


def initial_weights(
    spec: NetworkSpec, topo: Topology, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Draw the initial weights of one network, shape ``(n_pre, n_post)`` each.

    Draw order, the original's (that of its network constructor): every forward matrix
    bottom-up (``ff_1``, ``ff_2``, ...), every feedback matrix top-down (``fb_{L-1}``, ...,
    ``fb_1``), then per hidden layer ``p2i_l`` and ``i2p_l`` (only without the self-predicting
    start, where ``p2i_l`` copies ``ff_{l+1}`` and ``i2p_l`` is ``-fb_l``), then, with the bias
    on, per hidden layer ``bias_inter_l`` before ``bias_pyr_l``.
    """
    dtype = np.dtype(spec.dtype)
    init = spec.init
    w: dict[str, np.ndarray] = {}
    by_kind = {k: [p for p in topo.projections if p.kind is k] for k in ProjKind}
    for p in by_kind[ProjKind.FORWARD]:
        if p.pre != "bias":
            w[p.name] = _uniform(rng, init.up, (p.n_pre, p.n_post))
    for p in by_kind[ProjKind.FEEDBACK]:
        w[p.name] = _uniform(rng, init.down, (p.n_pre, p.n_post))
    for layer in range(1, spec.n_hidden + 1):
        if init.self_predicting:
            w[f"p2i_{layer}"] = w[f"ff_{layer + 1}"].copy()
            w[f"i2p_{layer}"] = -w[f"fb_{layer}"]
        else:
            p2i, i2p = topo.projection(f"p2i_{layer}"), topo.projection(f"i2p_{layer}")
            w[p2i.name] = _uniform(rng, init.ip, (p2i.n_pre, p2i.n_post))
            w[i2p.name] = _uniform(rng, init.pi, (i2p.n_pre, i2p.n_post))
    if spec.bias.enabled:
        for layer in range(1, spec.n_hidden + 1):
            bp, bi = topo.projection(f"bias_pyr_{layer}"), topo.projection(f"bias_inter_{layer}")
            w[bi.name] = _uniform(rng, init.ip, (1, bi.n_post))
            w[bp.name] = _uniform(rng, init.up, (1, bp.n_post))
    return {k: v.astype(dtype) for k, v in w.items()}


def check_self_predicting(spec: NetworkSpec, weights: dict[str, np.ndarray]) -> None:
    """Raise ``ValueError`` unless ``p2i_l == ff_{l+1}`` and ``i2p_l == -fb_l`` everywhere.

    ``weights`` may carry a leading batch axis. Only meaningful for the self-predicting start.
    """
    for layer in range(1, spec.n_hidden + 1):
        pairs = (
            (
                f"p2i_{layer}",
                weights[f"p2i_{layer}"],
                f"ff_{layer + 1}",
                weights[f"ff_{layer + 1}"],
            ),
            (f"i2p_{layer}", weights[f"i2p_{layer}"], f"-fb_{layer}", -weights[f"fb_{layer}"]),
        )
        for name_a, a, name_b, b in pairs:
            if a.shape != b.shape or not np.array_equal(a, b):
                diff = (
                    np.max(np.abs(a - b)) if a.shape == b.shape else f"shape {a.shape} vs {b.shape}"
                )
                raise ValueError(
                    f"self-predicting start violated: {name_a} != {name_b} (max difference "
                    f"{diff}); set init.self_predicting = false or pass consistent weights"
                )
