"""Noise replay: the draws that make the apical OU noise follow a recorded trace exactly.

The pyramidal neurons' apical noise is an OU process driven by one standard-normal draw per
step and neuron (the ``noise`` variable of ``mc_models.neurons.pyramidal``, stepped here by
the model's own NumPy rendering)::

    noise += (1 / tau_noise) * (scale_noise * xi - dt * noise)

The original code never seeds GeNN's RNG, so its draws cannot be reproduced; but a run that
recorded ``noise`` at every step can be replayed: :func:`noise_draws` finds, for every step
and neuron, a float32 ``xi`` for which the model's own update gives the recorded value bit for
bit, and ``Simulation.run_stage(..., noise={population: xi})`` (reference backend) feeds them
in instead of drawing. The update is monotone in ``xi``, so the search is a bisection over the
float32 numbers; a recorded value that no float32 draw produces (a trace made by other
arithmetic) is reported, never approximated silently.
"""

from __future__ import annotations

import numpy as np

from mc_models import get_activation
from mc_models.render.numpy import neuron_step
from mc_network.program import lower
from mc_network.spec import NetworkSpec
from mc_network.topology import build_topology

__all__ = ["noise_draws"]

_XI_LIMIT = 64.0  # |xi| searched; standard-normal draws beyond 64 do not occur


def _ordered(x: np.ndarray) -> np.ndarray:
    """float32 -> int64, monotone (adjacent floats differ by 1; -0.0 and 0.0 both map to 0)."""
    bits = np.asarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.where(bits >= 0, bits, -(bits & 0x7FFFFFFF))


def _from_ordered(o: np.ndarray) -> np.ndarray:
    bits = np.where(o >= 0, o, (-o) | 0x80000000).astype(np.uint32)
    return bits.view(np.float32)


def noise_draws(
    spec: NetworkSpec,
    population: str,
    trace: np.ndarray,
    initial: np.ndarray | None = None,
) -> np.ndarray:
    """The standard-normal draws that make a pyramidal population's noise follow ``trace``.

    Parameters
    ----------
    spec
        The network (float32; its pyramidal noise parameters are those of the trace).
    population
        A hidden pyramidal population, e.g. ``"pyramidal_1"``.
    trace
        ``(n_steps, n)``: the noise state after each step (a recording of ``noise`` at every
        step), in the order the steps ran.
    initial
        ``(n,)``: the noise state before the first step (default zeros: the start of a run).

    Returns
    -------
    numpy.ndarray
        ``(n_steps, n)`` float32 draws ``xi``; given to ``run_stage(noise=...)`` they
        reproduce ``trace`` bit for bit.

    Raises
    ------
    ValueError
        If the network is not float32 or noisy, the shapes do not fit, or a recorded value
        cannot be produced by any float32 draw (naming the first such step and neuron).
    """
    if np.dtype(spec.dtype) != np.float32:
        raise ValueError("noise_draws: the network must be float32 (as the original)")
    if not spec.noisy:
        raise ValueError("noise_draws: the network has no apical noise (sigma_noise = 0)")
    program = lower(spec, build_topology(spec))
    ops = {op.population: op for op in program.neurons if op.draws}
    if population not in ops:
        raise ValueError(
            f"noise_draws: {population!r} is not a hidden pyramidal population (those that "
            f"draw noise: {sorted(ops)})"
        )
    op = ops[population]
    trace = np.asarray(trace, dtype=np.float32)
    if trace.ndim != 2 or trace.shape[1] != op.size:
        raise ValueError(
            f"noise_draws: trace of {population!r} must be (n_steps, {op.size}), got {trace.shape}"
        )
    start = np.zeros(op.size, np.float32) if initial is None else np.asarray(initial, np.float32)
    if start.shape != (op.size,):
        raise ValueError(f"noise_draws: initial must be ({op.size},), got {start.shape}")
    prev = np.concatenate([start[None], trace[:-1]])
    update = neuron_step(op.model, get_activation(spec.activation), op.resolved)
    state = op.model.initial_state(trace.shape, np.float32, op.resolved)
    zero = {name: np.zeros(trace.shape, np.float32) for name in op.model.inputs}

    def step(xi: np.ndarray) -> np.ndarray:
        """The noise after one step of the model from ``prev`` with draws ``xi``."""
        state["noise"][...] = prev
        update(state, zero, {}, [xi])
        return state["noise"].copy()

    target = _ordered(trace)
    lo = np.full(trace.shape, _ordered(np.float32(-_XI_LIMIT)), dtype=np.int64)
    hi = np.full(trace.shape, _ordered(np.float32(_XI_LIMIT)), dtype=np.int64)
    while np.any(lo < hi):  # smallest xi whose step reaches the recorded value
        mid = (lo + hi) // 2
        below = _ordered(step(_from_ordered(mid))) < target
        lo, hi = np.where(below, mid + 1, lo), np.where(below, hi, mid)
    xi = _from_ordered(lo)
    bad = _ordered(step(xi)) != target
    if np.any(bad):
        k, j = (int(i[0]) for i in np.nonzero(bad))
        raise ValueError(
            f"noise_draws: {population}: the recorded noise at step {k}, neuron {j} "
            f"({trace[k, j]!r} after {prev[k, j]!r}) is not reached by any float32 draw; was "
            f"it made with another sigma_noise/tau_noise/dt or other arithmetic? "
            f"({int(bad.sum())} such values)"
        )
    return xi
