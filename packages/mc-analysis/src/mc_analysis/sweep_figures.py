r"""Figures of sweeps: statistics over seeds per variant, and the tests between variants.

Every function takes a summary from :func:`mc_analysis.summary.sweep_summary` (or the
``summary.json`` of a sweep report) and an optional Axes, as :mod:`mc_analysis.figures`
does; that module gives each variant its colour, line style, marker and readable label
(``colors`` and ``labels`` override them: ``labels={"bw_eta_zero": "eta_B = 0"}``).

What the figures show, so that each can stand in a paper:

* a line is the mean over the seeds of a variant, its band (or error bar) mean ± std over
  those seeds (the population standard deviation, ddof = 0, as in the tables); the legend
  says so and gives the number of seeds;
* axes are zoomed to the data: accuracy and RMSE curves come as two panels, the full scale
  (all epochs; accuracy 0-100 %) with the zoomed window marked, and the zoom on the epochs
  after every variant has settled (:func:`settled_from`), single seeds as thin lines;
* comparison figures carry the p-value of Welch's t-test (two-sided) of the pairs in
  ``sweep["comparisons"]``: brackets between the final means (validation accuracy, angle)
  or above the seeds (test accuracy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mc_analysis.figures import (
    _arr,
    _integer_epochs,
    _layer,
    _styled,
    _value_axis,
    new_axes,
    variant_colors,
    variant_labels,
    variant_styles,
)

__all__ = [
    "format_p",
    "plot_sweep_angles",
    "plot_sweep_test_accuracy",
    "plot_sweep_validation_accuracy",
    "plot_sweep_validation_rmse",
    "settled_from",
]

WIDE = (6.8, 2.9)  # inches: two panels across both columns of a two-column paper
TALL = (3.4, 3.3)  # one column, with the legend below the panel
BAND_ALPHA = 0.18
P_NOTE = "p: Welch's t-test"


@dataclass(frozen=True)
class _Look:
    """How one variant is drawn."""

    color: str
    ls: Any
    marker: str
    label: str


def _looks(
    sweep: Mapping[str, Any],
    colors: Mapping[str, str] | None,
    labels: Mapping[str, str] | None,
) -> dict[str, _Look]:
    names = list(sweep["variants"])
    col = {**variant_colors(names), **dict(colors or {})}
    sty = variant_styles(names)
    lab = variant_labels(names, labels)
    return {v: _Look(col[v], sty[v][0], sty[v][1], lab[v]) for v in names}


def format_p(p: float | None) -> str:
    r"""``$p = 0.016$`` (two significant digits), ``$p = 1.5 \times 10^{-6}$`` below 0.001.

    Matplotlib mathtext, so that every p-value is set in the same typeface.

    >>> format_p(0.01634), format_p(0.37), format_p(1.52e-6), format_p(None)
    ('$p = 0.016$', '$p = 0.37$', '$p = 1.5 \\times 10^{-6}$', '$p$ = n/a')
    """
    if p is None or not np.isfinite(p):
        return "$p$ = n/a"
    if p >= 1e-3:
        return f"$p = {p:.2g}$"
    mantissa, exponent = f"{p:.1e}".split("e")
    return rf"$p = {mantissa} \times 10^{{{int(exponent)}}}$"


def settled_from(values: Sequence[float], fraction: float = 0.95) -> int:
    """First index from which a curve stays within ``1 - fraction`` of its rise (or fall).

    With ``start`` the first and ``end`` the last finite value, the index from which every
    later finite value is at or beyond ``start + fraction * (end - start)`` (the index of a
    finite value; non-finite ones are passed over). A flat curve settles at 0.

    >>> settled_from([30, 80, 90, 96, 95, 97])
    3
    """
    v = _arr(values)
    finite = np.flatnonzero(np.isfinite(v))
    if finite.size < 2:
        return 0
    start, end = v[finite[0]], v[finite[-1]]
    if end == start:
        return 0
    threshold = start + fraction * (end - start)
    beyond = (v[finite] - threshold) * np.sign(end - start) >= 0
    below = np.flatnonzero(~beyond)
    return int(finite[below[-1] + 1]) if below.size else 0


def _p_values(sweep: Mapping[str, Any], metric: str) -> list[tuple[str, str, float | None]]:
    """``(a, b, Welch's p)`` of every comparison of ``sweep`` that tested ``metric``."""
    out = []
    for c in sweep.get("comparisons") or []:
        st = (c.get("metrics") or {}).get(metric)
        if st is not None:
            out.append((c["a"], c["b"], (st.get("welch") or {}).get("p_value")))
    return out


def _legend_handles(looks: Mapping[str, _Look], n: Mapping[str, int]) -> list[tuple[Any, str]]:
    """One handle per variant: its mean line over its band, labelled with the seeds."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    out = []
    for v, look in looks.items():
        band = Patch(facecolor=look.color, alpha=BAND_ALPHA, lw=0)
        line = Line2D([], [], color=look.color, ls=look.ls, marker=look.marker, ms=3.5, lw=1.4)
        out.append(((band, line), f"{look.label} (n = {n.get(v, 0)})"))
    return out


def _legend(where: Any, handles: list[tuple[Any, str]], title: str | None = None) -> None:
    """The legend below the Axes (or, for a Figure, below its panels), never over the data."""
    from matplotlib.figure import Figure
    from matplotlib.legend_handler import HandlerTuple

    longest = max((len(t) for _, t in handles), default=0)
    ncols = min(len(handles), 5 if isinstance(where, Figure) else (2 if longest <= 24 else 1))
    kw: dict[str, Any] = {"loc": "outside lower center"} if isinstance(where, Figure) else {
        "loc": "upper center", "bbox_to_anchor": (0.5, -0.2)}  # fmt: skip
    where.legend(
        [h for h, _ in handles],
        [t for _, t in handles],
        title=title,
        handler_map={tuple: HandlerTuple(ndivide=1)},
        handlelength=2.6,
        title_fontsize=7,
        ncols=ncols,
        columnspacing=1.2,
        **kw,
    )


def _note_handle(text: str) -> tuple[Any, str]:
    from matplotlib.lines import Line2D

    return Line2D([], [], lw=0), text


def _seeds_handle() -> tuple[Any, str]:
    from matplotlib.lines import Line2D

    return Line2D([], [], color="0.6", lw=0.5), "single seeds"


def _brackets_right(ax: Any, spans: Sequence[tuple[float, float, str]]) -> None:
    """Vertical brackets right of the axes from ``y_a`` to ``y_b`` (data), each with its text.

    Drawn in axes coordinates from the final limits; a span shorter than 3 % of the axis is
    widened about its middle so that the bracket stays visible.
    """
    to_axes = ax.transLimits.transform
    for k, (ya, yb, text) in enumerate(spans):
        fa, fb = (float(to_axes((0.0, y))[1]) for y in (ya, yb))
        mid, half = (fa + fb) / 2, max(abs(fb - fa) / 2, 0.015)
        fa, fb = mid - half, mid + half
        x = 1.025 + 0.085 * k
        ax.plot([x - 0.012, x, x, x - 0.012], [fa, fa, fb, fb], color="0.15", lw=0.8,
                transform=ax.transAxes, clip_on=False)  # fmt: skip
        ax.text(x + 0.008, mid, text, transform=ax.transAxes, rotation=90, va="center",
                ha="left", fontsize=6.5, clip_on=False)  # fmt: skip


def _final_brackets(
    ax: Any, sweep: Mapping[str, Any], metric: str, finals: Mapping[str, float]
) -> bool:
    """Brackets with Welch's p between the final means of the compared variants."""
    spans = [
        (finals[a], finals[b], format_p(p))
        for a, b, p in _p_values(sweep, metric)
        if a in finals and b in finals and np.isfinite(finals[a]) and np.isfinite(finals[b])
    ]
    _brackets_right(ax, spans)
    return bool(spans)


def _markevery(n: int, i: int, k: int) -> tuple[int, int]:
    """About eight markers along ``n`` points, staggered for the ``i``-th of ``k`` curves."""
    step = max(1, n // 8)
    return (i * step) // max(k, 1) % step, step


def _draw_mean_band(
    ax: Any, x: np.ndarray, stats: Mapping[str, Any], look: _Look, i: int, k: int, sel: slice
) -> None:
    mean, std = _arr(stats["mean"]), _arr(stats["std"])
    x = np.asarray(x, dtype=np.float64)[: mean.size][sel]
    mean, std = mean[sel], std[sel]
    ax.fill_between(x, mean - std, mean + std, color=look.color, alpha=BAND_ALPHA, lw=0)
    ax.plot(x, mean, color=look.color, ls=look.ls, lw=1.4, marker=look.marker, ms=3.5,
            markevery=_markevery(x.size, i, k), label=look.label)  # fmt: skip


def _seed_lines(ax: Any, x: np.ndarray, per_seed: Sequence, look: _Look, sel: slice) -> None:
    x = np.asarray(x, dtype=np.float64)
    for row in per_seed:
        y = _arr(row)
        ax.plot(x[: y.size][sel], y[sel], color=look.color, ls="-", lw=0.4, alpha=0.2)


def _window(sweep: Mapping[str, Any], key: str) -> int | None:
    """Start of the zoom window (an index of the epochs), ``None`` where a zoom would not help.

    The epoch from which every variant's mean has settled (:func:`settled_from`); no zoom
    when the means are settled from the start or fewer than three epochs would be left. A
    start within the first 5 % of the epochs (a jump in the first epoch) gets a zoom only
    where the data from it on span less than half the range of all the data: there the full
    scale would hide the differences between the settled curves.
    """
    variants = sweep["variants"].values()
    n = min(len(v[key]["mean"]) for v in variants)
    if n < 4:
        return None
    start = max(settled_from(v[key]["mean"][:n]) for v in variants)
    if start == 0 or n - start < 3:
        return None
    if start <= 0.05 * (n - 1):
        lo, hi = _data_limits(sweep, key, start)
        lo_all, hi_all = _data_limits(sweep, key, 0)
        if hi - lo >= 0.5 * (hi_all - lo_all):
            return None
    return start


def _data_limits(sweep: Mapping[str, Any], key: str, start: int) -> tuple[float, float]:
    """Range of the bands and seeds from index ``start`` on, padded by 6 %."""
    vals = []
    for v in sweep["variants"].values():
        mean, std = _arr(v[key]["mean"])[start:], _arr(v[key]["std"])[start:]
        vals += [mean - std, mean + std] + [_arr(r)[start:] for r in v[key]["per_seed"]]
    flat = np.concatenate(vals) if vals else np.array([np.nan])
    flat = flat[np.isfinite(flat)]
    if not flat.size:
        return 0.0, 1.0
    lo, hi = float(flat.min()), float(flat.max())
    pad = 0.06 * (hi - lo) if hi > lo else max(abs(hi) * 0.01, 1e-3)
    return lo - pad, hi + pad


@_styled
def _sweep_curves(
    sweep: Mapping[str, Any],
    key: str,
    ylabel: str,
    ax: Any,
    full_ax: Any,
    zoom: bool,
    looks: Mapping[str, _Look],
    full_ylim: tuple[float, float] | None,
    final_metric: str | None,
) -> Any:
    """Full-scale panel (``full_ax``) and zoom panel (``ax``) of a per-epoch statistic."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    start = _window(sweep, key) if zoom else None
    legend_at = ax
    if ax is None:
        if start is None:
            ax = legend_at = new_axes(TALL)
        else:
            legend_at = Figure(figsize=WIDE, layout="constrained")
            full_ax, ax = legend_at.subplots(1, 2, width_ratios=(1.0, 1.7))
    variants = sweep["variants"]
    k = len(variants)
    sel = slice(start or 0, None)
    n_seeds = {v: int(max(d[key]["n"] or [0])) for v, d in variants.items()}
    for v, d in variants.items():
        _seed_lines(ax, d["epochs"], d[key]["per_seed"], looks[v], sel)
    for i, (v, d) in enumerate(variants.items()):
        _draw_mean_band(ax, d["epochs"], d[key], looks[v], i, k, sel)
    ax.set(xlabel="epoch", ylabel=ylabel)
    _integer_epochs(ax, [e for d in variants.values() for e in d["epochs"]])
    handles = [*_legend_handles(looks, n_seeds), _seeds_handle()]
    clip = full_ylim or (-np.inf, np.inf)  # e.g. no accuracy beyond 0-100 %
    if start is not None:
        lo, hi = _data_limits(sweep, key, start)
        lo, hi = max(lo, clip[0]), min(hi, clip[1])
        x = [float(d["epochs"][start]) for d in variants.values()]
        x_end = max(float(d["epochs"][-1]) for d in variants.values())
        margin = 0.02 * (x_end - min(x))
        ax.set_xlim(min(x) - margin, x_end + margin)
        ax.set_ylim(lo, hi)
        ax.set_title(f"zoom: epochs {min(x):g}-{x_end:g}", fontsize=7)
    else:
        if full_ylim is None:  # e.g. an RMSE: log over two decades or more
            _value_axis(ax, [x for d in variants.values() for x in d[key]["mean"]])
        if ax.get_yscale() == "linear":
            lo, hi = _data_limits(sweep, key, 0)
            ax.set_ylim(max(lo, clip[0]), min(hi, clip[1]))
    if final_metric is not None:
        finals = {v: d[final_metric]["mean"] for v, d in variants.items()}
        if _final_brackets(ax, sweep, final_metric, finals):
            handles.append(_note_handle(P_NOTE + ", final epoch"))
    if full_ax is not None:
        for i, (v, d) in enumerate(variants.items()):
            _draw_mean_band(full_ax, d["epochs"], d[key], looks[v], i, k, slice(None))
        full_ax.set(xlabel="epoch", ylabel=ylabel)
        _integer_epochs(full_ax, [e for d in variants.values() for e in d["epochs"]])
        if full_ylim is not None:
            full_ax.set_ylim(*full_ylim)
        else:
            _value_axis(full_ax, [x for d in variants.values() for x in d[key]["mean"]])
        full_ax.set_title("full scale", fontsize=7)
        if start is not None:
            x0, x1 = ax.get_xlim()
            y0, y1 = ax.get_ylim()
            full_ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="0.35",
                                        ls="--", lw=0.7, zorder=5))  # fmt: skip
    _legend(legend_at, handles, "mean ± std over seeds")
    return ax


def plot_sweep_validation_accuracy(
    sweep: Mapping[str, Any],
    ax: Any = None,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    *,
    full_ax: Any = None,
    zoom: bool = True,
) -> Any:
    """Validation accuracy [%] per variant and epoch: mean ± std over seeds, single seeds.

    Parameters
    ----------
    sweep
        From :func:`mc_analysis.summary.sweep_summary`.
    ax
        The zoom panel (epochs from :func:`settled_from` on, axes fitted to the data); a new
        two-panel figure without it (the full scale, 0-100 %, on the left, the zoomed window
        marked on it), or one panel where a zoom would not help.
    colors, labels
        Colour and label per variant (default :mod:`mc_analysis.figures`'s).
    full_ax
        Where to draw the full scale when ``ax`` is given (left out if ``None``).
    zoom
        ``False``: all epochs in ``ax``, the axis fitted to the data.

    Returns
    -------
    Axes
        ``ax`` (the zoom panel); brackets right of it give Welch's p of the final
        validation accuracies of the compared variants.
    """
    looks = _looks(sweep, colors, labels)
    return _sweep_curves(sweep, "validation_accuracy", "validation accuracy [%]", ax, full_ax,
                         zoom, looks, (0.0, 101.0), "final_validation_accuracy")  # fmt: skip


def plot_sweep_validation_rmse(
    sweep: Mapping[str, Any],
    ax: Any = None,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    *,
    full_ax: Any = None,
    zoom: bool = True,
) -> Any:
    """Validation RMSE output ``v_brev`` - teacher per variant: mean ± std, single seeds.

    As :func:`plot_sweep_validation_accuracy`; the full-scale panel has a log axis where the
    means span two decades or more, else a linear one (labelled ticks within the data).
    """
    looks = _looks(sweep, colors, labels)
    return _sweep_curves(sweep, "validation_rmse", "validation RMSE output - teacher", ax,
                         full_ax, zoom, looks, None, None)  # fmt: skip


@_styled
def plot_sweep_test_accuracy(
    sweep: Mapping[str, Any],
    ax: Any = None,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """Test accuracy [%] per variant: every seed, mean ± std as an error bar, Welch's p.

    The axis is fitted to the seeds; a bracket above each compared pair gives the p-value of
    Welch's t-test on their test accuracies (``sweep["comparisons"]``).
    """
    from matplotlib.lines import Line2D

    ax = new_axes(TALL) if ax is None else ax
    looks = _looks(sweep, colors, labels)
    names = list(sweep["variants"])
    seeds = {v: _arr(sweep["variants"][v]["test_accuracy"]["per_seed"]) for v in names}
    n_seeds = set()
    for i, variant in enumerate(names):
        t = sweep["variants"][variant]["test_accuracy"]
        vals = seeds[variant]
        jitter = np.linspace(-0.15, 0.15, vals.size) if vals.size > 1 else np.zeros(vals.size)
        look = looks[variant]
        ax.scatter(i + jitter, vals, s=16, color=look.color, marker=look.marker, alpha=0.85,
                   edgecolors="0.15", linewidths=0.3, zorder=2)  # fmt: skip
        if t["n"]:
            ax.errorbar(i + 0.3, t["mean"], yerr=t["std"], fmt="o", color="k", ms=4,
                        capsize=3, zorder=3)  # fmt: skip
            n_seeds.add(int(t["n"]))
    ticks = [looks[v].label for v in names]
    rotate = len(names) > 3
    ax.set_xticks(range(len(names)), ticks, rotation=30 if rotate else 0,
                  ha="right" if rotate else "center")  # fmt: skip
    ax.set(ylabel="test accuracy [%]", xlim=(-0.6, len(names) - 0.4))
    n_text = "/".join(str(n) for n in sorted(n_seeds)) or "0"
    handles = [
        (Line2D([], [], color="k", marker="o", ms=4, lw=1.2), f"mean ± std (n = {n_text} seeds)"),
        (Line2D([], [], color="0.5", marker="o", ms=4, lw=0, mec="0.15", mew=0.3), "single seeds"),
    ]
    pvals = [pv for pv in _p_values(sweep, "test_accuracy") if pv[0] in names and pv[1] in names]
    finite = np.concatenate([x[np.isfinite(x)] for x in seeds.values()] + [np.array([])])
    if pvals and finite.size:
        tests = [sweep["variants"][v]["test_accuracy"] for v in names]
        top = float(max([finite.max()] + [t["mean"] + t["std"] for t in tests if t["n"]]))
        lo = float(finite.min())
        step = 0.09 * (top - lo if top > lo else 1.0)
        for k, (a, b, p) in enumerate(pvals):
            xa, xb = names.index(a), names.index(b)
            y = top + step * (k + 0.6)
            ax.plot([xa, xa, xb, xb], [y - step * 0.25, y, y, y - step * 0.25], color="0.15",
                    lw=0.8)  # fmt: skip
            ax.text((xa + xb) / 2, y, format_p(p), ha="center", va="bottom", fontsize=6.5)
        ax.set_ylim(top=top + step * (len(pvals) + 0.6))
        handles.append(_note_handle(P_NOTE))
    _legend(ax, handles)
    return ax


@_styled
def plot_sweep_angles(
    sweep: Mapping[str, Any],
    layer: str = "fb_1",
    ax: Any = None,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """Alignment angle [deg] of ``layer`` per variant and epoch: mean ± std over seeds.

    The axis is fitted to the bands (the 90° of unrelated matrices drawn where it lies
    within); brackets right of it give Welch's p of the final angles of the compared
    variants.
    """
    ax = new_axes(TALL) if ax is None else ax
    looks = _looks(sweep, colors, labels)
    xs: list[float] = []
    have = {v: d["angles"][layer] for v, d in sweep["variants"].items() if d["angles"].get(layer)}
    lows, highs = [], []
    for i, (variant, a) in enumerate(have.items()):
        x = np.asarray(a["epoch"], dtype=np.float64)
        _draw_mean_band(ax, x, a, looks[variant], i, len(have), slice(None))
        xs += list(a["epoch"])
        mean, std = _arr(a["mean"]), _arr(a["std"])
        lows.append(np.nanmin(mean - std))
        highs.append(np.nanmax(mean + std))
    if lows:
        lo, hi = float(min(lows)), float(max(highs))
        pad = 0.06 * (hi - lo) if hi > lo else 1.0
        ax.set_ylim(lo - pad, hi + pad)
        if lo - pad < 90 < hi + pad:
            ax.axhline(90, color="0.6", lw=0.8, ls=":")
    _integer_epochs(ax, xs)
    n = _layer(layer)
    ax.set(xlabel="epoch", ylabel=f"angle $B_{n}$ vs $W_{n + 1}^T$ [deg]")
    n_seeds = {v: int(max(a["n"] or [0])) for v, a in have.items()}
    handles = _legend_handles({v: looks[v] for v in have}, n_seeds)
    finals = {v: d["final_angle"][layer]["mean"] for v, d in sweep["variants"].items()
              if layer in d.get("final_angle", {})}  # fmt: skip
    if _final_brackets(ax, sweep, f"final_angle_{layer}", finals):
        handles.append(_note_handle(P_NOTE + ", final epoch"))
    _legend(ax, handles, "mean ± std over seeds")
    return ax
