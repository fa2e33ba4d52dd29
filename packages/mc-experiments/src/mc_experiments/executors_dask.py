"""The Dask executor: every batched group of a sweep is one Dask task.

This module imports Dask; :mod:`mc_experiments.executors` imports it only when
``executor="dask"`` is asked for, so mc-experiments works without Dask installed.

Clusters
--------
- an existing scheduler: ``dask scheduler`` on one machine, ``dask worker tcp://HOST:8786``
  on others (``--nthreads 1`` recommended; ``--resources "cores=4,GPU=1"`` when the sweep
  declares ``resources``);
- ``cluster="local"``: a :class:`distributed.LocalCluster` of single-threaded worker
  processes on this machine;
- ``cluster="slurm"`` / ``"pbs"``: dask-jobqueue starts workers as batch jobs, configured by a
  YAML file (see :func:`jobqueue_kwargs` and ``configs/clusters/slurm.example.yaml``).

Fault tolerance: a group that raises is retried ``retries`` times; a group whose worker dies
(killed job, lost node) is rescheduled by Dask on another worker, up to
``distributed.scheduler.allowed-failures`` times (Dask's default: 3). Every attempt runs
:func:`mc_experiments.runner.run_group` in the member's fixed run directories, so it skips
completed members and resumes from the last epoch checkpoint.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mc_analysis import runformat as F
from mc_analysis.bounded import load_yaml
from mc_experiments.config import Config, ConfigError
from mc_experiments.outcomes import ExecutorUnavailable, mark_failed, member_states
from mc_experiments.sweep import Sweep, SweepMember, group_resources

__all__ = [
    "check_dask",
    "check_jobqueue",
    "dask_resources",
    "jobqueue_kwargs",
    "open_client",
    "run_group_task",
    "run_groups",
]

log = logging.getLogger(__name__)
INSTALL_HINT = "pip install 'mc-experiments[dask]'"
_CONFIG_KEYS = ("jobs", "adapt", "worker_resources")


def check_dask(jobqueue: bool = False) -> None:
    """Raise ``ExecutorUnavailable`` (with the install command) when Dask is missing."""
    try:
        import distributed  # noqa: F401

        if jobqueue:
            import dask_jobqueue  # noqa: F401
    except ImportError as err:
        what = "dask-jobqueue" if jobqueue else "Dask distributed"
        raise ExecutorUnavailable(
            f"the dask executor needs {what}, which is not installed: {INSTALL_HINT}"
        ) from err


def dask_resources(members: Sequence[SweepMember]) -> dict[str, float]:
    """The Dask resources one batched group of ``members`` asks for.

    :func:`mc_experiments.sweep.group_resources` under Dask's names: ``cores`` -> ``"cores"``,
    ``gpu`` -> ``"GPU"``, ``memory`` -> ``"memory"`` (bytes). Workers must advertise the same
    names (``dask worker --resources "cores=4,GPU=1"``), or the tasks wait for such a worker.
    """
    names = {"cores": "cores", "gpu": "GPU", "memory": "memory"}
    return {names[k]: v for k, v in group_resources(members).items()}


# ---------------------------------------------------------------------------- the task
def run_group_task(configs: Sequence[Config], run_dirs: Sequence[str]) -> dict[str, dict]:
    """Run one batched group on a worker (the Dask task).

    Parameters
    ----------
    configs
        The members' configs (differing only in their seed).
    run_dirs
        The members' run directories on shared storage (fixed names: a retry resumes there).

    Returns
    -------
    dict
        Member name -> ``{"state": ..., "error": ...}`` after the run.
    """
    from mc_experiments.runner import run_group

    mc_log = logging.getLogger("mc_experiments")
    level = mc_log.level
    if mc_log.getEffectiveLevel() > logging.INFO:
        mc_log.setLevel(logging.INFO)  # run.log gets the info messages on workers too
    paths = [Path(p) for p in run_dirs]
    try:
        run_group(list(configs), paths, progress=None)
    finally:
        mc_log.setLevel(level)
    return member_states(paths)


# ---------------------------------------------------------------------------- clusters
def _load_cluster_config(
    cluster_config: Path | Mapping[str, Any] | None,
) -> tuple[dict[str, Any], str]:
    """The cluster config and what to call it in messages (its file)."""
    if cluster_config is None:
        return {}, "cluster config"
    if isinstance(cluster_config, Mapping):
        return dict(cluster_config), "cluster config"
    path = Path(cluster_config)
    data = load_yaml(path, error=ConfigError, what="cluster config file") or {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a cluster config must be a mapping")
    return dict(data), str(path)


def jobqueue_kwargs(
    config: Mapping[str, Any], workers: int | None = None, where: str = "cluster config"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a cluster config into dask-jobqueue cluster keywords and how to scale.

    The config's own keys are ``jobs`` (how many batch jobs to start; ``workers``, i.e.
    ``--workers``, overrides it), ``adapt`` (``{minimum_jobs: 0, maximum_jobs: 20}`` instead
    of a fixed number) and ``worker_resources`` (what each Dask worker advertises, e.g.
    ``{cores: 1, GPU: 1}``; default ``cores`` = cores per worker process). Every other key
    goes to :class:`dask_jobqueue.SLURMCluster` / ``PBSCluster``: ``cores``, ``memory``,
    ``processes`` (default: ``cores``, i.e. single-threaded workers), ``walltime``,
    ``queue``, ``account``, ``job_extra_directives``, ``job_script_prologue``,
    ``local_directory``, ``log_directory``, ...

    Returns
    -------
    tuple of dict
        The cluster keywords, and ``{"jobs": N}`` or ``{"adapt": {...}}``.
    """
    kwargs = {k: v for k, v in config.items() if k not in _CONFIG_KEYS}
    for key in ("cores", "memory"):
        if key not in kwargs:
            raise ConfigError(
                f"{where}: {key}: missing; cores and memory are required (per batch job, e.g. "
                "cores: 4, memory: 16GB); see configs/clusters/slurm.example.yaml for the other "
                "keys (dask_jobqueue's, with jobs, adapt, worker_resources)"
            )
    cores = int(kwargs["cores"])
    kwargs.setdefault("processes", cores)
    processes = int(kwargs["processes"])
    if processes < 1 or cores % processes:
        raise ConfigError(f"{where}: processes ({processes}) must divide cores ({cores})")
    resources = dict(config.get("worker_resources") or {"cores": cores // processes})
    if resources:
        spec = ",".join(f"{k}={v}" for k, v in resources.items())
        kwargs["worker_extra_args"] = [*kwargs.get("worker_extra_args", []), "--resources", spec]
    if workers is not None:
        scale: dict[str, Any] = {"jobs": int(workers)}
    elif config.get("adapt"):
        scale = {"adapt": dict(config["adapt"])}
    else:
        scale = {"jobs": int(config.get("jobs", 1))}
    return kwargs, scale


#: The commands dask-jobqueue runs for each kind of cluster.
_COMMANDS = {"slurm": ("sbatch", "squeue", "scancel"), "pbs": ("qsub", "qstat", "qdel")}


def check_jobqueue(kind: str, cluster_config: Any, workers: int | None = None) -> None:
    """Check a SLURM/PBS cluster before anything starts; the refusals name what is wrong.

    The cluster config's keys (:func:`jobqueue_kwargs`), the batch system's commands on
    ``PATH``, and for SLURM whether it would take the workers' job script (``sbatch
    --test-only``: a wrong partition, account, time limit or memory is refused now, with
    SLURM's message, instead of leaving the sweep waiting for workers that never start).

    Raises
    ------
    ConfigError
        A config that misses a key or has one dask-jobqueue does not know.
    mc_experiments.slurm.SlurmUnavailable
        A command is not on ``PATH``.
    mc_experiments.slurm.JobRejected
        SLURM would refuse the job script.
    """
    from mc_experiments import slurm

    kwargs, _, where, cls = _cluster_kwargs(kind, cluster_config, workers)
    job_keys = _init_parameters(cls.job_cls)
    known = job_keys | _init_parameters(cls) | {"job_kwargs"}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}; valid keys are mc-run's {list(_CONFIG_KEYS)} "
            f"and dask_jobqueue.{cls.__name__}'s {sorted(known - {'job_kwargs'})} (see "
            "configs/clusters/slurm.example.yaml)"
        )
    slurm.check_commands(*_COMMANDS[kind], who=f"--executor dask --cluster {kind}")
    if kind == "slurm":
        job_kwargs = {k: v for k, v in kwargs.items() if k in job_keys}
        try:
            script = cls.job_cls(scheduler="tcp://127.0.0.1:8786", **job_kwargs).job_script()
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: {err}") from None
        slurm.test_job(script, f"the Dask workers' job script of {where}")


