"""Initial weights: the original's draw order (its network constructor's), drawn again by hand."""

import numpy as np
import pytest

from mc_network import BiasParams, InitParams, NetworkSpec, PlasticityParams, build_topology
from mc_network.init import initial_weights


def _spec(dims, self_predicting):
    n_h = len(dims) - 2
    return NetworkSpec(
        dims=dims,
        feedback="fa",
        bias=BiasParams(enabled=True, value=0.5),
        init=InitParams(up=0.1, down=1.0, ip=(0.2, 0.3), pi=0.7, self_predicting=self_predicting),
        plasticity=PlasticityParams(
            eta_up=(0.1,) * (len(dims) - 1),
            eta_ip=(0.1,) * n_h,
            eta_pi=(0.0,) * n_h,
            eta_down=(0.0,) * n_h,
        ),
    )


def _by_hand(dims, self_predicting, rng):
    """The spec's general order: every forward matrix bottom-up, every feedback matrix
    top-down, the lateral ones per hidden layer (p2i, then i2p; none when they are copies),
    then per hidden layer bias -> inter before bias -> pyr."""
    n_out = len(dims) - 1
    w = {}
    for layer in range(1, n_out + 1):
        w[f"ff_{layer}"] = rng.uniform(-0.1, 0.1, (dims[layer - 1], dims[layer]))
    for layer in range(n_out - 1, 0, -1):
        w[f"fb_{layer}"] = rng.uniform(-1.0, 1.0, (dims[layer + 1], dims[layer]))
    for layer in range(1, n_out):
        if self_predicting:
            w[f"p2i_{layer}"], w[f"i2p_{layer}"] = w[f"ff_{layer + 1}"], -w[f"fb_{layer}"]
        else:
            w[f"p2i_{layer}"] = rng.uniform(0.2, 0.3, (dims[layer], dims[layer + 1]))
            w[f"i2p_{layer}"] = rng.uniform(-0.7, 0.7, (dims[layer + 1], dims[layer]))
    for layer in range(1, n_out):
        w[f"bias_inter_{layer}"] = rng.uniform(0.2, 0.3, (1, dims[layer + 1]))
        w[f"bias_pyr_{layer}"] = rng.uniform(-0.1, 0.1, (1, dims[layer]))
    return {k: v.astype(np.float32) for k, v in w.items()}


@pytest.mark.parametrize("self_predicting", [True, False])
@pytest.mark.parametrize("dims", [(4, 30, 3), (4, 20, 10, 3)])
def test_draw_order_with_bias(dims, self_predicting):
    spec = _spec(dims, self_predicting)
    got = initial_weights(spec, build_topology(spec), np.random.default_rng(17))
    want = _by_hand(dims, self_predicting, np.random.default_rng(17))
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
