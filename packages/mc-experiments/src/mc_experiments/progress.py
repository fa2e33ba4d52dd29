"""What a run shows on the console while it works: a progress bar, and log lines above it.

The bar (:class:`ProgressBar`) counts samples and shows the epoch and the last validation
accuracy. The per-epoch results are logged to :data:`PROGRESS_LOGGER`, whose records every
run's ``run.log`` gets; ``mc-run`` shows them on the console only with ``-v``
(:class:`HideProgress`). While a bar is shown, console log records are written above it
(:func:`logs_above`), never into it, each console handler keeping its level and filters.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PROGRESS_LOGGER", "HideProgress", "ProgressBar", "logs_above"]

#: The logger of per-epoch results (validation accuracy per epoch, each member's test
#: accuracy): always in ``run.log``, on ``mc-run``'s console with ``-v`` only.
PROGRESS_LOGGER = "mc_experiments.progress"


class HideProgress(logging.Filter):
    """Drop the info records of :data:`PROGRESS_LOGGER` (the bar shows them); keep the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether the console shows ``record``."""
        return record.levelno >= logging.WARNING or not record.name.startswith(PROGRESS_LOGGER)


class _AboveBar(logging.Handler):
    """Write what ``handler`` would write, through ``tqdm.write`` (above any bar)."""

    def __init__(self, handler: logging.StreamHandler) -> None:
        super().__init__(handler.level)
        self.setFormatter(handler.formatter)
        self.filters = list(handler.filters)
        self.stream = handler.stream

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # noqa: BLE001 - logging must not raise
            self.handleError(record)


def _is_console(handler: logging.Handler) -> bool:
    return type(handler) is logging.StreamHandler and handler.stream in (sys.stdout, sys.stderr)


@contextmanager
def logs_above() -> Iterator[None]:
    """Route the root logger's console handlers through ``tqdm.write`` meanwhile.

    Unlike ``tqdm.contrib.logging.logging_redirect_tqdm``, each handler keeps its level and
    its filters (a console that shows warnings only still shows warnings only).
    """
    root = logging.getLogger()
    before = list(root.handlers)
    root.handlers = [_AboveBar(h) if _is_console(h) else h for h in before]
    try:
        yield
    finally:
        root.handlers = before


class ProgressBar:
    """A tqdm bar over samples with ETA, the epoch and the last validation accuracy (or nothing).

    Use :meth:`logs_above` around the work: log lines are then printed above the bar
    instead of being glued to it.
    """

    def __init__(self, enabled: bool, desc: str) -> None:
        self.enabled, self.desc, self.bar = enabled, desc, None

    def __call__(self, done: int, total: int, postfix: dict) -> None:
        """Update the bar to ``done`` of ``total`` samples."""
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="sample", dynamic_ncols=True)
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(done - self.bar.n)  # honours tqdm's minimum refresh interval

    @contextmanager
    def logs_above(self) -> Iterator[None]:
        """Route console log records above the bar while it may be shown."""
        if not self.enabled:
            yield
            return
        with logs_above():
            yield

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.close()