def _init_parameters(cls: type) -> set[str]:
    """The keyword parameters of ``cls`` and its base classes."""
    import inspect

    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            params = inspect.signature(init).parameters.values()
            names |= {p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD}
    names -= {"self", "scheduler", "name", "workers", "worker", "job_cls", "loop"}
    return names


def _cluster_kwargs(
    kind: str, cluster_config: Any, workers: int | None
) -> tuple[dict[str, Any], dict[str, Any], str, type]:
    """The cluster keywords, how to scale, the config's name and dask-jobqueue's class."""
    check_dask(jobqueue=True)
    import dask_jobqueue

    config, where = _load_cluster_config(cluster_config)
    if not config:
        raise ConfigError(
            f"--cluster {kind}: needs --cluster-config FILE (see "
            "configs/clusters/slurm.example.yaml)"
        )
    kwargs, scale = jobqueue_kwargs(config, workers, where)
    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[kind]
    return kwargs, scale, where, cls


def _jobqueue_cluster(kind: str, cluster_config: Any, workers: int | None) -> Any:
    kwargs, scale, where, cls = _cluster_kwargs(kind, cluster_config, workers)
    try:
        cluster = cls(**kwargs)
    except TypeError as err:
        raise ConfigError(
            f"{where}: {err}; the keys are mc-run's (jobs, adapt, worker_resources) and "
            f"dask_jobqueue.{cls.__name__}'s, see configs/clusters/slurm.example.yaml"
        ) from None
    log.debug("job script:\n%s", cluster.job_script())
    if "adapt" in scale:
        cluster.adapt(**scale["adapt"])
    else:
        cluster.scale(jobs=scale["jobs"])
    log.info("%s cluster: %s", kind, scale)
    return cluster


