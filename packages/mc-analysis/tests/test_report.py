from __future__ import annotations

import csv
import json
import logging

import numpy as np
import pytest
import zarr
from analysis_builders import N_EPOCHS, SWEEP_MEMBERS, make_original_run, make_run, make_sweep

from mc_analysis import metrics as M
from mc_analysis.cli import get_parser, main
from mc_analysis.original import read_original_run
from mc_analysis.report import make_run_report, make_sweep_report
from mc_analysis.rundir import RunDirError, is_original_run_dir, read_run, read_sweep
from mc_analysis.stats import compare_groups
from mc_analysis.summary import compare_with_metrics, run_summary, sweep_summary
from mc_analysis.tables import jsonable

RUN_FIGURES = (
    "validation_accuracy",
    "validation_rmse",
    "angles",
    "self_prediction",
    "output_vs_teacher_validation_last_epoch",
    "output_vs_teacher_test",
    "decision_map_validation_last_epoch",
    "decision_map_test",
    "decision_maps_over_epochs",
)
SWEEP_FIGURES = (
    "sweep_validation_accuracy",
    "sweep_validation_rmse",
    "sweep_test_accuracy",
    "sweep_angle_fb_1",
)
SWEEP_TABLES = (
    "test_accuracy.csv",
    "validation_accuracy.csv",
    "validation_rmse.csv",
    "angles.csv",
    "per_seed.csv",
    "validation_accuracy_per_seed.csv",
)


def _assert_figures(out, stems):
    for stem in stems:
        png, pdf = out / f"{stem}.png", out / f"{stem}.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert pdf.read_bytes()[:5] == b"%PDF-", pdf


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------- reading


def test_read_run(run_dir):
    d, _ = run_dir
    run = read_run(d)
    assert (run.name, run.seed, run.dims, run.n_epochs) == ("tiny", 1, [4, 5, 3], N_EPOCHS)
    assert (run.records_per_sample, run.dataset, run.feedback) == (5, "yinyang", "pal")
    assert run.status["state"] == "completed"
    assert run.array("validation", "output.v_brev").shape == (N_EPOCHS + 1, 30, 3)
    assert run.array("weights", "fb_1.g").shape == (N_EPOCHS + 1, 3, 5)
    assert run.attrs("test", "teacher.rate")["records_per_sample"] == 5
    assert "input.rate" in run.variables("validation")
    assert run.variables("training") == []


def test_read_run_errors_name_file_and_key(run_dir, tmp_path):
    d, _ = run_dir
    run = read_run(d)
    with pytest.raises(RunDirError) as info:
        run.cfg("network.plasticity.alpha")
    assert str(d / "config.yaml") in str(info.value) and "'plasticity'" in str(info.value)
    with pytest.raises(RunDirError) as info:
        run.array("validation", "output.rate")
    msg = str(info.value)
    assert "recordings.zarr" in msg and "output.v_brev" in msg
    with pytest.raises(RunDirError, match="metrics.json"):
        run.metric("nope")
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        read_run(tmp_path / "missing")
    (d / "recordings.zarr").rename(d / "moved.zarr")
    with pytest.raises(FileNotFoundError, match="recordings.zarr"):
        read_run(d).array("validation", "output.v_brev")


def test_records_per_sample_mismatch_is_an_error(run_dir):
    d, _ = run_dir
    zarr.open_group(d / "recordings.zarr", mode="a")["validation/output.v_brev"].attrs.update(
        {"records_per_sample": 10}
    )
    with pytest.raises(ValueError, match="records_per_sample"):
        run_summary(read_run(d))


# ---------------------------------------------------------------------------- one run


def test_run_summary_recomputes_known_numbers(run_dir):
    d, expected = run_dir
    run = read_run(d)
    s = run_summary(run)
    assert s["validation_accuracy"] == expected["validation_accuracy"]  # 2, 4, 6 of 6 right
    assert s["test_accuracy"] == expected["test_accuracy"]
    assert s["epochs"] == [0, 1, 2]
    np.testing.assert_allclose(s["angles"]["fb_1"], expected["thetas"], atol=1e-4)
    np.testing.assert_allclose(s["angles"]["fb_1"], run.metrics["angles"]["fb_1"], atol=1e-9)
    sp = s["self_prediction"]["layer_1"]  # offsets 0, 0.01, 0.02 added in float32
    np.testing.assert_allclose(sp["ff_minus_p2i"], [0, 0.01, 0.02], atol=1e-7)
    np.testing.assert_allclose(sp["fb_plus_i2p"], [0, 0.02, 0.04], atol=1e-7)
    assert np.trace(np.array(s["test_confusion"])) == 3
    assert compare_with_metrics(s, run.metrics) == []


