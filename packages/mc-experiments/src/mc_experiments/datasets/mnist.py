"""MNIST from the canonical IDX files, with checksum verification and a verified download.

Splits as in the original: train = the first 50 000 training images, validation = training
images 50 000..59 999, test = the 10 000 test images; pixels are encoded as ``pixel / 256``.
``n_train``, ``n_valid`` and ``n_test`` count per class: a split uses its first ``10 * n``
samples. The original always loaded the full splits (5000/1000/1000 per class) and showed, in
every stage run, the first ``10 * n`` entries of a fresh shuffle of the whole split; with
``whole_splits=True`` (used by ``randomness: original``) every split holds all its samples, so
that the protocol can do the same.

The files are looked up in one directory (see :func:`resolve_mnist_dir`), as
``<name>`` or ``<name>.gz``, directly or in the ``MNIST/raw`` subfolder that torchvision
creates. Nothing is downloaded implicitly; :func:`download_mnist` fetches the files.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mc_experiments.datasets.base import Dataset, DatasetError, Split, check_count
from mc_experiments.storage import atomic_write_bytes

__all__ = [
    "DEFAULT_DIR",
    "ENV_VAR",
    "FILES",
    "MIRRORS",
    "N_CLASSES",
    "SAMPLE_DIR",
    "SAMPLE_FILES",
    "VALID_START",
    "MnistFile",
    "download_mnist",
    "load_mnist",
    "parse_idx",
    "read_idx",
    "resolve_mnist_dir",
]

logger = logging.getLogger(__name__)

ENV_VAR = "MC_MNIST_DIR"
DEFAULT_DIR = Path("data") / "mnist"
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
N_CLASSES = 10
VALID_START = 50_000
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

# IDX type codes (third magic byte) and the big-endian dtypes they stand for.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


@dataclass(frozen=True)
class MnistFile:
    """One canonical MNIST file.

    Attributes
    ----------
    name : str
        File name without ``.gz``.
    magic : int
        Expected IDX magic number.
    md5 : str
        md5 of the decompressed file.
    """

    name: str
    magic: int
    md5: str


FILES = {
    "train_images": MnistFile(
        "train-images-idx3-ubyte", IMAGES_MAGIC, "6bbc9ace898e44ae57da46a324031adb"
    ),
    "train_labels": MnistFile(
        "train-labels-idx1-ubyte", LABELS_MAGIC, "a25bea736e30d166cdddb491f175f624"
    ),
    "test_images": MnistFile(
        "t10k-images-idx3-ubyte", IMAGES_MAGIC, "2646ac647ad5339dbf082846283269ea"
    ),
    "test_labels": MnistFile(
        "t10k-labels-idx1-ubyte", LABELS_MAGIC, "27ae3e4e09519cfbb04c329615203637"
    ),
}


SAMPLE_DIR = Path(__file__).parent / "mnist_sample"
SAMPLE_VALID_START = 200
# md5 of the decompressed files of the bundled sample (see mnist_sample/README.md)
SAMPLE_FILES = {
    "train_images": MnistFile(
        "train-images-idx3-ubyte", IMAGES_MAGIC, "0a5aabdfa5f4af1dd33bac96351e698c"
    ),
    "train_labels": MnistFile(
        "train-labels-idx1-ubyte", LABELS_MAGIC, "089c354077b3c2386a9b77c2861aa2b5"
    ),
    "test_images": MnistFile(
        "t10k-images-idx3-ubyte", IMAGES_MAGIC, "4de451ca2b74a3a6e1bcba10d0fcfb17"
    ),
    "test_labels": MnistFile(
        "t10k-labels-idx1-ubyte", LABELS_MAGIC, "eb5d17b20d18e35a87a4539cfa2bca50"
    ),
}


def _resolve(configured: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """Return the MNIST directory and a phrase saying where it came from."""
    if configured is not None and str(configured) != "":
        return Path(configured).expanduser(), "the configured directory"
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser(), f"from the environment variable {ENV_VAR}"
    return Path.cwd() / DEFAULT_DIR, f"the default {DEFAULT_DIR} under the current directory"


def resolve_mnist_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """Return the MNIST directory: ``configured``, else ``$MC_MNIST_DIR``, else ``data/mnist``.

    Parameters
    ----------
    configured
        Directory named by the user (config or argument); ``None`` or ``""`` means unset.

    Returns
    -------
    pathlib.Path
        The directory (not checked for existence); the default is relative to the current
        working directory.
    """
    return _resolve(configured)[0]


def _search_dirs(directory: Path) -> list[Path]:
    return [directory, directory / "MNIST" / "raw"]


def _find(directory: Path, name: str) -> Path | None:
    for folder in _search_dirs(directory):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _read_bytes(path: Path) -> bytes:
    """Read a file, decompressing ``.gz``; errors name the file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path}: corrupted or truncated gzip file ({exc})") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc})") from exc