@contextmanager
def open_client(
    scheduler: str | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    cluster_config: Path | Mapping[str, Any] | None = None,
    worker_resources: Mapping[str, float] | None = None,
) -> Iterator[Any]:
    """A :class:`distributed.Client` on an existing scheduler or on a cluster started here.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``).
    cluster
        ``"local"`` (default when no scheduler is given), ``"slurm"`` or ``"pbs"``.
    workers
        Workers of a LocalCluster (default: CPU count / cores per group) or jobs of a
        SLURM/PBS cluster.
    cluster_config
        The SLURM/PBS config (YAML file or mapping), see :func:`jobqueue_kwargs`.
    worker_resources
        Resources each LocalCluster worker advertises (so that tasks with resources run).

    Yields
    ------
    distributed.Client
        Closed again (with the cluster started here) on exit.
    """
    check_dask()
    with (
        _quiet_dask_logs(),
        _client(scheduler, cluster, workers, cluster_config, worker_resources) as client,
    ):
        yield client


@contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Dask's own info messages (workers starting, connections) only at warning level."""
    logger = logging.getLogger("distributed")
    level = logger.level
    if logger.getEffectiveLevel() < logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _client(
    scheduler: str | None,
    cluster: str | None,
    workers: int | None,
    cluster_config: Path | Mapping[str, Any] | None,
    worker_resources: Mapping[str, float] | None,
) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if scheduler and cluster:
        raise ConfigError("give either a scheduler address or a cluster to start, not both")
    if scheduler:
        if workers is not None:
            log.warning("the number of workers is ignored with a scheduler address")
        with Client(scheduler) as client:
            yield client
        return
    kind = cluster or "local"
    if kind == "local":
        per_worker = max(1, int((worker_resources or {}).get("cores", 1)))
        n = workers or max(1, (os.cpu_count() or 1) // per_worker)
        started = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            resources=dict(worker_resources) if worker_resources else None,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        )
        log.info("local cluster: %d worker process(es), resources %s", n, worker_resources or {})
    elif kind in ("slurm", "pbs"):
        started = _jobqueue_cluster(kind, cluster_config, workers)
    else:
        raise ConfigError(f"unknown cluster {kind!r}; use local, slurm or pbs")
    with started, Client(started) as client:
        yield client


