"""What became of a sweep's members so far: ``mc-run sweep --status DIR``.

Read from the sweep directory alone: every member's ``status.json`` (its state, epochs,
error) and, for a sweep submitted with ``--executor slurm``, the task that last ran or runs
each member (from the submissions in ``<sweep dir>/slurm/``). SLURM is asked (squeue) only
for the queue state of those tasks, and only where squeue is on ``PATH``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mc_analysis import runformat as F
from mc_analysis.bounded import load_yaml
from mc_experiments.config import ConfigError
from mc_experiments.executors_slurm import LOGS, submissions
from mc_experiments.storage import RunDir

__all__ = ["MemberStatus", "format_status", "sweep_status"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemberStatus:
    """One member of a sweep as ``mc-run sweep --status`` shows it.

    ``state`` is the run directory's (``completed``, ``running``, ``interrupted``,
    ``failed``, ``unknown``) or ``not started``; ``task`` the SLURM task that last ran or
    runs it (``<array job id>_<index>``), ``queue`` SLURM's state of that task while SLURM
    holds it (``PENDING``, ``RUNNING``, ...), ``log`` its output file.
    """

    name: str
    state: str
    epochs: str
    task: str | None = None
    queue: str | None = None
    error: str | None = None
    log: Path | None = None


def sweep_status(sweep_dir: Path) -> list[MemberStatus]:
    """Every member's state from its run directory, with its SLURM task where it has one.

    SLURM is asked (squeue) only when the sweep was submitted and squeue is on ``PATH``.
    """
    from mc_experiments import slurm

    sweep_dir = Path(sweep_dir)
    record = load_yaml(
        sweep_dir / F.SWEEP,
        max_bytes=F.MAX_SWEEP_RECORD_BYTES,
        error=ConfigError,
        what="sweep record",
    )
    members = (record or {}).get("members") if isinstance(record, dict) else None
    if not isinstance(members, list):
        raise ConfigError(f"{sweep_dir / F.SWEEP}: no list of members; not a sweep directory")
    last_task: dict[str, tuple[str, Path]] = {}
    records = [r for r in submissions(sweep_dir) if r["job_id"]]  # dry runs ran nothing
    for r in records:
        for index, names in enumerate(r["tasks"]):
            task = f"{r['job_id']}_{index}"
            log_path = r["dir"] / LOGS / f"{task}.out"
            last_task.update({n: (task, log_path) for n in names})
    queued: dict[str, str] = {}
    ids = [r["job_id"] for r in records]
    if ids and shutil.which("squeue"):
        try:
            queued = slurm.queued_tasks(ids)
        except slurm.JobRejected as err:
            log.warning("the SLURM queue is not known: %s", err)
    out = []
    for m in members:
        name = m.get("name") if isinstance(m, dict) else None
        if not isinstance(name, str):
            continue
        path = F.member_dir(sweep_dir, name)
        status = _member_status(path)
        task, log_path = last_task.get(name, (None, None))
        state = status.get("state", "not started")
        if status.get("stale"):
            state = "stopped"  # running, but nobody holds the lock
        total = _n_epochs(path)
        done = status.get("epochs_completed")
        epochs = f"{done if done is not None else '-'}/{total if total is not None else '?'}"
        out.append(
            MemberStatus(
                name=name,
                state=state,
                epochs=epochs,
                task=task,
                queue=queued.get(task) if task else None,
                error=status.get("error") if state != F.RunState.COMPLETED else None,
                log=log_path if log_path is not None and log_path.is_file() else None,
            )
        )
    return out


def _member_status(path: Path) -> dict[str, Any]:
    if not (path / F.STATUS).is_file():
        return {}
    try:
        return RunDir(path).status()
    except F.CorruptFile as err:
        return {"state": F.RunState.UNKNOWN.value, "error": str(err)}


def _n_epochs(path: Path) -> int | None:
    try:
        cfg = RunDir(path).read_config() if (path / F.CONFIG).is_file() else None
    except (F.CorruptFile, ConfigError, ValueError):
        return None
    protocol = cfg.get("protocol") if isinstance(cfg, dict) else None
    n = protocol.get("n_epochs") if isinstance(protocol, dict) else None
    return n if isinstance(n, int) else None


def format_status(sweep_dir: Path, rows: Sequence[MemberStatus]) -> str:
    """The table ``mc-run sweep --status`` prints, then one line per member that failed."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    head = ("member", "state", "epochs", "slurm task", "queue")
    table = [head] + [(r.name, r.state, r.epochs, r.task or "-", r.queue or "-") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = [f"sweep directory {sweep_dir}: " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    for row in table:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for r in rows:
        if r.error and r.state != "not started":
            where = ""
            if r.task:
                where = f" (SLURM task {r.task}" + (f", output {r.log})" if r.log else ")")
            error = r.error if len(r.error) <= 2000 else r.error[:1997] + "..."
            lines.append(f"{r.name}{where}: {error}")
    return "\n".join(lines)
