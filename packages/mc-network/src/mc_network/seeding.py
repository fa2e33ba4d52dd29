"""Explicit random streams: one run seed -> named, independent generators.

``SeedSequence(seed).spawn(n)`` children are assigned to fixed names in a fixed order, so a
stream never depends on which other streams were used. The network uses ``weights`` and
``noise``; the experiment protocol uses ``order`` and ``data``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["STREAM_NAMES", "RunStreams", "run_streams"]

STREAM_NAMES = ("weights", "noise", "order", "data")


@dataclass(frozen=True)
class RunStreams:
    """The named random streams of one run."""

    seed: int
    weights: np.random.Generator
    noise: np.random.Generator
    order: np.random.Generator
    data: np.random.Generator


def run_streams(seed: int) -> RunStreams:
    """Create the named streams of a run from its seed (a non-negative integer)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: {seed!r} must be a non-negative integer")
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAM_NAMES))
    gens = {
        name: np.random.Generator(np.random.PCG64(c))
        for name, c in zip(STREAM_NAMES, children, strict=True)
    }
    return RunStreams(seed=int(seed), **gens)
