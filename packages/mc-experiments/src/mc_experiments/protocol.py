"""The training protocol: validation before every epoch, training, final validation, test.

One :class:`Experiment` runs a group of members that share a network description and a
protocol (e.g. the seeds of a sweep) as **one batched simulation**; each member keeps its own
run directory, metrics, recordings and checkpoints. Per epoch ``e``:

1. (``transpose`` feedback) set B to the transposed forward weights;
2. validation ``e``: learning off, teaching off, reshuffled order;
3. training epoch ``e``: learning on, teaching on, reshuffled order;
4. (optional) p2i := forward weights; weights snapshot; metrics; checkpoint.

Then the final validation (number ``n_epochs``) and the test. Every stage draws its order
from the member's ``order`` stream in that sequence (val 0, train 0, val 1, ..., test). With
``randomness: original`` the initial weights and that stream are the original code's (one
legacy ``RandomState`` per member, :mod:`mc_experiments.randomness`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mc_analysis import metrics as M
from mc_experiments.config import Config
from mc_experiments.data import StageData, load_stage_data
from mc_experiments.randomness import original_streams, rng_state, set_rng_state, shuffled_order
from mc_experiments.storage import RunDir
from mc_network import (
    BackendUnavailable,
    FeedbackMode,
    RecordPlan,
    build_network,
    default_backend,
    run_streams,
)

__all__ = ["Experiment", "Member", "NoiseSource", "RunFailed"]

log = logging.getLogger(__name__)
REQUIRED = ("output.v_brev", "teacher.rate")


class RunFailed(RuntimeError):
    """A member failed on its own (e.g. NaN); the others continue."""


#: ``noise(stage, index) -> {pyramidal population: (n_steps, n)} or None``: a noise trace to
#: replay in that stage run (``index``: the epoch, or 0 for the test) instead of drawing it.
NoiseSource = Callable[[str, int], Mapping[str, np.ndarray] | None]


@dataclass
class Member:
    """One run of an experiment group.

    ``order_rng`` makes the presentation orders; ``initial_weights`` (or ``None``: drawn by
    the network from the run seed) are its starting weights. Both default to the config's
    ``randomness`` mode.
    """

    config: Config
    run: RunDir
    data: dict[str, StageData] = field(default_factory=dict)
    order_rng: np.random.Generator | np.random.RandomState | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None
    initial_weights: dict[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.order_rng is None:
            if self.config.randomness == "original":
                self.initial_weights, self.order_rng = original_streams(
                    self.config.network, self.config.seed
                )
            else:
                self.order_rng = run_streams(self.config.seed).order
        if not self.data:
            self.data = load_stage_data(self.config)
        if not self.metrics:
            self.metrics = _empty_metrics(self.config)


def _empty_metrics(cfg: Config) -> dict[str, Any]:
    return {
        "name": cfg.name,
        "seed": cfg.seed,
        "epochs_completed": 0,
        "validation_accuracy": [],
        "validation_rmse": [],
        "validation_mae": [],
        "test_accuracy": None,
        "test_rmse": None,
        "test_confusion": None,
        "angles": {f"fb_{layer}": [] for layer in range(1, cfg.network.n_hidden + 1)},
        "self_prediction": {
            f"layer_{layer}": {"ff_minus_p2i": [], "fb_plus_i2p": []}
            for layer in range(1, cfg.network.n_hidden + 1)
        },
    }


def group_key(cfg: Config) -> str:
    """Members whose configs differ only in ``seed`` (and name) can share a simulation."""
    d = cfg.to_dict()
    d.pop("seed")
    d.pop("name")
    if cfg.dataset.seed is None:
        d["dataset"].pop("seed")
    return repr(d)


class Experiment:
    """Run the protocol for a group of members on one (batched) simulation.

    Parameters
    ----------
    members
        The runs; their configs must agree up to the seed (see :func:`group_key`).
    progress
        ``callable(n_samples_done, total, postfix)`` or ``None``.
    noise
        A :data:`NoiseSource` replaying a given noise trace in the stage runs it returns one
        for (every member gets the same trace; the backend must support noise replay, e.g.
        ``reference``), or ``None`` to draw the noise.
    """

    def __init__(
        self,
        members: Sequence[Member],
        progress: Callable[[int, int, dict], None] | None = None,
        noise: NoiseSource | None = None,
    ) -> None:
        if not members:
            raise ValueError("an experiment needs at least one member")
        keys = {group_key(m.config) for m in members}
        if len(keys) != 1:
            raise ValueError("members of one experiment must differ only in their seed")
        self.members = list(members)
        self.cfg = members[0].config
        self.spec = self.cfg.network
        self.backend = self.cfg.backend.name or default_backend()
        self.progress = progress
        self.noise = noise
        self.sim = self._build([m.config.seed for m in members])
        sps = self.spec.steps_per_sample
        self.every = sps // self.cfg.recording.records_per_sample
        self._done = 0
        self._total = 0

    def _build(self, seeds: list[int]):
        bc = self.cfg.backend
        weights = None
        if self.members[0].initial_weights is not None:
            given = [m.initial_weights for m in self.members]
            weights = {k: np.stack([w[k] for w in given]) for k in given[0]}
        try:
            return build_network(
                self.spec, seeds=seeds, backend=self.backend, weights=weights, **dict(bc.options)
            )
        except BackendUnavailable as err:
            if not bc.fallback:
                raise
            log.warning("%s; falling back to the %r backend", err, bc.fallback)
            self.backend = bc.fallback
            return build_network(self.spec, seeds=seeds, backend=bc.fallback, weights=weights)

    # ------------------------------------------------------------------ helpers
    def _stack(self, stage: str, what: str) -> np.ndarray:
        """One member's ``(N, n)`` array if all members share it, else ``(B, N, n)``."""
        arrays = [getattr(m.data[stage], what) for m in self.members]
        if all(a is arrays[0] for a in arrays):
            return arrays[0]
        return np.stack(arrays)

    def _order(self, stage: str) -> np.ndarray:
        data = self.members[0].data[stage]
        n, shown = data.n_samples, data.shown
        if not self.cfg.protocol.shuffle:
            return np.broadcast_to(np.arange(shown), (len(self.members), shown))
        return np.stack([shuffled_order(m.order_rng, n, shown) for m in self.members])

    def _stage_arrays(self, stage: str, order: np.ndarray) -> tuple[Any, Any, np.ndarray]:
        """Inputs, teacher and order of a stage run; a subset of the samples is gathered."""
        x, t = self._stack(stage, "inputs"), self._stack(stage, "teacher")
        if order.shape[1] == self.members[0].data[stage].n_samples:
            return x, t, order
        b = np.arange(order.shape[0])[:, None]
        pick = [a[order] if a.ndim == 2 else a[b, order] for a in (x, t)]
        return pick[0], pick[1], np.broadcast_to(np.arange(order.shape[1]), order.shape)

    def _plan(self, stage: str) -> RecordPlan:
        rec = self.cfg.recording
        wanted = {"validation": rec.validation, "test": rec.test, "training": rec.training}[stage]
        if stage != "training":
            extra = ("input.rate",) if self.cfg.dataset.name == "yinyang" else ()
            wanted = tuple(dict.fromkeys((*REQUIRED, *extra, *wanted)))
        return RecordPlan(tuple(wanted), every=self.every)

    def _written(self, stage: str, index: int, n_index: int) -> int:
        """Every how many entries of ``stage`` are written (``entry_every``), 0 if not this one.

        Validation ``e`` is written when ``e % recording.validation_every == 0`` and the final
        one always; every other stage writes every entry.
        """
        k = self.cfg.recording.validation_every if stage == "validation" else 1
        return k if index % k == 0 or index == n_index - 1 else 0

    def _run_stage(self, stage: str, index: int, n_index: int) -> tuple[dict, np.ndarray]:
        learning = stage == "training"
        order = self._order(stage)
        plan = self._plan(stage)
        entry_every = self._written(stage, index, n_index)
        if not entry_every:
            # the records are still needed in memory (metrics); none is written
            plan = RecordPlan(tuple(v for v in plan.variables if v in REQUIRED), every=self.every)

        def tick(n_done: int, base=self._done) -> None:
            if self.progress:
                self.progress(base + n_done, self._total, self._postfix())

        inputs, teacher, shown_order = self._stage_arrays(stage, order)
        out = self.sim.run_stage(
            inputs,
            teacher,
            shown_order,
            learning=learning,
            teaching=learning,
            record=plan,
            progress=tick,
            **({} if self.noise is None else {"noise": self.noise(stage, index)}),
        )
        self._done += order.shape[1]
        attrs = {
            "record_every_steps": self.every,
            "dt": self.spec.dt,
            "steps_per_sample": self.spec.steps_per_sample,
            "records_per_sample": self.cfg.recording.records_per_sample,
            "dims": ["entry", "record", "neuron_or_pre", "post"],
            "entry_every": entry_every,
        }
        for b, m in enumerate(self.members):
            if m.failed or not entry_every:
                continue
            for var, arr in out.items():
                m.run.write_record(stage, var, index, n_index, arr[b], attrs)
        self._check_finite(stage, index)
        return out, order

    def _check_finite(self, stage: str, index: int) -> None:
        """Fail every member whose state holds NaN or inf after a stage, naming the variable."""
        state = self.sim.get_state()
        for b, m in enumerate(self.members):
            if m.failed:
                continue
            bad = next(
                (
                    f"{owner}.{var}"
                    for group in ("neurons", "synapses")
                    for owner, variables in state[group].items()
                    for var, arr in variables.items()
                    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr[b]))
                ),
                None,
            )
            if bad is not None:
                self._fail(m, f"non-finite {bad} (NaN or inf) after {stage} {index}")

    def _fail(self, m: Member, why: str) -> None:
        m.failed = why
        log.error("%s: failed: %s", m.run.path, why)
        m.run.set_status("failed", error=why, epochs_completed=m.metrics["epochs_completed"])

    def _postfix(self) -> dict:
        accs = [
            m.metrics["validation_accuracy"][-1]
            for m in self.members
            if m.metrics["validation_accuracy"]
        ]
        return {"val_acc": f"{np.mean(accs):.1f}%"} if accs else {}

    def _evaluate(self, stage: str, out: dict, order: np.ndarray) -> None:
        rps = self.cfg.recording.records_per_sample
        for b, m in enumerate(self.members):
            if m.failed:
                continue
            v, t = out["output.v_brev"][b], out["teacher.rate"][b]
            acc = M.accuracy(v, t, rps)
            rmse, mae = M.rmse(v, t), M.mae(v, t)
            n_cls = self.spec.dims[-1]
            conf = M.per_class_counts(M.predictions(v, rps), M.labels_from_teacher(t, rps), n_cls)
            if stage == "validation":
                m.metrics["validation_accuracy"].append(acc)
                m.metrics["validation_rmse"].append(rmse)
                m.metrics["validation_mae"].append(mae)
                m.metrics["validation_confusion"] = np.asarray(conf).tolist()
            else:
                m.metrics.update(
                    test_accuracy=acc, test_rmse=rmse, test_confusion=np.asarray(conf).tolist()
                )

    def _weights_epoch(self, index: int) -> None:
        w = self.sim.get_weights()
        n_idx = self.cfg.protocol.n_epochs + 1
        for b, m in enumerate(self.members):
            if m.failed:
                continue
            for layer in range(1, self.spec.n_hidden + 1):
                ff, fb = w[f"ff_{layer + 1}"][b], w[f"fb_{layer}"][b]
                m.metrics["angles"][f"fb_{layer}"].append(float(M.alignment_angle(ff, fb)))
                sp = M.self_prediction_errors(ff, w[f"p2i_{layer}"][b], fb, w[f"i2p_{layer}"][b])
                entry = m.metrics["self_prediction"][f"layer_{layer}"]
                entry["ff_minus_p2i"].append(float(sp["ff_p2i_mean_abs"]))
                entry["fb_plus_i2p"].append(float(sp["fb_i2p_mean_abs"]))
            k = self.cfg.recording.weights_every
            if self.cfg.recording.weights_per_epoch and (index % k == 0 or index == n_idx - 1):
                for name, arr in w.items():
                    m.run.write_record(
                        "weights",
                        f"{name}.g",
                        index,
                        n_idx,
                        arr[b],
                        {"dims": ["epoch", "pre", "post"], "entry_every": k},
                    )

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, epoch: int) -> None:
        """Save each member's slice of the state, its order stream and metrics."""
        state = self.sim.get_state()
        for b, m in enumerate(self.members):
            if m.failed:
                continue
            arrays = {}
            for group in ("neurons", "synapses"):
                for owner, variables in state[group].items():
                    for var, arr in variables.items():
                        arrays[f"{group}/{owner}/{var}"] = arr[b : b + 1]
            meta = {
                "noise_rng": state["noise_rng"][b],
                "order_rng": rng_state(m.order_rng),
                "metrics": m.metrics,
                "backend": self.backend,
            }
            m.run.save_checkpoint(epoch, arrays, meta)

    def restore(self, checkpoints: Sequence[tuple[dict, dict]]) -> int:
        """Load one checkpoint per member; returns the epoch to continue from."""
        epochs = {meta["epoch"] for _, meta in checkpoints}
        if len(epochs) != 1:
            raise ValueError(f"members' checkpoints are at different epochs: {sorted(epochs)}")
        state: dict[str, Any] = {"neurons": {}, "synapses": {}, "noise_rng": []}
        for b, (arrays, meta) in enumerate(checkpoints):
            for key, arr in arrays.items():
                group, owner, var = key.split("/")
                slot = state[group].setdefault(owner, {}).setdefault(var, [])
                slot.append(arr)
            state["noise_rng"].append(meta["noise_rng"])
            m = self.members[b]
            set_rng_state(m.order_rng, meta["order_rng"])
            m.metrics = meta["metrics"]
        for group in ("neurons", "synapses"):
            for variables in state[group].values():
                for var, parts in variables.items():
                    variables[var] = np.concatenate(parts)
        self.sim.set_state(state)
        return epochs.pop()

    # ------------------------------------------------------------------ the protocol
    def run(self, start_epoch: int = 0) -> None:
        """Run (or continue from ``start_epoch``) to the end; updates every run directory."""
        pr = self.cfg.protocol
        n_ep = pr.n_epochs
        n_val = self.members[0].data["validation"].shown
        n_tr = self.members[0].data["training"].shown
        n_te = self.members[0].data["test"].shown
        self._total = (n_ep - start_epoch) * (n_val + n_tr) + n_val + n_te
        for m in self.members:
            m.run.set_status("running", epochs_completed=start_epoch, backend=self.backend)
        try:
            if start_epoch == 0:
                self._weights_epoch(0)
            for epoch in range(start_epoch, n_ep):
                self._epoch(epoch)
            if self.spec.feedback is FeedbackMode.TRANSPOSE:
                self.sim.align_feedback_to_transpose()
            out, order = self._run_stage("validation", n_ep, n_ep + 1)
            self._evaluate("validation", out, order)
            out, order = self._run_stage("test", 0, 1)
            self._evaluate("test", out, order)
        except KeyboardInterrupt:
            for m in self.members:
                if not m.failed:
                    m.run.set_status("interrupted", epochs_completed=m.metrics["epochs_completed"])
            log.warning("interrupted: resume with `mc-run resume RUN_DIR`")
            raise
        for m in self.members:
            if m.failed:
                continue
            m.run.write_metrics(m.metrics)
            m.run.prune_checkpoints(keep=1)  # a completed run keeps its final checkpoint
            m.run.set_status("completed", epochs_completed=n_ep, backend=self.backend)
            log.info("%s: test accuracy %.2f %%", m.run.path.name, m.metrics["test_accuracy"])

    def _epoch(self, epoch: int) -> None:
        pr = self.cfg.protocol
        n_ep = pr.n_epochs
        if self.spec.feedback is FeedbackMode.TRANSPOSE:
            self.sim.align_feedback_to_transpose()
        out, order = self._run_stage("validation", epoch, n_ep + 1)
        self._evaluate("validation", out, order)
        self._run_stage("training", epoch, n_ep)
        if pr.reinforce_self_prediction:
            self.sim.reinforce_self_prediction()
        self._weights_epoch(epoch + 1)
        for m in self.members:
            if m.failed:
                continue
            m.metrics["epochs_completed"] = epoch + 1
            m.run.write_metrics(m.metrics)
        accs = [m.metrics["validation_accuracy"][-1] for m in self.members if not m.failed]
        log.info(
            "epoch %d/%d: validation accuracy before it %s",
            epoch + 1,
            n_ep,
            ", ".join(f"{a:.1f}%" for a in accs),
        )
        if (epoch + 1) % pr.checkpoint_every == 0 or epoch + 1 == n_ep:
            self.checkpoint(epoch + 1)
