"""Compare two runs record by record: toolkit run directories or runs of the original code.

Each run is read as a set of *series*: one recorded variable of one stage, as stage runs
(entries: one per validation, training epoch or test) of records taken every ``every`` steps.
A toolkit run's ``recordings.zarr`` arrays ``<stage>/<owner>.<var>`` are series directly;
an original run's ``net_recordings.h5`` datasets ``/<stage>/<layer>/<key>/<var>`` are mapped
to the toolkit's names (``/1/pyramidal/rate`` -> ``pyramidal_1.rate``, ``/1/fb/g`` ->
``fb_1.g``, ``/2/output/v_brev`` -> ``output.v_brev``, ``/3/supervisor/rate`` ->
``teacher.rate``; stage ``testing`` -> ``test``) and their rows split into the stage runs by
the original's bookkeeping (``idx_valid / idx_rec`` rows per validation, ...).

Two series are compared over the entries and time steps both recorded (records at a common
multiple of both cadences): the largest absolute difference, the largest distance in float32
units in the last place (ulps) and the first record where they differ beyond the tolerance.
Values are equal within the tolerance when ``|a - b| <= atol`` or their float32 ulp distance
is at most ``max_ulps`` (NaN equals NaN); the defaults ask for bit identity.

>>> from mc_analysis.compare import float32_ulps
>>> import numpy as np
>>> int(float32_ulps(np.float32(1.0), np.nextafter(np.float32(1.0), np.float32(2.0))))
1
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mc_analysis.original import OriginalRun, original_name, read_original_run
from mc_analysis.rundir import Run, RunDataError, is_original_run_dir, read_run
from mc_analysis.runformat import written_candidates
from mc_analysis.summary import ORIGINAL_FORMAT, summarize

__all__ = [
    "Comparison",
    "Series",
    "SeriesComparison",
    "compare_runs",
    "float32_ulps",
    "run_series",
]

logger = logging.getLogger(__name__)

_STAGE_OF_H5 = {"validation": "validation", "training": "training", "testing": "test"}


# ------------------------------------------------------------------------------- series


@dataclass(frozen=True)
class Series:
    """One recorded variable of one stage of a run.

    Attributes
    ----------
    stage, var
        ``"validation"``, ``"training"``, ``"test"`` or ``"weights"``; the toolkit's name,
        e.g. ``"output.v_brev"``.
    every
        Steps between records within a stage run (``None`` for per-epoch weight snapshots).
    entries
        The stage runs (or snapshots) recorded, by index (a toolkit run may write only every
        k-th validation: ``recording.validation_every``).
    read
        ``entry -> (n_records, size)`` array.
    declared
        How many stage runs the run declares (its protocol: ``n_epochs + 1`` validations, ...);
        ``None`` when unknown.
    missing
        Entries the run should have written by now but has not (an unfinished run).
    """

    stage: str
    var: str
    every: int | None
    entries: tuple[int, ...]
    read: Callable[[int], np.ndarray]
    declared: int | None = None
    missing: tuple[int, ...] = ()


def _toolkit_series(run: Run) -> dict[tuple[str, str], Series]:
    out: dict[tuple[str, str], Series] = {}
    default_every = None
    try:
        sps = round(float(run.cfg("network.player.t_pattern")) / float(run.cfg("network.dt")))
        default_every = sps // run.records_per_sample
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        pass
    for stage in ("validation", "training", "test", "weights"):
        for var in run.variables(stage):
            arr = run.array(stage, var)
            entries = tuple(run.entries(stage, var))
            should = written_candidates(arr.shape[0], run.entry_every(stage, var))
            missing = tuple(e for e in should if e not in set(entries))
            if stage == "weights":
                every = None
            else:
                every = int(arr.attrs.get("record_every_steps", default_every or 0)) or None
                if every is None:
                    logger.warning("%s: %s/%s: cadence unknown; skipped", run.path, stage, var)
                    continue

            def read(e: int, arr: Any = arr, stage: str = stage) -> np.ndarray:
                a = np.asarray(arr[e])
                return a.reshape(1, -1) if stage == "weights" else a.reshape(a.shape[0], -1)

            out[(stage, var)] = Series(stage, var, every, entries, read, arr.shape[0], missing)
    return out


def _original_series(run: OriginalRun) -> dict[tuple[str, str], Series]:
    bk = run.bookkeeping
    dims = run.dims()
    rows = {
        "validation": bk.validation_rows,
        "training": bk.training_rows,
        "test": bk.test_rows,
    }
    declared = {"validation": bk.n_epochs + 1, "training": bk.n_epochs, "test": 1}
    out: dict[tuple[str, str], Series] = {}
    for h5_stage, layers in run.layout.items():
        stage = _STAGE_OF_H5.get(h5_stage)
        if stage is None:
            continue
        per_entry = rows[stage]
        for layer, keys in layers.items():
            for key, variables in keys.items():
                owner = original_name(key, layer, dims)
                if owner is None:
                    continue
                for var, shape in variables.items():
                    if not shape or shape[0] < per_entry or per_entry < 1:
                        continue  # nothing recorded (weights outside training)

                    def read(
                        e: int, h5=(h5_stage, layer, key, var), r: int = per_entry
                    ) -> np.ndarray:
                        return run.dataset(*h5, rows=slice(e * r, (e + 1) * r))

                    name = f"{owner}.{var}"
                    n = declared[stage]  # rows beyond what the config declares are not read
                    entries = tuple(range(min(shape[0] // per_entry, n)))
                    missing = tuple(range(len(entries), n))
                    out[(stage, name)] = Series(stage, name, bk.idx_rec, entries, read, n, missing)
    return out


@dataclass(frozen=True)
class RunView:
    """A run opened for comparison: its kind, series and accuracies."""

    path: Path
    kind: str
    series: dict[tuple[str, str], Series]
    validation_accuracy: list[float]
    test_accuracy: float | None
    label: str
    verified: bool | None = None
    verification: str = ""


def run_series(path: str | Path) -> RunView:
    """Open a toolkit run directory or an original run directory for comparison.

    Raises
    ------
    FileNotFoundError, ValueError, KeyError
        If the directory is not a readable run (the message names the file).
    mc_analysis.rundir.RunDataError
        If its recordings fail their checks (a checksum, a missing entry: named).
    """
    path = Path(path)
    if is_original_run_dir(path):
        orun = read_original_run(path)
        series, kind = _original_series(orun), "original"
        what: Run | OriginalRun = orun
        label = "original code"
        verified, how = None, ORIGINAL_FORMAT
    else:
        run = read_run(path)
        series, kind = _toolkit_series(run), "toolkit"
        what = run
        backend = run.environment.get("backend", {})
        name = backend.get("name") if isinstance(backend, dict) else backend
        label = f"toolkit, {name} backend" if name else "toolkit"
        verified, how = run.verification()
    val: list[float] = []
    test = None
    try:
        summary = summarize(what)
        val = [float(a) for a in summary.get("validation_accuracy") or []]
        test = summary.get("test_accuracy")
    except RunDataError:
        raise  # data that fail their checks are refused, not skipped
    except (KeyError, ValueError, FileNotFoundError) as err:
        logger.info("%s: no accuracies: %s", path, err)
    if verified is False:
        logger.warning("%s: UNVERIFIED (%s)", path, how)
    test = None if test is None else float(test)
    return RunView(path, kind, series, val, test, label, verified, how)


# ------------------------------------------------------------------------------ compare


def float32_ulps(a: Any, b: Any) -> np.ndarray:
    """Distance of ``a`` and ``b`` in float32 units in the last place (int64; 0 if equal).

    Both are rounded to float32 first. ``-0.0`` and ``0.0`` are 0 apart; a NaN is treated
    by the caller (the distance involving one is meaningless).
    """

    def ordered(x: Any) -> np.ndarray:
        bits = np.asarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
        return np.where(bits >= 0, bits, -(bits & 0x7FFFFFFF))

    return np.abs(ordered(a) - ordered(b))


@dataclass
class SeriesComparison:
    """The comparison of one variable of one stage."""

    stage: str
    var: str
    entries: int
    records: int
    values: int = 0
    max_abs: float = 0.0
    max_ulps: int = 0
    n_different: int = 0
    first: dict[str, int] | None = None
    note: str = ""
    mismatch: str = ""

    @property
    def equal(self) -> bool:
        """No value differs beyond the tolerance, and both runs hold the same stage runs.

        A ``mismatch`` (different value counts per record, a different number of declared
        stage runs, or entries one run has not written yet) makes the series unequal even
        when the values both hold agree: the shared prefix of a run cut short is not the run.
        """
        return self.n_different == 0 and not self.mismatch

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "stage": self.stage,
            "var": self.var,
            "entries": self.entries,
            "records": self.records,
            "values": self.values,
            "max_abs_difference": self.max_abs,
            "max_float32_ulps": self.max_ulps,
            "n_different": self.n_different,
            "first_difference": self.first,
            "equal": self.equal,
            "note": self.note,
            "mismatch": self.mismatch,
        }


def _record_steps(a: Series, b: Series, len_a: int, len_b: int) -> tuple[np.ndarray, ...]:
    """Record indices of both series at the steps both recorded (within the shorter run)."""
    if a.every is None or b.every is None:
        n = min(len_a, len_b)
        return np.arange(n), np.arange(n), np.arange(n)
    step = math.lcm(a.every, b.every)
    n_steps = min(len_a * a.every, len_b * b.every)
    steps = np.arange(0, n_steps, step)
    return steps // a.every, steps // b.every, steps


def _coverage(a: Series, b: Series) -> str:
    """Why two series cannot be the same however their shared values compare ("" if none)."""
    if a.declared is not None and b.declared is not None and a.declared != b.declared:
        return f"A declares {a.declared} entries, B {b.declared}"
    for side, s in (("A", a), ("B", b)):
        if s.missing:
            return f"{side} has not written entries {_ranges(s.missing)} (an unfinished run?)"
    return ""


def _ranges(values: tuple[int, ...]) -> str:
    """``(1, 2, 3, 7)`` -> ``"1-3, 7"``."""
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(parts)


def _compare_series(a: Series, b: Series, atol: float, max_ulps: int) -> SeriesComparison:
    common = sorted(set(a.entries) & set(b.entries))
    res = SeriesComparison(a.stage, a.var, len(common), 0)
    res.mismatch = _coverage(a, b)
    notes = []
    if set(a.entries) != set(b.entries):
        notes.append(f"entries {len(a.entries)} vs {len(b.entries)}, {len(common)} shared")
    for e in common:
        xa, xb = a.read(e), b.read(e)
        if xa.shape[1] != xb.shape[1]:
            res.mismatch = f"shape differs: {xa.shape[1]} vs {xb.shape[1]} values per record"
            return res
        ia, ib, steps = _record_steps(a, b, xa.shape[0], xb.shape[0])
        if e == common[0] and xa.shape[0] * (a.every or 1) != xb.shape[0] * (b.every or 1):
            notes.append(f"stage lengths differ ({xa.shape[0]} vs {xb.shape[0]} records)")
        va = xa[ia].astype(np.float64)
        vb = xb[ib].astype(np.float64)
        res.records += len(steps)
        res.values += va.size
        nan_a, nan_b = np.isnan(va), np.isnan(vb)
        both = nan_a & nan_b
        diff = np.where(both, 0.0, np.abs(va - vb))
        ulps = np.where(both | nan_a | nan_b, 0, float32_ulps(va, vb))
        bad = (nan_a != nan_b) | ((diff > atol) & (ulps > max_ulps))
        finite = np.where(nan_a | nan_b, 0.0, diff)
        if finite.size:
            res.max_abs = max(res.max_abs, float(finite.max()))
            res.max_ulps = max(res.max_ulps, int(ulps.max()))
        n_bad = int(bad.sum())
        if n_bad and res.first is None:
            r, j = (int(i[0]) for i in np.nonzero(bad))
            res.first = {"entry": e, "record": int(ia[r]), "step": int(steps[r]), "index": j}
        res.n_different += n_bad
    if notes and not res.note:
        res.note = "; ".join(notes)
    return res


@dataclass
class Comparison:
    """The result of :func:`compare_runs`."""

    a: RunView
    b: RunView
    atol: float
    max_ulps: int
    series: list[SeriesComparison] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        """Every shared series is equal within the tolerance (and there is at least one)."""
        return bool(self.series) and all(s.equal for s in self.series)

    @property
    def bit_identical(self) -> bool:
        """Every shared value is bit for bit the same."""
        return bool(self.series) and all(s.equal and s.max_ulps == 0 for s in self.series)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON)."""

        def side(v: RunView) -> dict[str, Any]:
            return {
                "path": str(v.path),
                "kind": v.kind,
                "label": v.label,
                "validation_accuracy": v.validation_accuracy,
                "test_accuracy": v.test_accuracy,
                "verified": v.verified,
                "verification": v.verification,
            }

        return {
            "a": side(self.a),
            "b": side(self.b),
            "atol": self.atol,
            "max_ulps": self.max_ulps,
            "equal": self.equal,
            "bit_identical": self.bit_identical,
            "series": [s.to_dict() for s in self.series],
            "only_in_a": self.only_a,
            "only_in_b": self.only_b,
        }

    def format(self) -> str:
        """A plain-text report (what ``mc-analyze compare`` prints)."""

        def head(v: RunView) -> str:
            flag = f" UNVERIFIED: {v.verification}" if v.verified is False else ""
            return f"{v.path} ({v.label}){flag}"

        lines = [
            f"A: {head(self.a)}",
            f"B: {head(self.b)}",
            "",
            f"{'stage':<11}{'variable':<26}{'entries':>8}{'records':>9}{'max |A-B|':>12}"
            f"{'max ulps':>10}  first difference",
        ]
        for s in self.series:
            first = "-"
            if s.first is not None:
                f = s.first
                first = f"entry {f['entry']} step {f['step']} [{f['index']}]"
            for text in (s.mismatch, s.note):
                if text:
                    first += f" ({text})"
            lines.append(
                f"{s.stage:<11}{s.var:<26}{s.entries:>8}{s.records:>9}{s.max_abs:>12.3g}"
                f"{s.max_ulps:>10}  {first}"
            )
        for side, names in (("A", self.only_a), ("B", self.only_b)):
            if names:
                lines.append(f"only in {side}: {', '.join(names)}")
        lines.append("")
        for name, v in (("A", self.a), ("B", self.b)):
            val = " ".join(f"{x:.2f}" for x in v.validation_accuracy) or "-"
            test = "-" if v.test_accuracy is None else f"{v.test_accuracy:.2f}"
            lines.append(f"{name}: validation accuracy [%] {val}; test accuracy [%] {test}")
        n_values = sum(s.values for s in self.series)
        if not self.series:
            verdict = "nothing to compare: the runs share no recorded variable"
        elif self.bit_identical:
            verdict = f"bit-identical: {len(self.series)} variables, {n_values} values"
        elif self.equal:
            verdict = (
                f"equal within atol={self.atol:g} or {self.max_ulps} ulps: "
                f"{len(self.series)} variables, {n_values} values"
            )
        else:
            n_bad = sum(not s.equal for s in self.series)
            verdict = (
                f"DIFFERENT: {n_bad} of {len(self.series)} variables differ beyond "
                f"atol={self.atol:g} / {self.max_ulps} ulps"
            )
            why = next((s.mismatch for s in self.series if s.mismatch), "")
            if why:
                verdict += f" or do not hold the same stage runs ({why})"
        lines.append(f"result: {verdict}")
        return "\n".join(lines)


