"""Vectorisable float64 ``exp`` and the guard that keeps a vectorised activation exact.

The kernels evaluate the activation in float64 from a float32 argument and round the
result once to float32, as the original does with the C library's ``exp``. A call of the C
library's ``exp`` cannot be vectorised, so the kernel's neuron loops evaluate the
activation with :func:`vexp`, a polynomial that LLVM vectorises, and :func:`guard` checks
each result: where the float64 value lies so close to the middle between two float32
numbers that the two ``exp`` could round to different float32 results (within
``GUARD_ULPS`` float64 units in the last place of the midpoint), or where the rounding
would not be to a normal float32, or where the argument is not a number, the result is
replaced by NaN. The kernel counts those NaNs in the loop and recomputes each of them
with the C library's ``exp`` from the stored argument, so every float32 result is that of
the scalar activation. :func:`vexp` is within :data:`EXP_ULPS` units in the last place of
the C library's ``exp`` on every argument a float32 activation can give it; that the guarded
activation equals the scalar one on every float32 argument is checked exhaustively by
:func:`count_mismatches` (``benchmarks/check_activations.py``; the tests check a dense
subset). The guard fires for about one argument in 10^6.

:func:`umulhi` and the bit casts are LLVM instructions numba does not expose otherwise.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "EXP_ULPS",
    "GUARD_ULPS",
    "bits_to_f64",
    "count_mismatches",
    "f64_to_bits",
    "guard",
    "muladd",
    "prefer_wide_vectors",
    "umulhi",
    "vexp",
]

GUARD_ULPS = 256
"""Half-width, in float64 units in the last place, of the zone around a float32 midpoint
in which a vectorised result is recomputed with the C library."""

EXP_ULPS = 64
"""The most float64 units in the last place :func:`vexp` lies from the C library's ``exp``
(the tests check it; a quarter of :data:`GUARD_ULPS`, which must cover it and the
activation's own roundings)."""

_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_SHIFT = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer in the low bits
_SHIFT_BITS = 0x4338000000000000
# 1/k! for k = 0..11, as float64
_C = tuple(1.0 / math.factorial(k) for k in range(12))
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11 = _C
_MID = 0x10000000  # the 29 bits float64 -> float32 rounding drops, at a midpoint
_LOW29 = 0x1FFFFFFF
_MIN_NORMAL32 = 2.0**-125  # below (twice the smallest normal float32): recompute
_NAN = math.nan


@intrinsic
def bits_to_f64(typingctx, x):
    """The float64 whose bits are the int64 ``x``."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def f64_to_bits(typingctx, x):
    """The bits of the float64 ``x`` as an int64."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def umulhi(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two uint64 (one ``mul`` instruction)."""
    if a != types.uint64 or b != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        p = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(p, ir.Constant(wide, 64)), ir.IntType(64))

    return types.uint64(types.uint64, types.uint64), codegen


