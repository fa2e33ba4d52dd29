"""16 lanes as one value: how a projection's row pass keeps its sums in registers.

The kernel's synapse loops run over a matrix row by row, each row's postsynaptic lanes in
an inner loop that LLVM vectorises. Where a row is one or two vectors (a projection onto
at most 32 neurons), that inner loop costs more than its arithmetic: its set-up, the
run-time checks that its arrays do not overlap, and the postsynaptic sum, which goes
through memory from row to row (numba cannot tell LLVM that the arrays are apart). With
:class:`Lanes`, a value of the LLVM type ``<16 x T>``, the kernel writes such a row pass
without the inner loop: it reads 16 elements of a row with :func:`lanes_at`, computes with
the ordinary operators (``+ - * /`` and negation, of two :class:`Lanes` or of one and a
scalar of its type, which stands for 16 copies of itself), keeps the sums in locals and
stores with :func:`put_lanes`.

Every lane computes what the scalar code computes, in the same order: the operations are
LLVM's ``fadd``/``fsub``/``fmul``/``fdiv``/``fneg`` without fast-math flags, each lane
rounded as the scalar operation is, nothing contracted into fused multiply-adds. Mixed
precisions are refused (a scalar must have the lanes' type), so nothing is promoted
silently.
"""

from __future__ import annotations

import operator

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, overload, register_model

from mc_network.backends._codegen import LANE

__all__ = ["WIDTH", "Lanes", "lanes_at", "put_lanes"]

WIDTH = LANE
"""Lanes in one :class:`Lanes`: the kernel's padding unit (:data:`._codegen.LANE`, 16)."""


class Lanes(types.Type):
    """The numba type of 16 lanes of one float type (``dtype``: float32 or float64)."""

    def __init__(self, dtype: types.Float) -> None:
        self.dtype = dtype
        super().__init__(name=f"Lanes{WIDTH}({dtype})")


@register_model(Lanes)
class _LanesModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type: Lanes) -> None:
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, WIDTH))


def _rows_of(arr, at) -> bool:
    """Whether ``arr`` is a C-contiguous float array and ``at`` indexes one of its elements."""
    return (
        isinstance(arr, types.Array)
        and isinstance(arr.dtype, types.Float)
        and arr.layout == "C"
        and len(at) == arr.ndim
    )


def _lanes_pointer(context, builder, arrty, arr, packed, n: int):
    """The address of ``arr[at]`` (``at``: ``n`` indices packed in a tuple) as ``<16 x T>*``."""
    ary = context.make_array(arrty)(context, builder, arr)
    at = cgutils.unpack_tuple(builder, packed, n)
    ptr = cgutils.get_item_pointer(context, builder, arrty, ary, at)
    element = context.get_value_type(arrty.dtype)
    return builder.bitcast(ptr, ir.VectorType(element, WIDTH).as_pointer())


@intrinsic
def lanes_at(typingctx, arr, *at):
    """The 16 elements of ``arr`` from ``arr[at]`` on, along its last (contiguous) axis.

    ``at`` indexes one element (``i, j0`` of a matrix, ``j0`` of a vector); the elements
    up to ``j0 + 15`` must exist (the kernel's padded rows): no bounds are checked.
    """
    if not _rows_of(arr, at):
        return None

    def codegen(context, builder, signature, args):
        ptr = _lanes_pointer(context, builder, signature.args[0], args[0], args[1], len(at))
        return builder.load(ptr, align=arr.dtype.bitwidth // 8)

    return Lanes(arr.dtype)(arr, types.StarArgTuple(at)), codegen


@intrinsic
def put_lanes(typingctx, arr, x, *at):
    """Store the 16 lanes of ``x`` from ``arr[at]`` on (see :func:`lanes_at`)."""
    if not _rows_of(arr, at) or x != Lanes(arr.dtype):
        return None

    def codegen(context, builder, signature, args):
        ptr = _lanes_pointer(context, builder, signature.args[0], args[0], args[2], len(at))
        builder.store(args[1], ptr, align=arr.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(arr, x, types.StarArgTuple(at)), codegen


def _result_type(a, b) -> Lanes | None:
    """The type of ``a op b``: two :class:`Lanes` of one type, or one and a scalar of its type."""
    lanes = [t for t in (a, b) if isinstance(t, Lanes)]
    if not lanes:
        return None
    t = lanes[0]
    return t if all(x in (t, t.dtype) for x in (a, b)) else None


def _broadcast(builder, x, fe_type):
    """``x`` as 16 lanes: itself if it is :class:`Lanes`, else 16 copies of the scalar."""
    if isinstance(fe_type, Lanes):
        return x
    vec = ir.VectorType(x.type, WIDTH)
    undef = ir.Constant(vec, ir.Undefined)
    one = builder.insert_element(undef, x, ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), WIDTH), [0] * WIDTH)
    return builder.shuffle_vector(one, undef, zeros)


def _binary(instruction: str):
    @intrinsic
    def op(typingctx, a, b):
        t = _result_type(a, b)
        if t is None:
            return None

        def codegen(context, builder, signature, args):
            x, y = (_broadcast(builder, v, s) for v, s in zip(args, signature.args, strict=True))
            return getattr(builder, instruction)(x, y)

        return t(a, b), codegen

    return op


@intrinsic
def _neg(typingctx, a):
    if not isinstance(a, Lanes):
        return None

    def codegen(context, builder, signature, args):
        return builder.fneg(args[0])

    return a(a), codegen


def _overload_binary(fn, impl) -> None:
    @overload(fn, inline="always")
    def _ol(a, b):
        if _result_type(a, b) is not None:
            return lambda a, b: impl(a, b)
        return None


for _fn, _instruction in (
    (operator.add, "fadd"),
    (operator.sub, "fsub"),
    (operator.mul, "fmul"),
    (operator.truediv, "fdiv"),
):
    _overload_binary(_fn, _binary(_instruction))


@overload(operator.neg, inline="always")
def _ol_neg(a):
    if isinstance(a, Lanes):
        return lambda a: _neg(a)
    return None
