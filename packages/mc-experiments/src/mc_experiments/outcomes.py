"""What became of a sweep's members: shared by the local and the Dask executor.

A member that fails on its own (an invalid config, a group that raises, non-finite values)
is recorded as ``failed`` with its error in its ``status.json``; the others go on, and
:class:`SweepResult` lists it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mc_analysis import runformat as F
from mc_experiments.storage import RunDir
from mc_experiments.sweep import Sweep

__all__ = [
    "ExecutorUnavailable",
    "SweepResult",
    "mark_failed",
    "member_states",
    "record_invalid",
]

log = logging.getLogger(__name__)


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
            if s.get("state") != F.RunState.COMPLETED
        }

    @property
    def ok(self) -> bool:
        """Whether every member completed."""
        return not self.failed


def member_states(run_dirs: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """The state of run directories from their ``status.json`` (name -> state, error)."""
    out = {}
    for p in run_dirs:
        try:
            status = RunDir(Path(p)).status()
        except F.CorruptFile as err:
            status = {"state": F.RunState.UNKNOWN.value, "error": str(err)}
        state = status.get("state", F.RunState.UNKNOWN.value)
        error = None
        if state != F.RunState.COMPLETED:
            error = status.get("error") or f"ended in state {state!r}"
        out[Path(p).name] = {"state": state, "error": error}
    return out


def mark_failed(run_dirs: Sequence[Path], error: str) -> None:
    """Record ``failed`` with ``error`` for every member that has not completed or failed.

    A member directory another process is writing (its lock is held) is left alone.
    """
    for p in run_dirs:
        run = RunDir(Path(p))
        run.path.mkdir(parents=True, exist_ok=True)
        if F.DirLock.holder(run.path) is not None:
            continue
        try:
            status = run.status()
        except F.CorruptFile:
            status = {}
        if status.get("state") in (F.RunState.COMPLETED, F.RunState.FAILED):
            continue
        run.set_status(
            F.RunState.FAILED, error=error, epochs_completed=status.get("epochs_completed", 0)
        )


def record_invalid(sweep: Sweep, sweep_dir: Path) -> dict[str, dict[str, Any]]:
    """Write ``failed`` for every member whose config is invalid (the others still run)."""
    states = {}
    for m in sweep.invalid:
        error = f"invalid config: {m.error}"
        log.error("member %s: %s", m.name, error)
        run = RunDir(F.member_dir(sweep_dir, m.name))  # names were checked by load_sweep
        run.path.mkdir(parents=True, exist_ok=True)
        run.set_status(F.RunState.FAILED, error=error, epochs_completed=0)
        states[m.name] = {"state": F.RunState.FAILED.value, "error": error}
    return states