def test_run_report_files_and_numbers(run_dir):
    d, expected = run_dir
    out = make_run_report(d)
    assert out == d / "report"
    _assert_figures(out, RUN_FIGURES)
    saved = json.loads((out / "summary.json").read_text())
    run = read_run(d)
    assert saved == jsonable(run_summary(run))
    metrics = json.loads((d / "metrics.json").read_text())
    for key in ("validation_accuracy", "validation_rmse", "validation_mae"):
        np.testing.assert_allclose(saved[key], metrics[key], rtol=0, atol=1e-9)
    assert saved["test_accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-9)
    np.testing.assert_allclose(saved["angles"]["fb_1"], metrics["angles"]["fb_1"], atol=1e-9)
    # and equal to a recomputation straight from the arrays
    v, t = run.read("validation", "output.v_brev"), run.read("validation", "teacher.rate")
    assert saved["validation_accuracy"] == [M.accuracy(v[e], t[e], 5) for e in range(3)]
    w, b = run.read("weights", "ff_2.g"), run.read("weights", "fb_1.g")
    assert saved["angles"]["fb_1"] == [M.alignment_angle(w[e], b[e]) for e in range(3)]


def test_run_report_elsewhere_and_warning_on_mismatch(run_dir, tmp_path, caplog):
    d, _ = run_dir
    metrics = json.loads((d / "metrics.json").read_text())
    metrics["test_accuracy"] += 1.0
    (d / "metrics.json").write_text(json.dumps(metrics))
    with caplog.at_level(logging.WARNING, logger="mc_analysis"):
        out = make_run_report(d, tmp_path / "elsewhere")
    assert out == tmp_path / "elsewhere" and (out / "summary.json").is_file()
    assert not (d / "report").exists()
    assert "test_accuracy: recomputed differs from metrics.json by up to 1" in caplog.text


def test_unfinished_run_drops_unwritten_entries(run_dir):
    d, expected = run_dir
    # an unfinished run: interrupted after one epoch (what it wrote later is not counted yet)
    (d / "status.json").write_text(json.dumps({"state": "interrupted", "epochs_completed": 1}))
    metrics = json.loads((d / "metrics.json").read_text())
    (d / "metrics.json").write_text(json.dumps({**metrics, "epochs_completed": 1}))
    g = zarr.open_group(d / "recordings.zarr", mode="a")
    g["validation/output.v_brev"][2] = np.nan
    g["validation/teacher.rate"][2] = np.nan
    g["test/output.v_brev"][0] = np.nan
    g["weights/fb_1.g"][2] = np.nan
    s = run_summary(read_run(d))
    assert s["validation_accuracy"] == expected["validation_accuracy"][:2]
    assert s["test_accuracy"] is None and s["test_confusion"] is None
    assert len(s["angles"]["fb_1"]) == 2
    out = make_run_report(d)  # the test figures are left out, the rest is made
    _assert_figures(out, ("validation_accuracy", "angles", "decision_map_validation_last_epoch"))
    assert not (out / "output_vs_teacher_test.png").exists()


# ----------------------------------------------------------------------------- sweeps


def test_read_sweep_dir(tmp_path):
    make_sweep(tmp_path / "sw")
    entries = read_sweep(tmp_path / "sw")
    assert [(v, s) for v, s, _ in entries] == [
        (v, seed) for v, runs in SWEEP_MEMBERS.items() for seed, *_ in runs
    ]
    # member directories given one by one keep their sweep variant
    members = sorted((tmp_path / "sw" / "members").iterdir())
    assert {v for v, _, _ in read_sweep(members)} == {"pal", "fa"}


def test_read_sweep_groups_loose_runs_by_name_or_feedback(tmp_path):
    make_run(tmp_path / "a", name="tiny", seed=1, feedback="pal")
    make_run(tmp_path / "b", name="tiny", seed=2, feedback="fa")
    make_run(tmp_path / "c", name="other_seed3", seed=3, feedback="fa")
    entries = read_sweep([tmp_path / "a", tmp_path / "b"])
    assert [(v, s) for v, s, _ in entries] == [("pal", 1), ("fa", 2)]
    entries = read_sweep([tmp_path / "a", tmp_path / "b", tmp_path / "c"])
    assert [v for v, _, _ in entries] == ["tiny", "tiny", "other"]
    entries = read_sweep([tmp_path / "a", tmp_path / "c"], variant_by="feedback")
    assert [v for v, _, _ in entries] == ["pal", "fa"]


def test_sweep_summary_matches_numpy(tmp_path):
    expected = make_sweep(tmp_path / "sw")
    sweep = sweep_summary(read_sweep(tmp_path / "sw"))
    assert list(sweep["variants"]) == ["pal", "fa"]
    for variant, exps in expected.items():
        v = sweep["variants"][variant]
        acc = np.array([e["validation_accuracy"] for e in exps])
        test = np.array([e["test_accuracy"] for e in exps])
        final = np.array([e["angles"][-1] for e in exps])
        assert v["n_runs"] == len(exps) and v["epochs"] == [0, 1, 2]
        np.testing.assert_allclose(v["validation_accuracy"]["mean"], acc.mean(axis=0), rtol=1e-14)
        np.testing.assert_allclose(v["validation_accuracy"]["std"], acc.std(axis=0), atol=1e-12)
        np.testing.assert_array_equal(v["validation_accuracy"]["min"], acc.min(axis=0))
        np.testing.assert_array_equal(v["validation_accuracy"]["max"], acc.max(axis=0))
        assert v["validation_accuracy"]["n"] == [len(exps)] * 3
        assert v["test_accuracy"]["mean"] == pytest.approx(test.mean(), rel=1e-14)
        assert v["test_accuracy"]["std"] == pytest.approx(test.std(), rel=1e-12)
        assert v["test_accuracy"]["per_seed"] == test.tolist()
        assert v["final_angle"]["fb_1"]["mean"] == pytest.approx(final.mean(), rel=1e-13)
        assert v["final_angle"]["fb_1"]["std"] == pytest.approx(final.std(), rel=1e-10)
        rmse = np.array([e["validation_rmse"] for e in exps])
        np.testing.assert_allclose(v["validation_rmse"]["mean"], rmse.mean(axis=0), rtol=1e-14)
        np.testing.assert_allclose(v["validation_rmse"]["std"], rmse.std(axis=0), atol=1e-14)
        assert v["validation_rmse"]["per_seed"] == rmse.tolist()


def test_sweep_summary_tolerates_missing_epochs_and_tests():
    runs = [
        ("x", 1, {"validation_accuracy": [10.0, 20.0, 30.0], "test_accuracy": 30.0}),
        ("x", 2, {"validation_accuracy": [20.0], "test_accuracy": None}),
    ]
    v = sweep_summary(runs)["variants"]["x"]
    assert v["validation_accuracy"]["n"] == [2, 1, 1]
    assert v["validation_accuracy"]["mean"] == [15.0, 20.0, 30.0]
    assert v["test_accuracy"]["n"] == 1 and v["test_accuracy"]["std"] == 0.0
    assert v["final_validation_accuracy"]["per_seed"] == [30.0, 20.0]


def test_sweep_report_files_and_tables(tmp_path):
    expected = make_sweep(tmp_path / "sw")
    out = make_sweep_report(tmp_path / "sw")
    assert out == tmp_path / "sw" / "report"
    _assert_figures(out, SWEEP_FIGURES)
    for name in (*SWEEP_TABLES, "summary.json"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "summary.json").read_text())
    assert saved == jsonable(sweep_summary(read_sweep(tmp_path / "sw")))
    test_rows = {r["variant"]: r for r in _csv(out / "test_accuracy.csv")}
    val_rows = _csv(out / "validation_accuracy.csv")
    assert [(r["variant"], int(r["epoch"])) for r in val_rows] == [
        (v, e) for v in ("pal", "fa") for e in range(3)
    ]
    for variant, exps in expected.items():
        test = np.array([e["test_accuracy"] for e in exps])
        acc = np.array([e["validation_accuracy"] for e in exps])
        assert float(test_rows[variant]["mean"]) == pytest.approx(test.mean(), rel=1e-14)
        assert float(test_rows[variant]["std"]) == pytest.approx(test.std(), rel=1e-12)
        assert int(test_rows[variant]["n"]) == len(exps)
        rows = [r for r in val_rows if r["variant"] == variant]
        np.testing.assert_allclose([float(r["mean"]) for r in rows], acc.mean(axis=0))
        np.testing.assert_allclose([float(r["std"]) for r in rows], acc.std(axis=0), atol=1e-12)
        assert [int(r["n"]) for r in rows] == [len(exps)] * 3
    per_seed = _csv(out / "per_seed.csv")
    assert len(per_seed) == sum(len(r) for r in SWEEP_MEMBERS.values())
    assert {"variant", "seed", "test_accuracy", "final_angle_fb_1", "run"} <= set(per_seed[0])
    assert len(_csv(out / "validation_accuracy_per_seed.csv")) == len(per_seed) * 3
    rmse_rows = _csv(out / "validation_rmse.csv")
    for variant, exps in expected.items():
        rmse = np.array([e["validation_rmse"] for e in exps])
        rows = [r for r in rmse_rows if r["variant"] == variant]
        assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
        np.testing.assert_allclose([float(r["mean"]) for r in rows], rmse.mean(axis=0))
    # the first variant (pal) against the other (fa): statistics of the per-seed values
    (comp,) = saved["comparisons"]
    assert (comp["a"], comp["b"]) == ("pal", "fa")
    tests = {v: [e["test_accuracy"] for e in exps] for v, exps in expected.items()}
    assert comp["metrics"]["test_accuracy"] == jsonable(compare_groups(tests["pal"], tests["fa"]))
    rows = {r["metric"]: r for r in _csv(out / "comparisons.csv")}
    assert set(rows) == {"test_accuracy", "final_validation_accuracy", "final_angle_fb_1"}
    assert float(rows["test_accuracy"]["welch_p"]) == pytest.approx(
        comp["metrics"]["test_accuracy"]["welch"]["p_value"]
    )
    assert float(rows["final_angle_fb_1"]["mean_a"]) == pytest.approx(15.0)  # thetas 10, 20, 15
    with pytest.raises(ValueError, match="no variant 'nope'"):
        make_sweep_report(tmp_path / "sw", tmp_path / "x", compare=[("pal", "nope")])


