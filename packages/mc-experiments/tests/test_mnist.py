import gzip
import hashlib
import io
import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from mc_experiments.datasets import (
    DatasetError,
    download_mnist,
    load_dataset,
    load_mnist,
    read_idx,
    resolve_mnist_dir,
)
from mc_experiments.datasets import mnist as mnist_mod
from mc_experiments.datasets.mnist import FILES, MIRRORS, MnistFile, parse_idx

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
         np.float64: 0x0E}  # fmt: skip


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialize an array as an IDX file (written here from the format's definition)."""
    code = CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(3 * 5 * 4, dtype=np.uint8).reshape(3, 5, 4),
        np.array([-3, 0, 7], dtype=np.int16),
        np.linspace(-1, 1, 6).reshape(2, 3),
        np.array([[1.5, -2.25]], dtype=np.float32),
    ],
)
def test_read_idx_roundtrip(tmp_path, array, suffix):
    path = write(tmp_path / f"a-idx{suffix}", idx_bytes(array))
    out = read_idx(path)
    assert out.dtype == array.dtype.newbyteorder("=")
    assert out.shape == array.shape
    np.testing.assert_array_equal(out, array)


def test_parse_idx_errors():
    good = idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))
    with pytest.raises(DatasetError, match="f.idx: bad magic number 0x12340803: not an IDX"):
        parse_idx(b"\x12\x34" + good[2:], "f.idx")
    with pytest.raises(DatasetError, match="bad magic number 0x00000803, expected 0x00000801"):
        parse_idx(good, "f.idx", magic=0x801)
    with pytest.raises(DatasetError, match=r"size mismatch with header \(truncated\).*18 bytes"):
        parse_idx(good[:-1], "f.idx")
    with pytest.raises(DatasetError, match=r"size mismatch with header \(trailing data\)"):
        parse_idx(good + b"\x00", "f.idx")
    with pytest.raises(DatasetError, match="truncated header"):
        parse_idx(good[:9], "f.idx")
    with pytest.raises(DatasetError, match="too short"):
        parse_idx(b"\x00\x00", "f.idx")


def test_read_idx_truncated_gz(tmp_path):
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))[:-12])
    with pytest.raises(DatasetError, match=r"x-idx1-ubyte\.gz: corrupted or truncated gzip"):
        read_idx(path)


def test_read_idx_not_gzip(tmp_path):
    path = tmp_path / "y.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match=r"y\.gz: corrupted or truncated gzip"):
        read_idx(path)


# ---------------------------------------------------------------- fake MNIST directory

ROWS, COLS = 4, 3


def fake_mnist(directory: Path, n_train=40, n_test=20, gz=True, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, ROWS, COLS), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, ROWS, COLS), dtype=np.uint8),
        "test_labels": ((np.arange(n_test) * 3) % 10).astype(np.uint8),
    }
    for key, array in arrays.items():
        write(directory / (FILES[key].name + (".gz" if gz else "")), idx_bytes(array))
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_load_fake_mnist(tmp_path, gz):
    arrays = fake_mnist(tmp_path, gz=gz)
    ds = load_mnist(2, 1, 2, directory=tmp_path, verify=False, valid_start=30)
    assert (ds.name, ds.n_classes, ds.n_inputs) == ("mnist", 10, ROWS * COLS)
    assert ds.train.inputs.shape == (20, 12)
    assert ds.valid.inputs.shape == (10, 12)
    assert ds.test.inputs.shape == (20, 12)
    assert ds.train.inputs.dtype == np.float32
    assert ds.train.labels.dtype == np.int64
    # pixel / 256 (not / 255), first 10 * n samples of each split
    np.testing.assert_array_equal(
        ds.train.inputs, arrays["train_images"][:20].reshape(20, -1) / np.float32(256)
    )
    np.testing.assert_array_equal(ds.valid.labels, arrays["train_labels"][30:40])
    np.testing.assert_array_equal(
        ds.valid.inputs, arrays["train_images"][30:40].reshape(10, -1) / np.float32(256)
    )
    np.testing.assert_array_equal(ds.test.labels, arrays["test_labels"])
    assert ds.train.inputs.max() < 1.0


