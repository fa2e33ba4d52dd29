from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from analysis_builders import EVERY, N_VAL, RPS, make_sweep

from mc_analysis import figures as F
from mc_analysis.rundir import read_run
from mc_analysis.summary import run_summary
from mc_analysis.traces import decision_points, output_traces, spread_entries

matplotlib = pytest.importorskip("matplotlib")


def _rc_snapshot():
    rc = matplotlib.rcParams
    return {k: rc._get(k) for k in rc}  # _get: no backend resolution on "backend"


def _run_in_subprocess(code):
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_import_does_not_touch_matplotlib():
    out = _run_in_subprocess(
        """
        import sys
        import mc_analysis, mc_analysis.report, mc_analysis.cli
        assert "matplotlib" not in sys.modules, "mc_analysis imports matplotlib eagerly"
        import matplotlib
        rc = matplotlib.rcParams
        before = {k: rc._get(k) for k in rc}
        backend = rc._get_backend_or_none()
        import mc_analysis.figures
        assert {k: rc._get(k) for k in rc} == before
        assert rc._get_backend_or_none() == backend
        assert "matplotlib.pyplot" not in sys.modules
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_reports_work_headless_without_pyplot(tmp_path):
    make_sweep(tmp_path / "sw")
    out = _run_in_subprocess(
        f"""
        import os, sys
        os.environ.pop("DISPLAY", None)
        import matplotlib
        rc = matplotlib.rcParams
        before = {{k: rc._get(k) for k in rc}}
        backend = rc._get_backend_or_none()
        from mc_analysis import make_run_report, make_sweep_report
        make_run_report({str(tmp_path / "sw" / "members" / "pal_seed1")!r})
        make_sweep_report({str(tmp_path / "sw")!r})
        assert {{k: rc._get(k) for k in rc}} == before
        assert rc._get_backend_or_none() == backend
        assert "matplotlib.pyplot" not in sys.modules
        print("ok")
        """
    )
    assert out.strip() == "ok"
    assert (tmp_path / "sw" / "report" / "sweep_test_accuracy.png").is_file()


@pytest.fixture
def data(run_dir):
    d, expected = run_dir
    run = read_run(d)
    return {
        "summary": run_summary(run),
        "traces": output_traces(run, "validation", -1, 1, 3),
        "points": decision_points(run, "validation", -1),
        "expected": expected,
    }


def test_trace_and_point_data(data):
    tr, pts, exp = data["traces"], data["points"], data["expected"]
    assert tr["entry"] == 2 and tr["output"].shape == (3 * RPS, 3) == tr["teacher"].shape
    np.testing.assert_array_equal(tr["time"], np.arange(RPS, 4 * RPS) * EVERY)
    np.testing.assert_array_equal(tr["sample_starts"], [100, 200, 300])
    # x, y = means of input.rate[:, 0] and [:, 1] over records 1..4 (record 0 is misleading)
    np.testing.assert_allclose(np.c_[pts["x"], pts["y"]], exp["xy_valid_last"], atol=1e-6)
    assert pts["x"].shape == (N_VAL,)
    assert pts["accuracy"] == exp["validation_accuracy"][-1]
    assert 100 * np.mean(pts["predicted"] == pts["labels"]) == pts["accuracy"]


@pytest.mark.parametrize(
    ("name", "key", "xlabel", "ylabel_part"),
    [
        ("plot_validation_accuracy", "summary", "epoch", "accuracy [%]"),
        ("plot_validation_rmse", "summary", "epoch", "RMSE"),
        ("plot_angles", "summary", "epoch", "angle [deg]"),
        ("plot_self_prediction", "summary", "epoch", "[weight units]"),
        ("plot_output_traces", "traces", "time [steps]", "voltage [model units]"),
        ("plot_decision_map", "points", "input x [rate]", "input y [rate]"),
    ],
)
def test_run_figures_have_labelled_axes(data, name, key, xlabel, ylabel_part):
    from matplotlib.figure import Figure

    before = _rc_snapshot()
    ax = getattr(F, name)(data[key])
    assert isinstance(ax.figure, Figure)
    assert ax.get_xlabel() == xlabel
    assert ylabel_part in ax.get_ylabel()
    assert ax.lines or ax.collections
    assert _rc_snapshot() == before


def test_plot_into_given_axes_and_save(data, tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 2.5))
    ax1, ax2 = fig.subplots(1, 2)
    assert F.plot_validation_accuracy(data["summary"], ax=ax1) is ax1
    assert F.plot_angles(data["summary"], ax=ax2) is ax2
    np.testing.assert_array_equal(ax1.lines[0].get_ydata(), data["expected"]["validation_accuracy"])
    paths = F.save_figure(fig, tmp_path / "figs", "two_panels")
    assert [p.name for p in paths] == ["two_panels.png", "two_panels.pdf"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_variant_colors():
    colors = F.variant_colors(["x", "fa", "pal", "y", "x", "transpose", "noise_control"])
    assert colors["pal"] == F.VARIANT_COLORS["pal"] and colors["fa"] == F.VARIANT_COLORS["fa"]
    assert colors["transpose"] == F.VARIANT_COLORS["transpose"]
    assert colors["noise_control"] == F.VARIANT_COLORS["bw_eta_zero"]
    assert (colors["x"], colors["y"]) == F.FALLBACK_COLORS[:2]
    assert len(set(F.VARIANT_COLORS.values())) == len(F.VARIANT_COLORS) - 1  # one shared pair
    assert not set(F.FALLBACK_COLORS) & set(F.VARIANT_COLORS.values())


def test_spread_entries():
    assert spread_entries(0) == [] and spread_entries(5, 0) == []
    assert spread_entries(1) == [0]
    assert spread_entries(3) == [0, 1, 2]
    assert spread_entries(61) == [0, 12, 24, 36, 48, 60]
    assert spread_entries(10, 4) == [0, 3, 6, 9]
    assert spread_entries(7, 1) == [6]
    assert spread_entries(2, 6) == [0, 1]


def test_decision_map_series_one_panel_per_entry(run_dir):
    d, expected = run_dir
    run = read_run(d)
    entries = spread_entries(len(expected["validation_accuracy"]), 2)
    assert entries == [0, len(expected["validation_accuracy"]) - 1]
    before = _rc_snapshot()
    ax = F.plot_decision_map_series([decision_points(run, "validation", e) for e in entries])
    assert _rc_snapshot() == before
    panels = [a for a in ax.figure.axes if a.axison]
    assert len(panels) == 2
    for a, e in zip(panels, entries, strict=True):
        acc = expected["validation_accuracy"][e]
        assert (
            a.get_title()
            == f"validation after {e} epoch{'' if e == 1 else 's'}: accuracy {acc:.1f} %"
        )
    assert panels[0].get_legend() is None and panels[1].get_legend() is not None
    with pytest.raises(ValueError, match="no decision maps"):
        F.plot_decision_map_series([])


def test_run_figures_say_what_they_show(data):
    ax = F.plot_validation_accuracy(data["summary"])
    assert ax.get_title() == "accuracy: validation before each epoch, test at the end"
    ax = F.plot_angles(data["summary"])
    assert ax.get_title().startswith("feedback alignment: angle between $B$ and $W^T$")
    (ninety,) = [line for line in ax.get_lines() if list(line.get_ydata()) == [90, 90]]
    labels = ax.get_legend_handles_labels()[1]
    assert ninety.get_label() == "90°: unrelated (orthogonal)" and ninety.get_label() in labels
    assert ax.get_ylim()[1] >= 90  # the line is inside the axes


def test_output_traces_say_which_samples_and_how_they_went(data, run_dir):
    ax = F.plot_output_traces(data["traces"])  # samples 2-4 of the 6 of the last validation
    assert ax.get_title().startswith("validation after 2 epochs: samples 2-4 of 6 (in")
    tr = output_traces(read_run(run_dir[0]), "validation", 0, 0, 6)  # 1 of 6 right
    ax = F.plot_output_traces(tr)
    assert ax.get_title().startswith("validation after 0 epochs: samples 1-6 of 6 (in")
    marks = [t.get_text() for t in ax.texts]
    right = tr["predicted"] == tr["labels"]
    assert marks == [f"{c} {'✓' if ok else '✗'}" for c, ok in zip(tr["labels"], right, strict=True)]
    assert not right.all() and right.any()  # the builder's run gets some of them wrong
    assert "voltage" in ax.get_ylabel() and "rate" not in ax.get_ylabel()


def test_self_prediction_gives_the_scale_of_the_weights(run_dir):
    from mc_analysis.traces import weight_sizes

    run = read_run(run_dir[0])
    summary, sizes = run_summary(run), weight_sizes(run)
    w_last = np.asarray(run.read("weights", "ff_2.g")[-1], dtype=np.float64)
    b_last = np.asarray(run.read("weights", "fb_1.g")[-1], dtype=np.float64)
    assert sizes == {"layer_1": {"ff": np.mean(np.abs(w_last)), "fb": np.mean(np.abs(b_last))}}
    title = F.plot_self_prediction(summary, sizes=sizes).get_title().splitlines()
    assert title[0] == "self-prediction: 0 = lateral weights mirror $W$ and $-B$"
    err = summary["self_prediction"]["layer_1"]["ff_minus_p2i"][-1]
    assert title[1] == (
        f"at the end, mean $|W_2|$ = {sizes['layer_1']['ff']:.2g}: the error is "
        f"{100 * err / sizes['layer_1']['ff']:.2g} % of it"
    )
    assert F.plot_self_prediction(summary).get_title() == title[0]  # no sizes: no scale


def test_self_prediction_curves_differ_in_colour_and_marker(run_dir):
    ax = F.plot_self_prediction(run_summary(read_run(run_dir[0])))
    lines = ax.get_lines()
    assert len(lines) == 2  # one layer: W - W_PI and B + W_IP
    assert len({line.get_color() for line in lines}) == 2
    assert len({line.get_marker() for line in lines}) == 2
    legend = ax.get_legend()
    handles = legend.legend_handles if hasattr(legend, "legend_handles") else legend.legendHandles
    assert len({(h.get_color(), h.get_marker()) for h in handles}) == 2


@pytest.mark.parametrize(
    ("rmse", "scale"),
    [([0.5261, 0.5230, 0.5206], "linear"), ([0.5, 0.08, 0.004], "log")],
    ids=["within a decade", "over decades"],
)
def test_rmse_axes_label_ticks_within_the_data(rmse, scale):
    ax = F.plot_validation_rmse({"validation_rmse": rmse})
    ax.figure.canvas.draw()
    labelled = [t.get_position()[1] for t in ax.get_yticklabels() if t.get_text()]
    inside = [y for y in labelled if min(rmse) <= y <= max(rmse)]
    assert ax.get_yscale() == scale and len(inside) >= 2, (ax.get_yscale(), labelled)
