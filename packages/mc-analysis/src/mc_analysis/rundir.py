"""Read run directories written by ``mc-experiments`` and sweep directories of them.

The format is defined in :mod:`mc_analysis.runformat` (the writer uses the same module). A
run directory holds ``config.yaml`` (the resolved config), ``metrics.json``,
``status.json``, ``environment.json`` and ``recordings.zarr`` (zarr v3, arrays
``<stage>/<owner>.<var>`` with shape ``(entries, records, n)`` or, for ``weights/<proj>.g``,
``(n_epochs + 1, n_pre, n_post)``). A sweep directory holds ``sweep.yaml`` and
``members/<member name>/`` (a run directory each). Runs of the original code (a two-document
``config.yaml`` and ``net_recordings.h5``) are recognised and opened with
:func:`mc_analysis.original.read_original_run`.

What is read is checked: every chunk of a format-2 recording carries a crc32c checksum, and a
chunk that fails it raises :class:`RunDataError` naming the array; an entry that must exist
(:func:`mc_analysis.runformat.required_entries`) but holds no data (a deleted shard) does too,
as does a ``config.yaml`` that no longer matches its fingerprint. Directories written before
these checks existed (format 1: no fingerprint, no checksums) are read as before, with one log
line saying they are *legacy, unverified*.

Nothing is read from the recordings until asked for::

    run = read_run("runs/yinyang_20240101-120000")
    run.dims, run.records_per_sample, run.metrics["test_accuracy"]
    v = run.read("validation", "output.v_brev")     # (n_epochs + 1, n_records, 3)
    for variant, seed, run in read_sweep("sweeps/yinyang_paper_20240101-120000"):
        ...
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mc_analysis import runformat as F
from mc_analysis.bounded import load_yaml, short_repr
from mc_analysis.original import H5_NAMES, OriginalRun, read_original_run
from mc_analysis.runformat import CONFIG, ENVIRONMENT, METRICS, RECORDINGS, STATUS, SWEEP

__all__ = ["Run", "RunDataError", "RunDirError", "is_original_run_dir", "read_run", "read_sweep"]

logger = logging.getLogger(__name__)

_SEED_SUFFIX = re.compile(r"_seed_?\d+$")
#: Why a legacy run (format 1) is unverified.
LEGACY_UNVERIFIED = "legacy format 1: no config fingerprint, no chunk checksums"


class RunDirError(KeyError):
    """A file or key needed from a run directory is missing; the message names both."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class RunDataError(ValueError):
    """Recorded data fail their checks (checksum, missing entries); the message names them."""


def _read_json(path: Path, required: bool) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise FileNotFoundError(f"{path}: no such file")
        return {}
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


