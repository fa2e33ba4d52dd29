"""mc-experiments: typed configs, datasets, the training protocol, run directories, sweeps.

The public API in one place (the modules hold the rest)::

    from mc_experiments import load_config, train, resume, load_sweep, run_sweep

    cfg = load_config("configs/quickstart.yaml", {"protocol.n_epochs": 5})
    (run,) = train(cfg, "runs", quiet=True)          # a new, locked, resumable run directory
    print(run.path, run.read_metrics()["test_accuracy"])
    result = run_sweep(load_sweep("configs/sweeps/paper_yinyang.yaml", profile="smoke"))

Names are imported lazily, so ``import mc_experiments`` (and ``mc-run --version``) stays fast.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("mc-experiments")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    "Config": "mc_experiments.config",
    "ConfigError": "mc_experiments.config",
    "config_from_dict": "mc_experiments.config",
    "load_config": "mc_experiments.config",
    "DatasetError": "mc_experiments.datasets",
    "load_dataset": "mc_experiments.datasets",
    "Experiment": "mc_experiments.protocol",
    "Interrupted": "mc_experiments.protocol",
    "RunDir": "mc_experiments.storage",
    "resume": "mc_experiments.runner",
    "train": "mc_experiments.runner",
    "Sweep": "mc_experiments.sweep",
    "load_sweep": "mc_experiments.sweep",
    "SweepResult": "mc_experiments.outcomes",
    "run_sweep": "mc_experiments.executors",
    "submit_sweep": "mc_experiments.executors_slurm",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mc_experiments' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
