r"""Figures from summary data; plotting only, no analysis.

Every ``plot_*`` function takes data from :mod:`mc_analysis.summary` and an optional
``matplotlib`` Axes; without one it makes a new :class:`matplotlib.figure.Figure` (no pyplot,
so it works headless and leaves no global figure behind). It returns the Axes (the figure is
``ax.figure``); :func:`save_figure` writes PNG and PDF. Matplotlib is imported inside the
functions and its global state is never touched: the paper style is applied with
``matplotlib.rc_context`` around each call only.

Each variant has one colour, line style and marker in every figure (:data:`VARIANT_COLORS`
and :data:`VARIANT_STYLES`, then :data:`FALLBACK_COLORS` and :data:`FALLBACK_STYLES` in order
of first appearance; see :func:`variant_colors`, :func:`variant_styles`), chosen so that
the paper's variants stay apart in greyscale, and a readable label (:data:`VARIANT_LABELS`,
:func:`variant_labels`: ``PAL``, ``FA``, :math:`\eta_B = 0` for the code names ``pal``,
``fa``, ``bw_eta_zero``). The figures of sweeps are in :mod:`mc_analysis.sweep_figures`.
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
    "FALLBACK_STYLES",
    "STYLE",
    "VARIANT_COLORS",
    "VARIANT_LABELS",
    "VARIANT_STYLES",
    "YINYANG_CLASSES",
    "grey_level",
    "new_axes",
    "plot_angles",
    "plot_decision_map",
    "plot_decision_map_series",
    "plot_output_traces",
    "plot_self_prediction",
    "plot_validation_accuracy",
    "plot_validation_rmse",
    "save_figure",
    "save_open_figures",
    "variant_colors",
    "variant_labels",
    "variant_styles",
]

#: Colour of each feedback variant (Okabe-Ito, colour-blind safe), of distinct lightness so
#: that the paper's three variants stay apart in greyscale (:func:`grey_level` 0.34, 0.64, 0):
#: PAL blue, FA orange, the noise-only control (the original's ``bw_eta_zero``) black,
#: B := W^T reddish purple.
VARIANT_COLORS: dict[str, str] = {
    "pal": "#0072B2",
    "fa": "#E69F00",
    "bw_eta_zero": "#000000",
    "noise_control": "#000000",
    "transpose": "#CC79A7",
}
#: Colours for other variants, in order of first appearance.
FALLBACK_COLORS: tuple[str, ...] = (
    "#009E73",
    "#D55E00",
    "#56B4E9",
    "#8C564B",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
    "#9467BD",
)
#: Line style and marker of each feedback variant (a second cue beside the colour).
VARIANT_STYLES: dict[str, tuple[str, str]] = {
    "pal": ("-", "o"),
    "fa": ("--", "s"),
    "bw_eta_zero": (":", "^"),
    "noise_control": (":", "^"),
    "transpose": ("-.", "D"),
}
#: Line styles and markers for other variants, in order of first appearance.
FALLBACK_STYLES: tuple[tuple[str, str], ...] = (
    ("-", "v"),
    ("--", "P"),
    (":", "X"),
    ("-.", "*"),
    ((0, (5, 1, 1, 1, 1, 1)), "h"),
    ((0, (1, 3)), "p"),
)
#: Readable names of the variants' code names (mathtext where needed).
VARIANT_LABELS: dict[str, str] = {
    "pal": "PAL",
    "fa": "FA",
    "bw_eta_zero": r"$\eta_B = 0$",
    "noise_control": r"$\eta_B = 0$",
    "transpose": r"$B = W^T$",
}
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


def save_open_figures(name: str, out_dir: str | Path = "figures") -> list[Path]:
    """Save every open pyplot figure as ``<out_dir>/<name>_<n>.png``; returns the paths.

    What the example scripts call last (``name``: the script's), so that ``python
    examples/plot_x.py`` leaves its figures in ``figures/`` under the current folder. Nothing
    is saved while the documentation's gallery runs them (``MC_GALLERY_BUILD`` set; it shows
    them itself), nor where pyplot was never imported (this function does not import it).
    """
    import os
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None or os.environ.get("MC_GALLERY_BUILD"):
        return []
    paths = []
    for n in pyplot.get_fignums():
        paths += save_figure(pyplot.figure(n), out_dir, f"{name}_{n}", formats=("png",), dpi=150)
    return paths


def _in_order(variants: Iterable[str], known: Mapping[str, Any], fallback: Sequence[Any]) -> dict:
    out: dict[str, Any] = {}
    k = 0
    for v in variants:
        if v in out:
            continue
        if v in known:
            out[v] = known[v]
        else:
            out[v] = fallback[k % len(fallback)]
            k += 1
    return out


def variant_colors(variants: Iterable[str]) -> dict[str, str]:
    """Colour per variant: :data:`VARIANT_COLORS`, else the fallback cycle in order."""
    return _in_order(variants, VARIANT_COLORS, FALLBACK_COLORS)


def variant_styles(variants: Iterable[str]) -> dict[str, tuple[Any, str]]:
    """(line style, marker) per variant: :data:`VARIANT_STYLES`, else the fallback cycle."""
    return _in_order(variants, VARIANT_STYLES, FALLBACK_STYLES)


def variant_labels(
    variants: Iterable[str], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Readable label per variant.

    ``overrides`` first, then :data:`VARIANT_LABELS`; a run of the original code
    (``original:<name>``) is ``original: <label of name>``; other names stay as they are.

    >>> variant_labels(["pal", "bw_eta_zero", "original:fa", "lr_0.1"])["original:fa"]
    'original: FA'
    """
    overrides = dict(overrides or {})
    out: dict[str, str] = {}
    for v in variants:
        if v in overrides:
            out[v] = overrides[v]
        elif v.startswith("original:"):
            name = v.split(":", 1)[1]
            out[v] = f"original: {overrides.get(name, VARIANT_LABELS.get(name, name))}"
        else:
            out[v] = VARIANT_LABELS.get(v, v)
    return out


