"""The SLURM executor: a sweep's batched groups as one SLURM job array, no Dask needed.

:func:`submit_sweep` writes one submission into the sweep directory and hands it to sbatch;
it returns at once with the job id::

    <sweep dir>/slurm/<k>/job.sh         the batch script (sbatch --array, one task per group)
    <sweep dir>/slurm/<k>/tasks.json     task index -> its members, their configs
    <sweep dir>/slurm/<k>/submitted.json the job id (absent for --dry-run)
    <sweep dir>/slurm/<k>/logs/<job>_<task>.out   every task's console output

Each task runs ``mc-run sweep-task <sweep dir>/slurm/<k> <index>`` (:func:`run_task`): its
group in the members' fixed run directories, as the local executor would. A task that is
cancelled, preempted, requeued or killed at its time limit gets SIGTERM and records its
members as interrupted at their last epoch checkpoint; requeued by SLURM, or submitted
again (``mc-run sweep SWEEP --executor slurm --dir DIR`` submits the groups that have not
completed and are not queued; ``sbatch job.sh`` runs the array again), it resumes from that
checkpoint, bit-identical to a run that was never interrupted.

``mc-run sweep --status DIR`` (:mod:`mc_experiments.sweep_status`) shows every member's
state from its run directory, with its task and, while SLURM holds the task, its queue state.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mc_analysis import runformat as F
from mc_analysis.bounded import load_yaml
from mc_experiments.config import ConfigError, config_from_dict
from mc_experiments.outcomes import member_states, record_invalid
from mc_experiments.storage import atomic_write_bytes, atomic_write_json
from mc_experiments.sweep import Sweep, SweepMember, group_members, group_resources, open_sweep_dir

__all__ = [
    "LOGS",
    "Submission",
    "run_task",
    "submissions",
    "submit_sweep",
]

log = logging.getLogger(__name__)
SLURM_DIR = "slurm"
SCRIPT = "job.sh"
TASKS = "tasks.json"
SUBMITTED = "submitted.json"
LOGS = "logs"
TASKS_FORMAT = 1
_MAX_TASKS_BYTES = F.MAX_SWEEP_RECORD_BYTES


@dataclass(frozen=True)
class Submission:
    """One job array written into a sweep directory (and submitted, unless a dry run).

    Attributes
    ----------
    directory
        ``<sweep dir>/slurm/<k>``.
    script
        Its batch script.
    tasks
        The member names of every task, by array index.
    job_id
        SLURM's job id; ``None`` for a dry run.
    """

    directory: Path
    script: Path
    tasks: tuple[tuple[str, ...], ...]
    job_id: str | None


# ---------------------------------------------------------------------------- submitting
def submit_sweep(
    sweep: Sweep,
    cluster_config: Path | Mapping[str, Any],
    out: Path | None = None,
    directory: Path | None = None,
    dry_run: bool = False,
    on_config_change: str = "refuse",
    command: Sequence[str] = ("mc-run",),
) -> tuple[Path, list[Submission]]:
    """Submit the batched groups of ``sweep`` that still have work as SLURM job arrays.

    One array per distinct resource request (:func:`mc_experiments.sweep.group_resources`;
    one array for a sweep whose variants ask for the same resources), one task per group.
    Groups whose members all completed, and groups whose task of an earlier submission SLURM
    still holds (pending, running, requeued), are not submitted again.

    Parameters
    ----------
    sweep
        From :func:`mc_experiments.sweep.load_sweep` (invalid members are recorded as failed).
    cluster_config
        The cluster config (see :mod:`mc_experiments.slurm`).
    out, directory, on_config_change
        Where the sweep directory is, as for :func:`mc_experiments.executors.run_sweep`.
    dry_run
        Write the batch script (and the task list it reads) without submitting it; SLURM's
        commands are not needed.
    command
        How a task calls ``mc-run`` (in the environment the cluster config activates).

    Returns
    -------
    tuple
        The sweep directory and the submissions made (empty when nothing was left to do).

    Raises
    ------
    ConfigError
        A bad cluster config (file, key and what is valid), a sweep directory path SLURM
        cannot carry.
    mc_experiments.slurm.SlurmUnavailable
        sbatch or squeue not on ``PATH`` (not for a dry run).
    mc_experiments.slurm.JobRejected
        sbatch refused the job (SLURM's error text).

    On any of these the submission is removed again, and so is a sweep directory this call
    created (unless an earlier array of the same call was submitted: it is named).
    """
    from mc_experiments import slurm

    config = slurm.load_slurm_config(cluster_config)
    if not dry_run:
        slurm.check_commands("sbatch", "squeue")
    workdir = Path.cwd()
    slurm.check_path(workdir, "working directory")
    existed = directory is not None and Path(directory).exists()
    submissions: list[Submission] = []
    remove: Path | None = None
    with open_sweep_dir(sweep, out, directory, on_config_change) as sweep_dir:
        sweep_dir = sweep_dir.absolute()
        new_here = not existed or sweep_dir != Path(directory).absolute()
        try:
            slurm.check_path(sweep_dir, "sweep directory")
            record_invalid(sweep, sweep_dir)
            todo = _groups_to_submit(sweep, sweep_dir, dry_run)
            buckets: dict[tuple, list[list[SweepMember]]] = {}
            for group in todo:
                key = tuple(sorted(group_resources(group).items()))
                buckets.setdefault(key, []).append(group)
            for key, groups in buckets.items():
                submissions.append(
                    _submit_array(
                        sweep, sweep_dir, groups, dict(key), config, workdir, dry_run, command
                    )
                )
        except Exception:  # a refusal: nothing of it stays behind
            if submissions:
                log.error(
                    "sweep %s: submitted before the error: %s",
                    sweep.name,
                    ", ".join(f"job {s.job_id} ({s.script})" for s in submissions),
                )
            elif new_here:
                remove = sweep_dir
            raise
        finally:
            if remove is not None:
                shutil.rmtree(remove)  # created by this call, nothing submitted from it
    if not todo:
        log.info("sweep %s: every group has completed or is queued; nothing to submit", sweep.name)
    return sweep_dir, submissions


def _groups_to_submit(sweep: Sweep, sweep_dir: Path, dry_run: bool) -> list[list[SweepMember]]:
    from mc_experiments import slurm

    held: dict[str, str] = {}
    if not dry_run:
        records = submissions(sweep_dir)
        queued = slurm.queued_tasks(r["job_id"] for r in records if r["job_id"])
        for r in records:
            for index, names in enumerate(r["tasks"]):
                task = f"{r['job_id']}_{index}"
                if task in queued:
                    held.update({n: task for n in names})
    todo = []
    for group in group_members(sweep):
        paths = [F.member_dir(sweep_dir, m.name) for m in group]
        states = member_states(paths)
        if all(s["state"] == F.RunState.COMPLETED for s in states.values()):
            continue
        tasks = sorted({held[m.name] for m in group if m.name in held})
        if tasks:
            log.info(
                "group %s: still queued as SLURM task %s; not submitted again",
                ", ".join(m.name for m in group),
                ", ".join(tasks),
            )
            continue
        todo.append(group)
    return todo


def _job_name(sweep: Sweep) -> str:
    return "mc-" + re.sub(r"[^A-Za-z0-9_.-]", "_", sweep.name)


def _new_submission_dir(sweep_dir: Path) -> Path:
    parent = sweep_dir / SLURM_DIR
    parent.mkdir(exist_ok=True)
    taken = [int(p.name) for p in parent.iterdir() if p.name.isdigit()]
    k = max(taken, default=0) + 1
    while True:
        path = parent / str(k)
        try:
            path.mkdir()  # exclusive: never reuses a submission
            return path
        except FileExistsError:
            k += 1


def _submit_array(
    sweep: Sweep,
    sweep_dir: Path,
    groups: list[list[SweepMember]],
    resources: Mapping[str, float],
    config: Any,
    workdir: Path,
    dry_run: bool,
    command: Sequence[str],
) -> Submission:
    from mc_experiments import slurm

    sub = _new_submission_dir(sweep_dir)
    try:
        (sub / LOGS).mkdir()
        tasks = [
            {
                "members": [
                    {"name": m.name, "fingerprint": m.fingerprint, "config": m.config.to_dict()}
                    for m in group
                ]
            }
            for group in groups
        ]
        atomic_write_json(
            sub / TASKS,
            {
                "format_version": TASKS_FORMAT,
                "sweep": sweep.name,
                "resubmit": _resubmit_command(sweep, sweep_dir, config.source),
                "tasks": tasks,
            },
        )
        script = slurm.batch_script(
            config,
            job_name=_job_name(sweep),
            n_tasks=len(groups),
            resources=resources,
            output=sub / LOGS / "%A_%a.out",
            workdir=workdir,
            command=[*command, "sweep-task", str(sub)],
            comment=[
                f"sweep {sweep.name}: {len(groups)} batched group(s), one task each "
                f"({sum(map(len, groups))} members); written by mc-run sweep --executor slurm",
                f"the tasks' members and configs: {sub / TASKS}",
                "submit it again (after editing, say) with: sbatch " + str(sub / SCRIPT),
            ],
        )
        atomic_write_bytes(sub / SCRIPT, script.encode())
        (sub / SCRIPT).chmod(0o755 & ~_umask())
        names = tuple(tuple(m.name for m in g) for g in groups)
        if dry_run:
            log.info("dry run: %s (%d task(s)) written, not submitted", sub / SCRIPT, len(groups))
            return Submission(sub, sub / SCRIPT, names, None)
        job_id = slurm.sbatch(sub / SCRIPT)
    except BaseException as err:
        shutil.rmtree(sub, ignore_errors=True)  # nothing was submitted from it
        if isinstance(err, slurm.JobRejected):
            raise slurm.JobRejected(
                f"sweep {sweep.name}: SLURM refused the job array of {len(groups)} task(s) "
                f"(nothing was submitted; cluster config {config.source}): {err}"
            ) from None
        raise
    _write_submitted(sub, job_id, "mc-run sweep --executor slurm")
    log.info(
        "sweep %s: submitted job array %s (%d task(s), %s) -> %s",
        sweep.name,
        job_id,
        len(groups),
        ", ".join(f"{k}={v:g}" for k, v in resources.items()) or "the config's resources",
        sub,
    )
    return Submission(sub, sub / SCRIPT, names, job_id)


def _write_submitted(sub: Path, job_id: str, how: str) -> None:
    atomic_write_json(
        sub / SUBMITTED,
        {
            "job_id": job_id,
            "submitted": datetime.now(UTC).isoformat(),
            "host": socket.gethostname(),
            "how": how,
        },
    )


def _resubmit_command(sweep: Sweep, sweep_dir: Path, cluster_config: str) -> str:
    """The command that submits what is left of the sweep again."""
    profile = ["--profile", sweep.profile] if sweep.profile else []
    return shlex.join(
        ["mc-run", "sweep", sweep.source, *profile, "--executor", "slurm"]
        + ["--cluster-config", cluster_config, "--dir", str(sweep_dir)]
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------- records
def _read_json(path: Path) -> Any:
    size = path.stat().st_size
    if size > _MAX_TASKS_BYTES:
        raise F.CorruptFile(f"{path}: {size} bytes, more than a submission record holds")
    try:
        return json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        raise F.CorruptFile(f"{path}: not valid JSON ({err}); the file is garbled") from None


def _read_tasks(sub: Path) -> tuple[list[list[dict[str, Any]]], str]:
    """The members of every task of a submission, and the command that submits again."""
    path = sub / TASKS
    if not path.is_file():
        raise FileNotFoundError(f"{sub}: not a submission of a sweep (no {TASKS})")
    data = _read_json(path)
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if data.get("format_version") != TASKS_FORMAT or not isinstance(tasks, list):
        raise F.CorruptFile(f"{path}: not a task list of format {TASKS_FORMAT}")
    out = []
    for i, t in enumerate(tasks):
        members = t.get("members") if isinstance(t, dict) else None
        if not isinstance(members, list) or not all(
            isinstance(m, dict) and isinstance(m.get("name"), str) for m in members
        ):
            raise F.CorruptFile(f"{path}: task {i} has no list of named members")
        out.append(members)
    resubmit = data.get("resubmit")
    return out, resubmit if isinstance(resubmit, str) else "mc-run sweep ... --executor slurm"


def submissions(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every submission of a sweep directory in order: directory, job id, member names."""
    parent = sweep_dir / SLURM_DIR
    if not parent.is_dir():
        return []
    out = []
    for sub in sorted((p for p in parent.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        try:
            tasks, _ = _read_tasks(sub)
        except (FileNotFoundError, F.CorruptFile) as err:
            log.warning("%s", err)
            continue
        job_id = None
        if (sub / SUBMITTED).is_file():
            record = _read_json(sub / SUBMITTED)
            job_id = str(record.get("job_id")) if isinstance(record, dict) else None
        out.append({"dir": sub, "job_id": job_id, "tasks": [[m["name"] for m in t] for t in tasks]})
    return out


# ---------------------------------------------------------------------------- the task
def run_task(submission: Path, index: int) -> int:
    """Run task ``index`` of a submission: one batched group (what a SLURM task runs).

    The members' configs come from the submission's ``tasks.json``; each must still have
    the fingerprint the sweep directory's ``sweep.yaml`` records for it, else nothing runs.
    Completed members are skipped and the others resume from their last common epoch
    checkpoint (:func:`mc_experiments.runner.run_group`).

    Returns
    -------
    int
        0 when every member of the group completed, 1 otherwise (the errors are in their
        ``status.json``).

    Raises
    ------
    ConfigError
        The index is not a task of the submission, or a config no longer matches the sweep.
    """
    from mc_experiments.executors import run_one_group
    from mc_experiments.protocol import Interrupted

    submission = Path(submission).absolute()
    tasks, resubmit = _read_tasks(submission)
    if not 0 <= index < len(tasks):
        raise ConfigError(f"{submission}: task {index}: the array has tasks 0-{len(tasks) - 1}")
    sweep_dir = submission.parent.parent
    record = load_yaml(
        sweep_dir / F.SWEEP,
        max_bytes=F.MAX_SWEEP_RECORD_BYTES,
        error=ConfigError,
        what="sweep record",
    )
    recorded = {
        m.get("name"): m.get("fingerprint")
        for m in (record or {}).get("members", [])
        if isinstance(m, dict)
    }
    configs, paths = [], []
    for m in tasks[index]:
        cfg = config_from_dict(m.get("config"), source=f"{submission / TASKS} [{m['name']}]")
        fp = F.fingerprint(cfg.to_dict())
        if fp != m.get("fingerprint") or recorded.get(m["name"]) != fp:
            raise ConfigError(
                f"{submission / TASKS}: member {m['name']}: its config is not the one "
                f"{sweep_dir / F.SWEEP} records (the sweep directory was continued with "
                "other configs?); nothing was run"
            )
        configs.append(cfg)
        paths.append(F.member_dir(sweep_dir, m["name"]))
    env = os.environ
    job_id = env.get("SLURM_ARRAY_JOB_ID")
    if job_id and job_id.isdigit() and not (submission / SUBMITTED).is_file():
        # submitted by hand (a --dry-run script): record the job for --status
        _write_submitted(submission, job_id, "sbatch by hand")
    log.info(
        "SLURM task %s_%s (job %s, restart %s) on %s: %s",
        env.get("SLURM_ARRAY_JOB_ID", "?"),
        env.get("SLURM_ARRAY_TASK_ID", index),
        env.get("SLURM_JOB_ID", "?"),
        env.get("SLURM_RESTART_COUNT", "0"),
        socket.gethostname(),
        ", ".join(p.name for p in paths),
    )
    try:
        states = run_one_group(configs, paths)
    except KeyboardInterrupt:  # SIGTERM: scancel, preemption, requeue, the time limit
        log.warning(
            "SLURM task stopped: requeued, it resumes by itself from the members' last "
            "checkpoint; cancelled, it resumes when what is left of the sweep is submitted again"
        )
        raise Interrupted(resubmit) from None
    failed = {k: s for k, s in states.items() if s["state"] != F.RunState.COMPLETED}
    for name, s in failed.items():
        log.error("member %s: %s: %s", name, s["state"], s["error"])
    return 1 if failed else 0
