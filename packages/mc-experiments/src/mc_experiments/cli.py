"""The ``mc-run`` command line: train, resume, sweep, validate, data, models (and sweep-task).

Thin wrappers around :mod:`mc_experiments.runner` and :mod:`mc_experiments.executors`.
Every failure ends in one log line naming what and where (``--debug`` adds the traceback)
and one of these exit statuses:

====  =====================================================================================
0     done
1     a run failed (an error or non-finite values during training), or sweep members failed
2     refused before any work: bad arguments, config or input files, a directory being
      written by another process, a backend or executor that is not available here, an
      installed model package that cannot be loaded; or a network that cannot be built here
      (its run directory's status.json says why)
130   interrupted (Ctrl-C); the message says how to continue
143   terminated (SIGTERM, e.g. by a batch system); the same
====  =====================================================================================
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from mc_analysis.bounded import check_yaml, int_at_least, load_yaml
from mc_analysis.runformat import CorruptFile, LockError, UnsafePath
from mc_experiments.config import ConfigError, load_config, parse_overrides, unknown_backend
from mc_experiments.datasets import DatasetError
from mc_models import PluginError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_REFUSED", "get_parser", "main"]

log = logging.getLogger("mc_experiments")

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
VERBOSE = (
    "also show the per-epoch results (validation accuracy per epoch, each member's test "
    "accuracy; every run's run.log has them) and more"
)
EPILOG = (
    "exit status: 0 done; 1 a run or sweep members failed; 2 refused before any work (bad "
    "arguments, config or files, directory locked, backend unavailable); 130 interrupted; "
    "143 terminated (SIGTERM)"
)


def _versions() -> str:
    parts = []
    for name in ("mc-experiments", "mc-analysis", "mc-network", "mc-models"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


class _Version(argparse.Action):
    """``--version``: the versions of the four packages, on one line (not wrapped)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"mc-run ({_versions()})")  # noqa: T201
        parser.exit()


def _console_options(p: argparse.ArgumentParser) -> None:
    """``--quiet`` and ``-v`` of a command that runs (``-v`` also before the command)."""
    p.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=VERBOSE)


def get_parser() -> argparse.ArgumentParser:
    """The argument parser (separate so that docs can render it)."""
    p = argparse.ArgumentParser(
        prog="mc-run",
        description="Train and evaluate dendritic microcircuit networks.",
        epilog=EPILOG,
    )
    p.add_argument("--version", action=_Version, help="show the versions and exit")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    p.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one config (a new run directory)", epilog=EPILOG)
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
    _console_options(t)
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
    r = sub.add_parser(
        "resume", help="continue an interrupted or failed run from its checkpoint", epilog=EPILOG
    )
    r.add_argument("run_dir", type=Path)
    _console_options(r)
    s = sub.add_parser("sweep", help="run a declared grid of configs", epilog=EPILOG)
    s.add_argument("sweep", type=Path, nargs="?", help="sweep YAML file")
    s.add_argument(
        "--status",
        type=Path,
        metavar="DIR",
        help="show the state of every member of the sweep directory DIR (with its SLURM task) "
        "and exit: 0 when none failed, 1 otherwise",
    )
    s.add_argument("--out", type=Path, default=Path("runs"), help="parent folder (default runs/)")
    s.add_argument("--dir", type=Path, help="exact sweep directory (an existing one continues)")
    s.add_argument(
        "--on-config-change",
        choices=("refuse", "new"),
        default="refuse",
        help="when the configs of a continued --dir changed: refuse, listing what differs "
        "(default), or continue into a new sweep directory <dir>-N",
    )
    s.add_argument("--profile", help="apply one of the sweep file's named profiles")
    _console_options(s)
    s.add_argument(
        "--executor",
        choices=("local", "dask", "slurm"),
        default="local",
        help="local: groups one after the other here (default); dask: on a Dask cluster; "
        "slurm: submit the groups as one SLURM job array and return",
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
        "--workers",
        type=int_at_least(1),
        metavar="N",
        help="dask: local workers, or SLURM/PBS jobs",
    )
    s.add_argument(
        "--cluster-config",
        type=Path,
        metavar="FILE",
        help="dask: SLURM/PBS cluster YAML (see configs/clusters/slurm.example.yaml); slurm: "
        "the job array's partition, time, environment (configs/clusters/slurm_array.example.yaml)",
    )
    s.add_argument(
        "--dry-run",
        action="store_true",
        help="slurm: write the batch script into the sweep directory without submitting it",
    )
    s.add_argument(
        "--retries",
        type=int_at_least(0),
        default=1,
        metavar="N",
        help="dask: retries of a group that raised (each resumes from its checkpoint)",
    )
    k = sub.add_parser(
        "sweep-task",
        help="run one task of a sweep submitted with --executor slurm (what its batch script runs)",
        epilog=EPILOG,
    )
    k.add_argument("submission", type=Path, help="the submission: <sweep dir>/slurm/<k>")
    k.add_argument("index", type=int_at_least(0), help="the task (SLURM_ARRAY_TASK_ID)")
    d = sub.add_parser("data", help="obtain and verify a dataset (pipeline step)", epilog=EPILOG)
    d.add_argument("dataset", choices=("mnist", "yinyang"))
    d.add_argument("--out", type=Path, required=True, help="target directory")
    d.add_argument("--config", type=Path, help="yinyang: the config whose splits to write")
    d.add_argument("--from", dest="source", type=Path, help="mnist: a local copy to verify")
    v = sub.add_parser(
        "validate",
        help="check a config or sweep without running it (what it passes, train accepts)",
        epilog=EPILOG,
    )
    v.add_argument("config", type=Path)
    v.add_argument("--set", action="append", metavar="KEY=VALUE", default=[])
    m = sub.add_parser(
        "models",
        help="list every model (built-in, from installed packages, ...): its package, "
        "parameters and defaults",
        epilog=EPILOG,
    )
    m.add_argument("names", nargs="*", metavar="NAME", help="only these models")
    return p


