"""The GeNN backend's sample-factorised projections (``input_mode: fast``).

The step program's algorithm (:mod:`mc_network.program`) lowered onto GeNN groups, per
:class:`~mc_network.program.FactorisedOp` of the program:

* the projection's own group runs its per-synapse code inside ``if (mc_segment < 0.5)``,
  ``mc_segment`` a dynamic parameter: while a segment runs GeNN skips its synapses (the
  weights stay at ``G0``, ``D0``);
* a population ``<projection>_segment`` of ``n_post`` neurons without dynamics holds the
  segment (``p, q, u, U`` and the scalars ``a, A, s`` per neuron, in double) and the
  projection's output ``out``; a one-to-one group ``<projection>_segment_out`` adds ``out``
  to the projection's target input while a segment runs, right after the projection's own
  group;
* two custom updates step the segment before each of its steps: ``<projection>_learn``
  (the rule's switch on: ``e`` from the postsynaptic neurons by the rule's own factor code,
  ``A += a``, ``a *= 1 - h``, ``U += u``, ``u = (1 - h) u + h e``, then the output) and
  ``<projection>_hold`` (the output ``p + A q + U s`` only);
* the segment's start (``p = G0^T x``, ``q = D0^T x``, ``s = x.x``) and its write-back run
  on the host with the reference backend's NumPy code (float64, ascending presynaptic
  order), once per segment; before every step the host compares the presynaptic variables
  the rule reads with the segment's ``x``, as the program says.

Every member of a GeNN batch shares the segments (a segment runs while *every* member holds
its sample). On the single-threaded CPU the members run one at a time, so each member's
segments are the reference backend's and the results are its results bit for bit; on CUDA
a member that shows one sample twice in a row starts a new segment with the others (the
same algorithm, cut where the others are: float round-off only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mc_models.render.genn import expression
from mc_network.backends._factorised import segment_start, write_back
from mc_network.program import FactorisedOp

__all__ = ["GATE", "SegmentGroups", "Segments", "add_segment_groups", "describe", "gate"]

GATE = "mc_segment"
"""The dynamic parameter that says a segment runs (1) or the projection runs exactly (0)."""
_DOUBLES = ("p", "q", "u", "U", "a", "A", "s")


def gate(kw: dict[str, Any]) -> dict[str, Any]:
    """A fast projection's weight update keyword arguments: its code skipped in a segment."""
    body = "".join("    " + ln + "\n" for ln in kw["synapse_dynamics_code"].splitlines())
    return {
        **kw,
        "params": [*kw["params"], GATE],
        "synapse_dynamics_code": f"if ({GATE} < 0.5) {{\n{body}}}\n",
    }


def _double(v: float) -> str:
    """A double literal (GeNN reads an unsuffixed literal in the model's precision)."""
    text = repr(float(v))
    return text + ("" if "." in text or "e" in text else ".0") + "d"


def _codes(op: FactorisedOp) -> tuple[str, str]:
    """The custom updates' code: ``(learn, hold)``."""
    rule = op.rule
    step = float(np.float64(op.resolved.values[rule.filter_param]))
    keep = 1.0 - step
    factor = rule.factor
    e = expression(factor.output_expr, factor.kinds())  # as the rule's own code renders it
    out = "out = (scalar)((p + (A * q)) + (U * s));\n"
    learn = (
        f"const scalar mc_e = {e};\n"
        "A += a;\n"
        f"a = ({_double(keep)} * a);\n"
        "U += u;\n"
        f"u = (({_double(keep)} * u) + ({_double(step)} * ((double)mc_e)));\n" + out
    )
    return learn, out


def _segment_refs(factor, learn: bool) -> list[tuple[str, str, str]]:
    refs = [(ln, "scalar", "READ_ONLY") for ln, _ in factor.post_refs] if learn else []
    access = "READ_WRITE" if learn else "READ_ONLY"
    refs += [(v, "double", access if v not in ("p", "q", "s") else "READ_ONLY") for v in _DOUBLES]
    return [*refs, ("out", "scalar", "READ_WRITE")]


