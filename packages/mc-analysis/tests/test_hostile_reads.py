"""What hostile or careless inputs do to ``mc-analyze`` (hardening, round 2).

Each test names the finding it guards (``item N``): reports written through symbolic
links, comparisons of a run's prefix called bit-identical, NaN outputs scoring 100 %, edited
array metadata read silently, files declaring more data than they hold, and errors that
ended in tracebacks instead of one line.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
import yaml
import zarr
from analysis_builders import N_EPOCHS, make_original_run, make_run, make_sweep

from mc_analysis import metrics as M
from mc_analysis.cli import main
from mc_analysis.report import make_run_report, make_sweep_report
from mc_analysis.rundir import RunDataError, read_run


@pytest.fixture
def run3(tmp_path):
    d = tmp_path / "fmt3" / "tiny_20240101-000000"
    return d, make_run(d, fmt=3)


# ------------------------------------------------------------------ item 3: report symlinks
def test_report_files_replace_symbolic_links_instead_of_writing_through_them(run3, tmp_path):
    d, _ = run3
    (d / "report").mkdir()
    victims = {}
    for name in ("summary.json", "validation_accuracy.png", "validation_accuracy.pdf"):
        victims[name] = tmp_path / f"victim_{name}"
        victims[name].write_text("precious")
        (d / "report" / name).symlink_to(victims[name])
    make_run_report(d)
    for name, victim in victims.items():
        assert victim.read_text() == "precious", name
        assert not (d / "report" / name).is_symlink() and (d / "report" / name).stat().st_size
    sweep = tmp_path / "sweep"
    make_sweep(sweep)
    (sweep / "report").mkdir()
    (sweep / "report" / "per_seed.csv").symlink_to(victims["summary.json"])
    make_sweep_report(sweep)
    assert victims["summary.json"].read_text() == "precious"
    assert (sweep / "report" / "per_seed.csv").read_text().startswith("variant")


def test_default_report_folder_that_is_a_link_is_refused(run3, tmp_path, caplog):
    from mc_analysis.safefiles import UnsafePath

    d, _ = run3
    (tmp_path / "elsewhere").mkdir()
    (d / "report").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePath, match=r"report: is a symbolic link; refusing"):
        make_run_report(d)
    assert main(["run", str(d)]) == 2 and not any((tmp_path / "elsewhere").iterdir())
    assert main(["run", str(d), "--out", str(tmp_path / "chosen")]) == 0  # given: the user's


# ------------------------------------------------------------------ item 5: prefixes
def _cut_copy(src, dst, epochs_done):
    """``src`` as if killed after ``epochs_done`` epochs: the later entries never written."""
    shutil.copytree(src, dst)
    g = zarr.open_group(dst / "recordings.zarr", mode="a")
    for stage, first in (("validation", epochs_done), ("weights", epochs_done + 1)):
        for var in g[stage].array_keys():
            g[f"{stage}/{var}"][first:] = np.nan
    del g["test"]
    status = {"state": "interrupted", "epochs_completed": epochs_done}
    (dst / "status.json").write_text(json.dumps(status))
    metrics = json.loads((dst / "metrics.json").read_text())
    metrics["epochs_completed"] = epochs_done
    (dst / "metrics.json").write_text(json.dumps(metrics))


def _shorter_copy(src, dst, n_epochs):
    """``src`` as if configured with fewer epochs (legacy format: no fingerprint to edit)."""
    shutil.copytree(src, dst)
    config = yaml.safe_load((dst / "config.yaml").read_text())
    config["protocol"]["n_epochs"] = n_epochs
    (dst / "config.yaml").write_text(yaml.safe_dump(config))
    g = zarr.open_group(dst / "recordings.zarr", mode="a")
    for stage in ("validation", "weights"):
        for var in g[stage].array_keys():
            arr = g[f"{stage}/{var}"]
            arr.resize((n_epochs + 1, *arr.shape[1:]))


def test_a_run_cut_short_is_not_bit_identical_to_the_finished_one(run_dir, tmp_path, capsys):
    d, _ = run_dir
    _cut_copy(d, tmp_path / "cut", epochs_done=1)
    assert main(["compare", str(d), str(tmp_path / "cut")]) == 1
    out = capsys.readouterr().out
    assert "result: DIFFERENT" in out and "B has not written entries 2 (an unfinished run?)" in out
    assert main(["compare", str(tmp_path / "cut"), str(d), "--stage", "validation"]) == 1
    _shorter_copy(d, tmp_path / "short", n_epochs=1)
    assert main(["compare", str(d), str(tmp_path / "short"), "--stage", "validation"]) == 1
    assert "A declares 3 entries, B 2" in capsys.readouterr().out
    assert main(["compare", str(d), str(d)]) == 0  # the same run: still bit-identical


# ------------------------------------------------------------------ item 6: NaN outputs
def test_non_finite_outputs_are_misclassified_not_class_0():
    n_r = 5
    teacher = np.full((4 * n_r, 3), 0.1, dtype=np.float32)
    teacher[:, 0] = 1.0  # every sample is class 0, the class argmax gives a NaN row
    out = np.full((4 * n_r, 3), np.nan, dtype=np.float32)
    assert M.accuracy(out, teacher, n_r) == 0.0
    out[: 2 * n_r] = [0.9, 0.1, 0.1]  # two samples right, two diverged
    out[2 * n_r :, 1] = np.inf
    assert M.accuracy(out, teacher, n_r) == 50.0
    assert M.predictions(out, n_r).tolist() == [0, 0, -1, -1]
    assert M.accuracy(out, np.full_like(teacher, np.nan), n_r) == 0.0  # no labels either
    conf = M.per_class_counts(M.predictions(out, n_r), M.labels_from_teacher(teacher, n_r), 3)
    assert conf.sum() == 2 and conf[0, 0] == 2  # samples without a prediction are not counted


def test_original_run_of_nan_outputs_scores_zero(tmp_path, caplog):
    d = tmp_path / "orig_seed_7_2023-01-01_00-00-00"
    make_original_run(d)
    with h5py.File(d / "net_recordings.h5", "a") as f:
        for stage in ("validation", "testing"):
            for key in ("2/output/v_brev", "3/supervisor/rate"):
                f[f"{stage}/{key}"][...] = np.nan
    out = make_run_report(d, tmp_path / "report")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["validation_accuracy"] == [0.0] * (N_EPOCHS + 1)
    assert summary["test_accuracy"] == 0.0
    assert "records hold NaN or inf (a diverged run?)" in caplog.text


# ------------------------------------------------------------------ item 9: array metadata
@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["codecs"][0]["configuration"]["codecs"][0]["configuration"].update(
            endian="big"
        ),
        lambda d: d["attributes"].update(record_every_steps=10),
        lambda d: d["attributes"].pop("metadata_sha256"),
    ],
    ids=["byte order", "an attribute", "the checksum removed"],
)
def test_edited_array_metadata_is_refused(run3, tmp_path, capsys, edit):
    d, _ = run3
    path = d / "recordings.zarr" / "validation" / "output.v_brev" / "zarr.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(RunDataError, match=r"validation/output\.v_brev/zarr\.json: "):
        read_run(d).read("validation", "output.v_brev")
    assert main(["run", str(d), "--out", str(tmp_path / "r")]) == 1
    assert main(["compare", str(d), str(d)]) == 2


def test_format_3_metadata_checksums_pass_and_older_runs_read(run3, run_dir):
    d, expected = run3
    run = read_run(d)
    assert run.format_version == 3
    assert run.read("validation", "output.v_brev").shape == (N_EPOCHS + 1, 30, 3)
    old, _ = run_dir  # format 1: no metadata checksums, read as before
    assert read_run(old).read("validation", "output.v_brev").shape == (N_EPOCHS + 1, 30, 3)


# ------------------------------------------------------------------ item 13: declared sizes
def test_hdf5_declaring_1e11_rows_is_read_within_its_config(tmp_path, caplog):
    d = tmp_path / "orig_seed_7_2023-01-01_00-00-00"
    expected = make_original_run(d)
    with h5py.File(d / "net_recordings.h5", "a") as f:
        for stage in ("validation", "testing"):
            for key in ("2/output/v_brev", "3/supervisor/rate"):
                data = f[f"{stage}/{key}"][...]
                del f[f"{stage}/{key}"]
                ds = f.create_dataset(
                    f"{stage}/{key}", shape=(10**11, 3), dtype="f4", chunks=(30, 3)
                )
                ds[: len(data)] = data
    assert (d / "net_recordings.h5").stat().st_size < 2**20

    def too_long(*_):
        raise TimeoutError("the report ran for 60 s: it reads rows its config never recorded")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(60)
    try:
        out = make_run_report(d, tmp_path / "report")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["validation_accuracy"] == pytest.approx(expected["validation_accuracy"])
    assert summary["test_accuracy"] == pytest.approx(expected["test_accuracy"])
    assert "the chunks beyond are not read" in caplog.text


def test_zarr_array_declaring_1e12_entries_is_refused_before_reading(run_dir, capsys, caplog):
    d, _ = run_dir  # no metadata checksum to catch the edit: the config bounds the shape
    path = d / "recordings.zarr" / "validation" / "output.v_brev" / "zarr.json"
    doc = json.loads(path.read_text())
    doc["shape"][0] = 10**12
    path.write_text(json.dumps(doc))
    with pytest.raises(RunDataError, match=r"declares shape \(1000000000000, 30, 3\), but .*"):
        read_run(d).read("validation", "output.v_brev")
    assert main(["run", str(d)]) == 1
    assert "gives 3 entries for the validation stage" in caplog.text


# ------------------------------------------------------------------ item 15: tracebacks
def test_compare_json_into_a_directory_is_one_line(run_dir, tmp_path, capsys, caplog):
    d, _ = run_dir
    (tmp_path / "jsondir").mkdir()
    assert main(["compare", str(d), str(d), "--json", str(tmp_path / "jsondir")]) == 2
    assert "jsondir: is a directory; give the file to write" in caplog.text
    assert "Traceback" not in capsys.readouterr().err


def test_string_typed_hdf5_dataset_is_named(tmp_path, caplog):
    d = tmp_path / "orig_seed_7_2023-01-01_00-00-00"
    make_original_run(d)
    with h5py.File(d / "net_recordings.h5", "a") as f:
        del f["validation/2/output/v_brev"]
        f["validation/2/output/v_brev"] = np.full((30, 3), b"x", dtype="S1")
    assert main(["run", str(d), "--out", str(tmp_path / "r")]) == 2
    assert "/validation/2/output/v_brev holds |S1 data of shape (30, 3), not numbers" in caplog.text


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("seed", [3], r"config\.yaml: seed: expected an integer >= 0, got \[3\]"),
        (
            "recording.records_per_sample",
            "five",
            r"config\.yaml: recording\.records_per_sample: expected an integer >= 1, got 'five'",
        ),
        ("network.dims", [4, "x", 3], r"config\.yaml: network\.dims: expected a list of at least"),
        ("protocol.n_epochs", 2.5, r"config\.yaml: protocol\.n_epochs: expected an integer >= 0"),
    ],
)
def test_hand_edited_legacy_config_names_file_and_key(run_dir, tmp_path, caplog, key, value, match):
    d, _ = run_dir  # format 1: no fingerprint, so the edit is read
    config = yaml.safe_load((d / "config.yaml").read_text())
    node = config
    *parents, last = key.split(".")
    for p in parents:
        node = node[p]
    node[last] = value
    (d / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["run", str(d), "--out", str(tmp_path / "r")]) == 2
    (message,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert re.search(match, message), message


# ------------------------------------------------------------------ item 17: one line
_READ_DAMAGED = """
import sys, numpy as np, zarr
from zarr.codecs import Crc32cCodec, ZstdCodec
from mc_analysis.rundir import RunDataError, _CheckedArray
path = sys.argv[1]
arr = zarr.create_array(path, shape=(400, 50), chunks=(1, 50), shards=(400, 50), dtype="f4",
                        compressors=(ZstdCodec(level=0), Crc32cCodec()))
arr[...] = np.arange(400 * 50, dtype="f4").reshape(400, 50)
shard = [p for p in __import__("pathlib").Path(path, "c").rglob("*") if p.is_file()][0]
data = bytearray(shard.read_bytes()); data[300] ^= 0xFF; shard.write_bytes(bytes(data))
try:
    _CheckedArray(zarr.open_array(path, mode="r"), "the array")[...]
except RunDataError as err:
    print(str(err).split(":")[0])
"""


def test_a_corrupted_chunk_is_one_error_without_asyncio_noise(tmp_path):
    for attempt in range(3):  # the noise came from reads still running when Python exited
        out = subprocess.run(
            [sys.executable, "-c", _READ_DAMAGED, str(tmp_path / f"a{attempt}.zarr")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.stdout.strip() == "the array", out
        assert out.stderr == "", out.stderr[:2000]
