r"""Activation functions :math:`\varphi`, each as a GeNN 5 code snippet and a NumPy twin.

The original code evaluates the activation template in **double** precision from the float32
argument and rounds the result once when it is stored. The NumPy twins do exactly that:
the argument is promoted to float64, the function is evaluated, and the result is cast back
to the argument's dtype (a no-op for float64 networks).

========================= ================================================================
name                      definition (``thr`` = the model's ``threshold`` parameter)
========================= ================================================================
``sigmoid``               :math:`1/(1+e^{-x})`
``soft_relu``             0 if :math:`x<-thr`; :math:`\log(1+e^x)` if :math:`|x|<thr`; x else
``sigmoid_stable``        0 if :math:`x<-thr`; the sigmoid if :math:`|x|<thr`; 1 else
========================= ================================================================

At exactly :math:`x = \pm thr` the comparisons are strict, as in the original's templates:
``soft_relu`` returns x itself (:math:`-thr` at :math:`-thr`, a negative rate) and
``sigmoid_stable`` returns **1.0 at both** :math:`-thr` and :math:`+thr` (the original's
template starts from 1.0 and replaces it only strictly below :math:`-thr` or strictly
inside). This quirk is reproduced on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["ACTIVATIONS", "Activation", "get_activation"]


@dataclass(frozen=True)
class Activation:
    """One activation function in both renderings.

    ``genn_code`` is a GeNN 5 statement template with the placeholders ``{out}`` (variable to
    assign), ``{inp}`` (argument expression) and ``{thr}`` (threshold parameter name).
    ``numpy_double`` evaluates it on a float64 array. ``numba_body`` is the body of a
    function of the float64 scalars ``x`` and ``thr`` (``math`` imported), as the compiled
    backend's kernels paste it in.
    """

    name: str
    genn_code: str
    numpy_double: Callable[[np.ndarray, float], np.ndarray]
    numba_body: tuple[str, ...]

    def render(self, out: str, inp: str, thr: str = "threshold") -> str:
        """GeNN code assigning ``phi(inp)`` to ``out``."""
        return self.genn_code.format(out=out, inp=inp, thr=thr)

    def numpy(self, x: np.ndarray, threshold: float = 15.0) -> np.ndarray:
        """Evaluate in double precision and round once to ``x``'s dtype."""
        x = np.asarray(x)
        y = self.numpy_double(x.astype(np.float64), float(threshold))
        return y.astype(x.dtype if x.dtype.kind == "f" else np.float64)


def _sigmoid(x: np.ndarray, thr: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _soft_relu(x: np.ndarray, thr: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        soft = np.log(1.0 + np.exp(np.minimum(x, thr)))
    return np.where(x < -thr, 0.0, np.where(np.abs(x) < thr, soft, x))


def _sigmoid_stable(x: np.ndarray, thr: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        s = 1.0 / (1.0 + np.exp(-np.clip(x, -thr, thr)))
    # 1.0 at x = -thr as well (strict comparisons, as the original)
    return np.where(x < -thr, 0.0, np.where(np.abs(x) < thr, s, 1.0))


# The GeNN snippets compute in double ("d" literals, explicit cast) and assign to a scalar,
# i.e. they round once, like the original templates.
ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(
        "sigmoid",
        "{out} = 1.0d / (1.0d + exp(-((double){inp})));",
        _sigmoid,
        ("return 1.0 / (1.0 + math.exp(-x))",),
    ),
    "soft_relu": Activation(
        "soft_relu",
        "if (({inp}) < -{thr}) {{ {out} = 0.0; }}\n"
        "else if (fabs({inp}) < {thr}) {{ {out} = log(1.0d + exp((double)({inp}))); }}\n"
        "else {{ {out} = {inp}; }}",
        _soft_relu,
        (
            "if x < -thr:",
            "    return 0.0",
            "if abs(x) < thr:",
            "    return math.log(1.0 + math.exp(min(x, thr)))",
            "return x",
        ),
    ),
    "sigmoid_stable": Activation(
        "sigmoid_stable",
        "if (({inp}) < -{thr}) {{ {out} = 0.0; }}\n"
        "else if (fabs({inp}) < {thr}) {{ {out} = 1.0d / (1.0d + exp(-((double)({inp})))); }}\n"
        "else {{ {out} = 1.0; }}",
        _sigmoid_stable,
        (
            "if x < -thr:",
            "    return 0.0",
            "if abs(x) < thr:",
            "    return 1.0 / (1.0 + math.exp(-x))",
            "return 1.0",
        ),
    ),
}


def get_activation(name: str) -> Activation:
    """Look an activation up by name, with a clear error listing the valid names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; valid activations are {sorted(ACTIVATIONS)}"
        ) from None
