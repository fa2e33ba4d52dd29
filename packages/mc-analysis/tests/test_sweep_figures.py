"""The sweep figures: zoomed to the data, every band and bar labelled, readable names, Welch's
p on the comparisons, variants apart in greyscale, vector PDF beside PNG."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from analysis_builders import make_sweep

from mc_analysis import figures as F
from mc_analysis import sweep_figures as S
from mc_analysis.cli import main
from mc_analysis.rundir import read_sweep
from mc_analysis.summary import sweep_summary

matplotlib = pytest.importorskip("matplotlib")

N_EPOCHS = 40


def _run(variant: str, seed: int, final: float, angle: float) -> dict:
    """A run summary whose accuracy rises from 33 % to ``final`` (settled by epoch 15)."""
    e = np.arange(N_EPOCHS + 1)
    wiggle = 0.2 * np.sin(e + seed)
    acc = np.where(e < 15, 33.0 + (final - 33.0) * e / 15.0, final) + wiggle
    acc[0] = 33.0
    return {
        "kind": "run",
        "path": f"sw/members/{variant}_seed{seed}",
        "validation_accuracy": acc.tolist(),
        "validation_rmse": (0.6 - acc / 200.0).tolist(),
        "test_accuracy": final + 0.1 * seed,
        "angles": {"fb_1": list(np.linspace(88.0, angle, N_EPOCHS + 1))},
        "angle_epoch": {"fb_1": [float(x) for x in e]},
        "verified": True,
    }


@pytest.fixture
def sweep() -> dict:
    runs = [("pal", s, _run("pal", s, 95.0 + 0.3 * s, 50.0 + s)) for s in range(4)]
    runs += [("bw_eta_zero", s, _run("bw_eta_zero", s, 92.0 + 0.5 * s, 62.0 + s))
             for s in range(3)]  # fmt: skip
    return sweep_summary(runs)


def _legend_texts(ax) -> list[str]:
    legends = [ax.get_legend(), *ax.figure.legends]
    return [t.get_text() for lg in legends if lg is not None for t in lg.get_texts()] + [
        lg.get_title().get_text() for lg in legends if lg is not None
    ]


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_paper_variants_differ_in_grey_line_and_marker():
    paper = ("pal", "fa", "bw_eta_zero")
    greys = [F.grey_level(F.VARIANT_COLORS[v]) for v in paper]
    for a, b in itertools.combinations(greys, 2):
        assert abs(a - b) >= 0.25, greys
    styles = F.variant_styles(paper)
    assert len({s[0] for s in styles.values()}) == 3 and len({s[1] for s in styles.values()}) == 3
    assert F.variant_labels(paper) == {"pal": "PAL", "fa": "FA", "bw_eta_zero": r"$\eta_B = 0$"}
    assert F.variant_labels(["original:fa", "x"], {"x": "mine"}) == {
        "original:fa": "original: FA",
        "x": "mine",
    }
    # every fallback look is new: no two variants of one figure share colour or (style, marker)
    many = [f"v{i}" for i in range(6)]
    assert len(set(F.variant_colors(many).values())) == 6
    assert len(set(F.variant_styles(many).values())) == 6


def test_grey_level_is_bt601_luma():
    assert F.grey_level("#000000") == 0.0 and F.grey_level("#FFFFFF") == pytest.approx(1.0)
    assert F.grey_level("#00FF00") == pytest.approx(0.587)


@pytest.mark.parametrize(
    ("values", "start"),
    [
        ([30, 80, 90, 96, 95, 97], 3),  # threshold 30 + 0.95 * 67 = 93.65
        ([0.6, 0.4, 0.31, 0.30, 0.305, 0.30], 2),  # falling: threshold 0.585 - ... = 0.315
        ([30, 96, 80, 96], 3),  # a dip below the threshold after the first crossing
        ([50, 50, 50], 0),
        ([np.nan, 10, 20, np.nan, 30], 4),  # 10 + 0.95 * 20 = 29: only the last is beyond
    ],
)
def test_settled_from(values, start):
    assert S.settled_from(values) == start


def test_format_p():
    assert S.format_p(0.01634) == "$p = 0.016$"
    assert S.format_p(0.37) == "$p = 0.37$"
    assert S.format_p(0.001) == "$p = 0.001$"
    assert S.format_p(1.52e-6) == r"$p = 1.5 \times 10^{-6}$"
    assert S.format_p(float("nan")) == S.format_p(None) == "$p$ = n/a"


def test_validation_accuracy_full_scale_and_zoom(sweep):
    ax = S.plot_sweep_validation_accuracy(sweep)
    full, zoom = ax.figure.axes
    assert zoom is ax
    # the full scale: 0-100 %, all epochs, means only, the zoomed window marked
    assert full.get_ylim() == (0.0, 101.0) and full.get_title() == "full scale"
    assert len(full.patches) == 1  # the rectangle of the zoom
    # the zoom: from the epoch every variant's mean has settled, fitted to bands and seeds
    start = max(
        S.settled_from(v["validation_accuracy"]["mean"]) for v in sweep["variants"].values()
    )
    assert 10 <= start <= 15
    assert zoom.get_title() == f"zoom: epochs {start}-{N_EPOCHS}"
    assert zoom.get_xlim()[0] < start < zoom.get_xlim()[0] + 1.0
    lo = min(min(r[start:]) for v in sweep["variants"].values()
             for r in v["validation_accuracy"]["per_seed"])  # fmt: skip
    hi = max(max(r[start:]) for v in sweep["variants"].values()
             for r in v["validation_accuracy"]["per_seed"])  # fmt: skip
    y0, y1 = zoom.get_ylim()
    assert lo - 0.1 * (hi - lo) < y0 < lo and hi < y1 < hi + 0.1 * (hi - lo)
    means = {ln.get_label(): ln for ln in zoom.lines if ln.get_label() in ("PAL", r"$\eta_B = 0$")}
    np.testing.assert_allclose(
        means["PAL"].get_ydata(), sweep["variants"]["pal"]["validation_accuracy"]["mean"][start:]
    )
    assert means["PAL"].get_linestyle() != means[r"$\eta_B = 0$"].get_linestyle()
    # every band labelled, seeds counted, the test named; Welch's p of the final values
    texts = _legend_texts(ax)
    assert {"PAL (n = 4)", r"$\eta_B = 0$ (n = 3)", "single seeds"} <= set(texts)
    assert "mean ± std over seeds" in texts
    assert "p: Welch's t-test, final epoch" in texts
    (c,) = sweep["comparisons"]
    p = c["metrics"]["final_validation_accuracy"]["welch"]["p_value"]
    assert _texts(zoom) == [S.format_p(p)]


def test_no_zoom_where_the_curves_settle_at_once(sweep):
    for v in sweep["variants"].values():
        stats = v["validation_accuracy"]
        stats["mean"] = [stats["mean"][-1]] * len(stats["mean"])
    ax = S.plot_sweep_validation_accuracy(sweep)
    assert ax.figure.axes == [ax]
    y0, y1 = ax.get_ylim()
    assert y0 > 20 and y1 < 101  # fitted to the data (bands and seeds), not 0-100


def test_zoom_where_the_curves_jump_in_the_first_epoch(sweep):
    # a jump from 33 % to the final value in the first epoch (settled at epoch 1 of 40,
    # within the first 5 %): the settled curves span a fraction of the range, so they get a
    # zoom; the same jump over the seeds' whole spread does not
    def jump(stats, final):
        stats["mean"] = [33.0] + [final + 0.2 * np.sin(e) for e in range(1, N_EPOCHS + 1)]
        stats["per_seed"] = [list(stats["mean"]) for _ in stats["per_seed"]]
        stats["std"] = [0.0] * len(stats["mean"])

    for v, final in zip(sweep["variants"].values(), (95.0, 93.0), strict=True):
        jump(v["validation_accuracy"], final)
    ax = S.plot_sweep_validation_accuracy(sweep)
    full, zoom = ax.figure.axes
    assert zoom is ax and zoom.get_title() == f"zoom: epochs 1-{N_EPOCHS}"
    y0, y1 = zoom.get_ylim()
    assert 92.0 < y0 < 92.8 and 95.2 < y1 < 96.0  # 92.8-95.2 and 6 % of it either side
    for v in sweep["variants"].values():
        v["validation_accuracy"]["per_seed"][0][1] = 34.0  # one seed's settled data: 34-95 %
    ax = S.plot_sweep_validation_accuracy(sweep)
    assert ax.figure.axes == [ax]


def test_test_accuracy_error_bars_seeds_and_p(sweep):
    ax = S.plot_sweep_test_accuracy(sweep, labels={"bw_eta_zero": "control"})
    assert [t.get_text() for t in ax.get_xticklabels()] == ["PAL", "control"]
    texts = _legend_texts(ax)
    assert "mean ± std (n = 3/4 seeds)" in texts and "single seeds" in texts
    assert "p: Welch's t-test" in texts
    p = sweep["comparisons"][0]["metrics"]["test_accuracy"]["welch"]["p_value"]
    assert _texts(ax) == [S.format_p(p)]
    t = sweep["variants"]["pal"]["test_accuracy"]
    from matplotlib.collections import LineCollection

    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    (low, high) = bars[0].get_segments()[0][:, 1]  # the first variant's error bar
    assert (low, high) == pytest.approx((t["mean"] - t["std"], t["mean"] + t["std"]))
    # the axis spans the seeds (and the bracket above them), not 0-100
    seeds = [x for v in sweep["variants"].values() for x in v["test_accuracy"]["per_seed"]]
    assert min(seeds) - 1 < ax.get_ylim()[0] < min(seeds)


def test_angles_fitted_to_the_data_with_p(sweep):
    ax = S.plot_sweep_angles(sweep, "fb_1")
    bands = [
        x
        for v in sweep["variants"].values()
        for x in np.r_[
            np.subtract(v["angles"]["fb_1"]["mean"], v["angles"]["fb_1"]["std"]),
            np.add(v["angles"]["fb_1"]["mean"], v["angles"]["fb_1"]["std"]),
        ]
    ]
    y0, y1 = ax.get_ylim()
    assert min(bands) - 5 < y0 < min(bands) and max(bands) < y1 < max(bands) + 5
    p = sweep["comparisons"][0]["metrics"]["final_angle_fb_1"]["welch"]["p_value"]
    assert _texts(ax) == [S.format_p(p)]
    assert {"PAL (n = 4)", r"$\eta_B = 0$ (n = 3)"} <= set(_legend_texts(ax))


def test_rmse_full_scale_and_zoom(sweep):
    ax = S.plot_sweep_validation_rmse(sweep)
    full, zoom = ax.figure.axes
    assert full.get_yscale() == "linear" and zoom.get_title().startswith("zoom: epochs")
    assert _texts(zoom) == []  # no test of the RMSE in the summary: no p


@pytest.mark.parametrize(
    ("rmse", "scale"),
    [([0.5261, 0.5230, 0.5206], "linear"), ([0.5, 0.08, 0.004], "log")],
    ids=["within a decade", "over decades"],
)
def test_rmse_axes_label_ticks_within_the_data(rmse, scale):
    sweep = {
        "variants": {
            "v": {
                "epochs": [0, 1, 2],
                "validation_rmse": {
                    "mean": rmse,
                    "std": [0.0] * 3,
                    "n": [1] * 3,
                    "per_seed": [rmse],
                },  # fmt: skip
            }
        }
    }
    full = F.new_axes()
    ax = S.plot_sweep_validation_rmse(sweep, full_ax=full)
    for a in (ax, full):  # no zoom for three epochs: both show them all
        a.figure.canvas.draw()
        labelled = [t.get_position()[1] for t in a.get_yticklabels() if t.get_text()]
        inside = [y for y in labelled if min(rmse) <= y <= max(rmse)]
        assert a.get_yscale() == scale and len(inside) >= 2, (a.get_yscale(), labelled)


@pytest.mark.filterwarnings("error")  # e.g. a layout that collapsed
def test_sweep_report_writes_vector_pdf_beside_png(tmp_path):
    make_sweep(tmp_path / "sw")
    assert main(["-q", "sweep", str(tmp_path / "sw"), "--out", str(tmp_path / "rep"),
                 "--label", "fa=feedback alignment"]) == 0  # fmt: skip
    for stem in ("sweep_validation_accuracy", "sweep_validation_rmse", "sweep_test_accuracy",
                 "sweep_angle_fb_1"):  # fmt: skip
        png, pdf = tmp_path / "rep" / f"{stem}.png", tmp_path / "rep" / f"{stem}.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        data = pdf.read_bytes()
        assert data[:5] == b"%PDF-" and b"/Subtype /Image" not in data  # vector: no raster


def test_label_option_is_checked(tmp_path, capsys):
    make_sweep(tmp_path / "sw")
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(tmp_path / "sw"), "--label", "fa"])
    assert info.value.code == 2 and "expected VARIANT=TEXT" in capsys.readouterr().err


def test_sweep_of_run_summaries_in_a_given_figure(tmp_path):
    """Drawing into the caller's Axes (as the gallery does): the zoom in ``ax``, the full
    scale in ``full_ax``; nothing else is added to the figure."""
    from matplotlib.figure import Figure

    make_sweep(tmp_path / "sw")
    sweep = sweep_summary(read_sweep(tmp_path / "sw"))
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    assert S.plot_sweep_validation_accuracy(sweep, ax=ax2, full_ax=ax1) is ax2
    assert fig.axes == [ax1, ax2] and not fig.legends and ax2.get_legend() is not None
    n_seeds = sum(v["n_runs"] for v in sweep["variants"].values())
    means = [ln for ln in ax2.lines if ln.get_label() in ("PAL", "FA")]
    assert len(means) == 2 and len(ax2.lines) == n_seeds + 2 + 1  # and Welch's bracket
    assert len(ax2.texts) == 1 and ax2.texts[0].get_text().startswith("$p")
