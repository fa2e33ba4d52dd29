"""Statistical comparison of variants: closed forms of small cases."""

import math

import numpy as np
import pytest

from mc_analysis.stats import compare_groups, hedges_g


def test_hedges_g_by_hand():
    # means 2 and 5, both variances 1 (ddof 1): d = -3, correction 1 - 3 / (4 * 6 - 9) = 0.8
    assert hedges_g([1, 2, 3], [4, 5, 6]) == pytest.approx(-2.4, rel=1e-15)
    assert hedges_g([4, 5, 6], [1, 2, 3]) == pytest.approx(2.4, rel=1e-15)
    assert math.isnan(hedges_g([1.0], [2.0, 3.0]))
    assert hedges_g([2, 2], [1, 1]) == math.inf


def test_welch_with_two_degrees_of_freedom_by_hand():
    # [0, 2] vs [3, 5]: means 1 and 4, variances 2: se = sqrt(2/2 + 2/2), t = -3 / sqrt(2),
    # df = (1 + 1)^2 / (1 + 1) = 2; for 2 degrees of freedom the two-sided p is
    # 1 - |t| / sqrt(2 + t^2) and the 97.5 % quantile is 0.95 / sqrt(2 * 0.975 * 0.025)
    c = compare_groups([0.0, 2.0], [3.0, 5.0])
    t = -3.0 / math.sqrt(2.0)
    assert c["welch"]["statistic"] == pytest.approx(t, rel=1e-14)
    assert c["welch"]["df"] == pytest.approx(2.0, rel=1e-14)
    assert c["welch"]["p_value"] == pytest.approx(1 - abs(t) / math.sqrt(2 + t * t), rel=1e-10)
    q = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    np.testing.assert_allclose(c["ci95"], [-3 - q * math.sqrt(2), -3 + q * math.sqrt(2)], rtol=1e-9)
    assert c["difference"] == -3.0 and c["std_a"] == pytest.approx(math.sqrt(2))


def test_mann_whitney_exact_by_hand():
    # complete separation of 3 vs 3: U_a = 0, exact two-sided p = 2 / C(6, 3) = 0.1
    c = compare_groups([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert c["mann_whitney"]["statistic"] == 0.0
    assert c["mann_whitney"]["method"] == "exact"
    assert c["mann_whitney"]["p_value"] == pytest.approx(0.1, rel=1e-12)
    # ten seeds each, separated: p = 2 / C(20, 10)
    c = compare_groups(np.arange(10.0) + 20, np.arange(10.0))
    assert c["mann_whitney"]["statistic"] == 100.0
    assert c["mann_whitney"]["p_value"] == pytest.approx(2 / math.comb(20, 10), rel=1e-9)
    # ties: the normal approximation, said so
    assert compare_groups([1, 1, 2], [2, 3, 3])["mann_whitney"]["method"] == "asymptotic"


def test_failed_runs_are_left_out():
    c = compare_groups([1.0, float("nan"), 2.0, 3.0, None], [4.0, 5.0, 6.0])
    assert c["n_a"] == 3 and c["mean_a"] == 2.0
    assert c == compare_groups([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    empty = compare_groups([float("nan")], [1.0, 2.0])
    assert empty["n_a"] == 0 and math.isnan(empty["welch"]["p_value"])
