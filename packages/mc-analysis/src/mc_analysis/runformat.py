"""The run-directory format, defined once for the writer and the reader.

:mod:`mc_experiments.storage` writes run directories with these names and schemas and
:mod:`mc_analysis.rundir` reads them; both import this module (mc-experiments depends on
mc-analysis, never the other way round). Layout of a run directory::

    <name>_<YYYYmmdd-HHMMSS>[-N]/
        config.yaml          the resolved config (every default filled in)
        environment.json     code version, backend, machine; format_version and the
                             config fingerprint
        status.json          running | interrupted | failed | completed, epochs completed,
                             the error and the step of a failure
        metrics.json         a :class:`Metrics` record, written atomically after every epoch
        run.log              the run's log
        recordings.zarr/     zarr v3: <stage>/<owner>.<variable> arrays (see below)
        checkpoints/         epoch_NNNN.npz (state arrays) + epoch_NNNN.json (the rest,
                             sealed with checksums); the newest two are kept, a completed
                             run keeps its final one
        .lock                held (``flock``) by the process writing the directory

A sweep directory holds ``sweep.yaml`` (its members, their config fingerprints and the base
config), ``members/<member>/`` (a run directory each) and its own ``.lock``.

Format versions: ``1`` is every directory written before ``format_version`` existed (no config
fingerprint, no checksums, no lock); readers accept it as *legacy, unverified*. ``2`` adds the
config fingerprint, sealed checkpoints, crc32c checksums on every zarr chunk and the lock.
``3`` adds a checksum of every array's metadata (its ``zarr.json``: shape, data type, byte
order, codecs, attributes; the attribute :data:`METADATA_CHECKSUM`) and the resolved config in
every checkpoint record; a format-3 reader requires both, and a checkpoint record that names
a format or an arrays checksum must carry its own checksum.

Recordings: ``<stage>/<owner>.<var>`` has one entry (first axis) per validation
(``n_epochs + 1``), training epoch (``n_epochs``), test (1) or weight snapshot
(``weights/<projection>.g``, ``n_epochs + 1``). With ``entry_every = k`` (array attribute) the
writer stores entries ``0, k, 2k, ...`` and the last one. :func:`required_entries` says which
of them must hold data given how far the run got: the writer writes a stage's arrays before
it updates ``metrics.json``, so every entry that ``metrics.json`` counts as done exists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import logging
import math
import os
import re
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from mc_analysis.bounded import short_repr
from mc_analysis.safefiles import UnsafePath, open_no_follow

__all__ = [
    "CHECKPOINTS",
    "CHECKPOINT_KEYS",
    "CONFIG",
    "ENVIRONMENT",
    "FORMAT_VERSION",
    "LOCK",
    "MEMBERS",
    "METADATA_CHECKSUM",
    "METRICS",
    "RECORDINGS",
    "REQUIRED_RECORDS",
    "RUN_LOG",
    "STAGES",
    "STATUS",
    "SWEEP",
    "CorruptFile",
    "DirLock",
    "LockError",
    "Metrics",
    "RunState",
    "UnsafePath",
    "array_key",
    "check_name",
    "checkpoint_epoch",
    "check_array_metadata",
    "checkpoint_stem",
    "config_diff",
    "fingerprint",
    "has_data_checksums",
    "locked",
    "member_dir",
    "newest_checkpoint_record",
    "required_entries",
    "seal",
    "sealed_attributes",
    "sha256_file",
    "state_key",
    "unseal",
    "written_candidates",
    "zarr_codecs",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
#: The attribute of a recorded array holding the checksum of its own metadata (format 3).
METADATA_CHECKSUM = "metadata_sha256"
#: Largest ``zarr.json`` read (an array's metadata is about 1 kB).
MAX_METADATA_BYTES = 1 << 20

CONFIG = "config.yaml"
METRICS = "metrics.json"
STATUS = "status.json"
ENVIRONMENT = "environment.json"
RUN_LOG = "run.log"
RECORDINGS = "recordings.zarr"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
SWEEP = "sweep.yaml"
MEMBERS = "members"

STAGES = ("validation", "training", "test", "weights")
#: Recorded in every validation and test, whatever the config asks (the metrics need them).
REQUIRED_RECORDS = ("output.v_brev", "teacher.rate")
#: Largest ``sweep.yaml`` record read (it lists every member).
MAX_SWEEP_RECORD_BYTES = 64 << 20


class RunState(StrEnum):
    """The states of ``status.json``."""

    RUNNING = "running"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    COMPLETED = "completed"
    UNKNOWN = "unknown"


class CorruptFile(ValueError):
    """A file of a run directory fails its checksum or cannot be parsed; names the file."""


# ---------------------------------------------------------------------------- names
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
MAX_NAME_BYTES = 200


def check_name(name: Any, what: str = "name") -> str:
    r"""``name`` if it can be one directory name, else :class:`ValueError` saying why.

    A name becomes a path (a run directory, a sweep member): it may not be empty, contain
    ``/``, ``\`` or control characters, start with ``.`` (``..``, hidden files) or exceed 200
    bytes. Everything else (letters, digits, ``_ - + = , [ ]``, spaces) is allowed.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what}: expected a non-empty string, got {short_repr(name)}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # surrogate escapes: bytes of a file name in another encoding
        raise ValueError(
            f"{what}: {short_repr(name)} is not UTF-8 text (a file name in another encoding?)"
        ) from None
    bad = _UNSAFE.search(name)
    if bad or name.startswith(".") or len(name.encode("utf-8")) > MAX_NAME_BYTES:
        why = (
            f"contains {bad.group()!r}"
            if bad
            else ("starts with '.'" if name.startswith(".") else "is longer than 200 bytes")
        )
        raise ValueError(
            f"{what}: {short_repr(name)} {why}; a name becomes a directory, so it may not contain "
            "'/', '\\' or control characters, start with '.' or exceed 200 bytes"
        )
    return name


