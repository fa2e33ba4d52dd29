"""Where the members of a sweep run: on this machine, or on a Dask cluster.

(A SLURM job array, which is submitted and left to run, is :mod:`mc_experiments.executors_slurm`.)

``executor="local"`` runs the batched groups one after the other in this process (one
progress bar over samples per group). ``executor="dask"`` makes every batched group one Dask
task and runs them on a Dask cluster: an existing scheduler (``scheduler="tcp://host:8786"``,
workers started with ``dask worker``), a :class:`distributed.LocalCluster`
(``cluster="local"``) or SLURM/PBS jobs through dask-jobqueue (``cluster="slurm"`` with a
cluster config file, see ``configs/clusters/slurm.example.yaml``). Dask is an optional
dependency: ``pip install 'mc-experiments[dask]'``.

Both executors write into the same sweep directory layout: member ``m`` always runs in
``<sweep dir>/members/<m>`` (a fixed name, so a retried or continued group resumes from its
checkpoints there and never gets a second directory). For Dask the sweep directory must be on
storage that every worker sees at the same path.

A member fails on its own (an invalid config, a group that raises, non-finite output): it is
recorded as ``failed`` with its error in its ``status.json``, the others go on, and
:class:`SweepResult` lists it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mc_analysis import runformat as F
from mc_experiments.config import Config
from mc_experiments.executors_dask import check_dask, check_jobqueue, dask_resources, run_groups
from mc_experiments.outcomes import (
    ExecutorUnavailable,
    SweepResult,
    mark_failed,
    member_states,
    record_invalid,
)
from mc_experiments.protocol import Interrupted
from mc_experiments.sweep import Sweep, SweepMember, group_members, open_sweep_dir

__all__ = [
    "EXECUTORS",
    "ExecutorUnavailable",
    "SweepResult",
    "dask_resources",
    "member_states",
    "run_one_group",
    "run_sweep",
]

log = logging.getLogger(__name__)
EXECUTORS = ("local", "dask")


def run_sweep(
    sweep: Sweep,
    out: Path | None = None,
    quiet: bool = False,
    directory: Path | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    cluster_config: Path | Mapping[str, Any] | None = None,
    retries: int = 1,
    on_config_change: str = "refuse",
) -> SweepResult:
    """Run every member of a sweep (batched where possible) and report which failed.

    Parameters
    ----------
    sweep
        From :func:`mc_experiments.sweep.load_sweep` (``strict=False`` keeps invalid members;
        they are recorded as failed and the others run).
    out
        Parent folder of a new sweep directory (default ``runs/``).
    quiet
        No progress bar.
    directory
        The exact sweep directory; an existing one continues (completed members are skipped,
        the others resume from their checkpoints). It is locked while the sweep runs: a
        second ``run_sweep`` into it is refused, naming the holder.
    executor
        ``"local"`` (this process, one group after the other) or ``"dask"``.
    scheduler
        Dask: the address of a running scheduler (``tcp://host:8786``).
    cluster
        Dask: start a cluster instead: ``"local"`` (a LocalCluster), ``"slurm"`` or ``"pbs"``
        (dask-jobqueue, configured by ``cluster_config``). Without ``scheduler`` and
        ``cluster`` a LocalCluster is started.
    workers
        Dask: LocalCluster workers (default: the CPU count) or jobs of a SLURM/PBS cluster
        (default: ``jobs`` of the cluster config).
    cluster_config
        Dask: a YAML file (or mapping) for ``cluster="slurm"``/``"pbs"``; see
        :func:`mc_experiments.executors_dask.jobqueue_kwargs`.
    retries
        Dask: how often a group that raised is retried (a group whose worker died is
        rescheduled by Dask itself, up to ``distributed.scheduler.allowed-failures`` times).
        Every attempt resumes from the group's last checkpoint.
    on_config_change
        What a continued ``directory`` whose configs changed does: ``"refuse"`` (a
        :class:`~mc_experiments.config.ConfigError` listing the differences) or ``"new"``
        (continue into a new directory ``<directory>-N``); see
        :func:`mc_experiments.sweep.open_sweep_dir`.

    Returns
    -------
    SweepResult
        The sweep directory and every member's final state.
    """
    if executor == "slurm":
        raise ValueError(
            "a SLURM job array is submitted and left to run: use "
            "mc_experiments.submit_sweep (mc-run sweep --executor slurm)"
        )
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; use one of {EXECUTORS}")
    if executor == "local" and (scheduler or cluster):
        raise ValueError("scheduler/cluster need executor='dask'")
    if executor == "dask":
        check_dask()  # fail before creating a sweep directory
        if cluster in ("slurm", "pbs"):
            check_jobqueue(cluster, cluster_config, workers)
    with open_sweep_dir(sweep, out, directory, on_config_change) as sweep_dir:
        groups = group_members(sweep)
        log.info(
            "sweep %s: %d members in %d batched group(s) -> %s",
            sweep.name,
            len(sweep.members),
            len(groups),
            sweep_dir,
        )
        states = record_invalid(sweep, sweep_dir)
        try:
            if executor == "local":
                states.update(_run_local(sweep, sweep_dir, groups, quiet))
            else:
                states.update(
                    run_groups(
                        sweep,
                        sweep_dir,
                        groups,
                        quiet=quiet,
                        scheduler=scheduler,
                        cluster=cluster,
                        workers=workers,
                        cluster_config=cluster_config,
                        retries=retries,
                    )
                )
        except KeyboardInterrupt:
            profile = f" --profile {sweep.profile}" if sweep.profile else ""
            raise Interrupted(f"mc-run sweep {sweep.source}{profile} --dir {sweep_dir}") from None
    result = SweepResult(sweep_dir, {m.name: states[m.name] for m in sweep.members})
    if result.failed:
        log.error(
            "sweep %s: %d of %d member(s) failed:\n%s",
            sweep.name,
            len(result.failed),
            len(sweep.members),
            "\n".join(f"  {name}: {error}" for name, error in result.failed.items()),
        )
    else:
        log.info("sweep %s: all %d member(s) completed", sweep.name, len(sweep.members))
    return result


def _run_local(
    sweep: Sweep, sweep_dir: Path, groups: list[list[SweepMember]], quiet: bool
) -> dict[str, dict[str, Any]]:
    from mc_experiments.runner import ProgressBar

    states = {}
    for gi, group in enumerate(groups):
        paths = [F.member_dir(sweep_dir, m.name) for m in group]
        bar = ProgressBar(not quiet, f"{sweep.name} [{gi + 1}/{len(groups)}]")
        try:
            with bar.logs_above():
                states.update(run_one_group([m.config for m in group], paths, bar))
        finally:
            bar.close()
    return states


def run_one_group(
    configs: Sequence[Config], paths: Sequence[Path], progress: Callable | None = None
) -> dict[str, dict[str, Any]]:
    """Run one batched group here; a group that fails does not raise.

    What the local executor and a SLURM task run: members whose directories another process
    is writing are left alone (reported failed with the holder named), a group that raises
    has its unfinished members marked failed with the error. Ctrl-C and SIGTERM still stop it
    (the members are then recorded as interrupted).

    Returns
    -------
    dict
        Member name -> ``{"state": ..., "error": ...}`` after the run.
    """
    from mc_experiments.runner import run_group

    names = ", ".join(p.name for p in paths)
    try:
        run_group(list(configs), list(paths), progress)
    except F.LockError as err:  # another process writes these members: leave them alone
        log.error("group %s skipped: %s", names, err)
        return {p.name: {"state": "failed", "error": str(err)} for p in paths}
    except Exception as err:  # a group that fails on its own does not stop the others
        error = f"{type(err).__name__}: {err}"
        log.error("group %s failed: %s", names, error)
        log.debug("traceback", exc_info=True)
        mark_failed(paths, error)
    return member_states(paths)