# ---------------------------------------------------------------------------- the sweep
def _describe(err: BaseException) -> str:
    from distributed import KilledWorker

    if isinstance(err, KilledWorker):
        return (
            f"its worker died too often ({err}); raise distributed.scheduler.allowed-failures "
            "or look at the worker logs (memory limit? walltime?)"
        )
    return f"{type(err).__name__}: {err}"


def _check_resources(client: Any, requests: Sequence[Mapping[str, float]]) -> None:
    needed = [r for r in requests if r]
    if not needed:
        return
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # older distributed
        info = client.scheduler_info()
    offers = [w.get("resources", {}) for w in info.get("workers", {}).values()]
    if not offers:
        log.info("no workers yet; tasks wait for workers (resources asked: %s)", needed[0])
        return
    for req in {tuple(sorted(r.items())) for r in needed}:
        if not any(all(o.get(k, 0) >= v for k, v in req) for o in offers):
            spec = ",".join(f"{k}={v:g}" for k, v in req)
            log.warning(
                "no worker offers the resources %s; those groups wait until one joins "
                '(start workers with `dask worker ... --resources "%s"`)',
                dict(req),
                spec,
            )


class _MemberBar:
    """One tqdm bar over the sweep's members (or nothing)."""

    def __init__(self, enabled: bool, total: int, desc: str) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="member", dynamic_ncols=True)
        self.failed = 0

    def iterate(self, items: Iterable[Any]) -> Iterator[Any]:
        """Iterate, with log messages printed above the bar (not through it)."""
        if self.bar is None:
            yield from items
            return
        from mc_experiments.progress import logs_above

        with logs_above():
            yield from items

    def update(self, n: int, failed: int = 0) -> None:
        self.failed += failed
        if self.bar is not None:
            if self.failed:
                self.bar.set_postfix({"failed": self.failed}, refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_groups(
    sweep: Sweep,
    sweep_dir: Path,
    groups: Sequence[Sequence[SweepMember]],
    quiet: bool = False,
    scheduler: str | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    cluster_config: Path | Mapping[str, Any] | None = None,
    retries: int = 1,
) -> dict[str, dict[str, Any]]:
    """Submit every group as one task and wait for all of them.

    Returns
    -------
    dict
        Member name -> ``{"state": ..., "error": ...}`` of the members in ``groups``.
    """
    from distributed import as_completed

    if not groups:
        return {}
    # workers have their own working directory: give them absolute paths (not resolved, so
    # that a shared mount keeps the name it has on every machine)
    sweep_dir = Path(sweep_dir).absolute()
    requests = [dask_resources(g) for g in groups]
    offer: dict[str, float] = {}
    for r in requests:
        for k, v in r.items():
            offer[k] = max(offer.get(k, 0), v)
    states: dict[str, dict[str, Any]] = {}
    bar = _MemberBar(not quiet, len(sweep.members), sweep.name)
    bar.update(len(sweep.invalid), failed=len(sweep.invalid))
    try:
        with open_client(scheduler, cluster, workers, cluster_config, offer) as client:
            log.info(
                "dask scheduler %s (dashboard %s)", client.scheduler.address, client.dashboard_link
            )
            _check_resources(client, requests)
            futures = {}
            for group, req in zip(groups, requests, strict=True):
                paths = [str(F.member_dir(sweep_dir, m.name)) for m in group]
                fut = client.submit(
                    run_group_task,
                    [m.config for m in group],
                    paths,
                    pure=False,
                    retries=retries,
                    resources=req or None,
                )
                futures[fut] = (group, paths)
            try:
                for fut in bar.iterate(as_completed(futures)):
                    group, paths = futures[fut]
                    names = ", ".join(m.name for m in group)
                    if fut.status == "finished":
                        group_states = fut.result()
                    else:
                        error = (
                            _describe(fut.exception())
                            if fut.status == "error"
                            else f"task {fut.status}"
                        )
                        log.error("group %s failed: %s", names, error)
                        mark_failed([Path(p) for p in paths], error)
                        group_states = member_states([Path(p) for p in paths])
                    failed = {k: s for k, s in group_states.items() if s["state"] != "completed"}
                    for name, s in failed.items():
                        if fut.status == "finished":
                            log.error("member %s failed: %s", name, s["error"])
                    if not failed:
                        log.info("group %s: completed", names)
                    states.update(group_states)
                    bar.update(len(group), failed=len(failed))
            except BaseException:
                client.cancel(list(futures))
                raise
    finally:
        bar.close()
    return states