class Run:
    """One run directory: config, metrics and status in memory, recordings opened lazily.

    Parameters
    ----------
    path
        The run directory.
    config, metrics, status, environment
        The parsed files (``metrics``, ``status`` and ``environment`` are ``{}`` when the file
        does not exist, e.g. for a run interrupted before its first epoch).
    """

    def __init__(
        self,
        path: Path,
        config: dict[str, Any],
        metrics: dict[str, Any],
        status: dict[str, Any],
        environment: dict[str, Any],
    ) -> None:
        self.path = Path(path)
        self.config = config
        self.metrics = metrics
        self.status = status
        self.environment = environment
        self._group: Any = None
        self._unverified: set[str] = set()
        self._metadata_checked: set[str] = set()
        self._checkpoint_record: dict[str, Any] | None | bool = False
        self._shape_checked: set[str] = set()

    @property
    def format_version(self) -> int:
        """The run-directory format (1: legacy, written before fingerprints and checksums).

        From ``environment.json``, or, when that file says nothing, from the run's newest
        sealed checkpoint: deleting ``environment.json`` does not make a run legacy.
        """
        value = self.environment.get("format_version")
        if value is None:
            record = self.checkpoint_record()
            value = record.get("format_version", 1) if record else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"{self.path / ENVIRONMENT}: format_version: expected a positive integer, got "
                f"{short_repr(value)}"
            )
        return value

    def checkpoint_record(self) -> dict[str, Any] | None:
        """The newest checkpoint record that passes its checksum (``None`` if none), once."""
        if self._checkpoint_record is False:
            self._checkpoint_record = F.newest_checkpoint_record(self.path / F.CHECKPOINTS)
        return self._checkpoint_record

    def verification(self) -> tuple[bool, str]:
        """Whether what is read from this run is checked against checksums, and how (or why not).

        Returns
        -------
        (bool, str)
            ``(True, "config fingerprint and chunk checksums")`` for a run of format 2 or
            later whose every recorded array carries chunk checksums; ``(False, reason)``
            otherwise: a legacy run (format 1) or arrays without checksums, named.
        """
        if self.format_version < 2 or self.environment.get("config_fingerprint") is None:
            return False, LEGACY_UNVERIFIED
        unchecked = []
        if self.recordings_path.is_dir():
            group = self._zarr()
            for stage in sorted(group.group_keys()):
                for var in self.variables(stage):
                    if not F.has_data_checksums(group[f"{stage}/{var}"]):
                        unchecked.append(f"{stage}/{var}")
        if unchecked:
            return False, f"arrays without chunk checksums: {short_repr(unchecked)}"
        return True, "config fingerprint and chunk checksums"

    @property
    def completed(self) -> bool:
        """Whether ``status.json`` says the run completed."""
        return self.status.get("state") == F.RunState.COMPLETED

    @property
    def epochs_completed(self) -> int:
        """Epochs ``metrics.json`` counts as done (0 without metrics)."""
        value = self.metrics.get("epochs_completed", 0)
        return int(value) if isinstance(value, int) else 0

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # -- config ---------------------------------------------------------------------------

    def cfg(self, dotted: str) -> Any:
        """A value of the resolved config by dotted key, e.g. ``"network.dims"``.

        Raises
        ------
        RunDirError
            Naming ``config.yaml`` and the key.
        """
        node: Any = self.config
        for i, part in enumerate(dotted.split(".")):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(dotted.split(".")[:i]) or "<top level>"
                have = sorted(node) if isinstance(node, dict) else type(node).__name__
                raise RunDirError(
                    f"{self.path / CONFIG}: missing key {dotted!r} (no {part!r} in {where}; "
                    f"it has {have})"
                )
            node = node[part]
        return node

    def _cfg_int(self, dotted: str, minimum: int) -> int:
        """An integer of the config (``ValueError`` naming the file and the key if not)."""
        value = self.cfg(dotted)
        if not _is_int(value, minimum):
            raise ValueError(
                f"{self.path / CONFIG}: {dotted}: expected an integer >= {minimum}, got "
                f"{short_repr(value)}"
            )
        return value

    @property
    def name(self) -> str:
        """Config ``name``."""
        return str(self.cfg("name"))

    @property
    def seed(self) -> int:
        """Config ``seed``."""
        return self._cfg_int("seed", 0)

    @property
    def dims(self) -> list[int]:
        """Layer sizes ``network.dims``."""
        dims = self.cfg("network.dims")
        if not isinstance(dims, list) or len(dims) < 3 or not all(_is_int(d, 1) for d in dims):
            raise ValueError(
                f"{self.path / CONFIG}: network.dims: expected a list of at least three positive "
                f"integers, got {short_repr(dims)}"
            )
        return dims

    @property
    def n_hidden(self) -> int:
        """Number of hidden layers."""
        return len(self.dims) - 2

    @property
    def n_epochs(self) -> int:
        """Configured ``protocol.n_epochs``."""
        return self._cfg_int("protocol.n_epochs", 0)

    @property
    def records_per_sample(self) -> int:
        """``recording.records_per_sample``."""
        return self._cfg_int("recording.records_per_sample", 1)

    @property
    def dataset(self) -> str:
        """``dataset.name``."""
        return str(self.cfg("dataset.name"))

    @property
    def feedback(self) -> str:
        """``network.feedback``."""
        return str(self.cfg("network.feedback"))

    def metric(self, key: str) -> Any:
        """A value of ``metrics.json`` (RunDirError naming the file and key if absent)."""
        if key not in self.metrics:
            raise RunDirError(f"{self.path / METRICS}: missing key {key!r}")
        return self.metrics[key]

    # -- recordings -----------------------------------------------------------------------

    @property
    def recordings_path(self) -> Path:
        """``<run>/recordings.zarr``."""
        return self.path / RECORDINGS

    def _zarr(self) -> Any:
        if self._group is None:
            import zarr

            if not self.recordings_path.is_dir():
                raise FileNotFoundError(f"{self.recordings_path}: no recordings")
            self._group = zarr.open_group(self.recordings_path, mode="r")
        return self._group

    def variables(self, stage: str) -> list[str]:
        """Recorded arrays of a stage (``[]`` if the stage was not recorded)."""
        group = self._zarr()
        if stage not in group:
            return []
        return sorted(group[stage].array_keys())

    def has(self, stage: str, var: str) -> bool:
        """Whether ``<stage>/<var>`` was recorded."""
        return var in self.variables(stage)

    def array(self, stage: str, var: str) -> Any:
        """The zarr array ``<stage>/<var>`` (opened lazily, not read).

        Parameters
        ----------
        stage
            ``"validation"``, ``"test"``, ``"training"`` or ``"weights"``.
        var
            ``"<owner>.<variable>"``, e.g. ``"output.v_brev"`` or ``"fb_1.g"``.

        Raises
        ------
        RunDirError
            Naming the recordings and listing the arrays that exist.
        """
        group = self._zarr()
        key = f"{stage}/{var}"
        self._check_metadata(key)
        if key not in group:
            stages = sorted(group.group_keys())
            have = self.variables(stage) if stage in stages else f"no stage; stages: {stages}"
            raise RunDirError(f"{self.recordings_path}: no array {key!r} ({stage}: {have})")
        arr = group[key]
        if key not in self._shape_checked:
            self._check_shape(stage, var, tuple(arr.shape))
            self._shape_checked.add(key)
        if not F.has_data_checksums(arr) and key not in self._unverified:
            if self.format_version >= 2:
                raise RunDataError(
                    f"{self.recordings_path}/{key}: has no chunk checksums, which every array of "
                    f"a format {self.format_version} run carries (its metadata was edited?)"
                )
            self._unverified.add(key)
            logger.debug("%s: %s has no chunk checksums (legacy, unverified)", self.path, key)
        return _CheckedArray(arr, f"{self.recordings_path}/{key}")

    def _check_metadata(self, key: str) -> None:
        """The array's ``zarr.json`` against its checksum (required in format 3), once."""
        path = self.recordings_path / key / "zarr.json"
        if key in self._metadata_checked or not path.is_file():
            return
        try:
            F.check_array_metadata(path, required=self.format_version >= 3)
        except F.CorruptFile as err:
            raise RunDataError(str(err)) from None
        self._metadata_checked.add(key)

    def _check_shape(self, stage: str, var: str, shape: tuple[int, ...]) -> None:
        """The array's shape against what the run's config can have recorded.

        Entries: one per validation (``n_epochs + 1``), training epoch, test (1) or weight
        snapshot (``n_epochs + 1``); records per entry at most ``records_per_sample`` times
        the stage's samples; values per record at most the largest layer squared. A file that
        declares more (edited metadata) is refused before anything is read.
        """
        where = f"{self.recordings_path}/{stage}/{var}"
        n = self.n_epochs
        entries = {"validation": n + 1, "training": n, "test": 1, "weights": n + 1}.get(stage)
        if entries is not None and (not shape or shape[0] != entries):
            raise RunDataError(
                f"{where}: declares shape {shape}, but {self.path / CONFIG} (protocol.n_epochs: "
                f"{n}) gives {entries} entries for the {stage} stage"
            )
        largest = max(self.dims) ** 2
        if stage == "weights":
            if math.prod(shape[1:]) > largest:
                raise RunDataError(f"{where}: declares shape {shape}, larger than any projection")
            return
        per_class = {"validation": "n_valid", "test": "n_test", "training": "n_train"}.get(stage)
        if per_class is None or len(shape) < 2:
            return
        samples = self._cfg_int(f"dataset.{per_class}", 1) * self.dims[-1]
        if shape[1] > samples * self.records_per_sample or math.prod(shape[2:]) > largest:
            raise RunDataError(
                f"{where}: declares shape {shape}, more than {samples} samples of "
                f"{self.records_per_sample} records of a network {self.dims} can fill"
            )

    def read(self, stage: str, var: str) -> np.ndarray:
        """Read ``<stage>/<var>`` whole."""
        return np.asarray(self.array(stage, var)[...])

    def check_recordings(self) -> None:
        """Check that every entry the run must have written holds data.

        Which entries must exist follows from ``metrics.json`` and ``status.json``
        (:func:`mc_analysis.runformat.required_entries`); a completed run must also have the
        validation and test records the metrics are computed from.

        Raises
        ------
        RunDataError
            Naming the array and the entries that are missing (a deleted or truncated shard)
            or whose data fail their checksum.
        """
        if not self.recordings_path.is_dir():
            if self.completed:
                raise RunDataError(f"{self.recordings_path}: missing (the run completed)")
            return
        group = self._zarr()
        if self.completed:
            for stage in ("validation", "test"):
                for var in F.REQUIRED_RECORDS:
                    if not self.has(stage, var):
                        raise RunDataError(
                            f"{self.recordings_path}: {stage}/{var} is missing, but the run "
                            "completed (deleted?)"
                        )
        for stage in sorted(group.group_keys()):
            for var in self.variables(stage):
                have = set(self.entries(stage, var))  # one read of the entries' heads
                missing = [e for e in self._required(stage, var) if e not in have]
                if missing:
                    raise RunDataError(
                        f"{self.recordings_path}/{stage}/{var}: entries {short_repr(missing)} "
                        f"hold no data, but the run wrote them ({self.epochs_completed} epoch(s) "
                        "done): a deleted or truncated shard?"
                    )

    def _required(self, stage: str, var: str) -> list[int]:
        n = self.array(stage, var).shape[0]
        return F.required_entries(
            stage, n, self.entry_every(stage, var), self.epochs_completed, self.completed
        )

    def attrs(self, stage: str, var: str) -> dict[str, Any]:
        """The attributes of ``<stage>/<var>`` (units, dt, records_per_sample, ...)."""
        return dict(self.array(stage, var).attrs)

    def partial_samples(self, stage: str, var: str) -> bool:
        """Whether ``<stage>/<var>`` holds the records of only the first samples of each entry.

        ``recording.samples_written``: the attributes ``samples_written`` and
        ``samples_total`` say how many of how many; the stage's metrics are then only in
        ``metrics.json``.
        """
        attrs = self.attrs(stage, var)
        written, total = attrs.get("samples_written"), attrs.get("samples_total")
        if written is None or total is None:
            return False
        return self.attr_int(stage, var, "samples_written") < self.attr_int(
            stage, var, "samples_total"
        )

    def entry_every(self, stage: str, var: str) -> int:
        """Every how many entries ``<stage>/<var>`` was written.

        ``recording.validation_every`` or ``weights_every``; 1 for runs written before
        entries could be thinned.
        """
        return self.attr_int(stage, var, "entry_every", 1)

    def attr_int(self, stage: str, var: str, name: str, default: int | None = None) -> int:
        """A positive integer attribute of ``<stage>/<var>`` (``RunDataError`` if not)."""
        value = self.attrs(stage, var).get(name, default)
        if not _is_int(value, 1):
            raise RunDataError(
                f"{self.recordings_path}/{stage}/{var}: attribute {name!r}: expected a positive "
                f"integer, got {short_repr(value)}"
            )
        return value

    def entries(self, stage: str, var: str) -> list[int]:
        """Indices of the entries of ``<stage>/<var>`` that hold data.

        With ``entry_every = k`` the writer stores entries ``0, k, 2k, ...`` and the last one
        (the final validation, the final weights); of those, the ones written so far (holding
        any finite value: an unfinished run has not written its last entries yet).
        """
        arr = self.array(stage, var)
        n, k = arr.shape[0], self.entry_every(stage, var)
        candidates = F.written_candidates(n, k)
        heads = np.asarray(arr[:, :1] if arr.ndim > 1 else arr[:], dtype=np.float64)
        heads = heads.reshape(n, -1)
        return [e for e in candidates if np.isfinite(heads[e]).any()]


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


