"""Figures from summary data; plotting only, no analysis.

Every ``plot_*`` function takes data from :mod:`mc_analysis.summary` and an optional
``matplotlib`` Axes; without one it makes a new :class:`matplotlib.figure.Figure` (no pyplot,
so it works headless and leaves no global figure behind). It returns the Axes (the figure is
``ax.figure``); :func:`save_figure` writes PNG and PDF. Matplotlib is imported inside the
functions and its global state is never touched: the paper style is applied with
``matplotlib.rc_context`` around each call only.

Each variant has one colour in every figure (:data:`VARIANT_COLORS`, then
:data:`FALLBACK_COLORS` in order of first appearance; see :func:`variant_colors`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CLASS_COLORS",
    "FALLBACK_COLORS",
    "STYLE",
    "VARIANT_COLORS",
    "YINYANG_CLASSES",
    "new_axes",
    "plot_angles",
    "plot_decision_map",
    "plot_decision_map_series",
    "plot_output_traces",
    "plot_self_prediction",
    "plot_sweep_angles",
    "plot_sweep_test_accuracy",
    "plot_sweep_validation_accuracy",
    "plot_sweep_validation_rmse",
    "plot_validation_accuracy",
    "plot_validation_rmse",
    "save_figure",
    "variant_colors",
]

#: Colour of each feedback variant (Okabe-Ito, colour-blind safe): PAL blue, FA vermillion,
#: the noise-only control (the original's ``bw_eta_zero``) green, B := W^T black.
VARIANT_COLORS: dict[str, str] = {
    "pal": "#0072B2",
    "fa": "#D55E00",
    "bw_eta_zero": "#009E73",
    "noise_control": "#009E73",
    "transpose": "#000000",
}
#: Colours for other variants, in order of first appearance.
FALLBACK_COLORS: tuple[str, ...] = (
    "#E69F00",
    "#CC79A7",
    "#56B4E9",
    "#8C564B",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
    "#9467BD",
)
#: Colours of the output classes (traces and decision maps).
CLASS_COLORS: tuple[str, ...] = ("#1B9E77", "#D95F02", "#7570B3", "#E7298A", "#66A61E",
                                 "#E6AB02", "#A6761D", "#666666", "#1F78B4", "#B2DF8A")  # fmt: skip
#: Yin-Yang class names by label, as the dataset (and the original) assigns them: 1 is yin.
YINYANG_CLASSES: tuple[str, ...] = ("yang", "yin", "dot")
#: rcParams applied (with ``rc_context``) while a figure is drawn or saved.
STYLE: dict[str, Any] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
}
FIGSIZE = (3.4, 2.5)  # inches: a single column of a two-column paper


def _styled(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


@_styled
def new_axes(figsize: tuple[float, float] = FIGSIZE) -> Any:
    """A new Figure (constrained layout, paper style) with one Axes; returns the Axes."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _axes(ax: Any) -> Any:
    return new_axes() if ax is None else ax


def save_figure(
    fig: Any, out_dir: str | Path, stem: str, formats: Sequence[str] = ("png", "pdf"), dpi=200
) -> list[Path]:
    """Save ``fig`` as ``out_dir/stem.<fmt>`` for each format; returns the paths.

    Each file is written atomically, never through a symbolic link
    (:func:`mc_analysis.safefiles.atomic_write_bytes`).
    """
    import io

    import matplotlib

    from mc_analysis.safefiles import atomic_write_bytes

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context(STYLE):
        for fmt in formats:
            path = out_dir / f"{stem}.{fmt}"
            buf = io.BytesIO()
            fig.savefig(buf, dpi=dpi, format=fmt, bbox_inches="tight", pad_inches=0.03)
            atomic_write_bytes(path, buf.getvalue())
            paths.append(path)
    return paths


def variant_colors(variants: Iterable[str]) -> dict[str, str]:
    """Colour per variant: :data:`VARIANT_COLORS`, else the fallback cycle in order."""
    out: dict[str, str] = {}
    k = 0
    for v in variants:
        if v in out:
            continue
        if v in VARIANT_COLORS:
            out[v] = VARIANT_COLORS[v]
        else:
            out[v] = FALLBACK_COLORS[k % len(FALLBACK_COLORS)]
            k += 1
    return out


def _arr(x: Any) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in x], dtype=np.float64)


