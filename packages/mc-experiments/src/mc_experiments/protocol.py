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

After every stage each member's state is checked: a NaN or inf in any population or
projection fails that member (``status.json`` names the stage, every non-finite variable and
the first step where the recordings show it); a variable beyond :data:`DIVERGENCE` (finite,
but far outside anything the model produces when it learns) is logged as a warning once.
``status.json`` is updated after every epoch, and any error other than Ctrl-C marks the
members ``failed`` with the error and the step before it is raised again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mc_analysis import metrics as M
from mc_analysis import runformat as F
from mc_experiments.config import Config
from mc_experiments.data import StageData, load_stage_data
from mc_experiments.progress import PROGRESS_LOGGER
from mc_experiments.randomness import original_streams, rng_state, set_rng_state, shuffled_order
from mc_experiments.storage import RunDir
from mc_network import (
    BackendUnavailable,
    FeedbackMode,
    RecordPlan,
    available_backends,
    build_network,
    default_backend,
    run_streams,
)

__all__ = [
    "DIVERGENCE",
    "Experiment",
    "Interrupted",
    "Member",
    "NoiseSource",
    "RunFailed",
    "backend_problem",
]

log = logging.getLogger(__name__)
#: Per-epoch results: in every run.log, on mc-run's console with -v only (the bar shows them).
progress_log = logging.getLogger(PROGRESS_LOGGER)
REQUIRED = F.REQUIRED_RECORDS
#: Absolute value beyond which a state variable counts as diverging (warned about once per
#: run): rates lie in [0, 1] and a learning network keeps voltages and weights of order 1-10.
DIVERGENCE = 1e3


class RunFailed(RuntimeError):
    """A member failed on its own (e.g. NaN); the others continue."""


#: ``noise(stage, index) -> {pyramidal population: (n_steps, n)} or None``: a noise trace to
#: replay in that stage run (``index``: the epoch, or 0 for the test) instead of drawing it.
NoiseSource = Callable[[str, int], Mapping[str, np.ndarray] | None]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during a run; ``hint`` says how to continue (with the paths)."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


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
    metrics: F.Metrics | None = None
    failed: str | None = None
    initial_weights: dict[str, np.ndarray] | None = None
    warning: str | None = None

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
        if self.metrics is None:
            cfg = self.config
            self.metrics = F.Metrics.empty(cfg.name, cfg.seed, cfg.network.n_hidden)


