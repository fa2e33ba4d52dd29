"""Source generation for the compiled backend: one numba kernel per step program *structure*.

The kernel is the step program (:mod:`mc_network.program`) written out: for every operation
the generator pastes in its model's numba rendering (:mod:`mc_models.render.numba`) and
wires it to the arrays; it contains no model of its own. What a kernel depends on is the
structure: the operations and their models, the activation, the parameter tests the
renderings decide, which populations draw noise and the precision. Layer sizes, parameter
values, learning rates and the switches are run-time values, so e.g. the Yin-Yang and
MNIST networks share a kernel.

**Interface.** ``run_member(b, a, c)`` runs ``c.n`` steps of batch member ``b`` without
the GIL; ``a`` is a :class:`KernelArrays` (the state and the stage's arrays, named) and
``c`` a :class:`Chunk` (where the call lies in the stage). ``N_PARAMS`` and ``N_FLAGS``
are the lengths of ``a.params`` and ``a.enabled``, filled in :func:`layout`'s order.

**Layout** (:func:`padded`): every per-neuron array is ``LANE``-padded, a population of
``n`` neurons is held in ``padded(n)`` lanes, and a synapse matrix is
``(n_pre, padded(n_post))``, so that every loop over neurons or postsynaptic indices runs
whole vectors (LLVM vectorises loops of 16 or more iterations; a 10-neuron loop would stay
scalar). The padding lanes compute on zeros and are never read by a real lane: sums over
presynaptic neurons run over the real ``n_pre`` rows only, draws fill the real lanes only
and the stage data are padded with zeros. Members are not interleaved: each member runs a
chunk of steps on its own state, which for MNIST (1.3 MB of plastic input weights a
member) stays in the core's cache; lanes over members would stream every member's weights
every step.

**A step** follows the program: the step's draws (the member's PCG64 stream,
:mod:`._pcg64`, into the real lanes of each drawing population), every synapse operation
on the neuron state of the previous step, then every neuron operation. A dense projection
is one pass over its matrices: the weight update fused with the input sum, the inner loop
over the contiguous postsynaptic index (vectorised: each lane is one postsynaptic neuron,
so every sum keeps its order), presynaptic terms added in ascending order from zero, with
the terms that depend only on the postsynaptic (or only on the presynaptic) neuron
computed once outside the inner loop. Where the postsynaptic side is one or two lane
vectors (:data:`ROW_VECTORS`, checked at run time) and the model's body is elementwise,
the rows run as :class:`._lanes.Lanes` values instead (:meth:`_Kernel.lane_rows`): no inner
loop per row, the sums in registers, each lane's operations in the inner loop's order. One
kernel body per setting of the projection's switches (e.g. learning on and off), so no
switch is tested inside the loops. Neuron
updates store each activation's argument; after them, every activation of the step runs in
one loop (over the real lanes only where padding lanes are many), with the guarded
vectorisable twin of the scalar activation (:mod:`._vecmath`), whose float32 results are
the scalar activation's. A population whose model promises where its update changes
nothing (``NeuronModel.hold``, the rate players) runs only the update's counters where the
promise applies: its variables' bits are compared after each update it runs. A
sample-factorised projection
(:class:`~mc_network.program.FactorisedOp`) is one operation handled in one place
(:class:`_Kernel.factorised`). (Fusing its segment's write-back with the exact step or the
next start that follow it was measured: no faster, as each pass is bound by its float64
arithmetic, and a loop over that many arrays does not vectorise.)
``fastmath`` is off, so LLVM neither contracts to FMA nor reassociates (the activation's
polynomial ``exp`` asks for its multiply-adds explicitly, :func:`._vecmath.muladd`; the
guard keeps its float32 results the scalar ones). The source is
imported through :func:`._modcache.import_source`, so numba's disk cache keeps the machine
code between processes.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import numpy as np

from mc_models import get_activation
from mc_models.render import numba as rnb
from mc_network.backends._modcache import import_source
from mc_network.program import FactorisedOp, StepProgram

__all__ = [
    "LANE",
    "PADDING_RESET",
    "Chunk",
    "KernelArrays",
    "activation_module",
    "kernel_module",
    "kernel_source",
    "layout",
    "padded",
    "segment_length",
    "segments_length",
]

_HERE = Path(__file__).parent
# modules the kernel inlines: numba's cache does not track them, the source names them
_INLINED_DIGEST = hashlib.sha256(
    b"".join((_HERE / f).read_bytes() for f in ("_pcg64.py", "_vecmath.py", "_lanes.py"))
).hexdigest()[:16]

LANE = 16
"""Every per-neuron array is a whole number of ``LANE`` lanes (see the module docstring)."""


ROW_VECTORS = (1, 2)
"""Row widths, in lane vectors, for which a projection with an elementwise body runs its
rows as :class:`._lanes.Lanes` values (:meth:`_Kernel.lane_rows`); other widths keep the
inner loop. (Each width is one more copy of the pass to compile.)"""


PADDING_RESET = 64
"""Steps between the kernel's resets of the padding lanes to zero."""


