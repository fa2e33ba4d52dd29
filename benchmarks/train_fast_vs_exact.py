"""Over training: ``input_mode: fast`` against ``exact`` on a reduced MNIST protocol.

Trains the paper's MNIST network (``configs/paper/mnist_pal.yaml``, PAL) for a few seeds in
both input modes (each mode one batched run of all seeds, compiled backend) and compares per
epoch the validation accuracy and the angle between ``B`` and ``W^T``, and the final test
accuracy: the difference of the modes (per seed, and of the seed means) against the spread
of the seeds in the exact mode (their standard deviation and range). Writes
``fast_vs_exact.json`` into ``--out`` and logs a table.

Needs the MNIST files (``$MC_MNIST_DIR`` or ``data/mnist``)::

    python benchmarks/train_fast_vs_exact.py --out /tmp/fast_vs_exact \\
        --n-train 500 --n-valid 100 --epochs 5 --seeds 1 2 3 4 5

(``--n-train`` and ``--n-valid`` are per class: 500 is 5 000 training images.)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from mc_experiments import load_config, train

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("train_fast_vs_exact")


def run_mode(mode: str, args: argparse.Namespace) -> dict:
    """Train every seed in one input mode; per seed the validation accuracy and angles."""
    overrides = {
        "network.input_mode": mode,
        "dataset.n_train": args.n_train,
        "dataset.n_valid": args.n_valid,
        "dataset.n_test": args.n_valid,
        "protocol.n_epochs": args.epochs,
        "protocol.checkpoint_every": args.epochs,
        "backend.name": args.backend,
        "name": f"mnist_{mode}",
    }
    cfg = load_config(ROOT / "configs" / "paper" / "mnist_pal.yaml", overrides)
    start = time.perf_counter()
    runs = train(cfg, args.out / mode, quiet=True, seeds=args.seeds)
    seconds = time.perf_counter() - start
    metrics = [r.read_metrics() for r in runs]
    return {
        "seconds": seconds,
        "validation_accuracy": [m["validation_accuracy"] for m in metrics],
        "angles": [m["angles"]["fb_1"] for m in metrics],
        "test_accuracy": [m["test_accuracy"] for m in metrics],
    }


def compare(exact: list[list[float]], fast: list[list[float]]) -> dict:
    """Per epoch: mode difference (per seed, of the means) and the exact seeds' spread."""
    e, f = np.asarray(exact, float), np.asarray(fast, float)
    return {
        "max_abs_diff_per_seed": np.abs(f - e).max(axis=0).tolist(),
        "diff_of_means": (f.mean(0) - e.mean(0)).tolist(),
        "seed_std_exact": e.std(0, ddof=1).tolist(),
        "seed_range_exact": (e.max(0) - e.min(0)).tolist(),
        "seed_std_fast": f.std(0, ddof=1).tolist(),
    }


def main(argv: list[str]) -> int:
    """Run both modes and write the comparison."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n-train", type=int, default=100, help="training images per class")
    p.add_argument("--n-valid", type=int, default=20, help="validation images per class")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--backend", default="compiled")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = {mode: run_mode(mode, args) for mode in ("exact", "fast")}
    out = {
        # the output folder by name only (the file is meant to be kept and shared)
        "args": {k: (v.name if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "modes": results,
        "validation_accuracy": compare(
            results["exact"]["validation_accuracy"], results["fast"]["validation_accuracy"]
        ),
        "angle_fb_1_deg": compare(results["exact"]["angles"], results["fast"]["angles"]),
        "test_accuracy": compare(
            [[a] for a in results["exact"]["test_accuracy"]],
            [[a] for a in results["fast"]["test_accuracy"]],
        ),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fast_vs_exact.json").write_text(json.dumps(out, indent=1))
    log.info("time: exact %.0f s, fast %.0f s", *(results[m]["seconds"] for m in results))
    for what in ("validation_accuracy", "angle_fb_1_deg", "test_accuracy"):
        c = out[what]
        log.info("%s per epoch: max|fast-exact| per seed / diff of means / seed std / range", what)
        for k, row in enumerate(
            zip(
                c["max_abs_diff_per_seed"],
                c["diff_of_means"],
                c["seed_std_exact"],
                c["seed_range_exact"],
                strict=True,
            )
        ):
            log.info("  %2d  %9.4f  %9.4f  %9.4f  %9.4f", k, *row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