def test_load_mnist_torchvision_layout(tmp_path):
    fake_mnist(tmp_path / "MNIST" / "raw")
    ds = load_mnist(1, 1, 1, directory=tmp_path, verify=False, valid_start=30)
    assert ds.train.n_samples == 10


def test_load_mnist_too_many_per_class(tmp_path):
    fake_mnist(tmp_path)
    with pytest.raises(DatasetError, match=r"n_valid=2 per class asks for 20.*has only 10"):
        load_mnist(1, 2, 1, directory=tmp_path, verify=False, valid_start=30)
    with pytest.raises(DatasetError, match=r"n_train=4 per class asks for 40.*has only 30"):
        load_mnist(4, 0, 0, directory=tmp_path, verify=False, valid_start=30)
    with pytest.raises(DatasetError, match="valid_start=50000 exceeds the 40 training images"):
        load_mnist(1, 0, 0, directory=tmp_path, verify=False)


def test_load_mnist_checksum_mismatch(tmp_path):
    fake_mnist(tmp_path)
    actual = hashlib.md5(
        gzip.decompress((tmp_path / "train-images-idx3-ubyte.gz").read_bytes())
    ).hexdigest()
    with pytest.raises(DatasetError) as info:
        load_mnist(1, 1, 1, directory=tmp_path, valid_start=30)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz: checksum mismatch" in msg
    assert actual in msg
    assert FILES["train_images"].md5 in msg


def test_load_mnist_bad_magic(tmp_path):
    fake_mnist(tmp_path)
    # a labels file where the images belong
    write(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(np.zeros(20, dtype=np.uint8)))
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz: bad magic number"):
        load_mnist(1, 1, 1, directory=tmp_path, verify=False, valid_start=30)


def test_load_mnist_truncated_data(tmp_path):
    fake_mnist(tmp_path, gz=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte: size mismatch with header"):
        load_mnist(1, 1, 1, directory=tmp_path, verify=False, valid_start=30)


def test_load_mnist_truncated_gz(tmp_path):
    fake_mnist(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz: corrupted or truncated"):
        load_mnist(1, 1, 1, directory=tmp_path, verify=False, valid_start=30)


def test_load_mnist_count_mismatch(tmp_path):
    fake_mnist(tmp_path)
    write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(39, dtype=np.uint8)))
    with pytest.raises(DatasetError, match="holds 40 images but .* holds 39 labels"):
        load_mnist(1, 1, 1, directory=tmp_path, verify=False, valid_start=30)


def test_load_mnist_missing_files(tmp_path, monkeypatch):
    monkeypatch.delenv("MC_MNIST_DIR", raising=False)
    fake_mnist(tmp_path / "d")
    (tmp_path / "d" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError) as info:
        load_mnist(1, 1, 1, directory=tmp_path / "d", verify=False)
    msg = str(info.value)
    assert "not found: t10k-labels-idx1-ubyte" in msg
    assert "train-images" not in msg
    assert str(tmp_path / "d") in msg
    assert str(tmp_path / "d" / "MNIST" / "raw") in msg
    assert "the configured directory" in msg
    assert "MC_MNIST_DIR" in msg
    assert "download_mnist(" in msg


def test_load_mnist_missing_default_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("MC_MNIST_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", n_train=1, n_valid=1, n_test=1)
    msg = str(info.value)
    for spec in FILES.values():
        assert spec.name in msg
    assert str(tmp_path / "data" / "mnist") in msg
    assert "default" in msg


def test_resolve_mnist_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MC_MNIST_DIR", raising=False)
    assert resolve_mnist_dir(None) == tmp_path / "data" / "mnist"
    monkeypatch.setenv("MC_MNIST_DIR", str(tmp_path / "env"))
    assert resolve_mnist_dir(None) == tmp_path / "env"
    assert resolve_mnist_dir("") == tmp_path / "env"
    assert resolve_mnist_dir(tmp_path / "cfg") == tmp_path / "cfg"
    assert resolve_mnist_dir(str(tmp_path / "cfg")) == tmp_path / "cfg"


def test_load_mnist_from_env(tmp_path, monkeypatch):
    fake_mnist(tmp_path / "env")
    monkeypatch.setenv("MC_MNIST_DIR", str(tmp_path / "env"))
    ds = load_mnist(1, 1, 1, verify=False, valid_start=30)
    assert ds.test.n_samples == 10