@intrinsic
def muladd(typingctx, a, b, c):
    """``a * b + c`` in float64: one fused multiply-add where the CPU has it, else two steps.

    LLVM's ``fmuladd``: one rounding where the CPU multiplies and adds in one instruction,
    else a product and a sum as written. Only :func:`vexp`'s approximation uses it: either
    way its results stay within the error the guard allows, and the guarded activations
    are checked on every float32 argument with this CPU's choice.
    """
    if not (a == b == c == types.float64):
        return None

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()] * 3)
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.fmuladd.f64")
        return builder.call(fn, args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@intrinsic
def prefer_wide_vectors(typingctx):
    """Let LLVM vectorise the calling function with the widest vectors the CPU has.

    LLVM's tuning for some CPUs with 512-bit vector units (Intel's server cores among
    them) prefers 256-bit vectors; this sets the calling function's
    ``"prefer-vector-width"="512"`` attribute, which lifts that preference for that function
    alone (on CPUs without 512-bit vectors it changes nothing). Vector width changes no
    result: without fast-math every lane computes what the scalar code computes.
    """

    def codegen(context, builder, signature, args):
        # llvmlite's attribute set accepts only its known attribute names; this string
        # attribute is rendered as written
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()

    return types.none(), codegen


@njit(inline="always", nogil=True, error_model="numpy", fastmath=False)
def vexp(x):
    """``exp(x)`` in float64 without calls or branches (so loops of it vectorise).

    ``x = k ln 2 + r`` with ``|r| <= ln 2 / 2`` (about), ``exp(r)`` by its Taylor polynomial
    of degree 11 in Estrin's scheme, ``2^k`` added to the exponent's bits; every product and
    sum through :func:`muladd`. Arguments are clamped to ``[-708, 708]`` (where ``2^k`` and
    the result stay normal); the guarded activation recomputes every result that depends on
    the clamp. Within :data:`EXP_ULPS` of the C library's ``exp`` (the polynomial's
    remainder, ``r^12 / 12!``, is below 64 float64 units in the last place).
    """
    x = min(max(x, -708.0), 708.0)
    kd = muladd(x, _INV_LN2, _SHIFT)
    ki = f64_to_bits(kd) - _SHIFT_BITS
    kd = kd - _SHIFT
    r = muladd(-kd, _LN2_HI, x)
    r = muladd(-kd, _LN2_LO, r)
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    a0 = muladd(_C1, r, _C0)
    a1 = muladd(_C3, r, _C2)
    a2 = muladd(_C5, r, _C4)
    a3 = muladd(_C7, r, _C6)
    a4 = muladd(_C9, r, _C8)
    a5 = muladd(_C11, r, _C10)
    b0 = muladd(a1, r2, a0)
    b1 = muladd(a3, r2, a2)
    b2 = muladd(a5, r2, a4)
    d0 = muladd(b1, r4, b0)
    p = muladd(b2, r8, d0)
    return bits_to_f64(f64_to_bits(p) + (ki << 52))


@njit(inline="always", nogil=True, error_model="numpy", fastmath=False)
def guard(v, x):
    """``v`` (a float64 activation of the argument ``x``), or NaN where it must be recomputed.

    NaN where ``x`` is not a number, where ``0 < |v| < 2^-125`` and where ``v`` is within
    :data:`GUARD_ULPS` of the midpoint between two float32 numbers.
    """
    low = f64_to_bits(v) & _LOW29
    near = abs(low - _MID) <= GUARD_ULPS
    tiny = abs(v) < _MIN_NORMAL32 and v != 0.0
    return _NAN if (near or tiny or x != x) else v


@njit(nogil=True, error_model="numpy", fastmath=False)
def _equal32(a, b):
    return a == b or (a != a and b != b)


def count_mismatches(
    vector, scalar, thr: float, start: int, stop: int, stride: int = 1
) -> tuple[int, int]:
    """Compare a guarded vectorised activation with the scalar one on float32 arguments.

    ``vector`` and ``scalar`` are numba functions ``f(x, thr)`` of float64 (``vector``
    already guarded: NaN where it defers); the arguments are the float32 numbers whose
    bits are ``start, start + stride, ...`` below ``stop``, taken modulo 2**32 (so
    ``0 .. 2**32`` covers every float32). Returns ``(mismatches, deferred)``: float32
    results that differ (NaN equals NaN), and results the guard deferred to the scalar
    activation.
    """
    return _count(
        vector, scalar, np.float64(thr), np.int64(start), np.int64(stop), np.int64(stride)
    )


@njit(nogil=True, error_model="numpy", fastmath=False)
def _count(vector, scalar, thr, start, stop, stride):
    block = 4096
    bits = np.empty(block, np.uint32)
    out = np.empty(block, np.float64)
    bad = 0
    deferred = 0
    k = start
    while k < stop:
        n = min(block, (stop - k + stride - 1) // stride)
        for i in range(n):
            bits[i] = np.uint32((k + i * stride) & 0xFFFFFFFF)
        xs = bits.view(np.float32)
        for i in range(n):
            out[i] = vector(np.float64(xs[i]), thr)
        for i in range(n):
            want = np.float32(scalar(np.float64(xs[i]), thr))
            got = out[i]
            if got != got:
                deferred += 1
                got = scalar(np.float64(xs[i]), thr)
            if not _equal32(np.float32(got), want):
                bad += 1
        k += n * stride
    return bad, deferred
