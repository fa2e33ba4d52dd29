"""The reference backend's sample-factorised projections (``input_mode: fast``), in NumPy.

The algorithm is the step program's (:mod:`mc_network.program`): while every presynaptic
variable the projection's rank-one delta rule reads holds one vector ``x``, the weights stay
at their segment-start values ``G0, D0`` and the projection keeps float64 scalars ``a, A``
and vectors ``p, q, u, U`` per member; elsewhere the rule runs exactly. Each member decides
for itself (a member whose next sample equals the last one stays in its segment). Every
operation is the compiled kernel's, elementwise in the same order and the sums in ascending
presynaptic order (a cumulative sum), so the two backends agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mc_models.render.numpy import synapse_step
from mc_network.program import FactorisedOp

__all__ = ["Factorised", "segment_start", "start_sums", "write_back"]


def start_sums(m: np.ndarray, x64: np.ndarray, work: np.ndarray | None = None) -> np.ndarray:
    """``sum_i m[:, i, :] x[:, i]`` in float64, ``(batch, n_post)``: ``G0^T x`` or ``D0^T x``.

    The presynaptic index is the middle, non-contiguous axis, which NumPy reduces row by
    row in ascending order, as the compiled kernel's loop does (the bit-for-bit tests of the
    two backends hold it to that). ``work``: a float64 array of ``m``'s shape to use (no
    temporaries of that size).

    A silent presynaptic neuron (``x == 0``) adds nothing, not even a non-finite weight's
    NaN: the compiled kernel skips its row (for finite weights the sum is the same bits
    either way: adding a zero to a partial sum leaves it unchanged, and the kernel's sum
    starts from +0).
    """
    work = np.empty(m.shape) if work is None else work
    np.multiply(m, x64[:, :, None], out=work)
    work[x64 == 0.0] = 0.0
    return np.add.reduce(work, axis=1)


def segment_start(g, d, x64: np.ndarray, learns: bool, work=None):
    """A segment's start: ``p = G0^T x``, ``q = D0^T x`` and ``s = x.x``, in float64.

    ``p``, ``q``: ``(batch, n_post)``, ``q`` zero where the rule cannot learn (then it is
    never read); ``s``: ``(batch,)``. ``g``, ``d``: the members' ``(batch, n_pre, n_post)``
    weights and increments; ``x64``: their rates in float64; ``work``: as for
    :func:`start_sums`.
    """
    p = start_sums(g, x64, work)
    q = start_sums(d, x64, work) if learns else np.zeros_like(p)
    return p, q, np.cumsum(x64 * x64, axis=1)[:, -1]


def write_back(g, d, x, a: float, big_a: float, u, big_u, work=None) -> None:
    """One member's segment end, in place: ``delta = a D0 + u x^T``, ``g = G0 + A D0 + U x^T``.

    ``g``, ``d``: the member's ``(n_pre, n_post)`` weights and increments (``G0``, ``D0``);
    ``x``: its segment's rates; ``a, A`` and ``u, U`` (``n_post``) float64. Each sum in
    float64 in the order written, rounded once to the weights' precision. ``work``: two
    float64 arrays of ``g``'s shape to use (no temporaries of that size).
    """
    w1, w2 = (np.empty(g.shape), np.empty(g.shape)) if work is None else work
    xv = x.astype(np.float64)[:, None]
    np.multiply(d, big_a, out=w1)  # A D0
    w1 += g  # G0 + A D0
    np.multiply(big_u[None, :], xv, out=w2)
    w1 += w2  # (G0 + A D0) + U x^T
    np.multiply(d, a, out=w2)  # a D0
    g[...] = w1
    np.multiply(u[None, :], xv, out=w1)
    w2 += w1  # a D0 + u x^T
    d[...] = w2


class Factorised:
    """One sample-factorised projection of a batch (its segment state and its step)."""

    def __init__(self, op: FactorisedOp, step, weights, pre, post, batch: int, dtype) -> None:
        rule = op.rule
        self.op, self.rule, self.exact_step = op, rule, step
        self.weights, self.pre, self.post, self.dtype = weights, pre, post, np.dtype(dtype)
        self.factor = synapse_step(rule.factor, op.factor_resolved, True)
        self.factor_h = np.float64(op.resolved.values[rule.filter_param])
        self.keep = 1.0 - self.factor_h
        b, n_pre, n_post = batch, op.n_pre, op.n_post
        self.on = np.zeros(b, dtype=bool)
        self.x = np.zeros((b, n_pre), dtype=self.dtype)
        self.p, self.q, self.u, self.U = (np.zeros((b, n_post)) for _ in range(4))
        self.a, self.A, self.s = np.ones(b), np.zeros(b), np.zeros(b)
        self.learns = False

    def begin(self, flags: Mapping[str, bool]) -> None:
        """A stage starts: whether the rule can learn in it (else ``q`` is never read)."""
        sw = self.rule.switch
        self.learns = bool(flags[sw]) and sw not in self.op.frozen

    def __call__(self, switches: Mapping[str, bool], sample_start: bool = False) -> np.ndarray:
        """The step's update and the projection's input, ``(batch, n_post)``.

        ``sample_start``: the step is a sample's first (no segment starts in it: the players
        switch after the synapses have read the previous sample's rates, so it continues the
        previous sample's segment, if any).
        """
        first, *others = (self.pre[v] for v in self.rule.pre_vars)
        same = np.ones(self.on.shape, dtype=bool)
        for other in others:
            same &= np.all(other == first, axis=1)
        cont = self.on & same & np.all(first == self.x, axis=1)
        self.flush(self.on & ~cont)
        if not sample_start:
            self._start(same & ~self.on, first)
        on, exact = self.on, ~self.on
        out = np.empty((self.on.size, self.op.n_post), dtype=self.dtype)
        sw = self.op.switches(switches)
        if exact.any():
            w = self.weights
            kept = {v: w[v][on].copy() for v in (self.rule.weight, self.rule.filtered)}
            self.exact_step.update(w, self.pre, self.post, sw)
            y = self.exact_step.input_sum(w, self.pre, self.post, sw)
            for v, saved in kept.items():
                w[v][on] = saved  # the members in a segment keep G0 and D0
            out[exact] = y[exact]
        if on.any():
            if sw[self.rule.switch]:
                e = self.factor.input_sum({}, self.pre, self.post, {}).astype(np.float64)
                self.A[on] += self.a[on]
                self.a[on] = self.keep * self.a[on]
                self.U[on] += self.u[on]
                self.u[on] = self.keep * self.u[on] + self.factor_h * e[on]
            y = self.p + self.A[:, None] * self.q + self.U * self.s[:, None]
            out[on] = y[on].astype(self.dtype)
        return out

    def _start(self, members: np.ndarray, rates: np.ndarray) -> None:
        if not members.any():
            return
        x = rates[members]
        self.x[members] = x
        g, d = (self.weights[v][members] for v in (self.rule.weight, self.rule.filtered))
        p, q, s = segment_start(g, d, x.astype(np.float64), self.learns)
        self.p[members], self.q[members], self.s[members] = p, q, s
        self.u[members] = 0.0
        self.U[members] = 0.0
        self.a[members] = 1.0
        self.A[members] = 0.0
        self.on |= members

    def flush(self, members: np.ndarray | None = None) -> None:
        """End the segments of ``members`` (default: all): write ``g`` and ``delta`` back."""
        members = self.on.copy() if members is None else members
        write = members & (self.A != 0.0)
        g, d = self.weights[self.rule.weight], self.weights[self.rule.filtered]
        for m in np.flatnonzero(write):
            write_back(g[m], d[m], self.x[m], self.a[m], self.A[m], self.u[m], self.U[m])
        self.on &= ~members