class _CheckedArray:
    """A zarr array whose reads name the array when its data fail their checksum."""

    def __init__(self, array: Any, name: str) -> None:
        self._array = array
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._array, attr)

    def __getitem__(self, index: Any) -> Any:
        try:
            return self._array[index]
        except (IndexError, KeyError):
            raise  # the caller asked for entries that do not exist
        except (ValueError, RuntimeError, OSError) as err:
            _settle_zarr_reads()
            if "checksum" in str(err).lower():
                raise RunDataError(
                    f"{self._name}: data fail their checksum (a corrupted chunk or shard): {err}"
                ) from None
            raise RunDataError(
                f"{self._name}: cannot be read (a corrupted chunk or shard?): "
                f"{type(err).__name__}: {err}"
            ) from None

    def __len__(self) -> int:
        return len(self._array)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self[...], dtype=dtype)


def _settle_zarr_reads(timeout: float = 60.0) -> None:
    """Wait for the chunk reads zarr still runs after one of them failed, collecting errors.

    zarr reads the chunks of a slice concurrently on its own event loop; the first failure is
    raised while the others go on. Left alone they end in dozens of asyncio tracebacks
    ("Task was destroyed but it is pending", "Event loop is closed") when the program exits,
    after the one line that names the damaged array. Waiting for them (their errors are the
    same damage) keeps the failure to that line.
    """
    import asyncio

    try:
        from zarr.core.sync import sync
    except ImportError:  # pragma: no cover - another zarr layout: nothing to settle
        return

    async def settle() -> None:
        me = asyncio.current_task()
        for _ in range(100):  # tasks may start others while they finish
            others = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
            if not others:
                return
            await asyncio.gather(*others, return_exceptions=True)

    try:
        sync(settle(), timeout=timeout)
    except Exception as err:  # settling is best effort; the read's own error is what counts
        logger.debug("zarr reads not settled: %s", err)