def compare_runs(
    run_a: str | Path,
    run_b: str | Path,
    *,
    atol: float = 0.0,
    max_ulps: int = 0,
    stages: tuple[str, ...] | None = None,
) -> Comparison:
    """Compare the recordings two runs share, variable by variable.

    Parameters
    ----------
    run_a, run_b
        Run directories: the toolkit's (``recordings.zarr``) or the original code's
        (``config.yaml`` + ``net_recordings.h5``), in any combination.
    atol, max_ulps
        Values are equal when ``|a - b| <= atol`` or they are at most ``max_ulps`` float32
        ulps apart (defaults: bit identity).
    stages
        Only these stages (``validation``, ``training``, ``test``, ``weights``); all by
        default.

    Returns
    -------
    Comparison
        Per shared series the records compared, largest absolute and ulp differences and
        the first differing record; the variables only one run recorded; both runs'
        validation and test accuracies.
    """
    if not (atol >= 0 and max_ulps >= 0):
        raise ValueError(f"atol ({atol}) and max_ulps ({max_ulps}) must be >= 0")
    a, b = run_series(run_a), run_series(run_b)
    keys_a = {k for k in a.series if stages is None or k[0] in stages}
    keys_b = {k for k in b.series if stages is None or k[0] in stages}
    order = {"validation": 0, "training": 1, "test": 2, "weights": 3}

    def sort(keys: set[tuple[str, str]]) -> list[tuple[str, str]]:
        return sorted(keys, key=lambda k: (order.get(k[0], 9), k[1]))

    result = Comparison(a, b, float(atol), int(max_ulps))
    for key in sort(keys_a & keys_b):
        result.series.append(_compare_series(a.series[key], b.series[key], atol, max_ulps))
    result.only_a = [f"{s}/{v}" for s, v in sort(keys_a - keys_b)]
    result.only_b = [f"{s}/{v}" for s, v in sort(keys_b - keys_a)]
    return result