def test_sweep_report_needs_out_dir_for_a_list(tmp_path):
    make_run(tmp_path / "a")
    with pytest.raises(ValueError, match="out_dir"):
        make_sweep_report([tmp_path / "a"])


def test_sweep_report_with_original_runs(tmp_path):
    make_sweep(tmp_path / "sw")
    exp = make_original_run(tmp_path / "orig_seed_7_2023-01-01_00-00-00")
    assert is_original_run_dir(tmp_path / "orig_seed_7_2023-01-01_00-00-00")
    assert not is_original_run_dir(tmp_path / "sw" / "members" / "pal_seed1")
    out = make_sweep_report(
        [tmp_path / "sw", tmp_path / "orig_seed_7_2023-01-01_00-00-00"], tmp_path / "out"
    )
    _assert_figures(out, SWEEP_FIGURES)
    saved = json.loads((out / "summary.json").read_text())
    assert list(saved["variants"]) == ["pal", "fa", "original:orig"]
    orig = saved["variants"]["original:orig"]
    orun = read_original_run(tmp_path / "orig_seed_7_2023-01-01_00-00-00")
    assert orig["seeds"] == [7]
    assert orig["validation_accuracy"]["mean"] == exp["validation_accuracy"]
    assert orig["validation_accuracy"]["mean"] == orun.validation_accuracy().tolist()
    assert orig["test_accuracy"]["per_seed"] == [orun.test_accuracy()] == [exp["test_accuracy"]]
    angles, ws = orun.angles(1)
    assert orig["angles"]["fb_1"]["mean"] == angles.tolist()
    # one angle per training record (15 per epoch), placed at window centres in epochs
    np.testing.assert_allclose(orig["angles"]["fb_1"]["epoch"], (np.arange(30) + 0.5) / 15)
    assert {r["variant"] for r in _csv(out / "test_accuracy.csv")} == {
        "pal",
        "fa",
        "original:orig",
    }


