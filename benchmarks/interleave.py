"""Two builds of the package side by side: network-steps/s of the compiled backend, interleaved.

Speed claims between two commits are ratios measured in one session, in turn: each pair of
processes runs the same case under the two Python interpreters (e.g. this checkout's
environment and a worktree of the older commit with its own), one after the other, and
the ratio is taken pair by pair, so a drift of the machine's speed moves both. A case is a
network, an input mode, a batch size, a stage and its samples per round: one process
builds the network (seeds ``0..batch-1``), runs one warm-up stage, then five stages of
``samples`` samples, and prints the median rate (batch x samples x 100 steps / seconds).
Threads: the backend's default (every CPU the process may use). The inputs are uniform
random numbers, or, with a sixth field ``digits`` (the MNIST network), the training images
of the MNIST sample bundled with mc-experiments (cycled; pixel / 256 as the data sets load
them): most of a digit's pixels are zero, which the fast input mode's segment starts skip.

    python benchmarks/interleave.py --base /path/to/old/.venv/bin/python \\
        --case mnist:fast:10:20:learning --case yinyang:exact:10:60:learning --pairs 3 \\
        --json benchmarks/results/kernel_interleaved.json
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
from pathlib import Path

log = logging.getLogger("interleave")

_CASE = """
import time
import numpy as np
from mc_network import build_network, mnist_spec, yinyang_spec
nets = {{"mnist": mnist_spec, "yinyang": yinyang_spec,
        "mnist-10in": lambda v, **k: mnist_spec(v, dims=(10, 100, 10), **k)}}
spec = nets["{network}"]("pal", input_mode="{mode}")
rng = np.random.default_rng(0)
n_in, n_out = spec.dims[0], spec.dims[-1]
x = rng.uniform(0.0, 1.0, ({samples}, n_in)).astype(np.float32)
if {digits}:
    from mc_experiments.datasets.mnist import SAMPLE_DIR, read_idx
    pixels = read_idx(SAMPLE_DIR / "train-images-idx3-ubyte.gz").reshape(-1, 784)
    x = pixels[np.arange({samples}) % len(pixels)].astype(np.float32) / np.float32(256.0)
t = np.full(({samples}, n_out), 0.1, np.float32)
t[np.arange({samples}), rng.integers(0, n_out, {samples})] = 1.0
net = build_network(spec, seeds=list(range({batch})), backend="compiled")
learning = {learning}
net.run_stage(x[:1], t[:1], learning=learning, teaching=learning)
times = []
for _ in range(5):
    t0 = time.perf_counter()
    net.run_stage(x, t, learning=learning, teaching=learning)
    times.append(time.perf_counter() - t0)
print({batch} * {samples} * spec.steps_per_sample / sorted(times)[2])
"""


def rate(
    python: str, network: str, mode: str, batch: int, samples: int, stage: str, inputs: str
) -> float:
    """One process: the median network-steps/s of the case."""
    code = _CASE.format(
        network=network,
        mode=mode,
        batch=batch,
        samples=samples,
        learning=stage == "learning",
        digits=inputs == "digits",
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{python}: {out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="the Python interpreter of the base build")
    p.add_argument("--new", default=sys.executable, help="the new build's (default: this one)")
    p.add_argument(
        "--case",
        action="append",
        required=True,
        help="NETWORK:MODE:BATCH:SAMPLES:STAGE[:digits], e.g. mnist:fast:10:20:learning",
    )
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = []
    for case in a.case:
        network, mode, batch, samples, stage, *rest = case.split(":")
        inputs = rest[0] if rest else "uniform"
        if inputs not in ("uniform", "digits") or len(rest) > 1:
            p.error(f"--case {case}: the sixth field, if any, must be 'digits'")
        if inputs == "digits" and network != "mnist":
            p.error(f"--case {case}: 'digits' needs the MNIST network (784 inputs)")
        args = (network, mode, int(batch), int(samples), stage, inputs)
        base, new = [], []
        for _ in range(a.pairs):
            base.append(rate(a.base, *args))
            new.append(rate(a.new, *args))
        ratios = [n / b for n, b in zip(new, base, strict=True)]
        row = {
            "case": case,
            "base": base,
            "new": new,
            "ratio_median": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
        }
        rows.append(row)
        log.info(
            "%-32s base %9.0f  new %9.0f steps/s  new/base %.2f (%.2f-%.2f)",
            case,
            statistics.median(base),
            statistics.median(new),
            row["ratio_median"],
            row["ratio_min"],
            row["ratio_max"],
        )
    if a.json:
        a.json.write_text(json.dumps({"pairs": a.pairs, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