@dataclass(frozen=True)
class SegmentGroups:
    """A sample-factorised projection's segment groups, as plain data (see the module).

    ``size``: the postsynaptic neurons; ``learn`` / ``hold``: the custom updates' code;
    ``params`` / ``derived``: the values of the rule's factor; ``learn_refs`` /
    ``hold_refs``: their variable references ``(name, type, access)``; ``post_refs``: the
    factor's references to the postsynaptic population ``(local name, variable)``.
    """

    projection: str
    size: int
    post: str
    target: str
    learn: str
    hold: str
    params: dict[str, float]
    derived: dict[str, float]
    learn_refs: tuple[tuple[str, str, str], ...]
    hold_refs: tuple[tuple[str, str, str], ...]
    post_refs: tuple[tuple[str, str], ...]


def describe(op: FactorisedOp, params: dict[str, float], derived: dict[str, float]):
    """A fast projection's :class:`SegmentGroups` (``params``, ``derived``: its factor's)."""
    learn, hold = _codes(op)
    factor = op.rule.factor
    return SegmentGroups(
        op.projection,
        op.n_post,
        op.post,
        op.target,
        learn,
        hold,
        {k: params[k] for k in factor.param_names},
        derived,
        tuple(_segment_refs(factor, True)),
        tuple(_segment_refs(factor, False)),
        tuple(factor.post_refs),
    )


def add_segment_groups(pg, model, desc: SegmentGroups, post, derived, keep: list) -> dict:
    """Add a fast projection's segment population, output group and custom updates.

    ``post``: the postsynaptic population; ``derived``: the derived-parameter keyword list
    of the rule's factor. Returns the groups by role (``pop``, ``out``).
    """
    name = f"{desc.projection}_segment"
    keep.append(
        pg.create_neuron_model(
            "mc_segment", vars=[*((v, "double") for v in _DOUBLES), ("out", "scalar")]
        )
    )
    init = dict.fromkeys(_DOUBLES, 0.0) | {"a": 1.0, "out": 0.0}
    pop = model.add_neuron_population(name, desc.size, keep[-1], {}, init)
    read_only = pg.VarAccessMode.READ_ONLY
    keep.append(
        pg.create_weight_update_model(
            "mc_segment_out",
            params=[GATE],
            pre_neuron_var_refs=[("out_pre", "scalar", read_only)],
            synapse_dynamics_code=f"if ({GATE} > 0.5) {{\n    addToPost(out_pre);\n}}\n",
        )
    )
    wu = pg.init_weight_update(
        keep[-1], {GATE: 0.0}, {}, pre_var_refs={"out_pre": pg.create_var_ref(pop, "out")}
    )
    out = model.add_synapse_population(
        f"{name}_out",
        "SPARSE",
        pop,
        post,
        wu,
        pg.init_postsynaptic("DeltaCurr"),
        pg.init_sparse_connectivity("OneToOne"),
    )
    out.post_target_var = desc.target
    out.set_wu_param_dynamic(GATE)
    modes = {"READ_ONLY": pg.VarAccessMode.READ_ONLY, "READ_WRITE": pg.VarAccessMode.READ_WRITE}
    targets = {ln: pg.create_var_ref(post, v) for ln, v in desc.post_refs}
    for kind, code, refs in (
        ("learn", desc.learn, desc.learn_refs),
        ("hold", desc.hold, desc.hold_refs),
    ):
        keep.append(
            pg.create_custom_update_model(
                f"mc_segment_{kind}",
                params=list(desc.params) if kind == "learn" else [],
                derived_params=derived if kind == "learn" else [],
                var_refs=[(r, t, modes[a]) for r, t, a in refs],
                update_code=code,
            )
        )
        var_refs = {
            r: targets[r] if r in targets else pg.create_var_ref(pop, r) for r, _, _ in refs
        }
        model.add_custom_update(
            f"{desc.projection}_{kind}",
            f"{desc.projection}_{kind}",
            keep[-1],
            dict(desc.params) if kind == "learn" else {},
            {},
            var_refs,
        )
    return {"pop": pop, "out": out}


