"""The worked example of the mc-models guide ("Adding a model"): a pyramidal neuron with white
apical noise, declared in one file, registered once and selected from a config.

Its closed form: the noise state is sigma times the member's standard-normal draws of that
step (no memory), on the reference and the compiled backend, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mc_experiments.config import load_config
from mc_network import RecordPlan, build_network, run_streams

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "yinyang_pal_white_noise.yaml"


def test_the_config_selects_the_white_noise_pyramidal():
    cfg = load_config(CONFIG)
    assert cfg.network.pyramidal.model == "pyramidal_white"
    assert cfg.network.pyramidal.sigma_noise == 0.01
    assert not hasattr(cfg.network.pyramidal, "tau_noise")  # the OU time constant is gone
    assert cfg.network.noisy


def _run(backend):
    spec = load_config(CONFIG).network
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (3, 4)).astype(np.float32)
    t = np.full((3, 3), 0.1, np.float32)
    net = build_network(spec, seeds=[7, 8], backend=backend)
    plan = RecordPlan(("pyramidal_1.noise", "pyramidal_1.rate", "fb_1.g"), every=1)
    return net.run_stage(x, t, learning=True, teaching=True, record=plan)


@pytest.mark.parametrize("backend", ["reference", "compiled"])
def test_white_noise_is_sigma_times_the_draws(backend):
    if backend == "compiled":
        pytest.importorskip("numba", reason="the compiled backend needs numba")
    noise = _run(backend)["pyramidal_1.noise"]
    for b, seed in enumerate((7, 8)):
        draws = run_streams(seed).noise.standard_normal((300, 30), dtype=np.float32)
        np.testing.assert_array_equal(noise[b], np.float32(0.01) * draws)
    lag1 = np.mean([np.corrcoef(noise[0, 1:, j], noise[0, :-1, j])[0, 1] for j in range(30)])
    assert abs(lag1) < 0.05  # white: no memory (OU noise: 0.9)


def test_reference_and_compiled_agree_bit_for_bit():
    pytest.importorskip("numba", reason="the compiled backend needs numba")
    a, b = _run("reference"), _run("compiled")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
