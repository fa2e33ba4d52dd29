"""Run the step-rate benchmarks and print a table (``nox -s bench`` runs this).

Runs pytest-benchmark on ``benchmarks/bench_steps.py`` with the JSON report in
``.benchmarks/results.json``, then prints per case: backend, network, batch, network steps
per second (batch * steps per round / median round time), the stage (``learning`` or
``no-learning``), the ratio to the reference backend measured in the same session, for
GeNN's exact builds the ratio to the fast build of the same device (``exact/fast``) and,
for the ``input_mode: fast`` cases, the ratio to their exact case (``fast/exact``: e.g.
``compiled-fast`` over ``compiled``); the rows of one network, batch size and stage are
adjacent. Extra arguments are passed on to pytest (e.g. ``-k compiled``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / ".benchmarks" / "results.json"
FAST_OF = {"genn-exact": "genn-fast", "genn-cuda": "genn-cuda-fast"}  # exact case -> fast case
# input_mode fast -> exact
EXACT_OF = {
    "compiled-fast": "compiled",
    "reference-fast": "reference",
    "genn-fast-input": "genn-exact",
    "genn-cuda-fast-input": "genn-cuda",
}


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


Row = tuple[str, str, int, str, float, float, float | None, float | None, float | None]


def table(results: dict) -> list[Row]:
    """Rows ``(backend, network, batch, stage, steps/s, peak MiB, x reference, exact/fast,
    fast/exact)``.

    Sorted by network, batch, stage and backend; ``exact/fast`` only for GeNN's exact cases
    whose fast case ran in the same session, ``fast/exact`` only for the ``input_mode: fast``
    cases whose exact case did. Results without a stage (older reports) are ``learning``.
    """
    rows = {}
    for b in results["benchmarks"]:
        info = b["extra_info"]
        rate = info["batch"] * info["steps"] / b["stats"]["median"]
        stage = info.get("stage", "learning")
        key = (info["network"], int(info["batch"]), stage, info["backend"])
        rows[key] = (rate, info.get("peak_traced_mib", float("nan")))
    out = []
    for (network, batch, stage, backend), (rate, peak) in sorted(rows.items()):
        ref = rows.get((network, batch, stage, "reference"))
        fast = rows.get((network, batch, stage, FAST_OF.get(backend, "")))
        exact = rows.get((network, batch, stage, EXACT_OF.get(backend, "")))
        ratio = rate / ref[0] if ref else None
        out.append(
            (
                backend,
                network,
                batch,
                stage,
                rate,
                peak,
                ratio,
                rate / fast[0] if fast else None,
                rate / exact[0] if exact else None,
            )
        )
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
        f"{'backend':<14} {'network':<8} {'batch':>5} {'stage':<11} {'network-steps/s':>16} "
        f"{'peak MiB':>9} {'x reference':>12} {'exact/fast':>11} {'fast/exact':>11}"
    )
    for backend, network, batch, stage, rate, peak, ratio, vs_fast, vs_exact in rows:
        r = f"{ratio:12.1f}" if ratio is not None else f"{'-':>12}"
        f = f"{vs_fast:11.2f}" if vs_fast is not None else f"{'-':>11}"
        e = f"{vs_exact:11.2f}" if vs_exact is not None else f"{'-':>11}"
        print(
            f"{backend:<14} {network:<8} {batch:>5} {stage:<11} {rate:>16,.0f} {peak:>9.1f} "
            f"{r} {f} {e}"
        )
    print(f"\n(JSON: {RESULTS.relative_to(ROOT)})")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
