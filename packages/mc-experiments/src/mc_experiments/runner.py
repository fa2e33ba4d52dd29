"""High-level entry points: train one config, resume a run, run a sweep."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

from mc_experiments.config import Config, config_from_dict
from mc_experiments.protocol import Experiment, Member, NoiseSource, group_key
from mc_experiments.storage import RunDir, create_run_dir
from mc_network import available_backends, default_backend

__all__ = ["ProgressBar", "resume", "run_group", "train"]

log = logging.getLogger(__name__)


class ProgressBar:
    """A tqdm bar over samples with ETA and the last validation accuracy (or nothing)."""

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

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.close()


@contextmanager
def _run_log(paths: Sequence[Path]):
    handlers = []
    for p in paths:
        h = logging.FileHandler(p / "run.log")
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("mc_experiments").addHandler(h)
        handlers.append(h)
    try:
        yield
    finally:
        for h in handlers:
            logging.getLogger("mc_experiments").removeHandler(h)
            h.close()


def _backend_info(cfg: Config, exp: Experiment) -> dict:
    """What ``environment.json`` records of the backend a run used.

    Its name, the config's request and options, and the simulation's own account of its
    build (``build``: e.g. GeNN's exact or fast mode, also when it is the default).
    """
    return {
        "name": exp.backend,
        "requested": cfg.backend.name or default_backend(),
        "options": dict(cfg.backend.options),
        "build": exp.sim.build_info(),
        "available": {k: v is None for k, v in available_backends().items()},
    }


def run_group(
    configs: Sequence[Config],
    run_dirs: Sequence[Path],
    progress: Callable | None = None,
    noise: NoiseSource | None = None,
) -> list[RunDir]:
    """Run configs that differ only in their seed as one batched simulation.

    The run directories may exist already (a sweep being continued): completed members are
    left alone, and if every member has a checkpoint at the same epoch the group resumes
    from there; otherwise it starts from the beginning in the same directories. ``noise``
    replays a given noise trace (see :class:`~mc_experiments.protocol.Experiment`).
    """
    runs = [RunDir(p) for p in run_dirs]
    for r in runs:
        r.path.mkdir(parents=True, exist_ok=True)
    if all(r.status().get("state") == "completed" for r in runs):
        log.info("%s: already completed", ", ".join(r.path.name for r in runs))
        return runs
    checkpoints = [r.latest_checkpoint() for r in runs]
    resumable = all(checkpoints) and len({ck[1]["epoch"] for ck in checkpoints}) == 1
    if not resumable:
        for cfg, run in zip(configs, runs, strict=True):
            run.write_config(cfg.to_dict())
    with _run_log([r.path for r in runs]):
        members = [Member(cfg, run) for cfg, run in zip(configs, runs, strict=True)]
        exp = Experiment(members, progress=progress, noise=noise)
        if not resumable:
            for cfg, run in zip(configs, runs, strict=True):
                run.write_environment(_backend_info(cfg, exp))
        start = exp.restore(checkpoints) if resumable else 0
        if start:
            log.info("resuming %d member(s) at epoch %d", len(runs), start)
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
    """
    configs = [cfg] if not seeds else [cfg.with_seed(s) for s in seeds]
    paths = [
        create_run_dir(out, c.name if len(configs) == 1 else f"{c.name}_seed{c.seed}")
        for c in configs
    ]
    bar = ProgressBar(not quiet, cfg.name)
    try:
        return run_group(configs, paths, bar, noise)
    finally:
        bar.close()


def resume(run_dir: Path, quiet: bool = False) -> RunDir:
    """Continue an interrupted run from its last checkpoint (or from the start)."""
    run = RunDir(Path(run_dir))
    if not (run.path / "config.yaml").is_file():
        raise FileNotFoundError(f"{run.path}: not a run directory (no config.yaml)")
    if run.status().get("state") == "completed":
        log.info("%s: already completed; nothing to do", run.path)
        return run
    cfg = config_from_dict(run.read_config(), source=str(run.path / "config.yaml"))
    bar = ProgressBar(not quiet, cfg.name)
    try:
        with _run_log([run.path]):
            exp = Experiment([Member(cfg, run)], progress=bar)
            ck = run.latest_checkpoint()
            start = exp.restore([ck]) if ck else 0
            log.info("%s: resuming at epoch %d", run.path, start)
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
