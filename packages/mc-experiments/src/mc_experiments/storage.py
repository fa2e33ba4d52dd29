"""Run directories: never overwritten, atomic writes, zarr v3 recordings, checkpoints.

Layout of a run directory::

    <name>_<YYYYmmdd-HHMMSS>[-N]/
        config.yaml          resolved config (every default filled in)
        environment.json     code version (git commit, package versions), backend, machine
        status.json          running | interrupted | failed | completed, epochs completed
        metrics.json         written atomically after every epoch
        run.log              the run's log
        recordings.zarr/     zarr v3: <stage>/<variable> arrays, sharded, with attributes
        checkpoints/         epoch_NNNN.npz + epoch_NNNN.json (the last two are kept; a
                             completed run keeps only its final one)
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = [
    "RunDir",
    "atomic_write_bytes",
    "atomic_write_json",
    "code_version",
    "create_run_dir",
]

log = logging.getLogger(__name__)

PACKAGES = ("mc-models", "mc-network", "mc-experiments", "mc-analysis", "numpy", "numba", "zarr")
UNITS = {
    "rate": "rate (dimensionless, 0..1 for sigmoid)",
    "rate_last": "rate",
    "rate_highpass": "rate",
    "rate_basal": "rate",
    "rate_dendrite": "rate",
    "g": "weight (dimensionless)",
    "delta": "weight increment per step",
    "noise": "voltage (model units)",
}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_json_default) + "\n").encode())


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def code_version(start: Path | None = None) -> dict[str, Any]:
    """Package versions always; the git commit (and whether the tree is dirty) when in git."""
    out: dict[str, Any] = {"packages": {}}
    for name in PACKAGES:
        try:
            out["packages"][name] = version(name)
        except PackageNotFoundError:
            out["packages"][name] = None
    here = Path(start or Path(__file__).parent)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=here,
                capture_output=True,
                text=True,
                timeout=10,
            )
            out["git_dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def machine_info() -> dict[str, Any]:
    """Where the run ran."""
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def create_run_dir(out: Path, name: str) -> Path:
    """Create a new, unique run directory ``out/<name>_<timestamp>[-N]`` (never reused)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = out / (f"{name}_{stamp}" if n == 0 else f"{name}_{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"could not create a new run directory under {out}")


class RunDir:
    """Reads and writes one run directory (see the module docstring for the layout)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._zarr = None

    # ------------------------------------------------------------------ plain files
    def write_config(self, resolved: Mapping[str, Any]) -> None:
        """Write the resolved config."""
        text = yaml.safe_dump(dict(resolved), sort_keys=False)
        atomic_write_bytes(self.path / "config.yaml", text.encode())

    def read_config(self) -> dict[str, Any]:
        """The resolved config of the run."""
        return yaml.safe_load((self.path / "config.yaml").read_text())

    def write_environment(self, backend: Mapping[str, Any]) -> None:
        """Code version, backend and machine."""
        atomic_write_json(
            self.path / "environment.json",
            {
                "code": code_version(),
                "backend": dict(backend),
                "machine": machine_info(),
                "created": datetime.now(UTC).isoformat(),
            },
        )

    def write_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Write ``metrics.json`` atomically."""
        atomic_write_json(self.path / "metrics.json", metrics)

    def read_metrics(self) -> dict[str, Any]:
        """The run's metrics."""
        return json.loads((self.path / "metrics.json").read_text())

    def set_status(self, state: str, **extra: Any) -> None:
        """Record the run's state (running, interrupted, failed, completed)."""
        atomic_write_json(
            self.path / "status.json",
            {"state": state, "updated": datetime.now(UTC).isoformat(), **extra},
        )

    def status(self) -> dict[str, Any]:
        """The run's state, or ``{"state": "unknown"}``."""
        p = self.path / "status.json"
        return json.loads(p.read_text()) if p.exists() else {"state": "unknown"}

    # ------------------------------------------------------------------ recordings
    @property
    def zarr_path(self) -> Path:
        """Where the recordings live."""
        return self.path / "recordings.zarr"

    def _group(self):
        if self._zarr is None:
            import zarr

            self._zarr = zarr.open_group(self.zarr_path, mode="a")
        return self._zarr

    def write_record(
        self,
        stage: str,
        var: str,
        index: int,
        n_index: int,
        data: np.ndarray,
        attrs: Mapping[str, Any],
    ) -> None:
        """Write ``data`` as entry ``index`` of the array ``<stage>/<var>``.

        The array has shape ``(n_index, *data.shape)``: one entry per validation (epoch),
        per training epoch or per weight snapshot. It is chunked along time (the first axis of
        ``data``) and sharded over up to 64 entries, so a run is a few hundred files.
        """
        group = self._group()
        key = f"{stage}/{var}"
        if key not in group:
            time_chunk = max(1, min(data.shape[0] if data.ndim else 1, 2048))
            chunks = (1, time_chunk, *data.shape[1:]) if data.ndim else (1,)
            shard_t = data.shape[0] if data.ndim else 1
            shard_t = -(-shard_t // time_chunk) * time_chunk
            shards = (min(n_index, 64), shard_t, *data.shape[1:]) if data.ndim else None
            arr = group.create_array(
                key,
                shape=(n_index, *data.shape),
                chunks=chunks,
                shards=shards,
                dtype=data.dtype,
                fill_value=np.nan if data.dtype.kind == "f" else 0,
            )
            owner, name = var.split(".", 1)
            arr.attrs.update(
                {
                    "variable": name,
                    "owner": owner,
                    "stage": stage,
                    "units": UNITS.get(
                        name, "voltage (model units)" if name.startswith("v") else ""
                    ),
                    **attrs,
                }
            )
        group[key][index] = data

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_dir(self) -> Path:
        """Where checkpoints live."""
        return self.path / "checkpoints"

    def save_checkpoint(self, epoch: int, arrays: Mapping[str, np.ndarray], meta: Any) -> Path:
        """Atomically save a checkpoint (arrays as ``.npz``, the rest as JSON); keep two."""
        self.checkpoint_dir.mkdir(exist_ok=True)
        stem = self.checkpoint_dir / f"epoch_{epoch:04d}"
        fd, tmp = tempfile.mkstemp(dir=self.checkpoint_dir, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, stem.with_suffix(".npz"))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # the JSON is written last: a checkpoint counts only when both files exist
        atomic_write_json(stem.with_suffix(".json"), {"epoch": epoch, **meta})
        self.prune_checkpoints(keep=2)
        return stem

    def prune_checkpoints(self, keep: int) -> None:
        """Delete all but the ``keep`` newest checkpoints (a completed run keeps one)."""
        for old in sorted(self.checkpoint_dir.glob("epoch_*.json"))[:-keep]:
            old.unlink()
            old.with_suffix(".npz").unlink(missing_ok=True)

    def latest_checkpoint(self) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The newest complete checkpoint, or ``None``."""
        metas = sorted(self.checkpoint_dir.glob("epoch_*.json"))
        if not metas:
            return None
        meta_path = metas[-1]
        meta = json.loads(meta_path.read_text())
        with np.load(meta_path.with_suffix(".npz")) as z:
            arrays = {k: z[k] for k in z.files}
        return arrays, meta
