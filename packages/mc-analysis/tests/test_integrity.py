"""What is read is checked: checksums, missing entries, fingerprints, legacy runs (items 5, 11).

Format-2 run directories carry a crc32c checksum on every zarr chunk and the fingerprint of
their config; runs written before (format 1) are read as before, and the numbers of a real
run and sweep of that format (``data/legacy_format1``, written by the toolkit at commit
17c3c22, with the summaries its ``mc-analyze`` wrote) stay the same.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import yaml
from analysis_builders import make_run, make_sweep

from mc_analysis.cli import main
from mc_analysis.report import make_run_report, make_sweep_report
from mc_analysis.rundir import RunDataError, read_run, read_sweep
from mc_analysis.summary import run_summary, sweep_summary
from mc_analysis.tables import jsonable

LEGACY = Path(__file__).parent / "data" / "legacy_format1"


@pytest.fixture
def run2(tmp_path):
    d = tmp_path / "tiny_20240101-000000"
    return d, make_run(d, fmt=2)


def _chunk(d: Path, key: str) -> Path:
    (f,) = [p for p in (d / "recordings.zarr" / key / "c").rglob("*") if p.is_file()]
    return f


def _flip(path: Path, where: int) -> None:
    data = bytearray(path.read_bytes())
    data[where] ^= 0xFF
    path.write_bytes(bytes(data))


def test_format_2_run_is_verified(run2):
    d, expected = run2
    run = read_run(d)
    assert run.format_version == 2
    s = run_summary(run)
    assert s["validation_accuracy"] == expected["validation_accuracy"]
    assert s["format_version"] == 2


@pytest.mark.parametrize("where", [20, -6], ids=["chunk data", "shard index"])
def test_flipped_byte_is_refused_naming_the_array(run2, tmp_path, caplog, where):
    d, _ = run2
    _flip(_chunk(d, "validation/output.v_brev"), where)
    with pytest.raises(
        RunDataError, match=r"recordings\.zarr/validation/output\.v_brev: data fail"
    ):
        make_run_report(d, tmp_path / "rep")
    assert main(["-q", "run", str(d), "--out", str(tmp_path / "rep2")]) == 1
    assert "validation/output.v_brev: data fail their checksum" in caplog.text
    assert not (tmp_path / "rep2" / "summary.json").exists()


def test_check_reads_each_arrays_entries_once(run2, monkeypatch):
    """The check reads the heads of each recorded array once, not once per entry it needs."""
    from mc_analysis.rundir import Run

    d, _ = run2
    run = read_run(d)
    calls = []
    real = Run.entries

    def entries(self, stage, var):
        calls.append((stage, var))
        return real(self, stage, var)

    monkeypatch.setattr(Run, "entries", entries)
    run.check_recordings()
    arrays = [(st, v) for st in sorted(run._zarr().group_keys()) for v in run.variables(st)]
    assert sorted(calls) == sorted(arrays)


def test_deleted_shard_is_refused_naming_the_array(run2, tmp_path, caplog):
    d, _ = run2
    _chunk(d, "test/output.v_brev").unlink()
    with pytest.raises(RunDataError, match=r"test/output\.v_brev: entries \[0\] hold no data"):
        run_summary(read_run(d))
    assert main(["-q", "run", str(d), "--out", str(tmp_path / "rep")]) == 1
    shutil.rmtree(d / "recordings.zarr" / "test" / "output.v_brev")
    with pytest.raises(
        RunDataError, match=r"test/output\.v_brev is missing, but the run completed"
    ):
        run_summary(read_run(d))


def test_edited_config_is_refused(run2):
    d, _ = run2
    config = yaml.safe_load((d / "config.yaml").read_text())
    config["protocol"]["n_epochs"] = 5
    (d / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match=r"config\.yaml: does not match the config fingerprint"):
        read_run(d)


def test_legacy_run_is_read_with_a_note(run_dir, caplog):
    d, expected = run_dir  # the builder's default: format 1
    with caplog.at_level(logging.DEBUG, logger="mc_analysis"):  # per run: mc-analyze -v
        s = run_summary(read_run(d))
    assert "legacy run directory (format 1: no config fingerprint, no checksums)" in caplog.text
    assert "unverified" in caplog.text
    assert s["validation_accuracy"] == expected["validation_accuracy"]
    assert s["format_version"] == 1


def _differences(new, old, path="summary"):
    """Where ``new`` does not hold ``old``'s values (keys ``new`` adds are allowed)."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [path]
        return [d for k in old for d in _differences(new.get(k, KeyError), old[k], f"{path}.{k}")]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (a, b) in enumerate(zip(new, old, strict=True))
            for d in _differences(a, b, f"{path}[{i}]")
        ]
    return [] if new == old else [path]


def test_legacy_run_and_sweep_give_the_numbers_they_gave(tmp_path, monkeypatch, caplog):
    """A run and a sweep written and summarised by the toolkit before format 2."""
    shutil.copytree(LEGACY, tmp_path / "legacy")
    monkeypatch.chdir(tmp_path / "legacy")  # the summaries hold the paths as given
    with caplog.at_level(logging.INFO, logger="mc_analysis"):
        run = jsonable(run_summary(read_run("run")))
        sweep = jsonable(sweep_summary(read_sweep("sweep")))
    assert run["format_version"] == 1
    # every number the analysis gave then it gives now (later versions add keys)
    assert _differences(run, json.loads(Path("run_summary.json").read_text())) == []
    assert _differences(sweep, json.loads(Path("sweep_summary.json").read_text())) == []
    assert "legacy sweep record (no fingerprints): unverified" in caplog.text
    assert main(["-q", "sweep", "sweep", "--out", str(tmp_path / "rep")]) == 0
    assert main(["-q", "run", "run", "--out", str(tmp_path / "rep1")]) == 0