def read_run(path: str | Path) -> Run:
    """Open a run directory.

    Parameters
    ----------
    path
        The run directory (holding ``config.yaml``).

    Returns
    -------
    Run

    Raises
    ------
    FileNotFoundError
        If the directory or its ``config.yaml`` is missing.
    ValueError
        If ``config.yaml`` or a JSON file cannot be parsed.
    """
    path = Path(path)
    config_path = path / CONFIG
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run directory (no {CONFIG})")
    if not config_path.is_file():
        raise FileNotFoundError(f"{path}: not a run directory (no {CONFIG})")
    config = load_yaml(config_path, error=ValueError, what="run config")
    if not isinstance(config, dict):
        raise ValueError(
            f"{config_path}: expected a mapping (the resolved config), got "
            f"{type(config).__name__}" + (" (an original-code config?)" if config else "")
        )
    metrics = _read_json(path / METRICS, required=False)
    if not metrics:
        logger.warning("%s: no %s (run not past its first epoch?)", path, METRICS)
    else:
        F.Metrics.from_dict(metrics, str(path / METRICS))  # types checked, naming the key
    run = Run(
        path,
        config,
        metrics,
        _read_json(path / STATUS, required=False),
        _read_json(path / ENVIRONMENT, required=False),
    )
    _check_identity(run)
    return run


