"""``mc-analyze``: reports of runs and sweeps.

::

    mc-analyze run RUN_DIR [--out DIR]
    mc-analyze sweep SWEEP_DIR [--out DIR] [--label VARIANT=TEXT ...]
    mc-analyze sweep RUN_DIR [RUN_DIR ...] --out DIR [--variant-by feedback]
    mc-analyze compare RUN_A RUN_B [--atol X] [--max-ulps N] [--json FILE]

``compare`` exits with 0 when the runs agree within the tolerance, 1 when they differ and 2
when they cannot be compared (unreadable, or no variable in common).

``run`` and ``sweep`` exit with 0 when done, 1 when the recordings fail their checks
(checksums, missing entries: the message names the array) and 2 when refused (bad arguments,
a missing or unreadable directory or file, a missing key), as ``mc-run`` does. Runs whose
data carry no checksums (legacy format 1) are read, with a warning naming each of them, and
marked ``verified: false`` in ``summary.json`` (a sweep's ``unverified_runs`` lists them);
``compare`` flags them as UNVERIFIED in its report.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["get_parser", "main"]

logger = logging.getLogger("mc_analysis.cli")
EPILOG = (
    "exit status: 0 done; 1 recordings fail their checks; 2 refused (bad arguments, missing "
    "or unreadable files)"
)


def get_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mc-analyze`` (separate so that docs can render it)."""
    from mc_analysis import __version__
    from mc_analysis.bounded import int_at_least

    parser = argparse.ArgumentParser(
        prog="mc-analyze",
        description="Summaries, tables and figures of microcircuit runs and sweeps.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"mc-analyze {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="report of one run directory")
    run.add_argument("run_dir", type=Path, help="run directory (holds config.yaml)")
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder [RUN_DIR/report; inside a DVC output: reports/RUN_DIR under the "
        "DVC root]",
    )
    run.add_argument(
        "--samples",
        type=int_at_least(1),
        default=8,
        help="samples in the output-vs-target figures, the first ones presented (>= 1) [8]",
    )

    sweep = sub.add_parser("sweep", help="comparison of the runs of a sweep")
    sweep.add_argument(
        "paths",
        type=Path,
        nargs="+",
        help="a sweep directory, or run directories (ours or of the original code)",
    )
    sweep.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder [SWEEP_DIR/report for one sweep; inside a DVC output: "
        "reports/SWEEP_DIR under the DVC root]",
    )
    sweep.add_argument(
        "--variant-by",
        default=None,
        help="group runs by 'name', 'feedback' or a dotted config key [member/config name]",
    )
    sweep.add_argument(
        "--compare",
        action="append",
        metavar="A:B",
        type=_pair,
        help="compare variant A with B (repeatable) [the first variant with each other one]",
    )
    sweep.add_argument(
        "--label",
        action="append",
        metavar="VARIANT=TEXT",
        type=_label,
        help="name of a variant in the figures (repeatable) [PAL, FA, eta_B = 0 for pal, fa, "
        "bw_eta_zero; other names as they are]",
    )
    cmp = sub.add_parser(
        "compare",
        help="compare two runs record by record (ours or of the original code)",
        description="Compare the recordings two runs share (toolkit or original run "
        "directories, in any combination): per variable the largest absolute and float32 ulp "
        "difference and the first differing record, and both runs' accuracies. Exit status 0: "
        "equal within the tolerance; 1: different; 2: not comparable.",
    )
    cmp.add_argument("run_a", type=Path, help="a run directory")
    cmp.add_argument("run_b", type=Path, help="another run directory")
    cmp.add_argument("--atol", type=float, default=0.0, help="absolute tolerance [0]")
    cmp.add_argument(
        "--max-ulps", type=int, default=0, help="tolerance in float32 ulps [0: bit identity]"
    )
    cmp.add_argument(
        "--stage",
        action="append",
        choices=("validation", "training", "test", "weights"),
        help="compare only this stage (repeatable) [all]",
    )
    cmp.add_argument("--json", type=Path, default=None, help="also write the result as JSON")
    return parser


def _pair(text: str) -> tuple[str, str]:
    a, sep, b = text.partition(":")
    if not sep or not a or not b:
        raise argparse.ArgumentTypeError(f"{text!r}: expected two variant names as A:B")
    return a, b


def _label(text: str) -> tuple[str, str]:
    variant, sep, label = text.partition("=")
    if not sep or not variant or not label:
        raise argparse.ArgumentTypeError(f"{text!r}: expected VARIANT=TEXT, e.g. fa='FA'")
    return variant, label


def _compare(args: argparse.Namespace) -> int:
    from mc_analysis.compare import compare_runs
    from mc_analysis.tables import write_json

    if args.json is not None and (args.json.is_dir() or not args.json.parent.is_dir()):
        what = "is a directory" if args.json.is_dir() else "is in a folder that does not exist"
        logger.error("--json %s: %s; give the file to write", args.json, what)
        return 2
    try:
        result = compare_runs(
            args.run_a,
            args.run_b,
            atol=args.atol,
            max_ulps=args.max_ulps,
            stages=tuple(args.stage) if args.stage else None,
        )
    except (FileNotFoundError, KeyError, ValueError) as err:
        logger.error("%s", err)
        return 2
    print(result.format())
    if args.json is not None:
        try:
            write_json(result.to_dict(), args.json)
        except OSError as err:
            logger.error("--json %s: cannot be written: %s", args.json, err.strerror or err)
            return 2
    if not result.series:
        return 2
    return 0 if result.equal else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mc-analyze``; returns the exit status."""
    args = get_parser().parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose else logging.INFO)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mc_analysis").setLevel(level)
    try:
        return _compare(args) if args.command == "compare" else _report(args)
    except Exception as err:  # a bug or an input no check foresaw: one line, not a traceback
        logger.error("failed: %s: %s", type(err).__name__, err)
        logger.debug("traceback of the error above:", exc_info=True)  # shown with -v
        return 1


def _report(args: argparse.Namespace) -> int:
    from mc_analysis.report import make_run_report, make_sweep_report
    from mc_analysis.rundir import RunDataError

    try:
        if args.command == "run":
            out = make_run_report(args.run_dir, args.out, n_samples=args.samples)
        else:
            paths = args.paths[0] if len(args.paths) == 1 else args.paths
            out = make_sweep_report(
                paths,
                args.out,
                variant_by=args.variant_by,
                compare=args.compare,
                labels=dict(args.label or []),
            )
    except RunDataError as err:
        logger.error("%s", err)
        return 1
    except (OSError, KeyError, ValueError) as err:
        logger.error("%s", err)
        return 2
    if args.command == "sweep" and not args.quiet:
        import json

        from mc_analysis.tables import sweep_digest

        print("\n".join(sweep_digest(json.loads((out / "summary.json").read_text()))))
    print(f"report written to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
