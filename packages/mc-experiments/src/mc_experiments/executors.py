"""Where the members of a sweep run: on this machine, or on a Dask cluster.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mc_experiments.storage import RunDir
from mc_experiments.sweep import (
    Sweep,
    SweepMember,
    group_members,
    parse_memory,
    prepare_sweep_dir,
)

__all__ = [
    "EXECUTORS",
    "ExecutorUnavailable",
    "SweepResult",
    "dask_resources",
    "member_states",
    "run_sweep",
]

log = logging.getLogger(__name__)
EXECUTORS = ("local", "dask")


class ExecutorUnavailable(ImportError):
    """The requested executor needs a package that is not installed."""


@dataclass
class SweepResult:
    """What became of a sweep's members.

    Attributes
    ----------
    directory
        The sweep directory.
    states
        Member name -> ``{"state": ..., "error": ...}`` (``state`` is ``completed`` or
        ``failed``; ``error`` is ``None`` for completed members).
    """

    directory: Path
    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failed(self) -> dict[str, str]:
        """Member name -> error of every member that did not complete."""
        return {
            name: str(s.get("error") or f"ended in state {s.get('state')!r}")
            for name, s in self.states.items()
            if s.get("state") != "completed"
        }

    @property
    def ok(self) -> bool:
        """Whether every member completed."""
        return not self.failed


def member_states(run_dirs: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """The state of run directories from their ``status.json`` (name -> state, error)."""
    out = {}
    for p in run_dirs:
        status = RunDir(Path(p)).status()
        state = status.get("state", "unknown")
        error = None
        if state != "completed":
            error = status.get("error") or f"ended in state {state!r}"
        out[Path(p).name] = {"state": state, "error": error}
    return out


def mark_failed(run_dirs: Sequence[Path], error: str) -> None:
    """Record ``failed`` with ``error`` for every member that has not completed or failed."""
    for p in run_dirs:
        run = RunDir(Path(p))
        run.path.mkdir(parents=True, exist_ok=True)
        status = run.status()
        if status.get("state") in ("completed", "failed"):
            continue
        run.set_status("failed", error=error, epochs_completed=status.get("epochs_completed", 0))


def dask_resources(members: Sequence[SweepMember]) -> dict[str, float]:
    """The Dask resources one batched group of ``members`` asks for.

    ``cores`` -> ``"cores"``, ``gpu`` -> ``"GPU"``, ``memory`` -> ``"memory"`` (bytes); the
    largest request of the group counts and zero requests are left out. Members on the
    ``genn`` backend with ``device: cuda`` ask for ``GPU=1`` unless their ``gpu`` is set.
    Workers must advertise the same names (``dask worker --resources "cores=4,GPU=1"``), or
    the tasks wait for such a worker.
    """
    out: dict[str, float] = {}
    for m in members:
        res = dict(m.resources)
        if res.get("gpu") is None and m.config is not None:
            backend = m.config.backend
            if backend.name == "genn" and str(backend.options.get("device", "")).lower() == "cuda":
                res["gpu"] = 1
        wanted = {
            "cores": res.get("cores"),
            "GPU": res.get("gpu"),
            "memory": parse_memory(res["memory"]) if res.get("memory") is not None else None,
        }
        for key, value in wanted.items():
            if value:
                out[key] = max(out.get(key, 0), value)
    return out


def _record_invalid(sweep: Sweep, sweep_dir: Path) -> dict[str, dict[str, Any]]:
    states = {}
    for m in sweep.invalid:
        error = f"invalid config: {m.error}"
        log.error("member %s: %s", m.name, error)
        run = RunDir(sweep_dir / "members" / m.name)
        run.path.mkdir(parents=True, exist_ok=True)
        run.set_status("failed", error=error, epochs_completed=0)
        states[m.name] = {"state": "failed", "error": error}
    return states


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
        the others resume from their checkpoints).
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

    Returns
    -------
    SweepResult
        The sweep directory and every member's final state.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; use one of {EXECUTORS}")
    if executor == "local" and (scheduler or cluster):
        raise ValueError("scheduler/cluster need executor='dask'")
    if executor == "dask":
        from mc_experiments.executors_dask import check_dask

        check_dask()  # fail before creating a sweep directory
    sweep_dir = prepare_sweep_dir(sweep, out, directory)
    groups = group_members(sweep)
    log.info(
        "sweep %s: %d members in %d batched group(s) -> %s",
        sweep.name,
        len(sweep.members),
        len(groups),
        sweep_dir,
    )
    states = _record_invalid(sweep, sweep_dir)
    if executor == "local":
        states.update(_run_local(sweep, sweep_dir, groups, quiet))
    else:
        from mc_experiments.executors_dask import run_groups

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
    from mc_experiments.runner import ProgressBar, run_group

    states = {}
    for gi, group in enumerate(groups):
        paths = [sweep_dir / "members" / m.name for m in group]
        bar = ProgressBar(not quiet, f"{sweep.name} [{gi + 1}/{len(groups)}]")
        try:
            run_group([m.config for m in group], paths, bar)
        except Exception as err:  # a group that fails on its own does not stop the others
            error = f"{type(err).__name__}: {err}"
            log.error("group %s failed: %s", ", ".join(m.name for m in group), error)
            log.debug("traceback", exc_info=True)
            mark_failed(paths, error)
        finally:
            bar.close()
        states.update(member_states(paths))
    return states
