"""Every float32 argument: the compiled kernels' vectorised activations against the scalar ones.

The kernels evaluate an activation with a polynomial ``exp`` that vectorises and a guard
that sends every result near a float32 rounding boundary back to the C library's ``exp``
(``mc_network.backends._vecmath``). This script runs both on all 2^32 float32 bit patterns
(NaNs and infinities included), for every activation that has a vectorised twin, with the
threshold at its default and at infinity (every finite argument in the middle branch),
and counts the float32 results that differ (a NaN equals a NaN) and the results the guard
deferred. Two threads, about a minute per activation and threshold on two cores.

    python benchmarks/check_activations.py [--json benchmarks/results/activations.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mc_models import ACTIVATIONS
from mc_network.backends._codegen import activation_module
from mc_network.backends._vecmath import GUARD_ULPS, count_mismatches

log = logging.getLogger("check_activations")


def check(name: str, thr: float, threads: int = 2, parts: int = 64) -> dict:
    """Mismatches and deferrals of one activation over every float32 argument."""
    mod = activation_module(name)
    step = 2**32 // parts
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        res = list(
            pool.map(
                lambda k: count_mismatches(mod._vact, mod._act, thr, k * step, (k + 1) * step),
                range(parts),
            )
        )
    return {
        "activation": name,
        "threshold": thr if math.isfinite(thr) else "inf",
        "arguments": 2**32,
        "mismatches": sum(r[0] for r in res),
        "deferred": sum(r[1] for r in res),
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = []
    for name in sorted(ACTIVATIONS):
        if activation_module(name)._vact is None:
            log.info("%s: no vectorised twin (the kernels call the scalar activation)", name)
            continue
        for thr in (15.0, math.inf):
            row = check(name, thr, a.threads)
            log.info(
                "%s, threshold %s: %d of 2^32 float32 results differ, %d deferred (%.0f s)",
                name,
                thr,
                row["mismatches"],
                row["deferred"],
                row["seconds"],
            )
            rows.append(row)
    if a.json:
        out = {"guard_ulps": GUARD_ULPS, "results": rows}
        a.json.write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 1 if any(r["mismatches"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