def parse_idx(data: bytes, source: str = "<bytes>", magic: int | None = None) -> np.ndarray:
    """Parse the bytes of an IDX file.

    Parameters
    ----------
    data
        The (decompressed) file contents.
    source
        Name used in error messages (usually the path).
    magic
        Expected magic number, or ``None`` to accept any valid IDX type and rank.

    Returns
    -------
    numpy.ndarray
        The array with the header's shape, in native byte order.

    Raises
    ------
    DatasetError
        For a bad magic number or a data size that does not match the header.
    """
    if len(data) < 4:
        raise DatasetError(f"{source}: truncated: {len(data)} bytes, too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    code, ndim = data[2], data[3]
    if data[0] != 0 or data[1] != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise DatasetError(f"{source}: bad magic number 0x{found:08x}: not an IDX file")
    if magic is not None and found != magic:
        raise DatasetError(f"{source}: bad magic number 0x{found:08x}, expected 0x{magic:08x}")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DatasetError(
            f"{source}: truncated header: {ndim} dimensions need {offset} bytes, "
            f"the file has {len(data)}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - offset
    if actual != expected:
        what = "truncated" if actual < expected else "trailing data"
        raise DatasetError(
            f"{source}: size mismatch with header ({what}): shape {shape} needs {expected} "
            f"bytes of data, the file has {actual}"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=offset)
    return array.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _load_checked(path: Path, spec: MnistFile, verify: bool) -> np.ndarray:
    """Read, parse and (if ``verify``) md5-check one MNIST file."""
    data = _read_bytes(path)
    array = parse_idx(data, str(path), spec.magic)
    digest = _md5(data) if verify else spec.md5
    if digest != spec.md5:
        raise DatasetError(
            f"{path}: checksum mismatch: md5 of the decompressed data is {digest}, expected "
            f"{spec.md5} for {spec.name}. The file is corrupted or not the canonical MNIST "
            f"file: delete it and call download_mnist({str(path.parent)!r}) (verify=False "
            "skips this check, for test files only)"
        )
    return array


def read_idx(path: str | os.PathLike[str], magic: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` is decompressed).

    Parameters
    ----------
    path
        The file.
    magic
        Expected magic number, or ``None`` to accept any IDX file.

    Returns
    -------
    numpy.ndarray
        The array, in native byte order.
    """
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path), magic)


def _missing_error(missing: list[str], directory: Path, source: str) -> DatasetError:
    names = ", ".join(missing)
    looked = "\n".join(f"  {folder}" for folder in _search_dirs(directory))
    return DatasetError(
        f"MNIST file(s) not found: {names} (each as <name> or <name>.gz). Looked in the MNIST "
        f"directory {directory} ({source}) and its torchvision subfolder:\n{looked}\n"
        f"To fix: set the environment variable {ENV_VAR} to a directory holding the four MNIST "
        "files, pass the directory in the config (dataset.directory), or download them with "
        f"mc_experiments.datasets.download_mnist({str(directory)!r})."
    )


def _take(
    images: np.ndarray, labels: np.ndarray, n_per_class: int, what: str, arg: str, whole: bool
) -> Split:
    need = N_CLASSES * n_per_class
    if need > labels.shape[0]:
        raise DatasetError(
            f"{arg}={n_per_class} per class asks for {need} MNIST samples, but the {what} "
            f"has only {labels.shape[0]} (at most {arg}={labels.shape[0] // N_CLASSES})"
        )
    if whole:
        need = labels.shape[0]
    inputs = images[:need].reshape(need, -1).astype(np.float32) / np.float32(256.0)
    return Split(inputs=inputs, labels=labels[:need].astype(np.int64))


def load_mnist(
    n_train: int,
    n_valid: int,
    n_test: int,
    directory: str | os.PathLike[str] | None = None,
    verify: bool = True,
    *,
    valid_start: int = VALID_START,
    sample: bool = False,
    whole_splits: bool = False,
) -> Dataset:
    """Load MNIST from the canonical IDX files.

    Parameters
    ----------
    n_train, n_valid, n_test
        Samples per class: each split uses its first ``10 * n`` samples (5000, 1000, 1000 for
        the full splits).
    directory
        Directory with the files; ``None`` resolves it with :func:`resolve_mnist_dir`.
    verify
        Check the md5 of every decompressed file (turn off only for test files).
    valid_start
        Index of the first training image that goes to the validation split (50 000).
    sample
        Load the 400-image sample bundled with this package (``mnist_sample/README.md``)
        instead: its splits are the first 200 / 100 / 100 samples of the canonical splits
        (``n_train <= 20``, ``n_valid <= 10``, ``n_test <= 10``); ``directory`` and
        ``valid_start`` are ignored. For offline tests and the pipeline's smoke profile.
    whole_splits
        Every split holds all its images, as the original loaded them (the counts are still
        checked against the split sizes); the original then showed ``10 * n`` of them per
        stage run.

    Returns
    -------
    Dataset
        ``rows * cols`` inputs (784) with values ``pixel / 256`` and ten classes.

    Raises
    ------
    DatasetError
        When a file is missing (naming every folder searched and how to fix it), corrupted,
        truncated or fails its checksum, or a split is too small for the requested counts.
    """
    counts = {
        "n_train": check_count(n_train, "n_train"),
        "n_valid": check_count(n_valid, "n_valid"),
        "n_test": check_count(n_test, "n_test"),
    }
    valid_start = check_count(valid_start, "valid_start")
    files = FILES
    if sample:
        files, valid_start = SAMPLE_FILES, SAMPLE_VALID_START
        root, source = SAMPLE_DIR, "the sample bundled with mc-experiments"
    else:
        root, source = _resolve(directory)
    paths = {key: _find(root, spec.name) for key, spec in files.items()}
    missing = [files[key].name for key, path in paths.items() if path is None]
    if missing:
        raise _missing_error(missing, root, source)
    arrays = {}
    for key, spec in files.items():
        arrays[key] = _load_checked(paths[key], spec, verify)
        logger.debug("read %s: shape %s", paths[key], arrays[key].shape)
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(
                f"{paths[f'{part}_images']} holds {images.shape[0]} images but "
                f"{paths[f'{part}_labels']} holds {labels.shape[0]} labels"
            )
        if labels.size and labels.max() >= N_CLASSES:
            raise DatasetError(
                f"{paths[f'{part}_labels']}: label {labels.max()} outside 0..{N_CLASSES - 1}"
            )
    n_file = arrays["train_labels"].shape[0]
    if valid_start > n_file:
        raise DatasetError(f"valid_start={valid_start} exceeds the {n_file} training images")
    train_images, train_labels = arrays["train_images"], arrays["train_labels"]
    test_images = arrays["test_images"]
    tag = " of the bundled sample (dataset.mnist_sample: true)" if sample else ""
    dataset = Dataset(
        name="mnist",
        train=_take(
            train_images[:valid_start],
            train_labels[:valid_start],
            counts["n_train"],
            f"training split{tag}",
            "n_train",
            whole_splits,
        ),
        valid=_take(
            train_images[valid_start:],
            train_labels[valid_start:],
            counts["n_valid"],
            f"validation split{tag}",
            "n_valid",
            whole_splits,
        ),
        test=_take(
            test_images,
            arrays["test_labels"],
            counts["n_test"],
            f"test split{tag}",
            "n_test",
            whole_splits,
        ),
        n_classes=N_CLASSES,
        n_inputs=int(np.prod(train_images.shape[1:], dtype=np.int64)),
    )
    logger.info(
        "MNIST from %s: %d/%d/%d train/valid/test samples",
        root,
        dataset.train.n_samples,
        dataset.valid.n_samples,
        dataset.test.n_samples,
    )
    return dataset


def _fetch(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def _download_one(spec: MnistFile, mirrors: Sequence[str], timeout: float) -> bytes:
    """Fetch ``<name>.gz`` from the first mirror whose file passes the checks."""
    errors = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{spec.name}.gz"
        logger.info("downloading %s", url)
        try:
            payload = _fetch(url, timeout)
            try:
                data = gzip.decompress(payload)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise DatasetError(f"corrupted or truncated gzip data ({exc})") from exc
            parse_idx(data, url, spec.magic)
            digest = _md5(data)
            if digest != spec.md5:
                raise DatasetError(f"checksum mismatch: md5 {digest}, expected {spec.md5}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            logger.warning("download of %s failed: %s", url, exc)
            errors.append(f"  {url}: {exc}")
            continue
        return payload
    joined = "\n".join(errors)
    raise DatasetError(
        f"could not download {spec.name}.gz from any mirror:\n{joined}\nTo use a copy you "
        f"have instead: set the environment variable {ENV_VAR} to a directory holding the four "
        "MNIST files (or give it as dataset.directory, or `mc-run data mnist --from DIR`)"
    )


def download_mnist(
    directory: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] = MIRRORS,
    *,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download the four MNIST ``.gz`` files and verify them before they are put in place.

    Each file is tried on every mirror in turn; its decompressed md5 must match before it is
    written (to a temporary file in the same directory, then renamed), so an interrupted or bad
    download never leaves a partial file. Files already present and valid are kept.

    Parameters
    ----------
    directory
        Target directory, created if needed; ``None`` resolves it with
        :func:`resolve_mnist_dir`.
    mirrors
        Base URLs, each holding ``<name>.gz``.
    force
        Download even files that are present and valid.
    timeout
        Timeout of each request in seconds.

    Returns
    -------
    pathlib.Path
        The directory.

    Raises
    ------
    DatasetError
        When a file cannot be obtained from any mirror (each URL's error is listed).
    """
    root = resolve_mnist_dir(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create the MNIST directory {root}: {exc}") from exc
    for spec in FILES.values():
        present = [p for p in (root / spec.name, root / f"{spec.name}.gz") if p.is_file()]
        bad = []
        for path in present:
            try:
                _load_checked(path, spec, verify=True)
            except DatasetError as exc:
                logger.warning("replacing invalid %s", exc)
                bad.append(path)
        if present and not bad and not force:
            logger.info("%s is present and valid", present[0])
            continue
        payload = _download_one(spec, mirrors, timeout)
        atomic_write_bytes(root / f"{spec.name}.gz", payload)
        for path in bad:
            if path.suffix != ".gz":  # an invalid uncompressed copy would shadow the new file
                path.unlink(missing_ok=True)
        logger.info("saved %s", root / f"{spec.name}.gz")
    return root
