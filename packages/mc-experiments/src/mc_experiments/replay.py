"""Replay the recorded apical noise of a run of the original code.

The original never seeds GeNN's RNG, so a PAL run with noise cannot be reproduced by seeding.
If it recorded the pyramidal ``noise`` at every step (``recs_per_sample`` equal to the steps
per sample, so ``idx_rec = 1``), the toolkit can replay it: :func:`original_noise_source`
recovers, stage run by stage run, the standard-normal draws that give exactly the recorded
noise (:func:`mc_network.noise_draws`) and hands them to the reference backend instead of
drawing. With ``randomness: original`` the replayed run then follows the original step for
step::

    mc-run train ORIGINAL_RUN/config.yaml --replay-noise ORIGINAL_RUN
    mc-analyze compare runs/<new run> ORIGINAL_RUN
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mc_analysis.original import read_original_run
from mc_experiments.protocol import NoiseSource
from mc_network import NetworkSpec, noise_draws

__all__ = ["original_noise_source", "stage_sequence"]

_H5_STAGE = {"validation": "validation", "training": "training", "test": "testing"}


def stage_sequence(n_epochs: int) -> list[tuple[str, int]]:
    """The stage runs of a run in the order they run: ``(stage, index)`` pairs.

    Validation before each training epoch, the final validation (index ``n_epochs``), then
    the test (index 0).
    """
    seq = [(s, e) for e in range(n_epochs) for s in ("validation", "training")]
    return [*seq, ("validation", n_epochs), ("test", 0)]


def original_noise_source(run_dir: str | Path, spec: NetworkSpec) -> NoiseSource:
    """A noise source replaying an original run's recorded noise (for ``Experiment``).

    Parameters
    ----------
    run_dir
        A run directory of the original code whose ``pyramidal`` ``noise`` was recorded at
        every step in every stage of every hidden layer.
    spec
        The network being run (its noise parameters must be the original's).

    Returns
    -------
    NoiseSource
        ``(stage, index) -> {"pyramidal_l": (n_steps, n)}``; each stage run's draws are
        recovered when it is asked for, starting from the noise the previous stage run ended
        with (the noise is never reset).

    Raises
    ------
    ValueError
        If the run did not record the noise at every step, or lacks a layer or stage.
    """
    orun = read_original_run(run_dir)
    bk = orun.bookkeeping
    where = orun.h5_path
    if bk.idx_rec != 1:
        raise ValueError(
            f"{where}: the noise was recorded every {bk.idx_rec} steps; replay needs every step "
            f"(sim_config.recs_per_sample = {bk.idx_sample})"
        )
    rows = {"validation": bk.idx_valid, "training": bk.idx_train, "test": bk.idx_test}
    layers = range(1, spec.n_hidden + 1)
    for stage in _H5_STAGE.values():
        for layer in layers:
            orun.shape(stage, layer, "pyramidal", "noise")  # KeyError listing what exists
    sequence = stage_sequence(bk.n_epochs)

    def trace(stage: str, index: int, layer: int) -> np.ndarray:
        r = rows[stage]
        rec = slice(index * r, (index + 1) * r)
        data = orun.dataset(_H5_STAGE[stage], layer, "pyramidal", "noise", rows=rec)
        if data.shape[0] != r:
            raise ValueError(
                f"{where}: {stage} {index}: {data.shape[0]} noise records of {r} (the run has "
                f"{bk.n_epochs} epochs; does the config being run have as many?)"
            )
        return data

    def source(stage: str, index: int) -> Mapping[str, np.ndarray]:
        try:
            pos = sequence.index((stage, index))
        except ValueError:
            raise ValueError(f"{where}: the original run has no {stage} run {index}") from None
        out = {}
        for layer in layers:
            start = None
            if pos > 0:  # the last noise of the previous stage run
                prev, i = sequence[pos - 1]
                end = (i + 1) * rows[prev]
                rec = slice(end - 1, end)
                start = orun.dataset(_H5_STAGE[prev], layer, "pyramidal", "noise", rows=rec)[0]
            name = f"pyramidal_{layer}"
            out[name] = noise_draws(spec, name, trace(stage, index, layer), start)
        return out

    return source