def member_dir(sweep_dir: str | Path, name: str) -> Path:
    """``<sweep_dir>/members/<name>`` after checking that it stays inside ``members/``."""
    check_name(name, "member name")
    parent = Path(sweep_dir) / MEMBERS
    path = parent / name
    for p in (parent, path):
        if p.is_symlink():
            raise UnsafePath(f"{p}: is a symbolic link; refusing to use it as a sweep member")
    if path.exists() and path.resolve().parent != parent.resolve():
        raise UnsafePath(f"{path}: leads outside {parent}; refusing to use it as a sweep member")
    return path


# ---------------------------------------------------------------------------- configs
def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def fingerprint(resolved: Mapping[str, Any]) -> str:
    """``"sha256:<hex>"`` of a resolved config (canonical JSON: sorted keys, no spaces).

    Equal for equal configs, whatever their key order; a YAML round trip keeps it.
    """
    return "sha256:" + hashlib.sha256(_canonical(_plain(resolved))).hexdigest()


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def config_diff(old: Any, new: Any, limit: int = 20, ignore_added: bool = False) -> list[str]:
    """What differs between two resolved configs: ``"key.path: old -> new"`` lines.

    Mappings are compared key by key, everything else as a whole; a missing key shows as
    ``(missing)``. ``ignore_added``: keys only ``new`` has are not differences (a config
    written by an older version lacks the keys added since, which take their defaults). At
    most ``limit`` lines (then one saying how many more).
    """
    lines: list[str] = []
    _diff(_plain(old), _plain(new), "", lines)
    if ignore_added:
        lines = [line for line in lines if not line.split(": ", 1)[1].startswith("(missing) ->")]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more difference(s)"]
    return lines


_MISSING = object()


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            _diff(a.get(key, _MISSING), b.get(key, _MISSING), f"{path}.{key}" if path else key, out)
        return
    if a != b and not (_is_nan(a) and _is_nan(b)):
        show = [("(missing)" if v is _MISSING else short_repr(v, 80)) for v in (a, b)]
        out.append(f"{path or '<config>'}: {show[0]} -> {show[1]}")


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


