r"""Activation functions :math:`\varphi`, each written once as an expression of ``x`` and ``thr``.

The original code evaluates the activation template in **double** precision from the float32
argument and rounds the result once when it is stored. Every rendering does exactly that:
the NumPy twin (:meth:`Activation.numpy`) promotes the argument to float64, evaluates and
casts back to the argument's dtype (a no-op for float64 networks); the GeNN snippet
(:meth:`Activation.render`) computes in double and assigns to a ``scalar``; the numba
function (:attr:`Activation.numba_body`) takes and returns float64.

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

An activation is an expression in the notation of :mod:`mc_models.expr` of ``x`` and
``thr``, with the functions ``exp``, ``log`` and ``abs`` and ``a if test else b``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mc_models.expr import Call, Expr, Name, NotationError, parse_expr, walk

__all__ = ["ACTIVATIONS", "Activation", "get_activation"]

_FUNCTIONS = ("exp", "log", "abs")


@dataclass(frozen=True)
class Activation:
    """One activation function: its name and its expression of ``x`` and ``thr``."""

    name: str
    expr: str
    tree: Expr = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tree = parse_expr(self.expr, f"activation {self.name!r}")
        for n in walk(tree):
            if isinstance(n, Name) and n.id not in ("x", "thr"):
                raise NotationError(f"activation {self.name!r}: unknown name {n.id!r}")
            if isinstance(n, Call) and (n.func not in _FUNCTIONS or len(n.args) != 1):
                raise NotationError(
                    f"activation {self.name!r}: {n.func}() is not one of {_FUNCTIONS}"
                )
        object.__setattr__(self, "tree", tree)

    def numpy(self, x: np.ndarray, threshold: float = 15.0) -> np.ndarray:
        """Evaluate in double precision and round once to ``x``'s dtype."""
        from mc_models.render.numpy import activation_function

        return activation_function(self)(x, threshold)

    def render(self, out: str, inp: str, thr: str = "threshold") -> str:
        """GeNN code assigning ``phi(inp)`` to ``out`` (``inp`` a float expression)."""
        from mc_models.render.genn import activation_code

        return activation_code(self, out, inp, thr)

    @property
    def numba_body(self) -> tuple[str, ...]:
        """Body of a numba function of the float64 scalars ``x`` and ``thr``."""
        from mc_models.render.numba import activation_source

        return tuple(line[4:] for line in activation_source(self)[1:])


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", "1.0 / (1.0 + exp(-x))"),
        Activation("soft_relu", "0.0 if x < -thr else (log(1.0 + exp(x)) if abs(x) < thr else x)"),
        Activation(
            "sigmoid_stable",
            "0.0 if x < -thr else (1.0 / (1.0 + exp(-x)) if abs(x) < thr else 1.0)",
        ),
    )
}


def get_activation(name: str) -> Activation:
    """Look an activation up by name, with a clear error listing the valid names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; valid activations are {sorted(ACTIVATIONS)}"
        ) from None