def _load(
    path: Path, sets: list[str], backend: str | None = None, record_as_original: bool = False
):
    """Our config or an original two-document config, with ``--set`` and ``--backend``."""
    overrides = parse_overrides(sets)
    if backend:
        problem = unknown_backend(backend)
        if problem:
            raise ConfigError(f"--backend {backend}: {problem}")
        overrides["backend.name"] = backend
    check_yaml(path, error=ConfigError, what="config file")  # the bounds, for every format
    from mc_experiments.original import import_original_config, is_original_file

    if is_original_file(path):
        cfg, ignored = import_original_config(
            path, overrides, record_as_original=record_as_original
        )
        if ignored:
            log.warning("%s: original keys not used by this toolkit: %s", path, ", ".join(ignored))
        return cfg
    return load_config(path, overrides)


_signalled: list[int] = []


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C: every run is marked interrupted and can be resumed."""
    _signalled.append(signum)
    raise KeyboardInterrupt


_REFUSED = (
    ConfigError,
    PluginError,
    DatasetError,
    CorruptFile,
    LockError,
    UnsafePath,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mc-run``; returns the exit status (see the module docstring)."""
    args = get_parser().parse_args(argv)
    quiet = bool(getattr(args, "quiet", False))
    _console(quiet, args.verbose)
    from mc_experiments.outcomes import ExecutorUnavailable
    from mc_experiments.slurm import JobRejected
    from mc_network import BackendUnavailable

    previous = signal.getsignal(signal.SIGTERM)
    in_main = _set_sigterm(_on_sigterm)
    _signalled.clear()
    try:
        return _command(args, quiet)
    except KeyboardInterrupt as err:
        hint = getattr(err, "hint", None)
        what = "terminated (SIGTERM)" if _signalled else "interrupted"
        log.error(
            "%s; %s",
            what,
            f"the run directory is consistent: continue with `{hint}`"
            if hint
            else "nothing was left half-written",
        )
        return EXIT_TERMINATED if _signalled else EXIT_INTERRUPTED
    except (*_REFUSED, BackendUnavailable, ExecutorUnavailable, JobRejected) as err:
        log.error("%s", err)
        _traceback(args)
        return EXIT_REFUSED
    except OSError as err:
        where = f" ({err.filename})" if err.filename else ""
        why = "the disk is full" if err.errno == errno.ENOSPC else (err.strerror or str(err))
        log.error("failed: %s%s", why, where)
        _traceback(args)
        return EXIT_FAILED
    except Exception as err:
        log.error("failed: %s: %s", type(err).__name__, err)
        _traceback(args)
        return EXIT_FAILED
    finally:
        if in_main:
            _set_sigterm(previous)


def _console(quiet: bool, verbose: int) -> None:
    """The console's log output; every run.log gets the info lines whatever it shows.

    Default: information and warnings, without the per-epoch results (the progress bar
    shows them; :class:`~mc_experiments.progress.HideProgress`); ``-v``: those too;
    ``-vv``: debug records as well; ``--quiet``: warnings and errors only.
    """
    from mc_experiments.progress import HideProgress

    before = set(logging.getLogger().handlers)
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for handler in set(logging.getLogger().handlers) - before:
        handler.setLevel(logging.WARNING if quiet else logging.NOTSET)
        if not verbose:
            handler.addFilter(HideProgress())


def _traceback(args: argparse.Namespace) -> None:
    if args.debug:
        log.error("traceback of the error above:", exc_info=True)


def _set_sigterm(handler) -> bool:
    try:
        signal.signal(signal.SIGTERM, handler)
    except (ValueError, TypeError):  # not the main thread (e.g. called from a worker thread)
        return False
    return True


