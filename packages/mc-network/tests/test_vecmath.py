"""The compiled kernels' vectorisable arithmetic: its float32 results are the scalar ones.

``benchmarks/check_activations.py`` runs every float32 argument (its result is kept in
``benchmarks/results/activations.json``); here a dense sample of the float32 bit patterns,
the neighbourhoods of the thresholds and the special values, in seconds.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("numba", reason="the compiled backend needs numba")

from numba import njit  # noqa: E402

from mc_models import ACTIVATIONS  # noqa: E402
from mc_network.backends._codegen import activation_module  # noqa: E402
from mc_network.backends._vecmath import (  # noqa: E402
    EXP_ULPS,
    GUARD_ULPS,
    count_mismatches,
    guard,
    muladd,
    prefer_wide_vectors,
    umulhi,
    vexp,
)

VECTORISED = [n for n in sorted(ACTIVATIONS) if activation_module(n)._vact is not None]


def test_the_exp_activations_have_vectorised_twins_and_log_keeps_the_scalar_one():
    assert VECTORISED == ["sigmoid", "sigmoid_stable"]
    assert activation_module("soft_relu")._vact is None


@njit
def _exp_ulps(xs):
    worst = 0
    for i in range(xs.shape[0]):
        a, b = vexp(xs[i]), math.exp(xs[i])
        d = abs(np.int64(np.float64(a).view(np.int64)) - np.int64(np.float64(b).view(np.int64)))
        worst = max(worst, d)
    return worst


def test_vexp_within_its_stated_units_in_the_last_place_of_the_c_library():
    xs = np.random.default_rng(0).uniform(-700.0, 700.0, 1_000_000)
    xs = np.concatenate([xs, np.linspace(-20.0, 20.0, 100_001), [0.0, -0.0, 1e-300, -1e-300]])
    assert _exp_ulps(xs) <= EXP_ULPS
    # the guard's zone covers the polynomial's error with room for the activation's roundings
    assert 4 * EXP_ULPS <= GUARD_ULPS


@njit
def _muladds(a, b, c):
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = muladd(a[i], b[i], c[i])
    return out


def test_muladd_is_the_fused_or_the_plain_product_and_sum_the_same_way_for_every_argument():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-2.0, 2.0, (2, 4000))
    c = -a * b * (1.0 + rng.uniform(-1e-9, 1e-9, 4000))  # cancellation: the two differ
    got = _muladds(a, b, c)
    exact = zip(a, b, c, strict=True)
    fused = [float(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in exact]
    plain = a * b + c
    is_fused = got == np.array(fused)
    assert np.all(is_fused | (got == plain))
    differ = np.array(fused) != plain
    assert differ.sum() > 1000  # the sample tells the two apart
    assert is_fused[differ].all() or not is_fused[differ].any()  # one choice, every time


@njit
def _guard_at(v):
    return guard(v, 0.5)


def test_guard_defers_near_float32_midpoints_tiny_values_and_nan():
    one = np.float64(np.float32(0.75))  # a float32 number: far from every midpoint
    assert _guard_at(one) == one
    mid = 0.75 + 2.0**-25  # exactly between two float32 numbers
    assert math.isnan(_guard_at(mid))
    ulp = 2.0**-53
    assert math.isnan(_guard_at(mid + GUARD_ULPS * ulp))
    assert _guard_at(mid + (GUARD_ULPS + 1) * ulp) == mid + (GUARD_ULPS + 1) * ulp
    assert math.isnan(_guard_at(1e-39)) and math.isnan(_guard_at(-1e-39))
    assert _guard_at(0.0) == 0.0  # an exact zero is a branch's constant, not a rounding
    assert math.isnan(guard(0.5, math.nan))


@njit
def _mulhi(a, b):
    return umulhi(a, b)


def test_umulhi_is_the_high_word_of_the_product():
    rng = np.random.default_rng(1)
    for a, b in rng.integers(0, 2**64, size=(200, 2), dtype=np.uint64):
        assert int(_mulhi(a, b)) == (int(a) * int(b)) >> 64
    top = np.uint64(2**64 - 1)
    assert int(_mulhi(top, top)) == 2**64 - 2


@pytest.mark.parametrize("name", VECTORISED)
@pytest.mark.parametrize("thr", [15.0, math.inf])
def test_vectorised_activation_equals_the_scalar_one_on_a_dense_float32_sample(name, thr):
    mod = activation_module(name)
    bad = deferred = 0
    # every 1021st bit pattern (4.2 million arguments, both signs, all exponents)
    b, d = count_mismatches(mod._vact, mod._act, thr, 0, 2**32, stride=1021)
    bad, deferred = bad + b, deferred + d
    # the neighbourhoods of 0, of +-thr, of the float32 range's ends and of +-inf/NaN
    for centre in (0x00000000, 0x80000000, 0x41700000, 0xC1700000, 0x7F800000, 0xFF800000):
        b, d = count_mismatches(mod._vact, mod._act, thr, centre - 50_000, centre + 50_000)
        bad, deferred = bad + b, deferred + d
    assert bad == 0
    assert deferred > 0  # the guard does defer (tiny results, NaN arguments)


def _sigmoid_loop(wide: bool):
    """A kernel-like loop: the guarded vectorised sigmoid over float32 arguments."""
    sig = activation_module("sigmoid")._vact

    def loop(xs, out):
        if wide:
            prefer_wide_vectors()
        for i in range(xs.shape[0]):
            out[i] = np.float32(sig(np.float64(xs[i]), 0.0))
        return out

    return njit(nogil=True, error_model="numpy", fastmath=False)(loop)


def test_prefer_wide_vectors_marks_its_caller_and_changes_no_result():
    """The kernel's ``run_member`` asks for 512-bit vectors; the same loop gives the same bits."""
    xs = np.random.default_rng(2).integers(0, 2**32, 200_003, dtype=np.uint64)
    xs = xs.astype(np.uint32).view(np.float32)
    wide, plain = _sigmoid_loop(True), _sigmoid_loop(False)
    got = wide(xs, np.empty_like(xs))
    want = plain(xs, np.empty_like(xs))
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    marked = '"prefer-vector-width"="512"'
    assert marked in "".join(wide.inspect_llvm().values())
    assert marked not in "".join(plain.inspect_llvm().values())