def grey_level(color: str) -> float:
    """Lightness of a colour printed in greyscale, 0 (black) to 1 (white).

    The luma of ITU-R BT.601 (``0.299 R + 0.587 G + 0.114 B``), what common greyscale
    conversions (PIL's ``convert("L")``, many printers) compute.
    """
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(color)
    return 0.299 * r + 0.587 * g + 0.114 * b


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
    ax.set_title("accuracy: validation before each epoch, test at the end")
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
    ax.set_title(r"validation RMSE of the output $\breve v$ against its target")
    _integer_epochs(ax, np.arange(rmse.size))
    return ax


@_styled
def plot_angles(summary: Mapping[str, Any], ax: Any = None, color: str | None = None) -> Any:
    """Alignment angle between B_l and W_{l+1}^T [deg] against epoch, one line per layer.

    0° is perfect alignment (B proportional to W^T); a dotted line marks 90°, the angle of
    unrelated (orthogonal) matrices, which random feedback starts near.
    """
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
    ax.axhline(90, color="0.6", lw=0.8, ls=":", label="90°: unrelated (orthogonal)")
    _integer_epochs(ax, xs)
    ax.set(xlabel="epoch", ylabel="angle [deg]")
    ax.set_title(r"feedback alignment: angle between $B$ and $W^T$ (0° = aligned)")
    ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], 95))
    ax.legend(loc="best")
    return ax


@_styled
def plot_self_prediction(
    summary: Mapping[str, Any],
    ax: Any = None,
    sizes: Mapping[str, Mapping[str, float]] | None = None,
) -> Any:
    """Self-prediction errors against epoch (log scale over two decades or more).

    Mean ``|W_ff(l+1) - W_p2i(l)|`` (solid, circles) and mean ``|B_l + W_i2p(l)|`` (dashed,
    squares) per layer, each curve in its own colour; on a log axis exact zeros are not drawn.
    0 is the self-predicting state (the lateral weights mirror ``W`` and ``-B``), which the
    title says; ``sizes`` (:func:`mc_analysis.traces.weight_sizes`: mean ``|W_{l+1}|`` and
    ``|B_l|`` per layer) gives the scale in a second title line: an error far below the
    weights' own size means the lateral weights follow them.
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
    title = r"self-prediction: 0 = lateral weights mirror $W$ and $-B$"
    scale = []
    for layer, d in sorted((sizes or {}).items()):
        n, errors = _layer(layer), summary["self_prediction"].get(layer, {})
        for key, size, name in (("ff_minus_p2i", d["ff"], f"W_{n + 1}"),
                                ("fb_plus_i2p", d["fb"], f"B_{n}")):  # fmt: skip
            last = _arr(errors.get(key, []))
            last = last[np.isfinite(last)]
            share = (
                f": the error is {100 * last[-1] / size:.2g} % of it" if last.size and size else ""
            )
            scale.append(rf"at the end, mean $|{name}|$ = {size:.2g}{share}")
    title = "\n".join([title, *scale])
    ax.set_title(title)
    ax.legend(loc="best")
    return ax


@_styled
def plot_output_traces(traces: Mapping[str, Any], ax: Any = None) -> Any:
    """Output ``v_brev`` (dashed) and its target (solid) per class against time [steps].

    The target is the teacher's value for the output voltage (``teacher.rate``, ``u_high``
    for the right class, ``u_low`` for the others), so both are voltages in model units. The
    title says which samples are shown (``first_sample``, ``n_total``); above each sample its
    class and, with a tick or a cross, whether the output classified it right.
    """
    ax = new_axes((5.2, 2.7)) if ax is None else ax
    t = np.asarray(traces["time"])
    out, teach = np.asarray(traces["output"]), np.asarray(traces["teacher"])
    for c in range(out.shape[1]):
        col = CLASS_COLORS[c % len(CLASS_COLORS)]
        ax.plot(t, teach[:, c], color=col, ls="-", drawstyle="steps-post",
                label=f"class {c}: target")  # fmt: skip
        ax.plot(t, out[:, c], color=col, ls="--", marker=".", ms=3,
                label=rf"class {c}: output $\breve v$")  # fmt: skip
    starts = np.asarray(traces["sample_starts"])
    for s in starts[1:]:
        ax.axvline(s, color="0.8", lw=0.6, zorder=0)
    shown = len(starts)
    if "labels" in traces and shown:
        ends = [*starts[1:], t[-1] + (t[1] - t[0] if t.size > 1 else 1)]
        for s, e, label, pred in zip(starts, ends, traces["labels"], traces["predicted"],
                                     strict=True):  # fmt: skip
            ax.text((s + e) / 2, 1.0, f"{label} {'✓' if pred == label else '✗'}",
                    transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=6,
                    color=CLASS_COLORS[int(label) % len(CLASS_COLORS)])  # fmt: skip
    ax.set(xlabel="time [steps]", ylabel="voltage [model units]")
    which = ""
    if "first_sample" in traces:
        first = int(traces["first_sample"])
        which = (
            f": samples {first + 1}-{first + shown} of {traces['n_total']} (in presentation order)"
        )
    ax.set_title(f"{_stage_title(traces)}{which}\nabove each sample its class: ✓ classified "
                 "right, ✗ wrong", pad=10)  # fmt: skip
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