def padded(n: int) -> int:
    """The lanes that hold ``n`` neurons (a multiple of :data:`LANE`)."""
    return -(-n // LANE) * LANE


class KernelArrays(NamedTuple):
    """Everything a kernel call reads and writes, by name (``B``: the batch size).

    ``neurons[i]``: population ``i``'s per-neuron variables, ``(B, n_vars, padded(n))``;
    ``synapses[k]``: synapse variable ``k`` of :func:`layout`, ``(B, n_pre,
    padded(n_post))``; ``counters``: the shared counters, ``(B, n_counters)`` int64;
    ``sizes``: every population's number of neurons; ``params``, ``enabled``: constants
    and switch enables in :func:`layout`'s order; ``switches_on``: the stage's switches
    (``StepProgram.switches``); ``inputs``, ``teacher``: the stage data, ``(1 or B,
    n_samples, padded(n))``; ``order``: ``(B, n_samples)``; ``rng``: the noise streams'
    states (:func:`._pcg64.get_streams`); ``records``: ``(B, n_records, length)``;
    ``record_rows``: one row ``(kind, what, var, offset, size, columns)`` per recorded
    variable (kind 0: a neuron variable, 1: a synapse matrix, 2: a shared counter);
    ``segments``: ``(B, length)`` float64, the sample-factorised projections' segments
    (:func:`segment_length`), carried from call to call.
    """

    neurons: tuple
    synapses: tuple
    counters: np.ndarray
    sizes: np.ndarray
    params: np.ndarray
    enabled: np.ndarray
    switches_on: np.ndarray
    inputs: np.ndarray
    teacher: np.ndarray
    order: np.ndarray
    rng: np.ndarray
    records: np.ndarray
    record_rows: np.ndarray
    segments: np.ndarray


class Chunk(NamedTuple):
    """Where a kernel call lies in its stage.

    ``k0``: the stage step it starts at; ``n``: its steps; ``every``: the record cadence
    (steps); ``r0``: the stage record of ``records[:, 0]``; ``sps``: steps per sample;
    ``window``: the learning lag's steps at each sample's start (0: none); ``noisy``: draw
    noise; ``last``: the call ends the stage (its segments end).
    """

    k0: int
    n: int
    every: int
    r0: int
    sps: int
    window: int
    noisy: bool
    last: bool


_JIT = "@njit(cache=True, nogil=True, error_model='numpy', fastmath=False)"
_INLINE = "@njit(inline='always', nogil=True, error_model='numpy', fastmath=False)"
_HELPERS = """
{jit}
def _get(src):
    dst = np.empty(src.shape, src.dtype)
    _put(dst, src)
    return dst


{jit}
def _put(dst, src):
    for i in range(src.shape[0]):
        for j in range(src.shape[1]):
            dst[i, j] = src[i, j]


{jit}
def _clear(m, n):
    for i in range(m.shape[0]):
        for j in range(n, m.shape[1]):
            m[i, j] = 0


{jit}
def _record(ns, sv, ctr, row, RI):
    for e in range(RI.shape[0]):
        kind, t, v, o, size, cols = RI[e, 0], RI[e, 1], RI[e, 2], RI[e, 3], RI[e, 4], RI[e, 5]
        if kind == 0:
            src = ns[t][v]
            for j in range(size):
                row[o + j] = src[j]
        elif kind == 2:
            for j in range(size):
                row[o + j] = DT(ctr[v])
        else:
            m = sv[t]
            for i in range(m.shape[0]):
                for j in range(cols):
                    row[o + i * cols + j] = m[i, j]
"""


def float_vars(model) -> tuple[str, ...]:
    """A neuron model's per-neuron variables: the rows of its ``(B, n_vars, n)`` state."""
    return tuple(v.name for v in model.vars if not v.shared)


def layout(program: StepProgram):
    """Where the kernel finds things, shared by the generator and the backend.

    Returns ``(neuron_codes, synapse_codes, shared, synapse_vars, flags)``: the lowered
    renderings per operation; the shared counters as ``(population, var)`` in the order of
    the ``counters`` columns; the synapse variables as ``(projection, var)`` in the order
    of ``synapses``; the switch enables as ``(operation kind, index, switch)`` in the order
    of ``enabled``. The constants ``params`` hold every neuron operation's constants, then
    every synapse operation's, in program order, then each sample-factorised projection's
    factor constants and its filter factor ``h``.
    """
    dtype = program.dtype
    ncodes = [rnb.neuron_code(op.model, op.resolved.values, dtype) for op in program.neurons]
    scodes = [rnb.synapse_code(op.model, op.resolved.values, dtype) for op in program.synapses]
    shared = [(op.population, v.name) for op in program.neurons for v in op.model.vars if v.shared]
    svars = [(op.projection, v) for op in program.synapses for v in op.model.var_names]
    flags = [("n", k, s) for k, op in enumerate(program.neurons) for s in op.model.switches]
    flags += [("y", k, s) for k, op in enumerate(program.synapses) for s in op.model.switches]
    return ncodes, scodes, shared, svars, flags


def constants(program: StepProgram, ncodes, scodes) -> list:
    """The values of ``params``, in the kernel's order (see :func:`layout`)."""
    out: list = []
    for op, code in zip(program.neurons, ncodes, strict=True):
        out += code.values(op.resolved.values, program.dtype)
    for op, code in zip(program.synapses, scodes, strict=True):
        out += code.values(op.resolved.values, program.dtype)
    for op, code in _factor_codes(program):
        out += code.values(op.factor_resolved.values, program.dtype)
        out.append(op.resolved.values[op.rule.filter_param])
    return out


def _factor_codes(program: StepProgram) -> list:
    """``(operation, factor code)`` of every sample-factorised projection, in program order."""
    return [
        (op, rnb.synapse_code(op.rule.factor, op.factor_resolved.values, program.dtype))
        for op in program.factorised
    ]


def segment_length(n_pre: int, n_post: int) -> int:
    """Length of a sample-factorised projection's segment in ``segments[b]``.

    ``on, a, A, s``, then ``x`` (``n_pre``), then ``p, q, u, U`` (``padded(n_post)`` each).
    """
    return 4 + n_pre + 4 * padded(n_post)


def segments_length(program: StepProgram) -> int:
    """Length of ``segments[b]``: every sample-factorised projection's segment, in order."""
    return sum(segment_length(op.n_pre, op.n_post) for op in program.factorised)


class _Src:
    """Lines of Python source with an indentation level."""

    def __init__(self, ind: int = 0) -> None:
        self.lines: list[str] = []
        self.ind = ind

    def __call__(self, *lines: str) -> None:
        self.lines.extend("    " * self.ind + ln for ln in lines)

    def block(self, head: str, body: list[str] | tuple[str, ...]) -> None:
        self(head)
        self.ind += 1
        self(*(body or ("pass",)))
        self.ind -= 1


def _indent(lines: list[str], n: int = 1) -> list[str]:
    return ["    " * n + ln for ln in lines]


class _Kernel:
    """Writes the kernel of one step program: initialisation, the step, the hand-back."""

    def __init__(self, program: StepProgram) -> None:
        self.program = program
        self.ncodes, self.scodes, self.shared, self.svars, self.flags = layout(program)
        self.pops = [op.population for op in program.neurons]
        self.projs = [op.projection for op in program.synapses]
        self.init, self.step, self.end = _Src(1), _Src(2), _Src(1)
        self.n_params = 0
        self.inputs: dict[tuple[str, str], str] = {}
        self.fcodes = {op.projection: code for op, code in _factor_codes(program)}
        self.deferred: list[tuple[int, int, str, str]] = []  # (population, k, var, threshold)
        act = get_activation(program.activation)
        self.act_lines = rnb.activation_source(act, "_act")
        vector = rnb.vector_activation_source(act, "_vact")
        # the guard keeps float32 results exact; float64 networks keep the scalar activation
        self.vact_lines = vector if program.dtype == np.float32 else None

    # ------------------------------------------------------------------ helpers
    def consts(self, tag: str, n: int) -> None:
        for k in range(n):
            self.init(f"{tag}c{k} = a.params[{self.n_params}]")
            self.n_params += 1

    def enables(self, kind: str, k: int, tag: str, switches) -> None:
        for s in switches:
            self.init(f"{tag}e_{s} = a.enabled[{self.flags.index((kind, k, s))}] != 0")

    def synapse_names(self, j: int) -> rnb.SynapseNames:
        op = self.program.synapses[j]
        tag, pre, post = f"y{j}", self.pops.index(op.pre), self.pops.index(op.post)
        return rnb.SynapseNames(
            prefix=tag,
            pre=lambda v: f"s{pre}_{v}",
            post=lambda v: f"s{post}_{v}",
            var=lambda v: f"{tag}w_{v}",
            const=lambda k: f"{tag}c{k}",
            post_term=lambda k: f"{tag}pt{k}",
            pre_term=lambda k: f"{tag}pr{k}",
        )

    # ------------------------------------------------------------------ the kernel
    def source(self) -> str:
        program = self.program
        self.init(
            "zero = DT(0.0)",
            "ctr = a.counters[b].copy()",
            "rng = a.rng[b].copy()",
            "xb = a.inputs[b % a.inputs.shape[0]]",
            "tb = a.teacher[b % a.teacher.shape[0]]",
            "ob = a.order[b]",
        )
        for i in range(len(program.neurons)):
            self.neuron_init(i)
        for j in range(len(program.synapses)):
            self.synapse_init(j)
        fast = [j for j, op in enumerate(program.synapses) if isinstance(op, FactorisedOp)]
        if fast:
            self.init("fso = 0")
        for j in fast:
            self.factorised_init(j)
        if fast:  # whether synapse variables are recorded (a segment ends before such a record)
            self.init(
                "rec_sv = False",
                "for e in range(a.record_rows.shape[0]):",
                "    rec_sv = rec_sv or a.record_rows[e, 0] == 1",
            )
        self.init("nsl = (" + "".join(f"s{i}, " for i in range(len(self.pops))) + ")")
        sv_names = [f"y{self.projs.index(p)}w_{v}" for p, v in self.svars]
        self.init("svl = (" + "".join(f"{n}, " for n in sv_names) + ")")
        # the step
        self.step(
            "# section: step switches",
            "k = c.k0 + kk",
            "off = c.window > 0 and (k % c.sps) < c.window",
            *(
                f"sw_{s} = a.switches_on[{i}] != 0 and not off"
                for i, s in enumerate(program.switches)
            ),
        )
        # the padding lanes restart from zero now and then (the neurons' every
        # PADDING_RESET steps, the matrices' columns at every call), so that no value there
        # lives long enough to decay into subnormal numbers (each operation on them costs
        # ~100 cycles); a real lane never reads a padding lane
        self.init(
            *(
                f"_clear({n}, a.sizes[{self.pops.index(program.synapse(p).post)}])"
                for (p, _), n in zip(self.svars, sv_names, strict=True)
            )
        )
        clear = [f"_clear(s{i}, a.sizes[{i}])" for i in range(len(self.pops))]
        self.step.block(f"if k % {PADDING_RESET} == 0:", clear)
        self.draws()
        for j, op in enumerate(program.synapses):
            if isinstance(op, FactorisedOp):
                self.factorised(j)
            else:
                self.step(f"# section: {op.projection}")
                self.synapse(self.step, j)
        for i in range(len(program.neurons)):
            self.neuron(i)
        self.activations()
        if fast:
            flush = _Src()
            for j in fast:
                flush.block(f"if y{j}f_on:", [*self.flush_pass(j), f"y{j}f_on = False"])
            # segments end before a record of synapse variables
            self.step("# section: segment ends (records)")
            self.step.block("if rec_sv and k % c.every == 0:", flush.lines)
        self.step("# section: recording")
        self.step.block(
            "if a.record_rows.shape[0] > 0 and k % c.every == 0:",
            ["_record(nsl, svl, ctr, a.records[b, k // c.every - c.r0], a.record_rows)"],
        )
        for j in fast:
            self.end.block(f"if c.last and y{j}f_on:", [*self.flush_pass(j), f"y{j}f_on = False"])
            self.end(*self.factorised_save(j))
        self.end(*(f"_put(a.neurons[{i}][b], s{i})" for i in range(len(self.pops))))
        self.end(*(f"_put(a.synapses[{k}][b], {n})" for k, n in enumerate(sv_names)))
        self.end("for i in range(ctr.shape[0]):", "    a.counters[b, i] = ctr[i]")
        self.end("for i in range(rng.shape[0]):", "    a.rng[b, i] = rng[i]")
        head = [
            '"""Generated by mc_network.backends._codegen for one step program; do not edit."""',
            "import math",
            f"# {_INLINED_DIGEST}: _pcg64, _vecmath, _lanes inlined (numba's cache does not see)",
            "import numpy as np",
            "from numba import njit",
            "from mc_network.backends._pcg64 import fill_normal_f32",
            "from mc_network.backends._vecmath import guard as _vguard, vexp as _vexp",
            "from mc_network.backends._vecmath import prefer_wide_vectors",
            "from mc_network.backends._lanes import lanes_at as _lanes_at, put_lanes as _put_lanes",
            f"DT = np.{program.dtype.name}",
            f"UT = np.uint{program.dtype.itemsize * 8}  # DT's bits",
            "",
            "",
            _JIT,
            *self.act_lines,
        ]
        if self.vact_lines:
            head += ["", "", _INLINE, *self.vact_lines]
        head += [*_HELPERS.format(jit=_JIT).split("\n"), "", _JIT, "def run_member(b, a, c):"]
        lines = [
            *head,
            "    prefer_wide_vectors()",
            *self.init.lines,
            "    for kk in range(c.n):",
            *self.step.lines,
            *self.end.lines,
            "",
            f"N_PARAMS = {self.n_params}",
            f"N_FLAGS = {len(self.flags)}",
        ]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ populations
    def neuron_init(self, i: int) -> None:
        op, tag = self.program.neurons[i], f"n{i}"
        self.init(f"s{i} = _get(a.neurons[{i}][b])")
        self.init(*(f"s{i}_{v} = s{i}[{r}]" for r, v in enumerate(float_vars(op.model))))
        for name in op.model.inputs:
            self.inputs[(op.population, name)] = f"in{i}_{name}"
            self.init(f"in{i}_{name} = np.zeros(s{i}.shape[1], DT)")
        self.consts(tag, len(self.ncodes[i].consts))
        self.enables("n", i, tag, op.model.switches)
        if op.model.hold:  # at rest (same bits in each pair) after the last update; held
            pairs = dict.fromkeys(v for pair in op.model.at_rest for v in pair)
            self.init(f"{tag}_still = False", f"{tag}_held = False")
            self.init(*(f"{tag}b_{v} = s{i}_{v}.view(UT)" for v in pairs))

    def draws(self) -> None:
        """The step's draws, population by population, into the real lanes."""
        drawing = [(i, op) for i, op in enumerate(self.program.neurons) if op.draws]
        if not drawing:
            self.init("xi = np.zeros(1, DT)")
            return
        end = "0"
        fill = []
        for i, op in drawing:
            self.init(f"noff{i} = {end}")
            end = f"noff{i} + {op.draws} * s{i}.shape[1]"
            for k in range(op.draws):
                lo = f"noff{i} + {k} * s{i}.shape[1]"
                fill.append(f"fill_normal_f32(rng, xi[{lo} : {lo} + a.sizes[{i}]])")
        self.init(f"xi = np.zeros({end}, DT)")
        self.step("# section: draws")
        self.step.block("if c.noisy:", fill)

    def neuron(self, i: int) -> None:
        op, code, tag = self.program.neurons[i], self.ncodes[i], f"n{i}"
        data = {"inputs": "xb", "teacher": "tb"}.get(op.data or "", "")

        def defer(k: int, var: str, thr: str) -> str:
            self.deferred.append((i, k, var, thr))
            return f"n{i}ax{k}"

        names = rnb.NeuronNames(
            prefix=tag,
            size=f"s{i}.shape[1]",
            var=lambda v: f"s{i}_{v}",
            shared=lambda v: f"ctr[{self.shared.index((op.population, v))}]",
            input=lambda name: self.inputs[(op.population, name)],
            const=lambda k: f"{tag}c{k}",
            draw=(lambda k: f"xi[noff{i} + {k} * s{i}.shape[1] + j]")
            if op.draws
            else (lambda k: "zero"),
            sample=lambda idx: f"{data}[ob[{idx}], j]",
            switch=lambda s: f"{tag}s_{s}",
            act="_act",
            defer=defer if self.vact_lines else None,
        )
        lines = code.lines(names)
        self.step(f"# section: {op.population}")
        self.step(*(f"{tag}s_{s} = sw_{s} and {tag}e_{s}" for s in op.model.switches))
        hold = code.hold(names)
        if hold is None:
            self.step(*lines)
            return
        # the model's promise (NeuronModel.hold): at rest after the last update and its
        # hold test true, the update changes no per-neuron variable; only its counters run
        test, counters = hold
        moved = [
            f"{tag}_moved = False",
            f"for j in range(a.sizes[{i}]):",
            *(f"    {tag}_moved |= {tag}b_{u}[j] != {tag}b_{v}[j]" for u, v in op.model.at_rest),
            f"{tag}_still = not {tag}_moved",
        ]
        self.step(f"{tag}_held = {tag}_still and ({test})")
        self.step.block(f"if {tag}_held:", counters)
        self.step.block("else:", [*lines, *moved])

    def activations(self) -> None:
        """The step's deferred activations, all in one loop (see the module docstring).

        The neuron updates store the arguments in ``actx``, population by population
        (``aoff{i}``), each activation's lanes together (``actt``: their thresholds). Where
        padding lanes are more than a quarter of them (Yin-Yang: 56 of 128; MNIST: 48 of
        288), the loop runs over the real lanes only, gathered into ``cx`` (``n{i}co{k}``:
        where activation ``k`` of population ``i`` starts there; ``ct`` the thresholds)
        and scattered back from ``cy``; else over all lanes, as the copies would cost more
        than the padding lanes they leave out. The results go to the variables after the
        recomputation of what the guard deferred.
        """
        if not self.deferred:
            return
        end = "0"
        for i in dict.fromkeys(d[0] for d in self.deferred):
            self.init(f"aoff{i} = {end}")
            n_i = sum(1 for d in self.deferred if d[0] == i)
            end = f"aoff{i} + {n_i} * s{i}.shape[1]"
        self.init(
            f"actn = {end}",
            "actx = np.zeros(actn, DT)",
            "acty = np.zeros(actn, DT)",
            "actt = np.zeros(actn)",
            "actr = 0",
        )
        for i, k, _, thr in self.deferred:
            lo = f"aoff{i} + {k} * s{i}.shape[1]"
            self.init(
                f"n{i}ax{k} = actx[{lo} : {lo} + s{i}.shape[1]]",
                f"n{i}ay{k} = acty[{lo} : {lo} + s{i}.shape[1]]",
                f"actt[{lo} : {lo} + s{i}.shape[1]] = np.float64({thr})",
                f"n{i}co{k} = actr",
                f"actr = actr + a.sizes[{i}]",
            )
        self.init(
            "compact = 4 * (actn - actr) > actn",
            "cx = np.zeros(actr, DT)",
            "cy = np.zeros(actr, DT)",
            "ct = np.zeros(actr)",
        )
        for i, k, _, thr in self.deferred:
            self.init(f"ct[n{i}co{k} : n{i}co{k} + a.sizes[{i}]] = np.float64({thr})")

        def loop(x: str, y: str, t: str, n: str) -> list[str]:
            # counted in a loop of its own: a count in the activation's loop halves the
            # vector width LLVM chooses for it
            return [
                f"for m in range({n}):",
                f"    {y}[m] = DT(_vact(np.float64({x}[m]), {t}[m]))",
                "abad = 0",
                f"for m in range({n}):",
                f"    abad += {y}[m] != {y}[m]",
                "if abad > 0:",
                f"    for m in range({n}):",
                f"        if {y}[m] != {y}[m]:",
                f"            {y}[m] = DT(_act(np.float64({x}[m]), {t}[m]))",
            ]

        compact = _Src()
        for i, k, _, _ in self.deferred:
            compact(f"for j in range(a.sizes[{i}]):", f"    cx[n{i}co{k} + j] = n{i}ax{k}[j]")
        compact(*loop("cx", "cy", "ct", "actr"))
        for i, k, var, _ in self.deferred:
            compact(f"for j in range(a.sizes[{i}]):", f"    s{i}_{var}[j] = cy[n{i}co{k} + j]")
        whole = _Src()
        whole(*loop("actx", "acty", "actt", "actn"))
        for i, k, var, _ in self.deferred:
            whole(f"for j in range(s{i}.shape[1]):", f"    s{i}_{var}[j] = n{i}ay{k}[j]")
        self.step("# section: activations")
        self.step.block("if compact:", compact.lines)
        self.step.block("else:", whole.lines)

    # ------------------------------------------------------------------ projections
    def synapse_init(self, j: int) -> None:
        op, tag = self.program.synapses[j], f"y{j}"
        for v in op.model.var_names:
            self.init(f"{tag}w_{v} = _get(a.synapses[{self.svars.index((op.projection, v))}][b])")
        self.consts(tag, len(self.scodes[j].consts))
        self.enables("y", j, tag, op.model.switches)
        post = self.pops.index(op.post)
        settings = self.scodes[j].settings() or [{}]
        names = self.synapse_names(j)
        n_terms = max(self.scodes[j].render(names, s, op.one_to_one).n_post_terms for s in settings)
        self.init(*(f"{tag}pt{k} = np.zeros(s{post}.shape[1], DT)" for k in range(n_terms)))
        if not op.first:
            self.init(f"{tag}tmp = np.zeros(s{post}.shape[1], DT)")

    def accumulator(self, j: int) -> tuple[str, str]:
        """``(target input, where the operation sums)``: the input itself if it is first."""
        op = self.program.synapses[j]
        buf = self.inputs[(op.post, op.target)]
        return buf, buf if op.first else f"y{j}tmp"

    def add_to_target(self, e: _Src, j: int) -> None:
        buf, acc = self.accumulator(j)
        if acc != buf:
            e.block(f"for j in range({buf}.shape[0]):", [f"{buf}[j] = {buf}[j] + {acc}[j]"])

    def synapse(self, e: _Src, j: int, add: bool = True) -> None:
        """The exact update and sum of projection ``j`` (``add``: to its target input)."""
        op, code, tag = self.program.synapses[j], self.scodes[j], f"y{j}"
        post = self.pops.index(op.post)
        _, acc = self.accumulator(j)
        e(f"# {op.projection}: {op.pre} -> {op.post}.{op.target} ({op.model.name})")
        e(*(f"{tag}s_{s} = sw_{s} and {tag}e_{s}" for s in op.model.switches))
        settings = code.settings() or [{}]
        names = self.synapse_names(j)
        n_post = f"s{post}.shape[1]"
        e.block(f"for j in range({n_post}):", [f"{acc}[j] = zero"])
        for k, setting in enumerate(settings):
            v = code.render(names, setting, op.one_to_one)
            test = " and ".join(f"{'' if on else 'not '}{tag}s_{s}" for s, on in setting.items())
            lines = _Src()
            if op.one_to_one:
                if v.output is not None:
                    lines.block(f"for j in range({n_post}):", [f"{acc}[j] = zero + {v.output}"])
            else:
                if v.post_lines:
                    lines.block(f"for j in range({n_post}):", list(v.post_lines))
                inner = list(v.inner_lines)
                inner += [f"{acc}[j] += {v.output}"] if v.output else []
                if inner:
                    loop = _Src()
                    loop(f"for i in range({tag}w_g.shape[0]):")
                    loop.ind += 1
                    loop(*v.pre_lines)
                    loop.block(f"for j in range({n_post}):", inner)
                    widths = ROW_VECTORS if v.elementwise else ()
                    for q, m in enumerate(widths):  # rows of m vectors, else the inner loop
                        rows = self.lane_rows(j, setting, m)
                        lines.block(f"{'elif' if q else 'if'} {n_post} == {m * LANE}:", rows)
                    if widths:
                        lines.block("else:", loop.lines)
                    else:
                        lines(*loop.lines)
            if len(settings) == 1:
                e(*lines.lines)
            elif k == len(settings) - 1:
                e.block("else:", lines.lines or ["pass"])
            else:
                e.block(f"{'if' if k == 0 else 'elif'} {test}:", lines.lines or ["pass"])
        if add:
            self.add_to_target(e, j)

    def lane_rows(self, j: int, setting: dict[str, bool], m: int) -> list[str]:
        """Projection ``j``'s matrix pass for rows of ``m`` lane vectors (``m * LANE`` lanes).

        The inner loop's statements (an elementwise body) once per vector of the row, on
        :class:`._lanes.Lanes` values: each row's synapses read and stored whole, the
        postsynaptic arrays read once before the rows, the input sums kept in ``m``
        locals. No loop runs per row and no sum goes through memory; every lane's
        operations and their order are the inner loop's.
        """
        op, tag = self.program.synapses[j], f"y{j}"
        _, acc = self.accumulator(j)
        hoisted: dict[str, str] = {}
        body, sums = [], []
        for q in range(m):
            col = q * LANE

            def at_post(arr: str, q=q, col=col) -> str:
                return hoisted.setdefault(f"_lanes_at({arr}, {col})", f"{tag}v{q}_{arr}")

            names = dataclasses.replace(
                self.synapse_names(j),
                prefix=f"{tag}q{q}",
                at_synapse=lambda mat, col=col: f"_lanes_at({mat}, i, {col})",
                put_synapse=lambda mat, v, col=col: f"_put_lanes({mat}, {v}, i, {col})",
                at_post=at_post,
            )
            v = self.scodes[j].render(names, setting, op.one_to_one)
            body += [*(v.pre_lines if q == 0 else ()), *v.inner_lines]
            if v.output:
                sums.append((f"{tag}v{q}_sum", col))
                body.append(f"{tag}v{q}_sum = {tag}v{q}_sum + {v.output}")
        lines = [f"{loc} = {load}" for load, loc in hoisted.items()]
        lines += [f"{total} = _lanes_at({acc}, {col})" for total, col in sums]
        lines += [f"for i in range({tag}w_g.shape[0]):", *_indent(body)]
        lines += [f"_put_lanes({acc}, {total}, {col})" for total, col in sums]
        return lines

    # ------------------------------------------------------------------ sample-factorised
    def factorised_init(self, j: int) -> None:
        """A sample-factorised projection's segment state (see :mod:`mc_network.program`)."""
        op, tag = self.program.synapses[j], f"y{j}f"
        post = self.pops.index(op.post)
        rule, fcode = op.rule, self.fcodes[op.projection]
        n_pre, n_post = f"y{j}w_g.shape[0]", f"s{post}.shape[1]"
        seg = "a.segments[b, "
        self.init(
            f"{tag}_o = fso",
            f"fso = {tag}_o + 4 + {n_pre} + 4 * {n_post}",
            f"{tag}_on = {seg}{tag}_o] != 0.0",
            f"{tag}_a = {seg}{tag}_o + 1]",
            f"{tag}_A = {seg}{tag}_o + 2]",
            f"{tag}_s = {seg}{tag}_o + 3]",
            f"{tag}_x = np.empty({n_pre}, DT)",
            f"for i in range({n_pre}):",
            f"    {tag}_x[i] = DT({seg}{tag}_o + 4 + i])",
            f"{tag}_e = np.zeros({n_post}, DT)",
            *(f"{tag}_{v} = np.empty({n_post}, np.float64)" for v in ("p", "q", "u", "U")),
            f"for j in range({n_post}):",
            *(
                f"    {tag}_{v}[j] = {seg}{tag}_o + 4 + {n_pre} + {r} * {n_post} + j]"
                for r, v in enumerate(("p", "q", "u", "U"))
            ),
        )
        if self.held_pre(j):  # the segment test's outcome, kept while its input is held
            self.init(f"{tag}_nd = False", f"{tag}_nx = False", f"{tag}_known = False")
        self.consts(tag, len(fcode.consts))
        self.consts(f"{tag}k", 1)
        self.init(f"{tag}_step = np.float64({tag}kc0)", f"{tag}_keep = 1.0 - {tag}_step")
        # whether the rule can learn in this stage (else its increment is never read)
        en = self.flags.index(("y", j, rule.switch))
        son = list(self.program.switches).index(rule.switch)
        self.init(f"{tag}_learns = a.enabled[{en}] != 0 and a.switches_on[{son}] != 0")

    def held_pre(self, j: int) -> bool:
        """Whether projection ``j``'s presynaptic model makes a promise (``NeuronModel.hold``)."""
        return bool(self.program.neurons[self.pops.index(self.program.synapses[j].pre)].model.hold)

    def factorised_save(self, j: int) -> list[str]:
        """Copy a projection's segment out to ``segments[b]`` (it goes on in the next call)."""
        tag = f"y{j}f"
        n_pre, n_post = f"{tag}_x.shape[0]", f"{tag}_p.shape[0]"
        seg = "a.segments[b, "
        return [
            f"{seg}{tag}_o] = 1.0 if {tag}_on else 0.0",
            f"{seg}{tag}_o + 1] = {tag}_a",
            f"{seg}{tag}_o + 2] = {tag}_A",
            f"{seg}{tag}_o + 3] = {tag}_s",
            f"for i in range({n_pre}):",
            f"    {seg}{tag}_o + 4 + i] = np.float64({tag}_x[i])",
            f"for j in range({n_post}):",
            *(
                f"    {seg}{tag}_o + 4 + {n_pre} + {r} * {n_post} + j] = {tag}_{v}[j]"
                for r, v in enumerate(("p", "q", "u", "U"))
            ),
        ]

    def flush_pass(self, j: int) -> list[str]:
        """End the segment: write the weights and increments back (only where it learned).

        ``delta = a D0 + u x^T`` and ``g = (G0 + A D0) + U x^T`` in float64, rounded once.
        """
        op, tag, w = self.program.synapses[j], f"y{j}f", f"y{j}w_"
        g, d = w + op.rule.weight, w + op.rule.filtered
        return [
            f"if {tag}_A != 0.0:",
            f"    for i in range({g}.shape[0]):",
            f"        {tag}_xo = np.float64({tag}_x[i])",
            f"        for j in range({g}.shape[1]):",
            f"            {tag}_d0 = np.float64({d}[i, j])",
            f"            {d}[i, j] = DT({tag}_a * {tag}_d0 + {tag}_u[j] * {tag}_xo)",
            f"            {g}[i, j] = DT(",
            f"                (np.float64({g}[i, j]) + {tag}_A * {tag}_d0) + {tag}_U[j] * {tag}_xo",
            "            )",
        ]

    def start_pass(self, j: int) -> list[str]:
        """Start a segment on the current rates: ``p = G0^T x``, ``q = D0^T x``, ``s = x.x``.

        Rows of silent inputs (``x_i = 0``) are skipped, as the reference's
        :func:`~._factorised.start_sums` leaves them out.
        """
        op, tag = self.program.synapses[j], f"y{j}f"
        g, d = f"y{j}w_{op.rule.weight}", f"y{j}w_{op.rule.filtered}"
        first = f"s{self.pops.index(op.pre)}_{op.rule.pre_vars[0]}"
        return [
            f"for j in range({g}.shape[1]):",
            f"    {tag}_p[j] = 0.0",
            f"    {tag}_q[j] = 0.0",
            f"    {tag}_u[j] = 0.0",
            f"    {tag}_U[j] = 0.0",
            f"{tag}_s = 0.0",
            f"for i in range({g}.shape[0]):",
            f"    {tag}_x[i] = {first}[i]",
            f"    {tag}_xv = np.float64({first}[i])",
            f"    {tag}_s += {tag}_xv * {tag}_xv",
            # a silent input's row adds nothing (most of an MNIST image's pixels)
            f"    if {tag}_xv == 0.0:",
            "        continue",
            f"    if {tag}_learns:",
            f"        for j in range({g}.shape[1]):",
            f"            {tag}_p[j] += np.float64({g}[i, j]) * {tag}_xv",
            f"            {tag}_q[j] += np.float64({d}[i, j]) * {tag}_xv",
            "    else:",
            f"        for j in range({g}.shape[1]):",
            f"            {tag}_p[j] += np.float64({g}[i, j]) * {tag}_xv",
            f"{tag}_a = 1.0",
            f"{tag}_A = 0.0",
            f"{tag}_on = True",
        ]

    def factorised(self, j: int) -> None:
        """A sample-factorised projection: the factorised step inside a segment, else exact.

        Per step: whether the presynaptic variables still hold the segment's ``x``; the
        segment ends where they do not (its write-back), a segment starts where they are
        equal (not in a sample's first step), and the step runs factorised inside a
        segment, exactly outside one.
        """
        op, tag, e = self.program.synapses[j], f"y{j}f", self.step
        rule, fcode = op.rule, self.fcodes[op.projection]
        pre, post = self.pops.index(op.pre), self.pops.index(op.post)
        acc = self.accumulator(j)[1]
        g = f"y{j}w_{rule.weight}"
        first, *others = (f"s{pre}_{v}" for v in rule.pre_vars)
        e(f"# section: {op.projection} (segment test)")
        e(f"# {op.projection}: sample-factorised while {op.pre} holds a sample")
        e(*(f"y{j}s_{s} = sw_{s} and y{j}e_{s}" for s in op.model.switches))
        # mismatches or-ed without branches (the loop vectorises; a count runs at half speed)
        test = [
            f"{tag}_nd = False",
            f"{tag}_nx = False",
            f"for i in range({g}.shape[0]):",
            *(f"    {tag}_nd |= {other}[i] != {first}[i]" for other in others),
            f"    {tag}_nx |= {first}[i] != {tag}_x[i]",
        ]
        held = self.held_pre(j)
        if held:
            # where the presynaptic update was held, its variables are what the last test
            # read: its outcome stands, unless a start has changed x since
            e.block(f"if not (n{pre}_held and {tag}_known):", [*test, f"{tag}_known = True"])
        else:
            e(*test)
        e(
            f"{tag}_same = not {tag}_nd",
            f"{tag}_ends = {tag}_on and not ({tag}_same and not {tag}_nx)",
            # no segment starts in a sample's first step: the players switch after the
            # synapses read the previous sample's rates (it would last one step)
            f"{tag}_starts = {tag}_same and (not {tag}_on or {tag}_ends) and k % c.sps != 0",
        )
        e(f"# section: {op.projection} (segment end)")
        e.block(f"if {tag}_ends:", [*self.flush_pass(j), f"{tag}_on = False"])
        e(f"# section: {op.projection} (segment start)")
        restart = [f"{tag}_known = False"] if held else []  # x changes: test again
        e.block(f"if {tag}_starts:", [*self.start_pass(j), *restart])
        e(f"# section: {op.projection}")
        factor = fcode.render(
            rnb.SynapseNames(
                prefix=tag,
                pre=lambda v: f"s{pre}_{v}",
                post=lambda v: f"s{post}_{v}",
                var=lambda v: f"{tag}w_{v}",
                const=lambda k: f"{tag}c{k}",
            ),
            {},
            True,
        ).output
        learn = [
            f"for j in range({g}.shape[1]):",
            f"    {tag}_e[j] = {factor}",
            f"{tag}_A += {tag}_a",
            f"{tag}_a = {tag}_keep * {tag}_a",
            f"for j in range({g}.shape[1]):",
            f"    {tag}_U[j] += {tag}_u[j]",
            f"    {tag}_u[j] = {tag}_keep * {tag}_u[j] + {tag}_step * np.float64({tag}_e[j])",
        ]
        inside = [
            f"if y{j}s_{rule.switch}:",
            *_indent(learn),
            f"for j in range({g}.shape[1]):",
            f"    {acc}[j] = DT({tag}_p[j] + {tag}_A * {tag}_q[j] + {tag}_U[j] * {tag}_s)",
        ]
        exact = _Src()
        self.synapse(exact, j, add=False)
        e.block(f"if {tag}_on:", inside)
        e.block("else:", exact.lines)
        self.add_to_target(e, j)


def activation_module(name: str, dtype=np.float32) -> ModuleType:
    """A module with a network activation's kernel functions ``_act`` and ``_vact``.

    ``_act(x, thr)``: the scalar activation (the C library's ``exp``); ``_vact(x, thr)``:
    its guarded vectorisable twin, or ``None`` where it has none (see :mod:`._vecmath`).
    """
    act = get_activation(name)
    vector = rnb.vector_activation_source(act, "_vact")
    lines = [
        "import math",
        "import numpy as np",
        "from numba import njit",
        "from mc_network.backends._vecmath import guard as _vguard, vexp as _vexp",
        f"DT = np.{np.dtype(dtype).name}",
        f"# {_INLINED_DIGEST}",
        _JIT,
        *rnb.activation_source(act, "_act"),
        *([_JIT, *vector] if vector else ["_vact = None"]),
    ]
    return import_source("\n".join(lines) + "\n", "mc_activation_")


def kernel_source(program: StepProgram) -> str:
    """Python source of the kernel module of a step program (see the module docstring)."""
    return _Kernel(program).source()


def kernel_module(program: StepProgram) -> ModuleType:
    """The imported kernel module of a program (generated, compiled and cached on first use)."""
    return import_source(kernel_source(program), "mc_kernel_")
