"""Run the step-rate benchmarks and print a table (``nox -s bench`` runs this).

Runs pytest-benchmark on ``benchmarks/bench_steps.py`` with the JSON report in
``.benchmarks/results.json``, then prints per case: backend, network, batch, network steps
per second (batch * steps per round / median round time), the ratio to the reference
backend measured in the same session and, for GeNN's exact builds, the ratio to the fast
build of the same device (``exact/fast``; the rows of one network and batch size are
adjacent). Extra arguments are passed on to pytest (e.g. ``-k compiled``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / ".benchmarks" / "results.json"
FAST_OF = {"genn-exact": "genn-fast", "genn-cuda": "genn-cuda-fast"}  # exact case -> fast case


def run_benchmarks(extra: list[str]) -> int:
    """Run pytest-benchmark, writing the JSON report."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "benchmarks" / "bench_steps.py"),
        f"--benchmark-json={RESULTS}",
        "--benchmark-columns=min,median,max,rounds",
        "-p",
        "no:cacheprovider",
        "-q",
        *extra,
    ]
    return subprocess.call(cmd, cwd=ROOT)


Row = tuple[str, str, int, float, float, float | None, float | None]


def table(results: dict) -> list[Row]:
    """Rows ``(backend, network, batch, steps/s, peak MiB, x reference, exact/fast)``.

    Sorted by network, batch and backend; ``exact/fast`` only for GeNN's exact cases whose
    fast case ran in the same session.
    """
    rows = {}
    for b in results["benchmarks"]:
        info = b["extra_info"]
        rate = info["batch"] * info["steps"] / b["stats"]["median"]
        key = (info["network"], int(info["batch"]), info["backend"])
        rows[key] = (rate, info.get("peak_traced_mib", float("nan")))
    out = []
    for (network, batch, backend), (rate, peak) in sorted(rows.items()):
        ref = rows.get((network, batch, "reference"))
        fast = rows.get((network, batch, FAST_OF.get(backend, "")))
        ratio = rate / ref[0] if ref else None
        out.append((backend, network, batch, rate, peak, ratio, rate / fast[0] if fast else None))
    return out


def main(argv: list[str]) -> int:
    """Run the benchmarks and print the table; returns pytest's exit code."""
    code = run_benchmarks(argv)
    if not RESULTS.exists():
        print("no benchmark results were written", file=sys.stderr)
        return code or 1
    rows = table(json.loads(RESULTS.read_text()))
    print()
    print(
        f"{'backend':<14} {'network':<8} {'batch':>5} {'network-steps/s':>16} "
        f"{'peak MiB':>9} {'x reference':>12} {'exact/fast':>11}"
    )
    for backend, network, batch, rate, peak, ratio, vs_fast in rows:
        r = f"{ratio:12.1f}" if ratio is not None else f"{'-':>12}"
        f = f"{vs_fast:11.2f}" if vs_fast is not None else f"{'-':>11}"
        print(f"{backend:<14} {network:<8} {batch:>5} {rate:>16,.0f} {peak:>9.1f} {r} {f}")
    print(f"\n(JSON: {RESULTS.relative_to(ROOT)})")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