def _check_identity(run: Run) -> None:
    """Say what is verified about a run: its format, its config fingerprint, its writer.

    ``config.yaml`` must match the fingerprint in ``environment.json``; without one (the
    file deleted) it must match the config sealed in the newest checkpoint (format 3).
    """
    stored = run.environment.get("config_fingerprint")
    saved = (run.checkpoint_record() or {}).get("config") if stored is None else None
    if stored is not None and F.fingerprint(run.config) != stored:
        raise ValueError(
            f"{run.path / CONFIG}: does not match the config fingerprint in {ENVIRONMENT} (edited "
            "after the run started?); the recordings may belong to another config"
        )
    if saved is not None and F.config_diff(saved, run.config, ignore_added=True):
        raise ValueError(
            f"{run.path / CONFIG}: does not match the config its checkpoints were written with "
            f"({ENVIRONMENT} is missing; edited after the run started?)"
        )
    if run.format_version < 2 or (stored is None and saved is None):
        logger.debug(  # per run; the report warns once, naming every such run
            "%s: legacy run directory (format 1: no config fingerprint, no checksums): "
            "read as before, unverified",
            run.path,
        )
    elif stored is None:
        logger.warning(
            "%s: has no %s; its format (%d) and config were verified with its checkpoints",
            run.path,
            ENVIRONMENT,
            run.format_version,
        )
    holder = F.DirLock.holder(run.path)
    if holder:
        logger.warning(
            "%s: is being written by pid %s on host %s; this reads its state so far",
            run.path,
            holder.get("pid", "?"),
            holder.get("host", "?"),
        )