# ---------------------------------------------------------------------------- metrics
@dataclass
class Metrics:
    """The record in ``metrics.json``: every number of a run, one entry per event.

    ``validation_*``: one value per validation done (index 0 = the untrained network);
    ``angles["fb_l"]``: the angle [deg] between ``B_l`` and ``W_{l+1}^T`` at the start and after
    every epoch; ``self_prediction["layer_l"]``: mean ``|W_ff - W_p2i|`` and mean
    ``|B + W_i2p|`` at the same times; ``test_*``: the final test (``None`` until then).
    """

    name: str
    seed: int
    epochs_completed: int = 0
    validation_accuracy: list[float] = field(default_factory=list)
    validation_rmse: list[float] = field(default_factory=list)
    validation_mae: list[float] = field(default_factory=list)
    test_accuracy: float | None = None
    test_rmse: float | None = None
    test_confusion: list[list[int]] | None = None
    angles: dict[str, list[float]] = field(default_factory=dict)
    self_prediction: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    validation_confusion: list[list[int]] | None = None

    @classmethod
    def empty(cls, name: str, seed: int, n_hidden: int) -> Metrics:
        """The record of a run that has not done anything yet."""
        layers = range(1, n_hidden + 1)
        return cls(
            name=name,
            seed=seed,
            angles={f"fb_{la}": [] for la in layers},
            self_prediction={
                f"layer_{la}": {"ff_minus_p2i": [], "fb_plus_i2p": []} for la in layers
            },
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the layout of ``metrics.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = METRICS) -> Metrics:
        """Read a record; missing keys take their empty value (runs of older versions).

        Raises :class:`CorruptFile` naming ``source`` and the key when a value has the wrong
        type. Unknown keys are ignored.
        """
        if not isinstance(data, Mapping):
            raise CorruptFile(f"{source}: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        checks = {
            "name": lambda v: isinstance(v, str),
            "seed": lambda v: isinstance(v, int),
            "epochs_completed": lambda v: isinstance(v, int) and v >= 0,
            "validation_accuracy": _numbers,
            "validation_rmse": _numbers,
            "validation_mae": _numbers,
            "test_accuracy": lambda v: v is None or isinstance(v, int | float),
            "test_rmse": lambda v: v is None or isinstance(v, int | float),
            "angles": lambda v: isinstance(v, Mapping) and all(_numbers(x) for x in v.values()),
            "self_prediction": lambda v: (
                isinstance(v, Mapping)
                and all(
                    isinstance(x, Mapping) and all(_numbers(y) for y in x.values())
                    for x in v.values()
                )
            ),  # fmt: skip
        }
        for key, ok in checks.items():
            if key in kwargs and not ok(kwargs[key]):
                raise CorruptFile(f"{source}: {key}: unexpected value {short_repr(kwargs[key])}")
        kwargs.setdefault("name", "")
        kwargs.setdefault("seed", -1)
        return cls(**kwargs)


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and all(x is None or isinstance(x, int | float) for x in v)


# ---------------------------------------------------------------------------- recordings
def array_key(stage: str, var: str) -> str:
    """``"<stage>/<owner>.<variable>"``, e.g. ``"validation/output.v_brev"``."""
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} is not one of {STAGES}")
    if var.count(".") < 1:
        raise ValueError(f"{var!r}: expected <owner>.<variable>")
    return f"{stage}/{var}"


def written_candidates(n_entries: int, entry_every: int) -> list[int]:
    """Entries the writer stores with ``entry_every = k``: ``0, k, 2k, ...`` and the last."""
    k = max(1, int(entry_every))
    return sorted(set(range(0, n_entries, k)) | ({n_entries - 1} if n_entries else set()))


