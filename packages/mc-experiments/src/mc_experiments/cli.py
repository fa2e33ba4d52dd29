"""The ``mc-run`` command line: train, resume, sweep, validate.

Thin wrappers around :mod:`mc_experiments.runner` and :mod:`mc_experiments.sweep`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mc_experiments.config import ConfigError, load_config, parse_overrides
from mc_experiments.datasets import DatasetError

__all__ = ["get_parser", "main"]

log = logging.getLogger("mc_experiments")


def get_parser() -> argparse.ArgumentParser:
    """The argument parser (separate so that docs can render it)."""
    p = argparse.ArgumentParser(
        prog="mc-run", description="Train and evaluate dendritic microcircuit networks."
    )
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one config (a new run directory)")
    t.add_argument("config", type=Path, help="YAML config (ours or an original config)")
    t.add_argument("--out", type=Path, default=Path("runs"), help="parent folder (default runs/)")
    t.add_argument("--backend", help="backend name (reference, compiled, genn)")
    t.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        default=[],
        help="override a config value, e.g. --set protocol.n_epochs=5",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    t.add_argument(
        "--replay-noise",
        type=Path,
        metavar="ORIGINAL_RUN",
        help="replay the apical noise an original run recorded at every step (on the "
        "reference backend unless --backend says otherwise; with randomness: original the run "
        "then follows the original step for step)",
    )
    t.add_argument(
        "--record-as-original",
        action="store_true",
        help="original configs: record what the original's record.recordings names (for "
        "mc-analyze compare against an original run)",
    )
    r = sub.add_parser("resume", help="continue an interrupted run from its checkpoint")
    r.add_argument("run_dir", type=Path)
    r.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    s = sub.add_parser("sweep", help="run a declared grid of configs")
    s.add_argument("sweep", type=Path, help="sweep YAML file")
    s.add_argument("--out", type=Path, default=Path("runs"), help="parent folder (default runs/)")
    s.add_argument("--dir", type=Path, help="exact sweep directory (an existing one continues)")
    s.add_argument("--profile", help="apply one of the sweep file's named profiles")
    s.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    s.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="local: groups one after the other here (default); dask: on a Dask cluster",
    )
    where = s.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="dask: a running scheduler, e.g. tcp://host:8786"
    )
    where.add_argument(
        "--cluster",
        choices=("local", "slurm", "pbs"),
        help="dask: start a cluster (default local; slurm/pbs need --cluster-config)",
    )
    s.add_argument(
        "--workers", type=int, metavar="N", help="dask: local workers, or SLURM/PBS jobs"
    )
    s.add_argument(
        "--cluster-config",
        type=Path,
        metavar="FILE",
        help="dask: SLURM/PBS cluster YAML (see configs/clusters/slurm.example.yaml)",
    )
    s.add_argument(
        "--retries",
        type=int,
        default=1,
        metavar="N",
        help="dask: retries of a group that raised (each resumes from its checkpoint)",
    )
    d = sub.add_parser("data", help="obtain and verify a dataset (pipeline step)")
    d.add_argument("dataset", choices=("mnist", "yinyang"))
    d.add_argument("--out", type=Path, required=True, help="target directory")
    d.add_argument("--config", type=Path, help="yinyang: the config whose splits to write")
    d.add_argument("--from", dest="source", type=Path, help="mnist: a local copy to verify")
    v = sub.add_parser("validate", help="check a config or sweep without running it")
    v.add_argument("config", type=Path)
    v.add_argument("--set", action="append", metavar="KEY=VALUE", default=[])
    return p


def _load(
    path: Path, sets: list[str], backend: str | None = None, record_as_original: bool = False
):
    overrides = parse_overrides(sets)
    if backend:
        overrides["backend.name"] = backend
    from mc_experiments.original import import_original_config, is_original_file

    if is_original_file(path):
        cfg, ignored = import_original_config(
            path, overrides, record_as_original=record_as_original
        )
        if ignored:
            log.warning("%s: original keys not used by this toolkit: %s", path, ", ".join(ignored))
        return cfg
    return load_config(path, overrides)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mc-run``; returns the exit status."""
    args = get_parser().parse_args(argv)
    quiet = bool(getattr(args, "quiet", False))
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "validate":
            from mc_experiments.sweep import load_sweep

            if _is_sweep(args.config):
                sw = load_sweep(args.config, strict=True)
                print(f"{args.config}: valid sweep, {len(sw.members)} members")  # noqa: T201
            else:
                cfg = _load(args.config, args.set)
                print(
                    f"{args.config}: valid ({cfg.name}, dims {list(cfg.network.dims)}, "  # noqa: T201
                    f"{cfg.protocol.n_epochs} epochs)"
                )
            return 0
        if args.command == "data":
            from mc_experiments import prepare

            if args.dataset == "mnist":
                path = prepare.prepare_mnist(args.out, args.source)
            else:
                if args.config is None:
                    raise ConfigError("mc-run data yinyang: --config is required")
                path = prepare.prepare_yinyang(_load(args.config, []), args.out)
            print(f"data ready: {path}")  # noqa: T201
            return 0
        if args.command == "train":
            from mc_experiments.runner import train

            # noise replay runs on the reference backend (the others cannot take a trace)
            backend = args.backend or ("reference" if args.replay_noise else None)
            cfg = _load(args.config, args.set, backend, args.record_as_original)
            noise = None
            if args.replay_noise is not None:
                from mc_experiments.replay import original_noise_source

                noise = original_noise_source(args.replay_noise, cfg.network)
            (run,) = train(cfg, args.out, quiet=quiet, noise=noise)
            m = run.read_metrics()
            print(f"test accuracy: {m['test_accuracy']:.2f} %")  # noqa: T201
            print(f"run directory: {run.path}")  # noqa: T201
            return 0
        if args.command == "resume":
            from mc_experiments.runner import resume

            run = resume(args.run_dir, quiet=quiet)
            print(f"test accuracy: {run.read_metrics()['test_accuracy']:.2f} %")  # noqa: T201
            return 0
        if args.command == "sweep":
            return _sweep(args, quiet)
    except (ConfigError, DatasetError, FileNotFoundError) as err:
        log.error("%s", err)
        return 2
    except (NotImplementedError, ValueError, KeyError) as err:
        if getattr(args, "replay_noise", None) is None:
            raise
        log.error("--replay-noise: %s", err)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted; the run directory is consistent and can be resumed")
        return 130
    return 1


def _sweep(args: argparse.Namespace, quiet: bool) -> int:
    """``mc-run sweep``: invalid members are reported and the others run; 1 if any failed."""
    from mc_experiments.executors import ExecutorUnavailable, run_sweep
    from mc_experiments.sweep import load_sweep

    if args.executor == "local" and (args.scheduler or args.cluster):
        raise ConfigError("--scheduler and --cluster need --executor dask")
    sw = load_sweep(args.sweep, profile=args.profile, strict=False)  # invalid: reported
    try:
        result = run_sweep(
            sw,
            args.out,
            quiet=quiet,
            directory=args.dir,
            executor=args.executor,
            scheduler=args.scheduler,
            cluster=args.cluster,
            workers=args.workers,
            cluster_config=args.cluster_config,
            retries=args.retries,
        )
    except ExecutorUnavailable as err:
        log.error("%s", err)
        return 2
    print(f"sweep directory: {result.directory}")  # noqa: T201
    return 0 if result.ok else 1  # the failed members are listed in the log


def _is_sweep(path: Path) -> bool:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "base" in data and "network" not in data


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
