"""NumPy's PCG64 generator and its float32 standard normal, inlined in numba kernels.

``Generator(PCG64).standard_normal(dtype=np.float32)`` draws through two function pointers
per value (about 10 ns here); the same algorithm inlined into the kernel costs a fraction of
that. The state of one stream is a ``uint64[6]`` array: the 128-bit LCG state (high, low
word), the 128-bit increment (high, low) and the buffered upper half of the last 64-bit
output (``has_uint32``, ``uinteger``), exactly the fields of ``bit_generator.state``, so a
stream can be handed back and forth between NumPy and the kernels at any point.

Everything follows NumPy's C sources (``pcg64.h``, ``distributions.c``) operation by
operation: the XSL-RR output of the advanced state, ``next_uint32`` taking the low half first
and buffering the high half, the 256-layer float32 ziggurat with NumPy's tables (as shipped
with numba), the tail from ``log1pf`` and the wedge test against ``exp`` in double.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.np.random._constants import (
    fi_float,
    ki_float,
    wi_float,
    ziggurat_nor_inv_r_f,
    ziggurat_nor_r_f,
)

from mc_network.backends._vecmath import umulhi

__all__ = ["fill_normal_f32", "get_streams", "normal_f32", "put_streams"]

_MUL_HI = np.uint64(0x2360ED051FC65DA4)  # PCG_DEFAULT_MULTIPLIER_128
_MUL_LO = np.uint64(0x4385DF649FCCF645)
_M32 = np.uint64(0xFFFFFFFF)
_U0, _U1, _S32, _S58, _S63 = (np.uint64(v) for v in (0, 1, 32, 58, 63))
_F24 = np.float32(1.0 / 16777216.0)
_KI = ki_float.astype(np.uint32)
_WI = wi_float.astype(np.float32)
_FI = fi_float.astype(np.float32)
_NOR_R = np.float32(ziggurat_nor_r_f)
_NOR_INV_R = np.float32(ziggurat_nor_inv_r_f)
_MASK64 = (1 << 64) - 1


@njit(inline="always")
def _next64(st):
    lo = st[1] * _MUL_LO
    hi = umulhi(st[1], _MUL_LO) + st[1] * _MUL_HI + st[0] * _MUL_LO
    new_lo = lo + st[3]
    new_hi = hi + st[2] + (_U1 if new_lo < lo else _U0)
    st[0] = new_hi
    st[1] = new_lo
    x = new_hi ^ new_lo
    rot = new_hi >> _S58
    return (x >> rot) | (x << ((_U0 - rot) & _S63))


@njit(inline="always")
def _next32(st):
    if st[4] != _U0:
        st[4] = _U0
        return np.uint32(st[5])
    v = _next64(st)
    st[4] = _U1
    st[5] = v >> _S32
    return np.uint32(v & _M32)


@njit(inline="always")
def _next_float(st):
    return np.float32(_next32(st) >> np.uint32(8)) * _F24


@njit(inline="always")
def normal_f32(st):
    """One ``standard_normal(dtype=float32)`` draw from the stream ``st`` (advanced in place)."""
    while True:
        r = _next32(st)
        idx = r & np.uint32(0xFF)
        rabs = (r >> np.uint32(9)) & np.uint32(0x7FFFFF)
        x = np.float32(rabs) * _WI[idx]
        if (r >> np.uint32(8)) & np.uint32(1):
            x = -x
        if rabs < _KI[idx]:
            return x
        done, x = _beyond_layer(st, idx, rabs, x)
        if done:
            return x


@njit(inline="always")
def _beyond_layer(st, idx, rabs, x):
    """The ziggurat's rare branch for a 32-bit draw outside its layer's rectangle.

    Returns ``(True, value)`` where the draw is accepted (the tail, or the wedge test
    passed) and ``(False, 0)`` where it is rejected (a new 32-bit draw follows).
    """
    if idx == 0:
        while True:
            xx = -_NOR_INV_R * np.log1p(-_next_float(st))
            yy = -np.log1p(-_next_float(st))
            if yy + yy > xx * xx:
                if (rabs >> np.uint32(8)) & np.uint32(1):
                    return True, -(_NOR_R + xx)
                return True, _NOR_R + xx
    u = _next_float(st)
    if np.float64((_FI[idx - 1] - _FI[idx]) * u + _FI[idx]) < math.exp(
        -0.5 * np.float64(x) * np.float64(x)
    ):
        return True, x
    return False, np.float32(0.0)


@njit(cache=True, nogil=True, error_model="numpy")
def fill_normal_f32(st, out):
    """Fill ``out`` with draws of :func:`normal_f32` (cast to ``out``'s precision).

    The same draws as calling :func:`normal_f32` for each entry, with the stream's state in
    registers on the ziggurat's fast path (about 99 % of the draws); the rare branch runs
    on ``st``.
    """
    s_hi, s_lo, i_hi, i_lo, has, buf = st[0], st[1], st[2], st[3], st[4], st[5]
    i = 0
    while i < out.shape[0]:
        if has != _U0:
            has = _U0
            r = np.uint32(buf)
        else:
            lo = s_lo * _MUL_LO
            hi = umulhi(s_lo, _MUL_LO) + s_lo * _MUL_HI + s_hi * _MUL_LO
            s_lo = lo + i_lo
            s_hi = hi + i_hi + (_U1 if s_lo < lo else _U0)
            v = s_hi ^ s_lo
            rot = s_hi >> _S58
            v = (v >> rot) | (v << ((_U0 - rot) & _S63))
            has = _U1
            buf = v >> _S32
            r = np.uint32(v & _M32)
        idx = r & np.uint32(0xFF)
        rabs = (r >> np.uint32(9)) & np.uint32(0x7FFFFF)
        x = np.float32(rabs) * _WI[idx]
        if (r >> np.uint32(8)) & np.uint32(1):
            x = -x
        if rabs < _KI[idx]:
            out[i] = x
            i += 1
            continue
        st[0], st[1], st[4], st[5] = s_hi, s_lo, has, buf
        done, x = _beyond_layer(st, idx, rabs, x)
        s_hi, s_lo, has, buf = st[0], st[1], st[4], st[5]
        if done:
            out[i] = x
            i += 1
    st[0], st[1], st[4], st[5] = s_hi, s_lo, has, buf


def get_streams(generators) -> np.ndarray:
    """The states of PCG64 generators as a ``(n, 6)`` uint64 array."""
    out = np.zeros((len(generators), 6), dtype=np.uint64)
    for i, g in enumerate(generators):
        s = g.bit_generator.state
        if s["bit_generator"] != "PCG64":
            raise TypeError(f"noise streams must be PCG64, got {s['bit_generator']}")
        st, inc = s["state"]["state"], s["state"]["inc"]
        out[i] = (st >> 64, st & _MASK64, inc >> 64, inc & _MASK64, s["has_uint32"], s["uinteger"])
    return out


def put_streams(generators, states: np.ndarray) -> None:
    """Write ``(n, 6)`` states back into the generators (inverse of :func:`get_streams`)."""
    for g, row in zip(generators, states, strict=True):
        hi, lo, ihi, ilo, has, uint = (int(v) for v in row)
        g.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": (hi << 64) | lo, "inc": (ihi << 64) | ilo},
            "has_uint32": has,
            "uinteger": uint,
        }
