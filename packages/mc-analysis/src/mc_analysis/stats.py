r"""Statistical comparison of two variants of a sweep (pure functions of the per-seed values).

Seeds are independent runs, so two variants are compared as two independent samples:

* **Welch's t-test** (two-sided, unequal variances) on the means, with its degrees of freedom
  and the 95 % confidence interval of the difference of the means;
* the **Mann-Whitney U test** (two-sided; exact when there are no ties, else the normal
  approximation), which does not assume normality (ten seeds per variant cannot show it);
* the effect size **Hedges' g**: the difference of the means over the pooled standard
  deviation (ddof = 1), times the small-sample correction :math:`1 - 3/(4(n_a+n_b)-9)`.

Non-finite values (failed runs) are left out; a group with fewer than two values gives
``nan`` statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["compare_groups", "hedges_g"]


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float:
    """Hedges' g of ``a`` against ``b`` (positive when ``a``'s mean is larger).

    Parameters
    ----------
    a, b
        The values of the two groups (finite ones are used).

    Returns
    -------
    float
        ``(mean(a) - mean(b)) / s_pooled * (1 - 3 / (4 (n_a + n_b) - 9))``; ``nan`` with
        fewer than two values in a group, ``inf`` (signed) when both groups are constant.
    """
    x, y = _finite(a), _finite(b)
    na, nb = x.size, y.size
    if na < 2 or nb < 2:
        return float("nan")
    pooled = math.sqrt(((na - 1) * x.var(ddof=1) + (nb - 1) * y.var(ddof=1)) / (na + nb - 2))
    diff = float(x.mean() - y.mean())
    if pooled == 0.0:
        return math.copysign(math.inf, diff) if diff else float("nan")
    return diff / pooled * (1.0 - 3.0 / (4.0 * (na + nb) - 9.0))


def compare_groups(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Compare two independent groups of per-seed values.

    Parameters
    ----------
    a, b
        Per-seed values (e.g. test accuracies in %) of the two variants.

    Returns
    -------
    dict
        ``n_a``, ``n_b``, ``mean_a``, ``mean_b``, ``std_a``, ``std_b`` (ddof = 1),
        ``difference`` (``mean_a - mean_b``), ``ci95`` (Welch), ``welch`` (``test``,
        ``statistic``, ``df``, ``p_value``), ``mann_whitney`` (``test``, ``statistic`` (U of
        ``a``), ``method``, ``p_value``), ``hedges_g``.
    """
    from scipy import stats

    x, y = _finite(a), _finite(b)
    nan = float("nan")
    out: dict[str, Any] = {
        "n_a": int(x.size),
        "n_b": int(y.size),
        "mean_a": float(x.mean()) if x.size else nan,
        "mean_b": float(y.mean()) if y.size else nan,
        "std_a": float(x.std(ddof=1)) if x.size > 1 else nan,
        "std_b": float(y.std(ddof=1)) if y.size > 1 else nan,
    }
    out["difference"] = out["mean_a"] - out["mean_b"]
    welch = {"test": "Welch's t-test (two-sided)", "statistic": nan, "df": nan, "p_value": nan}
    mwu = {"test": "Mann-Whitney U (two-sided)", "statistic": nan, "method": None, "p_value": nan}
    ci = [nan, nan]
    if x.size >= 2 and y.size >= 2:
        va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
        if va + vb > 0:
            t = stats.ttest_ind(x, y, equal_var=False)
            df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
            half = float(stats.t.ppf(0.975, df)) * math.sqrt(va + vb)
            welch.update(statistic=float(t.statistic), df=float(df), p_value=float(t.pvalue))
            ci = [out["difference"] - half, out["difference"] + half]
        # exact without ties (10 vs 10 seeds: 184 756 rank assignments), else the normal
        # approximation with tie and continuity corrections
        ties = np.unique(np.concatenate([x, y])).size < x.size + y.size
        method = "asymptotic" if ties else "exact"
        u = stats.mannwhitneyu(x, y, alternative="two-sided", method=method)
        mwu.update(statistic=float(u.statistic), method=method, p_value=float(u.pvalue))
    out["ci95"] = ci
    out["welch"] = welch
    out["mann_whitney"] = mwu
    out["hedges_g"] = hedges_g(x, y)
    return out


def _finite(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    return arr[np.isfinite(arr)]
