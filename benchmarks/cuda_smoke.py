"""CUDA smoke check of the GeNN backend (needs a GPU and pygenn built with CUDA).

Builds a batched MNIST-sized network (784-100-10, PAL with the noise off so trajectories
compare directly) on ``device="cuda"``, runs one training stage of random samples with
plasticity on, compares the recorded voltages and the learned weights with the reference
backend and logs network-steps per second (batch members x time steps per wall second).
Takes about a minute on a GPU machine (the CUDA compile, then ~20 s of reference run)::

    python benchmarks/cuda_smoke.py [--batch 8] [--samples 40] [--fast] [--input-mode fast]

``--fast`` builds GeNN's fast CUDA code (nvcc's default multiply-add contraction) instead of
the exact build (``-fmad=false``); both stay within the tolerances below. ``--input-mode
fast`` runs the network (on the GPU and the reference alike) with the sample-factorised
input projection.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

from mc_network import PyramidalParams, RecordPlan, build_network, mnist_spec

log = logging.getLogger("cuda_smoke")

# Tolerances. CUDA sums each projection's inputs with atomic adds in an arbitrary order (also
# in the exact build) and its device exp/log differ from the host's in the last bit; the
# fast build also contracts multiply-adds: float32 round-off, which for the 784-term input sums
# (partial sums of order 1) is about 1e-6 per step; the LE dynamics contract, so voltages
# stay within ~1e-5 of the reference. The weights integrate the (tiny) differences of their
# updates; they must agree to 0.1% of how far they moved in the stage.
V_ATOL = 1e-4
W_RTOL_OF_CHANGE = 1e-3


def _data(samples: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (samples, 784)).astype(np.float32)
    t = np.full((samples, 10), 0.1, np.float32)
    t[np.arange(samples), rng.integers(0, 10, samples)] = 1.0
    return x, t


def run(batch: int = 8, samples: int = 40, exact: bool = True, input_mode: str = "exact") -> dict:
    """Run the check; returns the measured numbers (raises AssertionError on a mismatch).

    Raises :class:`mc_network.BackendUnavailable` where pygenn has no CUDA backend or no
    GPU can be used.
    """
    spec = mnist_spec("pal", pyramidal=PyramidalParams(sigma_noise=0.0), input_mode=input_mode)
    seeds = list(range(1, batch + 1))
    x, t = _data(samples)
    ref = build_network(spec, seeds=seeds, backend="reference")
    w0 = ref.get_weights()
    t0 = time.perf_counter()
    gpu = build_network(
        spec,
        seeds=seeds,
        backend="genn",
        device="cuda",
        weights=w0,
        max_samples=samples,
        exact=exact,
    )
    build_s = time.perf_counter() - t0
    log.info(
        "built and loaded on CUDA in %.1f s (batch %d, %s build, input_mode %s: %s)",
        build_s,
        batch,
        "exact" if exact else "fast",
        input_mode,
        gpu.build_info(),
    )
    plan = RecordPlan(("output.v_brev", "pyramidal_1.v_apical", "pyramidal_1.rate"), every=20)
    # a short validation-like stage first (no learning, no teacher), on both
    ref.run_stage(x[:2], t[:2], learning=False, teaching=False)
    gpu.run_stage(x[:2], t[:2], learning=False, teaching=False)
    t0 = time.perf_counter()
    rg = gpu.run_stage(x, t, learning=True, teaching=True, record=plan)
    run_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rr = ref.run_stage(x, t, learning=True, teaching=True, record=plan)
    ref_s = time.perf_counter() - t0
    worst = {k: float(np.max(np.abs(rg[k] - rr[k]))) for k in rr}
    for k, d in worst.items():
        assert d < V_ATOL, f"{k}: GPU and reference differ by {d} (> {V_ATOL})"
    wg, wr = gpu.get_weights(), ref.get_weights()
    for k in wr:
        moved = float(np.max(np.abs(wr[k] - w0[k])))
        d = float(np.max(np.abs(wg[k] - wr[k])))
        worst[f"{k}.g"] = d
        assert d <= W_RTOL_OF_CHANGE * moved + 1e-7, f"{k}: differs by {d}, moved {moved}"
    assert float(np.max(np.abs(wr["ff_1"] - w0["ff_1"]))) > 1e-4  # learning happened
    steps = batch * samples * spec.steps_per_sample
    gpu.close()
    return {
        "build_s": build_s,
        "network_steps_per_s": steps / run_s,
        "reference_network_steps_per_s": steps / ref_s,
        "max_abs_diff": worst,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--samples", type=int, default=40)
    p.add_argument("--fast", action="store_true", help="the fast build instead of the exact one")
    p.add_argument("--input-mode", choices=("exact", "fast"), default="exact")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    res = run(args.batch, args.samples, exact=not args.fast, input_mode=args.input_mode)
    log.info(
        "build %.1f s; GeNN CUDA %s network-steps/s (reference %s); max |GPU - reference|: %s",
        res["build_s"],
        f"{res['network_steps_per_s']:,.0f}",
        f"{res['reference_network_steps_per_s']:,.0f}",
        {k: f"{v:.2g}" for k, v in res["max_abs_diff"].items()},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