def _integer_epochs(ax: Any, x: Any) -> None:
    """Integer ticks on an epoch axis whose points are all at whole epochs."""
    from matplotlib.ticker import MaxNLocator

    x = np.asarray(x, dtype=np.float64)
    if x.size and np.all(np.isfinite(x)) and np.all(x == np.round(x)):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _value_axis(ax: Any, values: Any) -> None:
    """Log scale where the positive values span two decades or more, else linear.

    A log axis labels the decades: over two decades at least two labelled ticks lie within
    the data, over less it may hold one or none (the labels would all lie outside the data),
    so such data get a linear axis.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    ax.set_yscale("log" if v.size and v.max() >= 100 * v.min() else "linear")


def _stage_title(data: Mapping[str, Any]) -> str:
    """Title: ``validation after N epochs`` (validation entry N) or the stage name."""
    if data["stage"] == "validation":
        n = int(data["entry"])
        return f"validation after {n} epoch{'' if n == 1 else 's'}"
    return str(data["stage"])


def _layer(key: str) -> int:
    """``"fb_1"`` or ``"layer_1"`` -> 1."""
    return int(key.rsplit("_", 1)[-1])


# --------------------------------------------------------------------------- one run


@_styled
def plot_validation_accuracy(
    summary: Mapping[str, Any], ax: Any = None, color: str | None = None, label: str | None = None
) -> Any:
    """Validation accuracy [%] against epoch (0 = untrained), test accuracy as a star."""
    ax = _axes(ax)
    acc = _arr(summary["validation_accuracy"])
    epochs = np.arange(acc.size)
    color = color or VARIANT_COLORS.get(str(summary.get("feedback")), "C0")
    ax.plot(epochs, acc, marker="o", ms=3, color=color, label=label or "validation")
    if summary.get("test_accuracy") is not None:
        ax.plot([epochs[-1] if acc.size else 0], [summary["test_accuracy"]], marker="*", ms=8,
                ls="none", color=color, mec="k", mew=0.5, label="test")  # fmt: skip
    ax.set(xlabel="epoch", ylabel="accuracy [%]", ylim=(0, 101))
    _integer_epochs(ax, epochs)
    ax.legend(loc="lower right")
    return ax


@_styled
def plot_validation_rmse(summary: Mapping[str, Any], ax: Any = None) -> Any:
    """Validation RMSE between output ``v_brev`` and teacher rate against epoch.

    Log scale where the values span two decades or more, linear otherwise (so that
    labelled ticks always lie within the data).
    """
    ax = _axes(ax)
    rmse = _arr(summary["validation_rmse"])
    ax.plot(np.arange(rmse.size), rmse, marker="o", ms=3, color="0.2")
    _value_axis(ax, rmse)
    ax.set(xlabel="epoch", ylabel="validation RMSE output - teacher")
    _integer_epochs(ax, np.arange(rmse.size))
    return ax


@_styled
def plot_angles(summary: Mapping[str, Any], ax: Any = None, color: str | None = None) -> Any:
    """Alignment angle between B_l and W_{l+1}^T [deg] against epoch, one line per layer."""
    ax = _axes(ax)
    color = color or VARIANT_COLORS.get(str(summary.get("feedback")), "C0")
    styles = ("-", "--", ":", "-.")
    xs: list[float] = []
    for i, (layer, vals) in enumerate(sorted(summary.get("angles", {}).items())):
        x = list(summary.get("angle_epoch", {}).get(layer, range(len(vals))))
        n = _layer(layer)
        ax.plot(x, _arr(vals), ls=styles[i % 4], marker="o", ms=3, color=color,
                label=f"$B_{n}$ vs $W_{n + 1}^T$")  # fmt: skip
        xs += x
    ax.axhline(90, color="0.6", lw=0.8, ls=":")
    _integer_epochs(ax, xs)
    ax.set(xlabel="epoch", ylabel="angle [deg]")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best")
    return ax


@_styled
def plot_self_prediction(summary: Mapping[str, Any], ax: Any = None) -> Any:
    """Self-prediction errors against epoch (log scale over two decades or more).

    Mean ``|W_ff(l+1) - W_p2i(l)|`` (solid, circles) and mean ``|B_l + W_i2p(l)|`` (dashed,
    squares) per layer, each curve in its own colour; on a log axis exact zeros are not drawn.
    """
    ax = _axes(ax)
    curves, n_max = [], 0
    for i, (layer, d) in enumerate(sorted(summary.get("self_prediction", {}).items())):
        n = _layer(layer)
        for q, (key, ls, marker, name) in enumerate(
            (("ff_minus_p2i", "-", "o", rf"$|W_{n + 1} - W^{{PI}}_{n}|$"),
             ("fb_plus_i2p", "--", "s", rf"$|B_{n} + W^{{IP}}_{n}|$"))):  # fmt: skip
            vals = _arr(d.get(key, []))
            n_max = max(n_max, vals.size)
            curves.append(vals)
            ax.plot(np.arange(vals.size), vals, ls=ls, marker=marker, ms=3,
                    color=f"C{2 * i + q}", label=name)  # fmt: skip
    _value_axis(ax, np.concatenate(curves) if curves else [])
    if ax.get_yscale() == "log":
        for line in ax.get_lines():  # zeros cannot be drawn on a log axis
            y = np.asarray(line.get_ydata(), dtype=np.float64)
            line.set_ydata(np.where(y > 0, y, np.nan))
    ax.set(xlabel="epoch", ylabel="mean abs. difference [weight units]")
    ax.set_xlim(-0.3, max(n_max - 1, 1) + 0.3)
    _integer_epochs(ax, np.arange(n_max))
    ax.legend(loc="best")
    return ax


@_styled
def plot_output_traces(traces: Mapping[str, Any], ax: Any = None) -> Any:
    """Teacher rate (solid) and output ``v_brev`` (dashed) per class against time [steps]."""
    ax = _axes(ax)
    t = np.asarray(traces["time"])
    out, teach = np.asarray(traces["output"]), np.asarray(traces["teacher"])
    for c in range(out.shape[1]):
        col = CLASS_COLORS[c % len(CLASS_COLORS)]
        ax.plot(t, teach[:, c], color=col, ls="-", drawstyle="steps-post", label=f"teacher {c}")
        ax.plot(t, out[:, c], color=col, ls="--", marker=".", ms=3, label=f"output {c}")
    for s in np.asarray(traces["sample_starts"])[1:]:
        ax.axvline(s, color="0.8", lw=0.6, zorder=0)
    ax.set(xlabel="time [steps]", ylabel="rate / v_brev [model units]")
    ax.set_title(f"{_stage_title(traces)}: teacher (solid), output (dashed)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), ncols=1)
    return ax


@_styled
def plot_decision_map(points: Mapping[str, Any], ax: Any = None) -> Any:
    """Yin-Yang inputs coloured by predicted class; misclassified points drawn as crosses."""
    ax = _axes(ax)
    x, y = np.asarray(points["x"]), np.asarray(points["y"])
    pred, labels = np.asarray(points["predicted"]), np.asarray(points["labels"])
    names = dict(enumerate(YINYANG_CLASSES)) if points.get("n_classes") == 3 else {}
    for c in range(int(points.get("n_classes", pred.max(initial=0) + 1))):
        col = CLASS_COLORS[c % len(CLASS_COLORS)]
        ok, bad = (pred == c) & (pred == labels), (pred == c) & (pred != labels)
        ax.scatter(x[ok], y[ok], s=10, color=col, label=f"predicted {names.get(c, c)}")
        ax.scatter(x[bad], y[bad], s=14, color=col, marker="x", lw=0.9)
    if np.any(pred != labels):
        ax.scatter([], [], s=14, color="0.3", marker="x", lw=0.9, label="misclassified")
    ax.set(xlabel="input x [rate]", ylabel="input y [rate]", aspect="equal")
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    ax.set_title(f"{_stage_title(points)}: accuracy {points['accuracy']:.1f} %")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=1.2)
    return ax


@_styled
def plot_decision_map_series(series: Sequence[Mapping[str, Any]], cols: int = 3) -> Any:
    """Decision maps side by side (e.g. the validation after several epochs), ``cols`` per row.

    Each panel as :func:`plot_decision_map`, the legend on the last one only. Returns the
    first panel's Axes (its ``.figure`` holds them all).
    """
    from matplotlib.figure import Figure

    if not series:
        raise ValueError("no decision maps to plot")
    cols = max(1, min(cols, len(series)))
    rows = -(-len(series) // cols)
    fig = Figure(figsize=(3.0 * cols + 1.6, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for i, (ax, points) in enumerate(zip(axes, series, strict=False)):
        plot_decision_map(points, ax=ax)
        if i < len(series) - 1:
            ax.get_legend().remove()
    for ax in axes[len(series) :]:
        ax.set_axis_off()
    return axes[0]


# ------------------------------------------------------------------------------ sweeps


def _colors(sweep: Mapping[str, Any], colors: Mapping[str, str] | None) -> dict[str, str]:
    return dict(colors) if colors else variant_colors(sweep["variants"])


def _band(ax: Any, x: np.ndarray, stats: Mapping[str, Any], color: str, label: str) -> None:
    mean, std = _arr(stats["mean"]), _arr(stats["std"])
    x = x[: mean.size]
    ls = "--" if label.startswith("original:") else "-"
    ax.plot(x, mean, color=color, ls=ls, lw=1.8, label=f"{label} (n={max(stats['n'] or [0])})")
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, lw=0)


@_styled
def plot_sweep_validation_accuracy(
    sweep: Mapping[str, Any], ax: Any = None, colors: Mapping[str, str] | None = None
) -> Any:
    """Validation accuracy [%] per variant: mean, mean ± std (shaded) and each seed (thin)."""
    ax = _sweep_curves(_axes(ax), sweep, "validation_accuracy", colors)
    ax.set(ylabel="validation accuracy [%]", ylim=(0, 101))
    ax.legend(loc="lower right")
    return ax


@_styled
def plot_sweep_validation_rmse(
    sweep: Mapping[str, Any], ax: Any = None, colors: Mapping[str, str] | None = None
) -> Any:
    """Validation RMSE output ``v_brev`` - teacher per variant: mean, ± std, seeds.

    Log scale where the means span two decades or more, linear otherwise.
    """
    ax = _sweep_curves(_axes(ax), sweep, "validation_rmse", colors)
    ax.set(ylabel="validation RMSE output - teacher")
    _value_axis(ax, [x for v in sweep["variants"].values() for x in v["validation_rmse"]["mean"]])
    ax.legend(loc="upper right")
    return ax


def _sweep_curves(ax: Any, sweep: Mapping[str, Any], key: str, colors) -> Any:
    colors = _colors(sweep, colors)
    for variant, v in sweep["variants"].items():
        x = np.asarray(v["epochs"], dtype=np.float64)
        for row in v[key]["per_seed"]:
            ax.plot(x[: len(row)], _arr(row), color=colors[variant], lw=0.5, alpha=0.4)
        _band(ax, x, v[key], colors[variant], variant)
    ax.set(xlabel="epoch")
    _integer_epochs(ax, [e for v in sweep["variants"].values() for e in v["epochs"]])
    return ax


@_styled
def plot_sweep_test_accuracy(
    sweep: Mapping[str, Any], ax: Any = None, colors: Mapping[str, str] | None = None
) -> Any:
    """Test accuracy [%] per variant: every seed as a dot, mean ± std as a black error bar."""
    ax = _axes(ax)
    colors = _colors(sweep, colors)
    names = list(sweep["variants"])
    for i, variant in enumerate(names):
        t = sweep["variants"][variant]["test_accuracy"]
        vals = _arr(t["per_seed"])
        jitter = np.linspace(-0.15, 0.15, vals.size) if vals.size > 1 else np.zeros(vals.size)
        ax.scatter(i + jitter, vals, s=14, color=colors[variant], alpha=0.8, zorder=2)
        if t["n"]:
            ax.errorbar(i + 0.3, t["mean"], yerr=t["std"], fmt="o", color="k", ms=4,
                        capsize=3, zorder=3)  # fmt: skip
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 3 else 0, ha="right"
                  if len(names) > 3 else "center")  # fmt: skip
    ax.set(xlabel="variant", ylabel="test accuracy [%]", xlim=(-0.6, len(names) - 0.4))
    return ax


@_styled
def plot_sweep_angles(
    sweep: Mapping[str, Any],
    layer: str = "fb_1",
    ax: Any = None,
    colors: Mapping[str, str] | None = None,
) -> Any:
    """Alignment angle [deg] of ``layer`` per variant: mean and mean ± std (shaded)."""
    ax = _axes(ax)
    colors = _colors(sweep, colors)
    xs: list[float] = []
    for variant, v in sweep["variants"].items():
        a = v["angles"].get(layer)
        if a:
            _band(ax, np.asarray(a["epoch"], dtype=np.float64), a, colors[variant], variant)
            xs += list(a["epoch"])
    ax.axhline(90, color="0.6", lw=0.8, ls=":")
    _integer_epochs(ax, xs)
    n = _layer(layer)
    ax.set(xlabel="epoch", ylabel=f"angle $B_{n}$ vs $W_{n + 1}^T$ [deg]")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best")
    return ax