# ---------------------------------------------------------------- download


class FakeServer:
    """Serves bytes by URL in place of urllib.request.urlopen; records the requests."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.requests: list[str] = []

    def __call__(self, url, timeout=None):
        self.requests.append(url)
        if url not in self.files:
            raise urllib.error.URLError(f"no route to {url}")
        return io.BytesIO(self.files[url])


def fake_specs(monkeypatch, arrays) -> dict[str, bytes]:
    """Give FILES the md5s of the fake files; return the gz payload of each file."""
    payloads = {}
    specs = {}
    for key, spec in FILES.items():
        raw = idx_bytes(arrays[key])
        specs[key] = MnistFile(spec.name, spec.magic, hashlib.md5(raw).hexdigest())
        payloads[spec.name] = gzip.compress(raw)
    monkeypatch.setattr(mnist_mod, "FILES", specs)
    return payloads


def make_arrays(tmp_path):
    return fake_mnist(tmp_path / "source")


def test_download_mirror_fallback(tmp_path, monkeypatch):
    payloads = fake_specs(monkeypatch, make_arrays(tmp_path))
    first, second = MIRRORS
    served = {f"{second}{name}.gz": data for name, data in payloads.items()}
    # the first mirror serves a corrupted images file and nothing else
    served[f"{first}train-images-idx3-ubyte.gz"] = payloads["train-images-idx3-ubyte"][:-20]
    server = FakeServer(served)
    monkeypatch.setattr(mnist_mod.urllib.request, "urlopen", server)
    target = tmp_path / "new" / "mnist"
    assert download_mnist(target) == target
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{n}.gz" for n in payloads)
    for name, data in payloads.items():
        assert (target / f"{name}.gz").read_bytes() == data
    assert len(server.requests) == 8
    ds = load_mnist(1, 1, 1, directory=target, valid_start=30)  # verify=True with fake md5s
    assert ds.train.n_samples == 10
    # a second call keeps the valid files and downloads nothing
    server.requests.clear()
    download_mnist(target)
    assert server.requests == []


def test_download_all_mirrors_fail_leaves_nothing(tmp_path, monkeypatch):
    payloads = fake_specs(monkeypatch, make_arrays(tmp_path))
    bad = {}
    for mirror in MIRRORS:
        for name, data in payloads.items():
            raw = bytearray(gzip.decompress(data))
            raw[-1] ^= 0xFF  # checksum mismatch
            bad[f"{mirror}{name}.gz"] = gzip.compress(bytes(raw))
    monkeypatch.setattr(mnist_mod.urllib.request, "urlopen", FakeServer(bad))
    target = tmp_path / "t"
    with pytest.raises(DatasetError) as info:
        download_mnist(target)
    msg = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz from any mirror" in msg
    for mirror in MIRRORS:
        assert f"{mirror}train-images-idx3-ubyte.gz: checksum mismatch" in msg
    assert "set the environment variable MC_MNIST_DIR to a directory holding" in msg
    assert list(target.iterdir()) == []


def test_download_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    payloads = fake_specs(monkeypatch, make_arrays(tmp_path))
    served = {f"{MIRRORS[0]}{name}.gz": data for name, data in payloads.items()}
    monkeypatch.setattr(mnist_mod.urllib.request, "urlopen", FakeServer(served))

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(mnist_mod.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        download_mnist(tmp_path / "t")
    assert list((tmp_path / "t").iterdir()) == []


def test_download_replaces_invalid_files(tmp_path, monkeypatch):
    payloads = fake_specs(monkeypatch, make_arrays(tmp_path))
    served = {f"{MIRRORS[0]}{name}.gz": data for name, data in payloads.items()}
    server = FakeServer(served)
    monkeypatch.setattr(mnist_mod.urllib.request, "urlopen", server)
    target = tmp_path / "t"
    download_mnist(target)
    # corrupt one gz file and add a stale uncompressed copy that would shadow the next one
    (target / "t10k-labels-idx1-ubyte.gz").write_bytes(b"junk")
    (target / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01junk")
    server.requests.clear()
    download_mnist(target)
    assert sorted(server.requests) == [
        f"{MIRRORS[0]}t10k-labels-idx1-ubyte.gz",
        f"{MIRRORS[0]}train-labels-idx1-ubyte.gz",
    ]
    assert not (target / "train-labels-idx1-ubyte").exists()
    load_mnist(1, 1, 1, directory=target, valid_start=30)


# ---------------------------------------------------------------- canonical MNIST (optional)


def canonical_dir() -> Path | None:
    """``$MC_TEST_MNIST_DIR``, else ``data/mnist`` of the repository if it holds MNIST."""
    env = os.environ.get("MC_TEST_MNIST_DIR")
    if env:
        return Path(env)
    candidate = Path(__file__).resolve().parents[3] / "data" / "mnist"
    return candidate if candidate.is_dir() else None


needs_mnist = pytest.mark.skipif(
    canonical_dir() is None,
    reason="the canonical MNIST files are not here: set MC_TEST_MNIST_DIR to a folder holding "
    "them (`mc-run data mnist --out DIR` downloads and verifies them) or put them in data/mnist",
)


@needs_mnist
def test_canonical_mnist():
    ds = load_mnist(5000, 1000, 1000, directory=canonical_dir(), verify=True)
    assert ds.train.inputs.shape == (50_000, 784)
    assert ds.valid.inputs.shape == (10_000, 784)
    assert ds.test.inputs.shape == (10_000, 784)
    assert ds.train.labels[0] == 5
    assert ds.test.labels[0] == 7
    assert ds.train.inputs.max() == np.float32(255 / 256)
    assert ds.train.inputs.min() == 0.0
    np.testing.assert_array_equal(np.unique(ds.valid.labels), np.arange(10))


@needs_mnist
def test_canonical_mnist_download(tmp_path, monkeypatch):
    source = canonical_dir()
    served = {
        f"{MIRRORS[1]}{spec.name}.gz": (source / f"{spec.name}.gz").read_bytes()
        for spec in FILES.values()
    }
    monkeypatch.setattr(mnist_mod.urllib.request, "urlopen", FakeServer(served))
    download_mnist(tmp_path)
    ds = load_mnist(1, 1, 1, directory=tmp_path)
    assert ds.train.labels[0] == 5


# ---------------------------------------------------------------- the bundled sample


def test_bundled_sample_loads_offline_and_checks_its_files(tmp_path):
    from mc_experiments.datasets.mnist import SAMPLE_DIR

    ds = load_mnist(20, 10, 10, sample=True)
    assert ds.train.inputs.shape == (200, 784) and ds.test.inputs.shape == (100, 784)
    # the canonical first labels: training image 0 is a 5, test image 0 a 7
    assert ds.train.labels[0] == 5 and ds.test.labels[0] == 7
    with pytest.raises(DatasetError, match="training split of the bundled sample"):
        load_mnist(21, 1, 1, sample=True)
    # the gz files match the SHA256SUMS shipped beside them
    for line in (SAMPLE_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((SAMPLE_DIR / name).read_bytes()).hexdigest() == digest


@needs_mnist
def test_bundled_sample_is_a_prefix_of_the_canonical_splits():
    sample = load_mnist(20, 10, 10, sample=True)
    full = load_mnist(20, 10, 10, directory=canonical_dir())
    for a, b in ((sample.train, full.train), (sample.valid, full.valid), (sample.test, full.test)):
        np.testing.assert_array_equal(a.inputs, b.inputs)
        np.testing.assert_array_equal(a.labels, b.labels)


def test_config_selects_the_sample(tiny_dict):
    from mc_experiments.config import ConfigError, config_from_dict
    from mc_experiments.data import load_stage_data

    d = dict(tiny_dict, network={"preset": "mnist", "feedback": "fa"})
    d["dataset"] = {"name": "mnist", "n_train": 2, "n_valid": 1, "n_test": 1, "mnist_sample": True}
    stages = load_stage_data(config_from_dict(d))
    assert stages["training"].inputs.shape == (20, 784)
    d["dataset"]["directory"] = "somewhere"
    with pytest.raises(ConfigError, match="give one"):
        config_from_dict(d)