def backend_problem(cfg: Config) -> str | None:
    """Why ``cfg`` cannot run on this machine (its backend and its fallback unavailable).

    ``None`` when the backend, or its fallback, is available (GeNN may still find at build
    time that its CUDA device is unusable; then the fallback is used, with a warning).
    """
    bc = cfg.backend
    name = bc.name or default_backend()
    available = available_backends()
    why = available.get(name, f"{name!r} is not a registered backend")
    if why is None or (bc.fallback and available.get(bc.fallback, "unknown") is None):
        return None
    return f"backend {name!r} is not available: {why}" + (
        f" (and its fallback {bc.fallback!r}: {available.get(bc.fallback)})" if bc.fallback else ""
    )


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
        The runs; their configs must agree up to the seed (see ``group_key``).
    progress
        ``callable(n_samples_done, total, postfix)`` or ``None``.
    noise
        A ``NoiseSource`` replaying a given noise trace in the stage runs it returns one
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
        self.step = "start"  # the protocol step being run (named in failures)
        self._shown_at = "start"  # the same, as the progress bar shows it

    def _build(self, seeds: list[int]):
        bc = self.cfg.backend
        weights = None
        if self.members[0].initial_weights is not None:
            given = [m.initial_weights for m in self.members]
            weights = {k: np.stack([w[k] for w in given]) for k in given[0]}
        why = available_backends().get(self.backend, "not registered")
        if why is not None:  # checked first: importing the backend's module may need it
            if not bc.fallback:
                raise BackendUnavailable(f"backend {self.backend!r} is not available: {why}")
            log.warning(
                "backend %r is not available: %s; falling back to the %r backend",
                self.backend,
                why,
                bc.fallback,
            )
            self.backend = bc.fallback
            return build_network(self.spec, seeds=seeds, backend=bc.fallback, weights=weights)
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

        self.step = _step_name(stage, index)
        self._shown_at = _bar_label(stage, index, self.cfg.protocol.n_epochs)

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
        rows = None  # every record
        n_samples, cap = order.shape[1], self.cfg.recording.samples_written
        if stage != "training" and cap is not None and cap < n_samples:
            rows = cap * self.cfg.recording.records_per_sample
            attrs.update(samples_written=cap, samples_total=n_samples)
        for b, m in enumerate(self.members):
            if m.failed or not entry_every:
                continue
            for var, arr in out.items():
                m.run.write_record(stage, var, index, n_index, arr[b, :rows], attrs)
        self._check_state(out)
        return out, order

    def _check_state(self, out: Mapping[str, np.ndarray]) -> None:
        """After a stage: fail members with NaN/inf anywhere, warn once about divergence.

        Every population and projection variable of the state is checked. A failure names
        the step, every non-finite ``owner.variable`` and, where a recorded variable shows
        it, the first record that is not finite (its time step within the stage).
        """
        state = self.sim.get_state()
        for b, m in enumerate(self.members):
            if m.failed:
                continue
            bad, large = [], []
            for group in ("neurons", "synapses"):
                for owner, variables in state[group].items():
                    for var, arr in variables.items():
                        if arr.dtype.kind != "f":
                            continue
                        x = arr[b]
                        if not np.all(np.isfinite(x)):
                            bad.append(f"{owner}.{var}")
                        elif x.size and np.max(np.abs(x)) > DIVERGENCE:
                            large.append((f"{owner}.{var}", float(np.max(np.abs(x)))))
            if bad:
                why = f"non-finite values (NaN or inf) after {self.step} in {_by_owner(bad)}"
                self._fail(m, why + self._first_non_finite(out, b))
                continue
            if large and m.warning is None:
                large.sort(key=lambda nv: -nv[1])
                top = ", ".join(f"|{n}| = {v:.3g}" for n, v in large[:3])
                more = f" and {len(large) - 3} more variable(s)" if len(large) > 3 else ""
                m.warning = (
                    f"diverging after {self.step}: {top}{more} beyond {DIVERGENCE:g} (learning "
                    "rates too large?)"
                )
                log.warning("%s: %s", m.run.path, m.warning)

    def _first_non_finite(self, out: Mapping[str, np.ndarray], b: int) -> str:
        """``"; first seen in <var> at step k of the stage (sample s)"`` from the records."""
        first = None
        for var, arr in out.items():
            if arr.dtype.kind != "f":
                continue
            rows = ~np.isfinite(arr[b].reshape(arr.shape[1], -1)).all(axis=1)
            if rows.any():
                r = int(np.argmax(rows))
                if first is None or r < first[0]:
                    first = (r, var)
        if first is None:
            return ""
        r, var = first
        rps = self.cfg.recording.records_per_sample
        return f"; first seen in {var} at step {r * self.every} of the stage (sample {r // rps})"

    def _fail(self, m: Member, why: str) -> None:
        m.failed = why
        log.error("%s: failed: %s", m.run.path, why)
        self._status(m, F.RunState.FAILED, error=why, step=self.step)

    def _status(self, m: Member, state: F.RunState, **extra: Any) -> None:
        """Write a member's ``status.json`` (with its divergence warning, if any)."""
        extra.setdefault("epochs_completed", m.metrics.epochs_completed)
        if m.warning:
            extra["warning"] = m.warning
        m.run.set_status(state, **extra)

    def _postfix(self) -> dict:
        """What the bar shows beside the samples: the stage and the last validation accuracy."""
        accs = [
            m.metrics.validation_accuracy[-1] for m in self.members if m.metrics.validation_accuracy
        ]
        shown = {"at": self._shown_at}
        if accs:
            shown["val_acc"] = f"{np.mean(accs):.1f}%"
        return shown

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
                m.metrics.validation_accuracy.append(acc)
                m.metrics.validation_rmse.append(rmse)
                m.metrics.validation_mae.append(mae)
                m.metrics.validation_confusion = np.asarray(conf).tolist()
            else:
                m.metrics.test_accuracy = acc
                m.metrics.test_rmse = rmse
                m.metrics.test_confusion = np.asarray(conf).tolist()

    def _weights_epoch(self, index: int) -> None:
        self.step = f"weight snapshot {index}"
        w = self.sim.get_weights()
        n_idx = self.cfg.protocol.n_epochs + 1
        for b, m in enumerate(self.members):
            if m.failed:
                continue
            for layer in range(1, self.spec.n_hidden + 1):
                ff, fb = w[f"ff_{layer + 1}"][b], w[f"fb_{layer}"][b]
                m.metrics.angles[f"fb_{layer}"].append(float(M.alignment_angle(ff, fb)))
                sp = M.self_prediction_errors(ff, w[f"p2i_{layer}"][b], fb, w[f"i2p_{layer}"][b])
                entry = m.metrics.self_prediction[f"layer_{layer}"]
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
        self.step = f"checkpoint {epoch}"
        state = self.sim.get_state()
        for b, m in enumerate(self.members):
            if m.failed:
                continue
            arrays = {}
            for group in ("neurons", "synapses"):
                for owner, variables in state[group].items():
                    for var, arr in variables.items():
                        arrays[F.state_key(group, owner, var)] = arr[b : b + 1]
            meta = {
                "noise_rng": state["noise_rng"][b],
                "order_rng": rng_state(m.order_rng),
                "metrics": m.metrics.to_dict(),
                "backend": self.backend,
                "config": m.config.to_dict(),  # what wrote it (a resume checks it)
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
            m.metrics = F.Metrics.from_dict(meta["metrics"], f"{m.run.checkpoint_dir} (metrics)")
        for group in ("neurons", "synapses"):
            for variables in state[group].values():
                for var, parts in variables.items():
                    variables[var] = np.concatenate(parts)
        self.sim.set_state(state)
        return epochs.pop()

    # ------------------------------------------------------------------ the protocol
    def run(self, start_epoch: int = 0) -> None:
        """Run (or continue from ``start_epoch``) to the end; updates every run directory.

        Raises
        ------
        Interrupted
            On Ctrl-C: every member is ``interrupted`` and can be resumed.
        Exception
            Anything else: every member still running is ``failed`` with the error and step.
        """
        pr = self.cfg.protocol
        n_ep = pr.n_epochs
        n_val = self.members[0].data["validation"].shown
        n_tr = self.members[0].data["training"].shown
        n_te = self.members[0].data["test"].shown
        self._total = (n_ep - start_epoch) * (n_val + n_tr) + n_val + n_te
        for m in self.members:
            self._status(m, F.RunState.RUNNING, epochs_completed=start_epoch, backend=self.backend)
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
            self.step = "completion"
            for m in self.members:
                if m.failed:
                    continue
                m.run.write_metrics(m.metrics)
                m.run.prune_checkpoints(keep=1)  # a completed run keeps its final checkpoint
                self._status(m, F.RunState.COMPLETED, epochs_completed=n_ep, backend=self.backend)
                progress_log.info(
                    "%s: test accuracy %.2f %%", m.run.path.name, m.metrics.test_accuracy
                )
        except KeyboardInterrupt:
            hints = []
            for m in self.members:
                if not m.failed:
                    done = m.metrics.epochs_completed
                    self._status(m, F.RunState.INTERRUPTED, step=self.step)
                    log.warning(
                        "%s: interrupted during %s after %d epoch(s); resume with "
                        "`mc-run resume %s`",
                        m.run.path,
                        self.step,
                        done,
                        m.run.path,
                    )
                    hints.append(f"mc-run resume {m.run.path}")
            raise Interrupted("; ".join(hints) or "nothing to resume") from None
        except Exception as err:
            why = f"{type(err).__name__}: {err}"
            for m in self.members:
                if not m.failed:
                    try:
                        self._fail(m, why)
                    except OSError:  # e.g. the disk is full: the error is raised below
                        log.debug("could not record the failure in %s", m.run.path)
            raise

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
            m.metrics.epochs_completed = epoch + 1
            m.run.write_metrics(m.metrics)
            self._status(m, F.RunState.RUNNING, backend=self.backend)
        accs = [m.metrics.validation_accuracy[-1] for m in self.members if not m.failed]
        progress_log.info(
            "epoch %d/%d: validation accuracy before it %s",
            epoch + 1,
            n_ep,
            ", ".join(f"{a:.1f}%" for a in accs),
        )
        if (epoch + 1) % pr.checkpoint_every == 0 or epoch + 1 == n_ep:
            self.checkpoint(epoch + 1)


def _step_name(stage: str, index: int) -> str:
    """``"validation 3"``, ``"training epoch 3"``, ``"test"``: how failures name a stage."""
    return {"training": f"training epoch {index}", "test": "test"}.get(stage, f"{stage} {index}")


def _bar_label(stage: str, index: int, n_epochs: int) -> str:
    """What the progress bar says is running: ``epoch 3/60 training``, ``final validation``."""
    if stage == "test":
        return "test"
    if stage == "validation" and index == n_epochs:
        return "final validation"
    return f"epoch {index + 1}/{n_epochs} {stage}"


def _by_owner(names: Sequence[str], most: int = 4) -> str:
    """``["a.x", "a.y", "b.g"]`` -> ``"a.{x, y}, b.{g}"`` (at most ``most`` names per owner)."""
    owners: dict[str, list[str]] = {}
    for name in names:
        owner, var = name.split(".", 1)
        owners.setdefault(owner, []).append(var)
    parts = []
    for owner, variables in owners.items():
        more = f", +{len(variables) - most}" if len(variables) > most else ""
        parts.append(f"{owner}.{{{', '.join(variables[:most])}{more}}}")
    return ", ".join(parts)
