"""High-level entry points: train one config, resume a run, run a batched group.

Every run directory is locked while it is written (:class:`mc_analysis.runformat.DirLock`):
a second writer is refused with the holder named. A directory that already holds a run is
only continued with the config it was started with (its fingerprint in
``environment.json``); anything else is refused with the differences listed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

from mc_analysis import runformat as F
from mc_analysis.rundir import is_original_run_dir
from mc_experiments.config import Config, ConfigError, config_from_dict
from mc_experiments.data import load_stage_data
from mc_experiments.plugins import check_run_plugins, plugin_record
from mc_experiments.progress import ProgressBar
from mc_experiments.protocol import (
    Experiment,
    Member,
    NoiseSource,
    backend_problem,
    group_key,
)
from mc_experiments.storage import RunDir, code_version, create_run_dir
from mc_network import BackendUnavailable, SpecError, available_backends, default_backend

__all__ = ["ProgressBar", "resume", "run_group", "train"]

log = logging.getLogger(__name__)


@contextmanager
def _run_log(runs: Sequence[RunDir]):
    """Log the package's records into every run's ``run.log`` (opened without following links)."""
    handlers = []
    try:
        for r in runs:
            h = logging.StreamHandler(r.open_log())
            h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger("mc_experiments").addHandler(h)
            handlers.append(h)
        yield
    finally:
        for h in handlers:
            logging.getLogger("mc_experiments").removeHandler(h)
            h.close()
            h.stream.close()


def _backend_info(cfg: Config, exp: Experiment) -> dict:
    """What ``environment.json`` records of the backend a run used.

    Its name, the config's request and options, the network's input mode and the
    projections it runs sample-factorised (``input_mode``, ``fast_projections``), and the
    simulation's own account of its build (``build``: e.g. GeNN's exact or fast mode, also
    when it is the default).
    """
    return {
        "name": exp.backend,
        "requested": cfg.backend.name or default_backend(),
        "options": dict(cfg.backend.options),
        **exp.sim.input_info(),
        "build": exp.sim.build_info(),
        "available": {k: v is None for k, v in available_backends().items()},
    }


def check_same_config(cfg: Config, run: RunDir) -> None:
    """Refuse to continue ``run`` with another config than the one it was started with.

    The fingerprint in ``environment.json`` decides quickly; when it differs (or a legacy run
    has none) the run's ``config.yaml`` is compared with ``cfg``, key by key. Keys that only
    ``cfg`` has (added to the toolkit since the run started, at their defaults) do not count.
    A ``config.yaml`` edited after the start of a run whose fingerprint matches ``cfg`` is
    rewritten (with a warning): the fingerprint says what ran.

    Raises
    ------
    ConfigError
        Naming the run directory and listing what differs (key paths, both values).
    """
    resolved = cfg.to_dict()
    stored = run.config_fingerprint()
    old = run.read_config() if (run.path / F.CONFIG).is_file() else None
    if stored is not None and stored == F.fingerprint(resolved):
        if old is not None and F.fingerprint(old) != stored:
            log.warning("%s: config.yaml was edited after the run started; restored", run.path)
            run.write_config(resolved)
        return
    if old is None:
        if stored is None:
            return  # nothing was started here yet
        diffs = ["(config.yaml is missing; only the fingerprints differ)"]
    else:
        diffs = F.config_diff(old, resolved, ignore_added=True)
        if not diffs:
            what = (
                "legacy run directory (no config fingerprint)"
                if stored is None
                else ("config resolved with keys added since the run started (at their defaults)")
            )
            log.info("%s: %s: same config", run.path, what)
            return
    raise ConfigError(
        f"{run.path}: holds a run of another config; continuing it would mix two "
        "configurations. What differs (run -> now):\n  " + "\n  ".join(diffs)
    )


def check_checkpoint_config(cfg: Config, run: RunDir, meta: dict) -> None:
    """Refuse to continue ``run`` with ``cfg`` from a checkpoint another config wrote.

    A checkpoint record (sealed) holds the resolved config that wrote it, so the check holds
    even when ``environment.json`` (the fingerprint) is gone and ``config.yaml`` was edited.
    Keys only ``cfg`` has (added to the toolkit since) do not count; records written before
    format 3 hold no config and are not checked.

    Raises
    ------
    ConfigError
        Naming the checkpoint and listing what differs.
    """
    saved = meta.get("config")
    record = run.checkpoint_dir / f"{F.checkpoint_stem(meta['epoch'])}.json"
    if saved is None:
        log.info("%s: records no config (written before format 3): not checked", record)
        return
    _refuse_differences(
        saved,
        cfg.to_dict(),
        f"{record}: was written by another config than the one this run would continue with; "
        "continuing would mix two configurations. What differs (checkpoint -> now)",
    )


def _refuse_differences(old: dict, new: dict, why: str) -> None:
    """:class:`ConfigError` ``why``, listing what differs, unless the configs agree.

    Keys only ``new`` has (added to the toolkit since ``old`` was written) do not count.
    """
    diffs = F.config_diff(old, new, ignore_added=True)
    if diffs:
        raise ConfigError(f"{why}:\n  " + "\n  ".join(diffs))


def _common_checkpoint(runs: Sequence[RunDir]) -> list[tuple[dict, dict]] | None:
    """The newest usable checkpoint that every member has at the same epoch, or ``None``.

    Members are killed between their checkpoint writes: one may be an epoch ahead, and a
    checkpoint may be corrupt (then the previous one is used, with a warning).
    """
    found = [r.latest_checkpoint() for r in runs]
    if not all(found):
        return None
    while True:
        epoch = min(ck[1]["epoch"] for ck in found)
        for i, (r, ck) in enumerate(zip(runs, found, strict=True)):
            if ck[1]["epoch"] != epoch:
                found[i] = r.latest_checkpoint(at_most=epoch)
        if not all(found):
            return None
        if len({ck[1]["epoch"] for ck in found}) == 1:
            return found


#: Errors while a network is built that say the config cannot run here (refused, exit 2).
BUILD_REFUSALS = (MemoryError, SpecError, ValueError)


def _experiment(
    configs: Sequence[Config],
    runs: Sequence[RunDir],
    epoch: int,
    progress: Callable | None = None,
    noise: NoiseSource | None = None,
) -> Experiment:
    """Load the members' data and build their network; a failed build is recorded in each run.

    Data that cannot be loaded here (``DatasetError``) is refused as it is, leaving the
    runs as they were. A network that cannot be built leaves every run's ``status.json``
    saying ``failed`` with the error and the step ``building the network``; one that does not
    fit in memory or that the backend refuses (:data:`BUILD_REFUSALS`) is a config problem:
    :class:`ConfigError` (exit status 2); anything else is raised as it is.
    """
    members = [Member(c, r) for c, r in zip(configs, runs, strict=True)]
    try:
        return Experiment(members, progress, noise)
    except Exception as err:
        why = f"{type(err).__name__}: {err}"
        step = "building the network"
        for r in runs:
            try:
                r.set_status(F.RunState.FAILED, error=why, step=step, epochs_completed=epoch)
            except OSError:  # e.g. the disk is full: the error is raised below
                log.debug("could not record the failure in %s", r.path)
        if isinstance(err, BUILD_REFUSALS) and not isinstance(err, ConfigError):
            where = ", ".join(str(r.path) for r in runs)
            raise ConfigError(f"{where}: the network cannot be built: {why}") from err
        raise


def _describe_code(code: dict) -> str:
    """``git <commit> (dirty); <package> <version>, ...`` of a ``code_version()`` record."""
    commit = code.get("git_commit")
    where = "no git"
    if commit:
        where = f"git {commit[:12]}" + (" (dirty)" if code.get("git_dirty") else "")
    packages = ", ".join(f"{k} {v}" for k, v in sorted(code.get("packages", {}).items()))
    return f"{where}; {packages}"


def _log_resumed_code(runs: Sequence[RunDir]) -> None:
    """Name the code a resume runs in the runs' logs; warn where it is not their first start's.

    ``environment.json`` keeps the code of a run's first start; the epochs after a resume
    equal an uninterrupted run's only if no arithmetic changed in between.
    """
    now = code_version()
    log.info("resumed with code: %s", _describe_code(now))
    for r in runs:
        first = r.environment().get("code")
        if not first:
            continue
        keys = ("git_commit", "git_dirty", "packages")
        if any(first.get(k) != now.get(k) for k in keys):
            log.warning(
                "%s: resumed with other code than it started with (started: %s; now: %s);"
                " its later epochs equal an uninterrupted run's only if no arithmetic changed",
                r.path,
                _describe_code(first),
                _describe_code(now),
            )


def _starting_again(runs: Sequence[RunDir]) -> None:
    """Clear what a start from epoch 0 rewrites; say so where a run had made progress."""
    for r in runs:
        if r.checkpoint_dir.is_dir() and any(r.checkpoint_dir.iterdir()):
            log.warning("%s: no usable checkpoint: starting again from epoch 0", r.path)
        r.clear_progress()


def run_group(
    configs: Sequence[Config],
    run_dirs: Sequence[Path],
    progress: Callable | None = None,
    noise: NoiseSource | None = None,
) -> list[RunDir]:
    """Run configs that differ only in their seed as one batched simulation.

    The run directories may exist already (a sweep being continued): each is locked while
    the group runs, completed members are left alone, the others must hold the same config
    (``check_same_config``) and resume from the newest checkpoint they share (older
    ones when the newest fails its checks); without one they start again from epoch 0.
    ``noise`` replays a given noise trace (see :class:`~mc_experiments.protocol.Experiment`).

    Raises
    ------
    mc_analysis.runformat.LockError
        When a member directory is being written by another process.
    ConfigError
        When a member directory holds a run of another config, or of other model packages.
    """
    runs = [RunDir(p) for p in run_dirs]
    for r in runs:
        r.path.mkdir(parents=True, exist_ok=True)
    with F.locked([r.path for r in runs]):
        pending = [
            (cfg, r)
            for cfg, r in zip(configs, runs, strict=True)
            if r.status().get("state") != F.RunState.COMPLETED
        ]
        if not pending:
            log.info("%s: already completed", ", ".join(r.path.name for r in runs))
            return runs
        for cfg, r in pending:
            r.refuse_links()
            check_same_config(cfg, r)
            check_run_plugins(r.path, r.environment())
            r.clean_temporaries()
        checkpoints = _common_checkpoint([r for _, r in pending])
        for (cfg, r), ck in zip(pending, checkpoints or [], strict=False):
            check_checkpoint_config(cfg, r, ck[1])
        if checkpoints is None:
            _starting_again([r for _, r in pending])
            for cfg, r in pending:
                r.write_config(cfg.to_dict())
        with _run_log([r for _, r in pending]):
            epoch = checkpoints[0][1]["epoch"] if checkpoints else 0
            exp = _experiment(*zip(*pending, strict=True), epoch, progress=progress, noise=noise)
            if checkpoints is None:
                for cfg, r in pending:
                    r.write_environment(
                        _backend_info(cfg, exp),
                        F.fingerprint(cfg.to_dict()),
                        plugins=plugin_record(cfg.network),
                    )
            start = exp.restore(checkpoints) if checkpoints else 0
            if start:
                log.info("resuming %d member(s) at epoch %d", len(pending), start)
                _log_resumed_code([r for _, r in pending])
            exp.run(start_epoch=start)
    return runs


def train(
    cfg: Config,
    out: Path,
    quiet: bool = False,
    seeds: Sequence[int] | None = None,
    noise: NoiseSource | None = None,
) -> list[RunDir]:
    """Train ``cfg`` (once, or once per seed as one batch); returns the new run directories.

    ``noise``: replay a given noise trace instead of drawing it (e.g.
    :func:`mc_experiments.replay.original_noise_source`; reference backend).

    The backend and the data are checked before any directory is created, so a config that
    cannot run here leaves nothing behind.
    """
    configs = [cfg] if not seeds else [cfg.with_seed(s) for s in seeds]
    problem = backend_problem(cfg)
    if problem:
        raise BackendUnavailable(problem)
    _held = [load_stage_data(c) for c in configs]  # fails here, before any directory
    paths = [
        create_run_dir(out, c.name if len(configs) == 1 else f"{c.name}_seed{c.seed}")
        for c in configs
    ]
    bar = ProgressBar(not quiet, cfg.name)
    try:
        with bar.logs_above():
            return run_group(configs, paths, bar, noise)
    finally:
        bar.close()


def _sweep_holder(run_dir: Path) -> dict | None:
    """The holder of the sweep lock when ``run_dir`` is a member of a sweep being run."""
    parent = run_dir.absolute().parent
    if parent.name == F.MEMBERS and (parent.parent / F.SWEEP).is_file():
        return F.DirLock.holder(parent.parent)
    return None


def resume(run_dir: Path, quiet: bool = False) -> RunDir:
    """Continue an interrupted or failed run from its last usable checkpoint (or the start).

    Raises
    ------
    FileNotFoundError
        When ``run_dir`` is not a run directory.
    mc_analysis.runformat.LockError
        When the run (or the sweep it belongs to) is being written by another process.
    ConfigError
        When ``config.yaml`` no longer matches the fingerprint recorded at the start, this
        version of the toolkit would resolve it differently, or a model package the run used
        is missing or changed (:func:`mc_experiments.plugins.check_run_plugins`).
    """
    run = RunDir(Path(run_dir))
    if is_original_run_dir(run.path):
        raise ConfigError(
            f"{run.path}: is a run of the original code ({F.CONFIG} and its HDF5 recordings), "
            f"not a run directory of this toolkit, so it cannot be resumed. `mc-run train "
            f"{run.path / F.CONFIG}` runs its config with the toolkit (a new run directory); "
            f"`mc-analyze run {run.path}` reports it"
        )
    if not (run.path / F.CONFIG).is_file():
        raise FileNotFoundError(f"{run.path}: not a run directory (no {F.CONFIG})")
    holder = _sweep_holder(run.path)
    if holder:
        raise F.LockError(
            f"{run.path}: is a member of the sweep {run.path.absolute().parent.parent}, which is "
            f"being run by {F.DirLock._describe(holder)}; let the sweep continue it"
        )
    with run.lock():
        run.refuse_links()
        if run.status().get("state") == F.RunState.COMPLETED:
            log.info("%s: already completed; nothing to do", run.path)
            return run
        raw = run.read_config()
        stored = run.config_fingerprint()
        if stored is not None and F.fingerprint(raw) != stored:
            raise ConfigError(
                f"{run.path / F.CONFIG}: changed since the run started (it no longer matches "
                f"the fingerprint in {F.ENVIRONMENT}); restore it, or train a new run"
            )
        check_run_plugins(run.path, run.environment())  # before its models are looked up
        cfg = config_from_dict(raw, source=str(run.path / F.CONFIG))
        _refuse_differences(
            raw,
            cfg.to_dict(),
            f"{run.path}: this version of the toolkit resolves the run's config differently, "
            "so the rest of the run would not continue the same experiment (config.yaml -> now)",
        )
        if stored is None:
            log.info("%s: legacy run directory (no config fingerprint): unverified", run.path)
        run.clean_temporaries()
        bar = ProgressBar(not quiet, cfg.name)
        try:
            with bar.logs_above(), _run_log([run]):
                ck = run.latest_checkpoint()  # what it sets aside is said in run.log too
                if ck is not None:
                    check_checkpoint_config(cfg, run, ck[1])
                exp = _experiment([cfg], [run], ck[1]["epoch"] if ck else 0, progress=bar)
                if ck is None:
                    _starting_again([run])
                    run.write_config(cfg.to_dict())
                    run.write_environment(_backend_info(cfg, exp), F.fingerprint(cfg.to_dict()))
                start = exp.restore([ck]) if ck else 0
                log.info("%s: resuming at epoch %d", run.path, start)
                if ck is not None:
                    _log_resumed_code([run])
                exp.run(start_epoch=start)
        finally:
            bar.close()
    return run


def batch_groups(configs: Sequence[Config], max_batch: int) -> list[list[int]]:
    """Indices of configs grouped for batching (same config up to the seed)."""
    groups: dict[str, list[int]] = {}
    for i, cfg in enumerate(configs):
        groups.setdefault(group_key(cfg), []).append(i)
    out = []
    for idx in groups.values():
        for k in range(0, len(idx), max_batch):
            out.append(idx[k : k + max_batch])
    return out