# -------------------------------------------------------------------------------- CLI


def test_cli(tmp_path, capsys):
    make_sweep(tmp_path / "sw")
    run = tmp_path / "sw" / "members" / "pal_seed1"
    assert {"run", "sweep"} <= set(get_parser()._subparsers._group_actions[0].choices)
    assert main(["-q", "run", str(run), "--out", str(tmp_path / "r")]) == 0
    assert f"report written to {tmp_path / 'r'}" in capsys.readouterr().out
    _assert_figures(tmp_path / "r", RUN_FIGURES)
    assert main(["-q", "sweep", str(tmp_path / "sw")]) == 0
    assert (tmp_path / "sw" / "report" / "test_accuracy.csv").is_file()
    members = [str(p) for p in sorted((tmp_path / "sw" / "members").iterdir())]
    assert main(["-q", "sweep", *members, "--out", str(tmp_path / "s2")]) == 0
    assert (tmp_path / "s2" / "validation_accuracy.csv").is_file()
    # refusals exit with 2, as for mc-run (usage, missing inputs)
    assert main(["-q", "sweep", *members]) == 2  # no --out for a list of runs
    assert main(["-q", "run", str(tmp_path / "nope")]) == 2


def test_cli_sweep_prints_a_digest_not_a_line_per_run(tmp_path, capsys, caplog):
    expected = make_sweep(tmp_path / "sw")  # runs in the legacy format (no checksums)
    caplog.set_level(logging.INFO, logger="mc_analysis")
    assert main(["sweep", str(tmp_path / "sw"), "--out", str(tmp_path / "r")]) == 0
    for record in caplog.records:  # no info line per run: the warning names them all, once
        assert record.levelno >= logging.WARNING or "members" not in record.getMessage()
    mine = [r for r in caplog.records if r.name.startswith("mc_analysis")]
    assert [r.levelno for r in mine].count(logging.WARNING) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "5 run(s) in 2 variant(s), mean ± std over seeds:"
    for line, variant in zip(out[1:3], ("pal", "fa"), strict=True):
        test = [e["test_accuracy"] for e in expected[variant]]
        assert line.startswith(f"  {variant:<3}  {len(test):>3} run(s): test accuracy ")
        assert f"test accuracy {np.mean(test):.2f} ± {np.std(test):.2f} %" in line
    assert out[3].startswith("  pal vs fa: test accuracy ") and "Welch's t-test p = " in out[3]
    assert out[4] == "  runs: 5 read without checksums (unverified_runs in summary.json)"
    assert out[5:] == [f"report written to {tmp_path / 'r'}"]