def required_entries(
    stage: str, n_entries: int, entry_every: int, epochs_completed: int, completed: bool
) -> list[int]:
    """Entries of ``stage`` that must hold data once ``metrics.json`` counts the epochs.

    Per epoch ``e`` the protocol runs validation ``e``, training ``e``, writes weight snapshot
    ``e + 1`` and only then counts the epoch in ``metrics.json``; the final validation and the
    test follow the last epoch, and ``status.json`` says ``completed`` after them. So with
    ``epochs_completed = c``: validations and training epochs ``< c`` and weight snapshots
    ``<= c``, and for a completed run every entry, exist.
    """
    limits = {"validation": epochs_completed, "training": epochs_completed, "test": 0}
    limit = n_entries if completed else limits.get(stage, epochs_completed + 1)
    return [e for e in written_candidates(n_entries, entry_every) if e < limit]


def zarr_codecs() -> dict[str, Any]:
    """Keywords of ``create_array`` for recordings: zstd, then a crc32c checksum per chunk.

    Inside a shard every chunk carries its checksum (and the shard index its own), so a
    flipped byte anywhere fails loudly when read.
    """
    from zarr.codecs import Crc32cCodec, ZstdCodec

    return {"compressors": (ZstdCodec(level=0, checksum=False), Crc32cCodec())}


def _metadata_digest(doc: Mapping[str, Any]) -> str:
    """sha256 of an array's metadata document without its own checksum attribute."""
    body = dict(doc)
    attrs = dict(body.get("attributes") or {})
    attrs.pop(METADATA_CHECKSUM, None)
    body["attributes"] = attrs
    return "sha256:" + hashlib.sha256(_canonical(body)).hexdigest()


def sealed_attributes(attributes: Mapping[str, Any], **create: Any) -> dict[str, Any]:
    """``attributes`` plus :data:`METADATA_CHECKSUM`: the checksum of the array's metadata.

    ``create`` are the keywords of ``zarr.create_array`` (shape, chunks, shards, dtype,
    fill_value, codecs) that the array will be created with, ``attributes`` its attributes.
    The metadata document is made once in memory with exactly these, so the checksum is known
    before the array is written: its ``zarr.json`` is written once, sealed.
    """
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import MemoryStore

    probe = zarr.create_array(MemoryStore(), attributes=dict(attributes), **create)
    raw = probe.metadata.to_buffer_dict(default_buffer_prototype())["zarr.json"].to_bytes()
    return {**attributes, METADATA_CHECKSUM: _metadata_digest(json.loads(raw))}


def check_array_metadata(path: str | Path, required: bool) -> bool:
    """Check the ``zarr.json`` of a recorded array against its :data:`METADATA_CHECKSUM`.

    Parameters
    ----------
    path
        The array's ``zarr.json``.
    required
        Whether the array must carry the checksum (format 3 runs).

    Returns
    -------
    bool
        Whether the metadata carried a checksum (and it matched).

    Raises
    ------
    CorruptFile
        Naming the file when it is too large, not JSON, lacks a required checksum or fails it
        (byte order, shape, attributes or codecs edited).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_METADATA_BYTES + 1)
    except OSError as err:
        raise CorruptFile(f"{path}: cannot be read ({err.strerror or err})") from None
    if len(raw) > MAX_METADATA_BYTES:
        raise CorruptFile(f"{path}: more than {MAX_METADATA_BYTES} bytes of array metadata")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise CorruptFile(f"{path}: not valid JSON ({err}); the file is garbled") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("attributes", {}), dict):
        raise CorruptFile(f"{path}: not the metadata of a zarr array")
    stored = doc.get("attributes", {}).get(METADATA_CHECKSUM)
    if stored is None:
        if required:
            raise CorruptFile(
                f"{path}: has no {METADATA_CHECKSUM!r} attribute, which every array of a format "
                f"{FORMAT_VERSION} run carries (the metadata was edited or replaced)"
            )
        return False
    if stored != _metadata_digest(doc):
        raise CorruptFile(
            f"{path}: fails its checksum ({METADATA_CHECKSUM}): the array's metadata (shape, data "
            "type, byte order, codecs or attributes) was edited after it was written"
        )
    return True


def has_data_checksums(array: Any) -> bool:
    """Whether the chunks of a zarr array carry a crc32c checksum (format 2 recordings)."""
    from zarr.codecs import Crc32cCodec, ShardingCodec

    codecs = list(getattr(array.metadata, "codecs", ()) or ())
    inner = [c for s in codecs if isinstance(s, ShardingCodec) for c in s.codecs]
    return any(isinstance(c, Crc32cCodec) for c in (*codecs, *inner))


# ---------------------------------------------------------------------------- checkpoints
CHECKPOINT_RE = re.compile(r"^epoch_(\d{4,})\.json$")
#: Keys every checkpoint record holds (besides ``backend``, ``arrays_sha256``,
#: ``format_version`` and ``checksum`` since format 2 and the resolved ``config`` since format
#: 3): the epochs done, each member's noise and order generator states, and its
#: :class:`Metrics` so far.
CHECKPOINT_KEYS = ("epoch", "noise_rng", "order_rng", "metrics")


def checkpoint_stem(epoch: int) -> str:
    """``"epoch_NNNN"``: the checkpoint after ``epoch`` epochs (``.npz`` and ``.json``)."""
    return f"epoch_{epoch:04d}"


def checkpoint_epoch(path: str | Path) -> int | None:
    """The epoch of a checkpoint's ``.json`` file name, ``None`` for other names."""
    m = CHECKPOINT_RE.match(Path(path).name)
    return int(m.group(1)) if m else None


