"""Run directories: never overwritten, locked while written, atomic writes, checksums.

The layout and every file's schema are defined once, in :mod:`mc_analysis.runformat` (the
reader, :mod:`mc_analysis.rundir`, uses the same definitions). This module writes them:
``config.yaml`` with its fingerprint in ``environment.json``, ``status.json`` after every
epoch and on every failure, ``metrics.json`` (a :class:`~mc_analysis.runformat.Metrics`
record), zarr recordings whose chunks carry crc32c checksums, and checkpoints sealed with
sha256 checksums. Reading a checkpoint back falls back, with a warning naming the file, to
the newest one that passes its checks.

Every file is written atomically (a temporary file in the same folder, then a rename,
:func:`mc_analysis.safefiles.atomic_write_bytes`) with the mode the umask gives new files
(0644 with the usual umask 022), so colleagues sharing the storage can read it. Nothing is
written through a symbolic link: ``run.log`` and ``.lock`` are opened without following one,
and a run directory whose recordings or checkpoints hold one is refused
(:meth:`RunDir.refuse_links`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import subprocess
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from mc_analysis import runformat as F
from mc_analysis.bounded import dump_yaml, load_yaml, short_repr
from mc_analysis.safefiles import atomic_write_bytes, open_no_follow, refuse_links

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


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_json_default) + "\n").encode())


def plain_json(obj: Any) -> Any:
    """``obj`` as plain JSON data (NumPy scalars and arrays converted), as read back."""
    return json.loads(json.dumps(obj, default=_json_default))


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
    """Create a new, unique run directory ``out/<name>_<timestamp>[-N]`` (never reused).

    Raises :class:`NotADirectoryError` naming ``out`` when it exists and is not a directory,
    and :class:`ValueError` when ``name`` cannot be a directory name.
    """
    F.check_name(name, "run name")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: exists and is not a directory (--out names a folder)")
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
    """Reads and writes one run directory (layout: :mod:`mc_analysis.runformat`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._zarr = None
        self._checked: set[str] = set()  # arrays whose metadata this process has checked

    def lock(self) -> F.DirLock:
        """The directory's lock (use as a context manager while writing)."""
        return F.DirLock(self.path, "run directory")

    def refuse_links(self) -> None:
        """Refuse a symbolic link the writer would follow: ``UnsafePath`` naming it.

        Any of the run's own files, or anything inside its recordings or checkpoints
        (:class:`mc_analysis.safefiles.UnsafePath`).
        """
        names = (F.CONFIG, F.ENVIRONMENT, F.STATUS, F.METRICS, F.RUN_LOG, F.LOCK)
        refuse_links(
            [*(self.path / n for n in names), self.zarr_path, self.checkpoint_dir],
            f"run directory {self.path}",
        )

    def open_log(self):
        """``run.log`` opened for appending (text), never through a symbolic link."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        fd = open_no_follow(self.path / F.RUN_LOG, flags, "run log")
        return os.fdopen(fd, "a", encoding="utf-8")

    # ------------------------------------------------------------------ plain files
    def write_config(self, resolved: Mapping[str, Any]) -> None:
        """Write the resolved config."""
        atomic_write_bytes(self.path / F.CONFIG, dump_yaml(dict(resolved)).encode())

    def read_config(self) -> dict[str, Any]:
        """The resolved config of the run (``CorruptFile`` naming it if it is garbled)."""
        data = load_yaml(self.path / F.CONFIG, error=F.CorruptFile, what="run config")
        if not isinstance(data, dict):
            raise F.CorruptFile(
                f"{self.path / F.CONFIG}: expected the resolved config (a mapping), got "
                f"{short_repr(data)}"
            )
        return data

    def write_environment(
        self,
        backend: Mapping[str, Any],
        fingerprint: str,
        plugins: Mapping[str, Any] | None = None,
    ) -> None:
        """Code version, backend and machine, the format version and the config fingerprint.

        ``plugins``: the installed model packages the run uses
        (:func:`mc_experiments.plugins.plugin_record`).
        """
        atomic_write_json(
            self.path / F.ENVIRONMENT,
            {
                "format_version": F.FORMAT_VERSION,
                "config_fingerprint": fingerprint,
                "code": code_version(),
                **({} if plugins is None else {"plugins": dict(plugins)}),
                "backend": dict(backend),
                "machine": machine_info(),
                "created": datetime.now(UTC).isoformat(),
            },
        )

    def environment(self) -> dict[str, Any]:
        """``environment.json`` (``{}`` when absent)."""
        return self._read_json(F.ENVIRONMENT)

    def config_fingerprint(self) -> str | None:
        """The fingerprint recorded when the run started (``None`` for legacy runs)."""
        return self.environment().get("config_fingerprint")

    def write_metrics(self, metrics: F.Metrics | Mapping[str, Any]) -> None:
        """Write ``metrics.json`` atomically."""
        data = metrics.to_dict() if isinstance(metrics, F.Metrics) else dict(metrics)
        atomic_write_json(self.path / F.METRICS, data)

    def read_metrics(self) -> dict[str, Any]:
        """The run's metrics (``FileNotFoundError`` naming the file if there are none yet)."""
        if not (self.path / F.METRICS).is_file():
            raise FileNotFoundError(f"{self.path / F.METRICS}: no metrics (no epoch completed?)")
        return self._read_json(F.METRICS)

    def set_status(self, state: str, **extra: Any) -> None:
        """Record the run's state (running, interrupted, failed, completed)."""
        atomic_write_json(
            self.path / F.STATUS,
            {"state": F.RunState(state).value, "updated": datetime.now(UTC).isoformat(), **extra},
        )

    def status(self) -> dict[str, Any]:
        """The run's state, or ``{"state": "unknown"}`` (garbled files name themselves).

        A run that says ``running`` while nobody holds its lock was stopped without recording
        how (killed, or a full disk refused the last status write): its status then carries
        ``stale: true`` and an ``error`` saying so (``mc-run resume`` continues it from its
        last checkpoint).
        """
        data = self._read_json(F.STATUS)
        if data and not isinstance(data.get("state"), str):
            raise F.CorruptFile(f"{self.path / F.STATUS}: no 'state' in {short_repr(data)}")
        if data.get("state") == F.RunState.RUNNING and F.DirLock.holder(self.path) is None:
            data = {
                **data,
                "stale": True,
                "error": "stopped while running without recording its end (the process was "
                "killed, or the disk was full); `mc-run resume "
                f"{self.path}` continues it from its last checkpoint",
            }
        return data or {"state": F.RunState.UNKNOWN.value}

    def _read_json(self, name: str) -> dict[str, Any]:
        path = self.path / name
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as err:
            raise F.CorruptFile(f"{path}: not valid JSON ({err}); the file is garbled") from None
        if not isinstance(data, dict):
            raise F.CorruptFile(f"{path}: expected a JSON object, got {type(data).__name__}")
        return data

    # ------------------------------------------------------------------ recordings
    @property
    def zarr_path(self) -> Path:
        """Where the recordings live."""
        return self.path / F.RECORDINGS

    def _group(self):
        if self._zarr is None:
            import zarr

            self._zarr = zarr.open_group(self.zarr_path, mode="a")
        return self._zarr

    def clean_temporaries(self) -> None:
        """Delete what writes cut short left behind (temporary files; call holding the lock).

        Atomic writes go through ``.<name>.<random>.tmp`` files and zarr's through
        ``*.partial`` files; a killed process leaves them, nothing reads them.
        """
        for pattern in (".*.tmp", "*.partial"):
            for p in self.path.rglob(pattern):
                if p.is_file():
                    p.unlink(missing_ok=True)

    def clear_progress(self) -> None:
        """Remove what a run that starts again from epoch 0 would rewrite (no checkpoint)."""
        import shutil

        self._zarr = None
        self._checked.clear()
        if self.zarr_path.exists():
            shutil.rmtree(self.zarr_path)
        (self.path / F.METRICS).unlink(missing_ok=True)

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
        ``data``) and sharded over up to 64 entries, so a run is a few hundred files; every
        chunk carries a crc32c checksum.
        """
        group = self._group()
        key = F.array_key(stage, var)
        if key not in group:
            time_chunk = max(1, min(data.shape[0] if data.ndim else 1, 2048))
            chunks = (1, time_chunk, *data.shape[1:]) if data.ndim else (1,)
            shard_t = data.shape[0] if data.ndim else 1
            shard_t = -(-shard_t // time_chunk) * time_chunk
            shards = (min(n_index, 64), shard_t, *data.shape[1:]) if data.ndim else None
            create = {
                "shape": (n_index, *data.shape),
                "chunks": chunks,
                "shards": shards,
                "dtype": data.dtype,
                "fill_value": np.nan if data.dtype.kind == "f" else 0,
                **F.zarr_codecs(),
            }
            owner, name = var.split(".", 1)
            described = {
                "variable": name,
                "owner": owner,
                "stage": stage,
                "units": UNITS.get(name, "voltage (model units)" if name.startswith("v") else ""),
                **attrs,
            }
            # the metadata is written once, sealed with its own checksum (format 3)
            group.create_array(key, attributes=F.sealed_attributes(described, **create), **create)
        elif key not in self._checked:  # written before (a resumed run): still as written?
            F.check_array_metadata(self.zarr_path / key / "zarr.json", self._format() >= 3)
        self._checked.add(key)
        group[key][index] = data

    def _format(self) -> int:
        """The run's format version: ``environment.json``'s, else its newest sealed checkpoint's.

        1 when neither records one (a legacy run); deleting ``environment.json`` does not
        make a run written with checksums legacy.
        """
        value = self.environment().get("format_version")
        if value is None:
            record = F.newest_checkpoint_record(self.checkpoint_dir)
            value = record.get("format_version", 1) if record else 1
        return value if isinstance(value, int) and not isinstance(value, bool) else 1

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_dir(self) -> Path:
        """Where checkpoints live."""
        return self.path / F.CHECKPOINTS

    def save_checkpoint(self, epoch: int, arrays: Mapping[str, np.ndarray], meta: Any) -> Path:
        """Atomically save a checkpoint: arrays as ``.npz``, the rest as sealed JSON; keep two.

        The JSON holds the sha256 of the ``.npz`` and its own checksum
        (:func:`mc_analysis.runformat.seal`); it is written last, so a checkpoint counts only
        when both files exist.
        """
        import io

        self.checkpoint_dir.mkdir(exist_ok=True)
        stem = self.checkpoint_dir / F.checkpoint_stem(epoch)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(stem.with_suffix(".npz"), buf.getvalue())
        digest = "sha256:" + hashlib.sha256(buf.getbuffer()).hexdigest()
        record = F.seal(plain_json({"epoch": epoch, **meta, "arrays_sha256": digest}))
        atomic_write_json(stem.with_suffix(".json"), record)
        self.prune_checkpoints(keep=2)
        return stem

    def checkpoint_epochs(self) -> list[int]:
        """Epochs of the checkpoints present (complete pairs by name), newest first."""
        epochs = [F.checkpoint_epoch(p) for p in self.checkpoint_dir.glob("epoch_*.json")]
        return sorted((e for e in epochs if e is not None), reverse=True)

    def prune_checkpoints(self, keep: int) -> None:
        """Delete all but the ``keep`` newest checkpoints (a completed run keeps one).

        The record goes first, so that a checkpoint never counts without its arrays; a
        ``.npz`` without its record (the process was killed between the two deletions, or
        between the writes of a checkpoint) is deleted too: nothing can use it.
        """
        for epoch in self.checkpoint_epochs()[keep:]:
            stem = self.checkpoint_dir / F.checkpoint_stem(epoch)
            stem.with_suffix(".json").unlink(missing_ok=True)
            stem.with_suffix(".npz").unlink(missing_ok=True)
        for npz in self.checkpoint_dir.glob("epoch_*.npz"):
            if not npz.with_suffix(".json").exists():
                log.info("%s: removed (its record is missing)", npz)
                npz.unlink(missing_ok=True)

    def load_checkpoint(self, epoch: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Load and check one checkpoint.

        Raises
        ------
        mc_analysis.runformat.CorruptFile
            Naming the file that is missing, truncated, garbled or fails its checksum.
        """
        stem = self.checkpoint_dir / F.checkpoint_stem(epoch)
        meta_path, npz_path = stem.with_suffix(".json"), stem.with_suffix(".npz")
        try:
            raw = json.loads(meta_path.read_bytes())
        except FileNotFoundError:
            raise F.CorruptFile(f"{meta_path}: missing") from None
        except (ValueError, UnicodeDecodeError) as err:
            raise F.CorruptFile(
                f"{meta_path}: not valid JSON ({err}): truncated or garbled"
            ) from None
        meta, sealed = F.unseal(raw, meta_path)
        if not sealed and self._format() >= 2:
            raise F.CorruptFile(
                f"{meta_path}: has no checksum, but this run (format {self._format()}) seals "
                "every checkpoint (the file was changed or garbled)"
            )
        if not npz_path.is_file():
            raise F.CorruptFile(f"{npz_path}: missing (its record {meta_path.name} exists)")
        if sealed and F.sha256_file(npz_path) != meta.get("arrays_sha256"):
            raise F.CorruptFile(f"{npz_path}: fails its checksum (truncated or garbled)")
        try:
            with np.load(npz_path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
            raise F.CorruptFile(
                f"{npz_path}: cannot be read ({type(err).__name__}: {err})"
            ) from None
        for key in F.CHECKPOINT_KEYS:
            if key not in meta:
                raise F.CorruptFile(f"{meta_path}: missing key {key!r}")
        if meta["epoch"] != epoch:
            raise F.CorruptFile(f"{meta_path}: holds epoch {meta['epoch']!r}, not {epoch}")
        if not sealed:
            log.info("%s: legacy checkpoint without checksums (unverified)", meta_path)
        return arrays, meta

    def latest_checkpoint(
        self, at_most: int | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The newest checkpoint (at most at epoch ``at_most``) that passes its checks.

        A newer checkpoint that fails them is set aside as ``epoch_NNNN.*.corrupt`` (so that
        it is neither used nor kept instead of a good one) with a warning naming the file;
        ``None`` when no checkpoint is usable.
        """
        for epoch in self.checkpoint_epochs():
            if at_most is not None and epoch > at_most:
                continue
            try:
                return self.load_checkpoint(epoch)
            except F.CorruptFile as err:
                log.warning("%s; set aside (*.corrupt), falling back to an older checkpoint", err)
                stem = self.checkpoint_dir / F.checkpoint_stem(epoch)
                for suffix in (".json", ".npz"):
                    p = stem.with_suffix(suffix)
                    if p.exists():
                        p.replace(p.with_name(p.name + ".corrupt"))
        return None