def is_original_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a run of the original code (list ``config.yaml`` + HDF5 file).

    Only the first bytes of ``config.yaml`` are read: the original dumps ``[meta, net]``, so
    the document starts with a top-level sequence item.
    """
    path = Path(path)
    if not any((path / n).is_file() for n in H5_NAMES) or not (path / CONFIG).is_file():
        return False
    with open(path / CONFIG, encoding="utf-8", errors="replace") as f:
        head = f.read(4096)
    for line in head.splitlines():
        if line.strip() and not line.lstrip().startswith(("#", "---", "%")):
            return line.startswith("- ") or line == "-"
    return False


def _strip_seed(name: str) -> str:
    return _SEED_SUFFIX.sub("", name) or name


def _original_entry(path: Path) -> tuple[str, int, OriginalRun]:
    orun = read_original_run(path)
    name = orun.meta.get("name") or re.sub(r"_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$", "", path.name)
    seed = orun.meta.get("numpy_seed")
    if not isinstance(seed, int):
        found = re.search(r"_seed_?(\d+)", str(name))
        seed = int(found.group(1)) if found else -1
    return f"original:{_strip_seed(str(name))}", int(seed), orun


def _sweep_members(sweep_dir: Path) -> dict[str, str]:
    """Member name -> variant label from ``sweep.yaml`` (seed suffix removed from the name)."""
    path = sweep_dir / SWEEP
    data = load_yaml(
        path, max_bytes=F.MAX_SWEEP_RECORD_BYTES, error=ValueError, what="sweep record"
    )
    if not isinstance(data, dict) or not isinstance(data.get("members"), list):
        raise RunDirError(f"{path}: missing key 'members' (a list)")
    out = {}
    for i, m in enumerate(data["members"]):
        if not isinstance(m, dict) or "name" not in m:
            raise RunDirError(f"{path}: members[{i}] has no 'name'")
        try:
            name = F.check_name(str(m["name"]), f"members[{i}].name")
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        out[name] = _strip_seed(name) or str(m.get("variant"))
    if "format_version" not in data:
        logger.info("%s: legacy sweep record (no fingerprints): unverified", path)
    return out


def _variant_of(run: Run, variant_by: str | None) -> str:
    if variant_by in (None, "name"):
        return _strip_seed(run.name)
    if variant_by == "feedback":
        return run.feedback
    return str(run.cfg(variant_by))


def read_sweep(
    paths: str | Path | Sequence[str | Path], variant_by: str | None = None
) -> list[tuple[str, int, Run | OriginalRun]]:
    """Open the runs of a sweep: a sweep directory, or a list of run directories.

    Parameters
    ----------
    paths
        A sweep directory (with ``sweep.yaml``), or run directories (ours or of the original
        code; a sweep directory in the list is expanded).
    variant_by
        How runs are grouped into variants. ``None`` (default): members of a sweep directory
        by their member name without the ``_seed<N>`` suffix (the sweep's variant plus grid
        point); other runs by their config ``name`` without that suffix, or by
        ``network.feedback`` when all names agree but the feedback modes differ. ``"name"``,
        ``"feedback"`` or any dotted config key force that grouping. Original runs are always
        ``"original:<name>"``.

    Returns
    -------
    list of (variant, seed, run)
        In the order given (sweep members in ``sweep.yaml`` order); missing sweep members are
        skipped with a warning.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    entries: list[tuple[str | None, int, Run | OriginalRun]] = []
    for p in (Path(x) for x in paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such run or sweep directory")
        if (p / SWEEP).is_file():
            for member, variant in _sweep_members(p).items():
                d = F.member_dir(p, member)
                if not (d / CONFIG).is_file():
                    logger.warning("%s: member %s has no run directory; skipped", p, member)
                    continue
                run = read_run(d)
                label = variant if variant_by is None else _variant_of(run, variant_by)
                entries.append((label, run.seed, run))
        elif is_original_run_dir(p):
            entries.append(_original_entry(p))
        else:
            run = read_run(p)
            sweep_dir = p.parent.parent
            label = None
            if variant_by is None and p.parent.name == "members" and (sweep_dir / SWEEP).is_file():
                label = _sweep_members(sweep_dir).get(p.name)
            elif variant_by is not None:
                label = _variant_of(run, variant_by)
            entries.append((label, run.seed, run))
    _label_by_default(entries)
    return [(str(v), s, r) for v, s, r in entries]


def _label_by_default(entries: list[tuple[str | None, int, Run | OriginalRun]]) -> None:
    """Fill in unlabelled runs: by name, or by feedback where the names do not tell them apart."""
    todo = [i for i, (v, _, _) in enumerate(entries) if v is None]
    names = {i: _strip_seed(entries[i][2].name) for i in todo}
    labels = names
    if len(set(names.values())) == 1:
        feedbacks = {i: entries[i][2].feedback for i in todo}
        if len(set(feedbacks.values())) > 1:
            labels = feedbacks
    for i in todo:
        entries[i] = (labels[i], entries[i][1], entries[i][2])