def test_sweep_member_names_stay_inside_the_sweep(tmp_path):
    make_sweep(tmp_path / "sw")
    (tmp_path / "outside").mkdir()
    make_run(tmp_path / "outside" / "x")
    record = yaml.safe_load((tmp_path / "sw" / "sweep.yaml").read_text())
    record["members"][0]["name"] = "../../outside/x"
    (tmp_path / "sw" / "sweep.yaml").write_text(yaml.safe_dump(record))
    with pytest.raises(ValueError, match=r"members\[0\]\.name: '\.\./\.\./outside/x' contains '/'"):
        read_sweep(tmp_path / "sw")
    assert main(["-q", "sweep", str(tmp_path / "sw")]) == 2


def test_missing_sweep_path_is_named(tmp_path, caplog):
    missing = tmp_path / "no" / "sweep"
    assert main(["sweep", str(missing)]) == 2
    assert f"{missing}: no such sweep or run directory" in caplog.text
    assert "out_dir" not in caplog.text


def test_samples_must_be_positive(run_dir, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", str(run_dir[0]), "--samples", "0"])
    assert info.value.code == 2 and "--samples: 0 must be >= 1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="n_samples: 0 must be >= 1"):
        make_run_report(run_dir[0], n_samples=0)


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("mc-analyze 0.1")


def test_run_being_written_is_read_with_a_warning(run_dir, caplog):
    import fcntl
    import os

    d, _ = run_dir
    fd = os.open(d / ".lock", os.O_RDWR | os.O_CREAT)
    os.write(fd, json.dumps({"pid": 4242, "host": "elsewhere"}).encode())
    # the lock of another process: flock locks of two open files conflict, even in one process
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        read_run(d)
    finally:
        os.close(fd)
    assert "is being written by pid 4242 on host elsewhere" in caplog.text


def test_sweep_report_refuses_corrupt_member(tmp_path):
    make_sweep(tmp_path / "sw")
    member = tmp_path / "sw" / "members" / "pal_seed1"
    for p in (member / "recordings.zarr" / "weights" / "ff_2.g" / "c").rglob("*"):
        if p.is_file():
            p.unlink()
    with pytest.raises(RunDataError, match=r"pal_seed1/recordings\.zarr/weights/ff_2\.g"):
        make_sweep_report(tmp_path / "sw")


# ------------------------------------------------------------------ unverified runs, by name


def test_legacy_run_is_flagged_unverified_by_name(run_dir, tmp_path, caplog):
    d, _ = run_dir  # format 1
    assert main(["-q", "run", str(d), "--out", str(tmp_path / "rep")]) == 0
    flagged = [
        r for r in caplog.records if r.levelno == logging.WARNING and "UNVERIFIED" in r.message
    ]
    assert len(flagged) == 1 and str(d) in flagged[0].message
    assert "legacy format 1: no config fingerprint, no chunk checksums" in flagged[0].message
    s = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert s["verified"] is False and s["verification"].startswith("legacy format 1")


def test_format_2_run_is_verified_without_warning(run2, tmp_path, caplog):
    d, _ = run2
    assert main(["-q", "run", str(d), "--out", str(tmp_path / "rep")]) == 0
    assert "UNVERIFIED" not in caplog.text
    s = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert (s["verified"], s["verification"]) == (True, "config fingerprint and chunk checksums")


def test_sweep_lists_its_unverified_runs(run2, tmp_path, caplog):
    d2, _ = run2
    legacy = tmp_path / "old_20240101-000000"
    make_run(legacy, name="old")
    out = tmp_path / "rep"
    assert main(["-q", "sweep", str(d2), str(legacy), "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["unverified_runs"] == [str(legacy)]
    assert [r["verified"] for r in s["runs"]] == [True, False]
    (flag,) = [r.message for r in caplog.records if "UNVERIFIED" in r.message]
    assert flag.endswith(f"1 of 2 run(s): {legacy}")


def test_array_without_checksums_makes_a_format_2_run_unverified_and_is_refused(
    run2, tmp_path, caplog
):
    import zarr

    d, _ = run2
    group = zarr.open_group(d / "recordings.zarr", mode="a")
    group.create_array("training/extra.x", shape=(2, 1, 1), dtype="f4", fill_value=0.0)
    verified, why = read_run(d).verification()
    assert not verified and why == "arrays without chunk checksums: ['training/extra.x']"
    # every array of a format-2 run carries checksums: one without them was added or
    # edited afterwards, so reading it is refused, naming it
    caplog.clear()
    assert main(["-q", "run", str(d), "--out", str(tmp_path / "rep")]) == 1
    assert "training/extra.x: has no chunk checksums" in caplog.text
    assert not (tmp_path / "rep" / "summary.json").exists()


def test_compare_flags_unverified_and_refuses_corrupt_runs(run2, tmp_path, capsys, caplog):
    d2, _ = run2
    legacy = tmp_path / "old_20240101-000000"
    make_run(legacy)
    main(["compare", str(legacy), str(d2)])
    head = capsys.readouterr().out.splitlines()[:2]
    assert head[0].endswith(
        "UNVERIFIED: legacy format 1: no config fingerprint, no chunk checksums"
    )
    assert "UNVERIFIED" not in head[1]
    _flip(_chunk(d2, "validation/output.v_brev"), 20)
    caplog.clear()
    assert main(["compare", str(legacy), str(d2)]) == 2
    assert "validation/output.v_brev: data fail their checksum" in caplog.text
