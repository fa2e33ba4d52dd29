"""Rows of 16 lanes as one value (``backends._lanes``): each lane is the scalar arithmetic.

The kernel runs the matrix pass of a projection onto 16 or 32 lanes on such values; that
its runs equal the reference backend's bit for bit is checked with the networks of
``test_compiled.py`` (Yin-Yang: rows of 16 and 32 lanes; MNIST: 112, the inner loop).
Here: the operations lane by lane against numba's scalar ones, the row reads and writes,
the refusal of mixed precisions, and a float64 network with and without the row passes.
"""

import operator

import numpy as np
import pytest

pytest.importorskip("numba", reason="the compiled backend needs numba")

from numba import njit  # noqa: E402
from numba.core.errors import TypingError  # noqa: E402

from mc_network import RecordPlan, build_network, yinyang_spec  # noqa: E402
from mc_network.backends import _codegen  # noqa: E402
from mc_network.backends._lanes import WIDTH, lanes_at, put_lanes  # noqa: E402

OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def _kernels(op):
    """Row-row, row-scalar and scalar-row forms of ``op`` and its scalar loop."""

    @njit(error_model="numpy")  # as the kernel: x / 0 is inf or NaN, no exception
    def rows(a, b, s, out):
        for i in range(a.shape[0]):
            put_lanes(out, op(lanes_at(a, i, 0), lanes_at(b, i, 0)), 0, i, 0)
            put_lanes(out, op(lanes_at(a, i, 0), s), 1, i, 0)
            put_lanes(out, op(s, lanes_at(b, i, 0)), 2, i, 0)
            put_lanes(out, -lanes_at(a, i, 0), 3, i, 0)

    @njit(error_model="numpy")  # as the kernel: x / 0 is inf or NaN, no exception
    def scalars(a, b, s, out):
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                out[0, i, j] = op(a[i, j], b[i, j])
                out[1, i, j] = op(a[i, j], s)
                out[2, i, j] = op(s, b[i, j])
                out[3, i, j] = -a[i, j]

    return rows, scalars


def _operands(dtype, n=4000):
    rng = np.random.default_rng(7)
    special = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-310, 3.4e38, 1.0], dtype
    )
    a = (rng.standard_normal(n) * 10.0 ** rng.integers(-40, 38, n)).astype(dtype)
    b = (rng.standard_normal(n) * 10.0 ** rng.integers(-40, 38, n)).astype(dtype)
    a[: special.size], b[-special.size :] = special, special
    return a.reshape(-1, WIDTH), b.reshape(-1, WIDTH)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sym", list(OPS))
def test_each_lane_is_the_scalar_operation(sym, dtype):
    a, b = _operands(dtype)
    rows, scalars = _kernels(OPS[sym])
    got, want = np.empty((4, *a.shape), dtype), np.empty((4, *a.shape), dtype)
    s = dtype(0.3)
    with np.errstate(all="ignore"):
        rows(a, b, s, got)
        scalars(a, b, s, want)
    # the same bits, NaN or not (a NaN's payload included)
    assert np.array_equal(got.view(f"u{a.itemsize}"), want.view(f"u{a.itemsize}"))
    assert np.isnan(want).any() and np.isinf(want).any()  # the special values were met


def test_rows_are_read_and_written_from_an_offset_and_nothing_else_changes():
    m = np.arange(3 * 48, dtype=np.float32).reshape(3, 48)

    @njit
    def shift(m, i, j0):
        put_lanes(m, lanes_at(m, i, j0) + np.float32(1000.0), i, j0)

    shift(m, 1, 16)
    want = np.arange(3 * 48, dtype=np.float32).reshape(3, 48)
    want[1, 16:32] += 1000.0
    np.testing.assert_array_equal(m, want)


def test_a_scalar_of_another_precision_is_refused():
    @njit
    def mixed(a):
        return lanes_at(a, 0) * 0.5  # a float64 literal with float32 lanes

    with pytest.raises(TypingError):
        mixed(np.zeros(16, np.float32))


def test_float64_network_is_the_same_with_and_without_the_row_passes(data, monkeypatch):
    # float64 networks have no reference run of equal bits (test_compiled: close only), so
    # the row passes are checked against the kernel's inner loops on the same build
    spec = yinyang_spec("pal", dtype="float64")
    x, t = data(12, 4, 3, seed=9)
    plan = RecordPlan(("output.rate", "pyramidal_1.v_apical", "fb_1.g", "p2i_1.delta"), 3)
    runs = []
    for rows in (_codegen.ROW_VECTORS, ()):
        monkeypatch.setattr(_codegen, "ROW_VECTORS", rows)
        net = build_network(spec, [4, 5], backend="compiled")
        runs.append(net.run_stage(x, t, learning=True, teaching=True, record=plan))
        assert ("_lanes_at(" in _codegen.kernel_source(net.program)) == bool(rows)
    for k in plan.variables:
        assert runs[0][k].dtype == np.float64
        np.testing.assert_array_equal(runs[0][k], runs[1][k], err_msg=k)
