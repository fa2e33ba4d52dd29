"""Test-only Dask worker plugin: kill a worker process right after it writes a checkpoint.

Registered by the tests on their cluster (``client.register_plugin``); it patches
:meth:`mc_experiments.protocol.Experiment.checkpoint` inside every worker process (workers
that join later get it too). The first task that has just written a checkpoint and can delete
the request file ends its worker with ``os._exit``, exactly once per request file, the way a
killed batch job or a lost node ends a worker.
"""

from __future__ import annotations

import logging
import os

from distributed.diagnostics.plugin import WorkerPlugin

log = logging.getLogger("mc_experiments.tests")  # reaches every member's run.log


class KillAfterCheckpoint(WorkerPlugin):
    """Kill the worker that writes the first checkpoint after ``request`` was created."""

    name = "kill-after-checkpoint"

    def __init__(self, request: str) -> None:
        self.request = request
        self._original = None

    def setup(self, worker: object) -> None:
        from mc_experiments import protocol

        original = protocol.Experiment.checkpoint
        request = self.request

        def checkpoint(exp: protocol.Experiment, epoch: int) -> None:
            original(exp, epoch)
            try:
                os.unlink(request)  # only one process can claim the request
            except FileNotFoundError:
                return
            log.warning(
                "test hook: killing this worker (pid %d) after the checkpoint at epoch %d",
                os.getpid(),
                epoch,
            )
            os._exit(17)

        self._original = original
        protocol.Experiment.checkpoint = checkpoint

    def teardown(self, worker: object) -> None:
        from mc_experiments import protocol

        if self._original is not None:
            protocol.Experiment.checkpoint = self._original
