import math

import numpy as np
import pytest

from mc_models import ACTIVATIONS, get_activation


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_has_genn_snippet_and_numpy_twin(name):
    act = ACTIVATIONS[name]
    code = act.render("rate", "v_brev")
    assert "rate =" in code and "v_brev" in code
    assert "{" not in code.replace("{ ", "").replace("{\n", "") or "if" in code
    y = act.numpy(np.array([-1.0, 0.0, 1.0], dtype=np.float32))
    assert y.dtype == np.float32 and y.shape == (3,)


def test_sigmoid_twin_matches_closed_form_and_rounds_once():
    x = np.linspace(-8, 8, 2001, dtype=np.float32)
    y = get_activation("sigmoid").numpy(x)
    exact = np.array([1.0 / (1.0 + math.exp(-float(v))) for v in x])
    # rounded once from double: the nearest float32 to the exact double value
    np.testing.assert_array_equal(y, exact.astype(np.float32))
    assert y[1000] == np.float32(0.5)
    # a float32 evaluation differs in the last bits for many arguments (the original's GeNN
    # code evaluates in double and rounds once)
    f32 = (np.float32(1) / (np.float32(1) + np.exp(-x))).astype(np.float32)
    assert np.any(f32 != y)


def test_soft_relu_pieces():
    act = get_activation("soft_relu")
    x = np.array([-20.0, -15.5, -1.0, 0.0, 2.0, 14.9, 15.0, 30.0], dtype=np.float64)
    y = act.numpy(x, threshold=15.0)
    expect = [
        0.0,
        0.0,
        math.log(1 + math.exp(-1)),
        math.log(2.0),
        math.log(1 + math.exp(2)),
        math.log(1 + math.exp(14.9)),
        15.0,
        30.0,
    ]
    np.testing.assert_allclose(y, expect, rtol=1e-15)


def test_sigmoid_stable_saturates():
    act = get_activation("sigmoid_stable")
    x = np.array([-20.0, -3.0, 0.0, 3.0, 20.0])
    y = act.numpy(x, threshold=5.0)
    np.testing.assert_allclose(y, [0.0, 1 / (1 + math.exp(3)), 0.5, 1 / (1 + math.exp(-3)), 1.0])


def test_unknown_activation_names_valid_ones():
    with pytest.raises(ValueError, match="sigmoid"):
        get_activation("tanh")


# At exactly x = +-thr the original's templates compare strictly: the stable sigmoid returns
# 1.0 at both -thr and +thr (its template starts from 1.0), the soft-ReLU x itself.
BOUNDARY_THRESHOLDS = (15.0, 2.5)


def boundary_points(thr):
    """-thr and +thr in float32 with their float32 neighbours on either side."""
    thr, inf = np.float32(thr), np.float32(np.inf)
    return np.array(
        [p for b in (-thr, thr) for p in (np.nextafter(b, -inf), b, np.nextafter(b, inf))],
        dtype=np.float32,
    )


def expected_at_boundary(name, thr):
    """The original's values at ``boundary_points(thr)``, from its definition."""
    lo_out, lo, lo_in, hi_in, hi, hi_out = (float(v) for v in boundary_points(thr))
    if name == "sigmoid_stable":
        vals = [0.0, 1.0, 1 / (1 + math.exp(-lo_in)), 1 / (1 + math.exp(-hi_in)), 1.0, 1.0]
    else:
        soft = [math.log(1 + math.exp(v)) for v in (lo_in, hi_in)]
        vals = [0.0, lo, soft[0], soft[1], hi, hi_out]
    return np.array(vals).astype(np.float32)


@pytest.mark.parametrize("thr", BOUNDARY_THRESHOLDS)
@pytest.mark.parametrize("name", ["sigmoid_stable", "soft_relu"])
def test_numpy_twin_at_the_threshold(name, thr):
    x = boundary_points(thr)
    y = get_activation(name).numpy(x, np.float32(thr))
    np.testing.assert_array_equal(y, expected_at_boundary(name, thr))


@pytest.mark.parametrize("thr", BOUNDARY_THRESHOLDS)
@pytest.mark.parametrize("name", ["sigmoid_stable", "soft_relu"])
def test_numba_twin_at_the_threshold(name, thr):
    numba = pytest.importorskip("numba", reason="the numba twin needs numba")
    body = "".join(f"    {line}\n" for line in get_activation(name).numba_body)
    namespace = {"math": math}
    exec(f"def act(x, thr):\n{body}", namespace)
    act = numba.njit(namespace["act"])
    x = boundary_points(thr)
    t64 = float(np.float32(thr))
    y = np.array([act(float(v), t64) for v in x]).astype(np.float32)
    np.testing.assert_array_equal(y, expected_at_boundary(name, thr))