#: Largest checkpoint record read when only its format and config are wanted.
MAX_CHECKPOINT_RECORD_BYTES = 16 << 20


def newest_checkpoint_record(checkpoint_dir: str | Path) -> dict[str, Any] | None:
    """The newest checkpoint record that passes its checksum (``None`` if there is none).

    Used to learn a run's format and config from its sealed checkpoints when
    ``environment.json`` is missing: the records are sealed, so they cannot be downgraded or
    edited as easily as a deleted file.
    """
    epochs = {p: checkpoint_epoch(p) for p in Path(checkpoint_dir).glob("epoch_*.json")}
    for path in sorted((p for p, e in epochs.items() if e is not None), key=epochs.get)[::-1]:
        try:
            if path.stat().st_size > MAX_CHECKPOINT_RECORD_BYTES:
                continue
            meta, sealed = unseal(json.loads(path.read_bytes()), path)
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if sealed:
            return meta
    return None


def state_key(group: str, owner: str, var: str) -> str:
    """Name of a state array in a checkpoint: ``"<neurons|synapses>/<owner>/<variable>"``."""
    return f"{group}/{owner}/{var}"


def sha256_file(path: str | Path) -> str:
    """``"sha256:<hex>"`` of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def seal(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's JSON record with ``format_version`` and its own ``checksum``.

    ``meta`` must be plain JSON data (as after a ``json`` round trip); ``checksum`` is the
    sha256 of its canonical form, so any change to the file shows.
    """
    out = {**meta, "format_version": FORMAT_VERSION}
    out.pop("checksum", None)
    out["checksum"] = "sha256:" + hashlib.sha256(_canonical(out)).hexdigest()
    return out


def unseal(meta: Any, source: str | Path) -> tuple[dict[str, Any], bool]:
    """Check a checkpoint's JSON record; returns it and whether it carried a checksum.

    Raises :class:`CorruptFile` naming ``source`` when the checksum does not match.
    """
    if not isinstance(meta, dict):
        raise CorruptFile(f"{source}: expected a JSON object, got {type(meta).__name__}")
    if "checksum" not in meta:
        sealed_keys = [k for k in ("format_version", "arrays_sha256", "config") if k in meta]
        if sealed_keys:  # written by a sealing writer: its checksum was removed or damaged
            raise CorruptFile(
                f"{source}: has no 'checksum' although it holds {sealed_keys}, which only sealed "
                "records hold (the file was changed or garbled)"
            )
        return dict(meta), False
    body = {k: v for k, v in meta.items() if k != "checksum"}
    want = "sha256:" + hashlib.sha256(_canonical(body)).hexdigest()
    if meta["checksum"] != want:
        raise CorruptFile(f"{source}: fails its checksum (the file was changed or garbled)")
    return body, True