# ----------------------------------------------------------------- a real (tiny) run


def test_real_tiny_runs(tmp_path):
    pytest.importorskip("mc_experiments.datasets")
    from mc_experiments.config import config_from_dict
    from mc_experiments.runner import train

    cfg = config_from_dict(
        {
            "name": "tiny",
            "seed": 3,
            "network": {"preset": "yinyang", "feedback": "pal"},
            "dataset": {"name": "yinyang", "n_train": 3, "n_valid": 2, "n_test": 2, "seed": 42},
            "protocol": {"n_epochs": 2},
            "backend": {"name": "reference"},
        }
    )
    runs = train(cfg, tmp_path / "runs", quiet=True, seeds=[1, 2])
    paths = [r.path for r in runs]
    assert len(paths) == 2
    for p in paths:
        out = make_run_report(p)
        _assert_figures(out, RUN_FIGURES)
        saved = json.loads((out / "summary.json").read_text())
        metrics = json.loads((p / "metrics.json").read_text())
        assert len(saved["validation_accuracy"]) == 3
        np.testing.assert_allclose(
            saved["validation_accuracy"], metrics["validation_accuracy"], rtol=0, atol=1e-9
        )
        assert saved["test_accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-9)
        np.testing.assert_allclose(saved["angles"]["fb_1"], metrics["angles"]["fb_1"], atol=1e-9)
        run = read_run(p)
        v, t = run.read("validation", "output.v_brev"), run.read("validation", "teacher.rate")
        assert saved["validation_accuracy"] == [M.accuracy(v[e], t[e], 5) for e in range(3)]
        assert compare_with_metrics(run_summary(run), metrics) == []
    out = make_sweep_report(paths, tmp_path / "sweep_report")
    _assert_figures(out, SWEEP_FIGURES)
    saved = json.loads((out / "summary.json").read_text())
    assert list(saved["variants"]) == ["tiny"]
    tiny = saved["variants"]["tiny"]
    accs = np.array([json.loads((p / "metrics.json").read_text())["test_accuracy"] for p in paths])
    assert tiny["seeds"] == [1, 2]
    assert tiny["test_accuracy"]["mean"] == pytest.approx(accs.mean(), abs=1e-9)
    assert tiny["test_accuracy"]["std"] == pytest.approx(accs.std(), abs=1e-9)
