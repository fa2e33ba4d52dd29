"""CUDA smoke check of the GeNN backend (needs a GPU and pygenn built with CUDA).

Builds a batched MNIST-sized network (784-100-10, PAL with the noise off so trajectories
compare directly) on ``device="cuda"``, runs one training stage of random samples, compares
the recorded output and weights with the reference backend and prints network-steps per
second. Runs in well under 5 minutes on a GPU machine::

    python benchmarks/cuda_smoke.py [--batch 8] [--samples 40]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

from mc_network import PyramidalParams, RecordPlan, build_network, mnist_spec

log = logging.getLogger("cuda_smoke")


def run(batch: int = 8, samples: int = 40) -> dict:
    """Run the check; returns the measured numbers (raises AssertionError on a mismatch)."""
    spec = mnist_spec("pal", pyramidal=PyramidalParams(sigma_noise=0.0))
    seeds = list(range(1, batch + 1))
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (samples, 784)).astype(np.float32)
    t = np.full((samples, 10), 0.1, np.float32)
    t[np.arange(samples), rng.integers(0, 10, samples)] = 1.0
    ref = build_network(spec, seeds=seeds, backend="reference")
    t0 = time.perf_counter()
    gpu = build_network(
        spec,
        seeds=seeds,
        backend="genn",
        device="cuda",
        weights=ref.get_weights(),
        max_samples=samples,
    )
    build_s = time.perf_counter() - t0
    plan = RecordPlan(("output.v_brev", "ff_2.g"), every=20)
    gpu.run_stage(x[:2], t[:2], learning=False, teaching=False)  # warm-up
    ref.run_stage(x[:2], t[:2], learning=False, teaching=False)
    t0 = time.perf_counter()
    rg = gpu.run_stage(x, t, learning=True, teaching=True, record=plan)
    run_s = time.perf_counter() - t0
    rr = ref.run_stage(x, t, learning=True, teaching=True, record=plan)
    # float32 round-off only (CUDA's atomics change the summation order, -use_fast_math)
    worst = {k: float(np.max(np.abs(rg[k] - rr[k]))) for k in rr}
    for k, d in worst.items():
        assert d < 1e-4, f"{k}: GPU and reference differ by {d}"
    steps = batch * samples * spec.steps_per_sample
    return {"build_s": build_s, "network_steps_per_s": steps / run_s, "max_abs_diff": worst}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--samples", type=int, default=40)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    res = run(args.batch, args.samples)
    print(
        f"build {res['build_s']:.1f} s; {res['network_steps_per_s']:,.0f} network-steps/s; "  # noqa: T201
        f"max |GPU - reference| {res['max_abs_diff']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