class Segments:
    """The host side of one fast projection's segments in a loaded GeNN model.

    ``syn``: the projection's group; ``pre``: its presynaptic population; ``groups``: what
    :func:`add_segment_groups` returned; ``nb``: members per GeNN batch; ``copies``: whether
    the host arrays are copies of the device's (CUDA: pulled and pushed around every use;
    on the CPU they are GeNN's own memory). The start and the write-back are the reference
    backend's (:func:`~mc_network.backends._factorised.segment_start`, ``write_back``).
    """

    def __init__(
        self, op: FactorisedOp, model, syn, pre, groups: dict, nb: int, dtype, copies: bool
    ) -> None:
        self.op, self.rule, self.model = op, op.rule, model
        self.syn, self.out = syn, groups["out"]
        self.nb, self.dtype, self.copies = nb, np.dtype(dtype), copies
        shape = (nb, op.n_pre, op.n_post)
        self.pre = [(pre.vars[v], pre.vars[v].view.reshape(nb, -1)) for v in self.rule.pre_vars]
        self.w = {
            v: (syn.vars[v], syn.vars[v].view.reshape(shape))
            for v in (self.rule.weight, self.rule.filtered)
        }
        pop = groups["pop"]
        self.seg = {v: (pop.vars[v], pop.vars[v].view.reshape(nb, -1)) for v in _DOUBLES}
        self.updates = {k: f"{op.projection}_{k}" for k in ("learn", "hold")}
        self.on = False
        self.learns = False
        self.x = np.zeros((nb, op.n_pre), dtype=self.dtype)
        self.x_bytes = b""
        self.work = np.empty(shape), (np.empty(shape[1:]), np.empty(shape[1:]))

    def begin(self, flags) -> None:
        """A stage (or a member's turn in it) starts: whether the rule can learn in it."""
        sw = self.rule.switch
        self.learns = bool(flags[sw]) and sw not in self.op.frozen
        self.on = False
        self._gate(0.0)

    def _gate(self, on: float) -> None:
        self.syn.set_dynamic_param_value(GATE, on)
        self.out.set_dynamic_param_value(GATE, on)

    def _pull(self, pairs) -> None:
        if self.copies:
            for v, _ in pairs:
                v.pull_from_device()

    def _push(self, pairs) -> None:
        if self.copies:
            for v, _ in pairs:
                v.push_to_device()

    def before_step(self, learn: bool, sample_start: bool) -> None:
        """Before ``step_time``: end, start and step the segment as the program says.

        ``learn``: the rule's switch in this step; ``sample_start``: the step is a sample's
        first (no segment starts there).
        """
        self._pull(self.pre)
        (_, first), *others = self.pre
        # in a segment, first compare the bytes: equal bytes are equal values here (x holds
        # no NaN: a segment starts only where first == others); else compare the values
        held = self.on and all(o.tobytes() == self.x_bytes for _, o in self.pre)
        same = held or all((o == first).all() for _, o in others)
        if self.on and not (held or (same and (first == self.x).all())):
            self.flush()
        if not self.on and same and not sample_start:
            self._start(first)
        if self.on:
            self.model.custom_update(self.updates["learn" if learn else "hold"])

    def _start(self, rates: np.ndarray) -> None:
        self.x[...] = rates
        self.x_bytes = self.x.tobytes()
        weights = [self.w[v] for v in (self.rule.weight, self.rule.filtered)]
        self._pull(weights if self.learns else weights[:1])
        g, d = (view for _, view in weights)
        p, q, s = segment_start(g, d, rates.astype(np.float64), self.learns, self.work[0])
        values = {"p": p, "q": q, "s": s[:, None], "u": 0.0, "U": 0.0, "a": 1.0, "A": 0.0}
        for name, val in values.items():
            self.seg[name][1][...] = val
        self._push(self.seg.values())
        self.on = True
        self._gate(1.0)

    def flush(self) -> None:
        """End the segment (if one runs): write ``g`` and ``delta`` back where it learned."""
        if not self.on:
            return
        self._pull([self.seg[v] for v in ("a", "A", "u", "U")])
        seg = {v: self.seg[v][1] for v in ("a", "A", "u", "U")}
        write = seg["A"][:, 0] != 0.0
        if write.any():
            pairs = list(self.w.values())
            self._pull(pairs)
            g, d = self.w[self.rule.weight][1], self.w[self.rule.filtered][1]
            for m in np.flatnonzero(write):
                a, big_a = seg["a"][m, 0], seg["A"][m, 0]
                write_back(g[m], d[m], self.x[m], a, big_a, seg["u"][m], seg["U"][m], self.work[1])
            self._push(pairs)
        self.on = False
        self._gate(0.0)