# ---------------------------------------------------------------------------- locks
class LockError(RuntimeError):
    """The directory is being written by another process; the message names it."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DirLock:
    """An exclusive lock on a run or sweep directory (``flock`` on ``<dir>/.lock``).

    The lock file holds who has it (pid, host, start time, command line). The kernel drops the
    lock when its process ends however it ends (SIGKILL included); the next writer then takes
    it over and says whose it was. A second writer while the holder lives gets
    :class:`LockError` naming the holder. Where the file system cannot lock (some network file
    systems), the recorded holder decides: a dead process on this host is taken over, a live
    one or one on another host is refused.

    Parameters
    ----------
    directory
        The run or sweep directory (it must exist).
    what
        What the directory is, for messages ("run directory", "sweep directory").
    """

    def __init__(self, directory: str | Path, what: str = "run directory") -> None:
        self.directory = Path(directory)
        self.what = what
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        """The lock file."""
        return self.directory / LOCK

    def __enter__(self) -> DirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    @staticmethod
    def _describe(info: Mapping[str, Any]) -> str:
        return (
            f"pid {info.get('pid', '?')} on host {info.get('host', '?')} "
            f"(since {info.get('since', '?')}: {info.get('command', '?')})"
        )

    @staticmethod
    def _read(fd: int) -> dict[str, Any]:
        try:
            data = os.pread(fd, 65536, 0)
            info = json.loads(data) if data.strip() else {}
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def acquire(self) -> DirLock:
        """Take the lock or raise :class:`LockError` naming the holder."""
        import fcntl

        if self._fd is not None:
            return self
        fd = open_no_follow(self.path, os.O_RDWR | os.O_CREAT, "lock file")
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
            except BlockingIOError:
                holder = self._read(fd)
                raise LockError(
                    f"{self.directory}: this {self.what} is being written by "
                    f"{self._describe(holder)}; wait until it ends or stop that process"
                ) from None
            except OSError as err:
                if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise
                locked = False
            previous = self._read(fd)
            if previous:
                self._take_over(previous, locked)
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join(sys.argv)[:500],
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def _take_over(self, previous: Mapping[str, Any], locked: bool) -> None:
        same_host = previous.get("host") == socket.gethostname()
        pid = previous.get("pid")
        alive = same_host and isinstance(pid, int) and _pid_alive(pid)
        if not locked and (alive or not same_host):
            raise LockError(
                f"{self.directory}: this {self.what} is recorded as being written by "
                f"{self._describe(previous)} and this file system cannot lock to check; if that "
                f"process has ended, delete {self.path}"
            )
        why = "which has ended" if same_host and not alive else "which no longer holds it"
        logger.warning(
            "%s: took over the stale lock of %s, %s", self.directory, self._describe(previous), why
        )

    def release(self) -> None:
        """Give the lock back (the lock file stays, empty)."""
        import fcntl

        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @staticmethod
    def holder(directory: str | Path) -> dict[str, Any] | None:
        """Who holds the lock of ``directory`` now (pid, host, ...), ``None`` if nobody."""
        import fcntl

        path = Path(directory) / LOCK
        try:
            fd = open_no_follow(path, os.O_RDONLY, "lock file")
        except (OSError, UnsafePath):
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return DirLock._read(fd) or {"pid": "?", "host": "?"}
            except OSError:
                return None
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)


@contextlib.contextmanager
def locked(directories: Sequence[str | Path], what: str = "run directory") -> Iterator[None]:
    """Hold the :class:`DirLock` of every directory (all or none)."""
    with contextlib.ExitStack() as stack:
        for d in directories:
            stack.enter_context(DirLock(d, what))
        yield
