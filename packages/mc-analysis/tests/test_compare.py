"""``mc-analyze compare``: toolkit and original runs, record by record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr
from analysis_builders import make_run

from mc_analysis.cli import main
from mc_analysis.compare import Series, _compare_series, compare_runs, float32_ulps
from mc_analysis.original import original_name
from mc_analysis.report import make_run_report

RUNS = Path(__file__).parent / "data" / "original_runs"


def _bump(value: np.ndarray, ulps: int = 1) -> np.ndarray:
    out = np.asarray(value, dtype=np.float32)
    for _ in range(ulps):
        out = np.nextafter(out, np.float32(np.inf))
    return out


def test_float32_ulps():
    one = np.float32(1.0)
    assert float32_ulps(one, one) == 0
    assert float32_ulps(one, _bump(one, 3)) == 3
    tiny = np.float32(1e-45)  # across zero: -tiny, -0.0 == 0.0, tiny
    assert float32_ulps(-tiny, tiny) == 2 and float32_ulps(-0.0, 0.0) == 0


def test_two_equal_toolkit_runs(tmp_path, capsys):
    make_run(tmp_path / "a")
    make_run(tmp_path / "b")
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "result: bit-identical: 11 variables" in out
    assert "validation accuracy [%] 33.33 66.67 100.00; test accuracy [%] 50.00" in out


def test_one_weight_one_ulp_apart(tmp_path, capsys):
    make_run(tmp_path / "a")
    make_run(tmp_path / "b")
    g = zarr.open_group(tmp_path / "b" / "recordings.zarr", mode="a")
    fb = g["weights/fb_1.g"]
    fb[1, 2, 3] = _bump(fb[1, 2, 3])
    res = compare_runs(tmp_path / "a", tmp_path / "b")
    (bad,) = [s for s in res.series if not s.equal]
    assert (bad.stage, bad.var, bad.max_ulps, bad.n_different) == ("weights", "fb_1.g", 1, 1)
    assert bad.first == {"entry": 1, "record": 0, "step": 0, "index": 2 * 5 + 3}
    assert 0 < bad.max_abs < 1e-6
    assert not res.equal and all(s.equal for s in res.series if s is not bad)
    json_path = tmp_path / "cmp.json"
    assert (
        main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(json_path)]) == 1
    )
    out = capsys.readouterr().out
    assert "weights    fb_1.g" in out and "entry 1 step 0 [13]" in out
    assert "result: DIFFERENT: 1 of 11 variables" in out
    assert json.loads(json_path.read_text())["equal"] is False
    # within one ulp they agree; and a single stage can be selected
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--max-ulps", "1"]) == 0
    assert "result: equal within atol=0 or 1 ulps" in capsys.readouterr().out
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--stage", "test"]) == 0


def test_thinned_validations_compare_the_entries_both_wrote(tmp_path):
    make_run(tmp_path / "a")
    make_run(tmp_path / "b")
    g = zarr.open_group(tmp_path / "b" / "recordings.zarr", mode="a")
    for var in ("output.v_brev", "teacher.rate", "input.rate"):  # validation_every: 2
        g[f"validation/{var}"][1] = np.nan
        g[f"validation/{var}"].attrs["entry_every"] = 2
    res = compare_runs(tmp_path / "a", tmp_path / "b", stages=("validation",))
    assert res.equal and [s.entries for s in res.series] == [2, 2, 2]
    assert res.series[0].note == "entries 3 vs 2, 2 shared"


def test_different_cadences_are_matched_at_common_steps():
    rng = np.random.default_rng(0)
    every_step = rng.normal(size=(100, 3)).astype(np.float32)  # one sample recorded each step
    every_20 = every_step[::20].copy()

    def series(data, every):
        return Series("validation", "output.v_brev", every, (0,), lambda e: data)

    res = _compare_series(series(every_step, 1), series(every_20, 20), 0.0, 0)
    assert res.equal and res.records == 5 and res.values == 15
    every_20[3, 1] = _bump(every_20[3, 1], 4)
    res = _compare_series(series(every_step, 1), series(every_20, 20), 0.0, 0)
    assert res.first == {"entry": 0, "record": 60, "step": 60, "index": 1} and res.max_ulps == 4


def test_original_names():
    dims = [4, 30, 3]
    assert original_name("input", 0, dims) == "input"
    assert original_name("pyramidal", 1, dims) == "pyramidal_1"
    assert original_name("fb", 1, dims) == "fb_1" and original_name("ff", 2, dims) == "ff_2"
    assert original_name("fb", 2, dims) is None  # the teacher's one-to-one synapse
    assert original_name("supervisor", 3, dims) == "teacher"
    assert original_name("bias_to_inter", 2, [4, 20, 10, 3]) == "bias_inter_2"
    assert original_name("fbi", 1, dims) is None


def test_an_original_run_against_itself_and_a_changed_copy(tmp_path):
    src = RUNS / "yinyang_fa"
    res = compare_runs(src, src)
    assert res.bit_identical and not res.only_a and not res.only_b
    by = {(s.stage, s.var): s for s in res.series}
    # rows split into stage runs by the original's bookkeeping: every step recorded,
    # 6 validation / 30 training / 6 test samples of 100 steps, 1 epoch
    assert (
        by["validation", "output.v_brev"].entries,
        by["validation", "output.v_brev"].records,
    ) == (
        2,
        1200,
    )
    assert by["training", "ff_1.g"].records == 3000 and by["test", "teacher.rate"].records == 600
    assert ("validation", "ff_1.g") not in by  # the original records weights in training only
    copy = tmp_path / "copy"
    shutil.copytree(src, copy)
    with h5py.File(copy / "net_recordings.h5", "a") as f:
        ds = f["validation/1/pyramidal/rate"]
        ds[600 + 250, 7] = _bump(ds[600 + 250, 7], 2)  # validation 1, step 250, neuron 7
    res = compare_runs(src, copy)
    (bad,) = [s for s in res.series if not s.equal]
    assert bad.var == "pyramidal_1.rate" and bad.max_ulps == 2
    assert bad.first == {"entry": 1, "record": 250, "step": 250, "index": 7}
    assert res.a.validation_accuracy == pytest.approx([100 / 3, 100 / 3])
    assert res.a.test_accuracy == pytest.approx(100 / 6)


def test_nothing_in_common_exits_2(tmp_path, capsys):
    make_run(tmp_path / "a")
    assert main(["compare", str(tmp_path / "a"), str(RUNS / "bars_fa"), "--stage", "weights"]) == 2
    assert "nothing to compare" in capsys.readouterr().out
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "missing")]) == 2


def test_run_report_of_an_original_run_directory(tmp_path):
    out = make_run_report(RUNS / "yinyang_pal", tmp_path / "report")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "original" and summary["dims"] == [4, 30, 3]
    # what the original printed for this run
    assert summary["validation_accuracy"] == pytest.approx([100 / 3, 100 / 3])
    assert summary["test_accuracy"] == pytest.approx(100 / 6)
    assert (out / "validation_accuracy.png").is_file()
    assert main(["run", str(RUNS / "yinyang_fa"), "--out", str(tmp_path / "r2")]) == 0
    assert (tmp_path / "r2" / "summary.json").is_file()