def _command(args: argparse.Namespace, quiet: bool) -> int:
    if args.command == "models":
        from mc_experiments.plugins import list_models

        print(list_models(args.names))  # noqa: T201
        return 0
    if args.command == "validate":
        from mc_experiments.plugins import describe_models
        from mc_experiments.sweep import load_sweep

        if _is_sweep(args.config):
            if args.set:
                raise ConfigError("mc-run validate SWEEP: --set applies to configs only")
            sw = load_sweep(args.config, strict=True)
            print(f"{args.config}: valid sweep, {len(sw.members)} members")  # noqa: T201
            specs = [m.config.network for m in sw.members]
        else:
            cfg = _load(args.config, args.set)
            print(
                f"{args.config}: valid ({cfg.name}, dims {list(cfg.network.dims)}, "  # noqa: T201
                f"{cfg.protocol.n_epochs} epochs)"
            )
            specs = [cfg.network]
        for line in describe_models(specs):
            print(f"  {line}")  # noqa: T201
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

            try:
                noise = original_noise_source(args.replay_noise, cfg.network)
            except (NotImplementedError, ValueError, KeyError) as err:
                raise ConfigError(f"--replay-noise: {err}") from None
        try:
            (run,) = train(cfg, args.out, quiet=quiet, noise=noise)
        except NotImplementedError as err:  # a backend that cannot take the noise trace
            if noise is None:
                raise
            raise ConfigError(f"--replay-noise: {err}") from None
        return _report(run)
    if args.command == "resume":
        from mc_experiments.runner import resume

        return _report(resume(args.run_dir, quiet=quiet))
    if args.command == "sweep-task":
        from mc_experiments.executors_slurm import run_task

        return run_task(args.submission, args.index)
    return _sweep(args, quiet)


def _report(run) -> int:
    """Print the outcome of one run (its accuracy, or why it failed) and its directory."""
    status = run.status()
    if status.get("state") != "completed":
        log.error(
            "run failed during %s: %s", status.get("step", "?"), status.get("error", "unknown")
        )
        print(f"run directory: {run.path}")  # noqa: T201
        return EXIT_FAILED
    if status.get("warning"):
        log.warning("%s: completed, but %s", run.path, status["warning"])
    print(f"test accuracy: {run.read_metrics()['test_accuracy']:.2f} %")  # noqa: T201
    print(f"run directory: {run.path}")  # noqa: T201
    return 0


def _sweep(args: argparse.Namespace, quiet: bool) -> int:
    """``mc-run sweep``: invalid members are reported and the others run; 1 if any failed."""
    from mc_experiments.executors import run_sweep
    from mc_experiments.sweep import load_sweep

    if args.status is not None:
        return _status(args)
    if args.sweep is None:
        raise ConfigError("mc-run sweep: give a sweep file (or --status DIR)")
    if args.executor != "dask" and (args.scheduler or args.cluster):
        raise ConfigError("--scheduler and --cluster need --executor dask")
    if args.dry_run and args.executor != "slurm":
        raise ConfigError("--dry-run needs --executor slurm")
    if args.executor == "slurm":
        return _submit(args)
    sw = load_sweep(args.sweep, profile=args.profile, strict=False)  # invalid: reported
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
        on_config_change=args.on_config_change,
    )
    print(f"sweep directory: {result.directory}")  # noqa: T201
    return 0 if result.ok else EXIT_FAILED  # the failed members are listed in the log


def _status(args: argparse.Namespace) -> int:
    """``mc-run sweep --status DIR``: every member's state; 1 when any failed."""
    from mc_experiments.sweep_status import format_status, sweep_status

    if args.sweep is not None:
        raise ConfigError("mc-run sweep --status DIR takes no sweep file")
    if not args.status.is_dir():
        raise FileNotFoundError(f"{args.status}: no such sweep directory")
    rows = sweep_status(args.status)
    print(format_status(args.status, rows))  # noqa: T201
    return EXIT_FAILED if any(r.state == "failed" for r in rows) else 0


def _submit(args: argparse.Namespace) -> int:
    """``mc-run sweep SWEEP --executor slurm``: submit the job array(s) and return."""
    from mc_experiments.executors_slurm import submit_sweep
    from mc_experiments.sweep import load_sweep

    if args.cluster_config is None:
        raise ConfigError(
            "--executor slurm needs --cluster-config FILE (partition, time, environment; see "
            "configs/clusters/slurm_array.example.yaml)"
        )
    if args.workers is not None:
        raise ConfigError("--workers is for --executor dask; a SLURM array has one task a group")
    sw = load_sweep(args.sweep, profile=args.profile, strict=False)
    sweep_dir, subs = submit_sweep(
        sw,
        args.cluster_config,
        out=args.out,
        directory=args.dir,
        dry_run=args.dry_run,
        on_config_change=args.on_config_change,
    )
    for sub in subs:
        if sub.job_id is None:
            print(f"batch script: {sub.script} ({len(sub.tasks)} task(s); not submitted)")  # noqa: T201
        else:
            print(f"submitted job array {sub.job_id} ({len(sub.tasks)} task(s)): {sub.script}")  # noqa: T201
    print(f"sweep directory: {sweep_dir}")  # noqa: T201
    print(f"follow it with: mc-run sweep --status {sweep_dir}")  # noqa: T201
    return 0


def _is_sweep(path: Path) -> bool:
    try:
        data = load_yaml(path, error=ConfigError)
    except ConfigError:
        return False  # reported by the config loader
    return isinstance(data, dict) and "base" in data and "network" not in data


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
