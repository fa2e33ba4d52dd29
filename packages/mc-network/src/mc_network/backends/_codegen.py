"""Source generation for the compiled backend: one numba kernel per step program *structure*.

The kernel is the step program (:mod:`mc_network.program`) written out: for every operation
the generator pastes in its model's numba rendering (:mod:`mc_models.render.numba`) and
wires it to the arrays; it contains no model of its own. What a kernel depends on is the
structure: the operations and their models, the activation, the parameter tests the
renderings decide, which populations draw noise and the precision. Layer sizes, parameter
values, learning rates and the switches are run-time arguments, so e.g. the Yin-Yang and
MNIST networks share a kernel.

The kernel runs a chunk of time steps of one batch member without the GIL. Each step follows
the program: the step's draws (the member's PCG64 stream, :mod:`._pcg64`, inlined), every
synapse operation on the neuron state of the previous step, then every neuron operation.
A dense projection is one pass over its matrices: the weight update fused with the input
sum, the inner loop over the contiguous postsynaptic index, presynaptic terms added in
ascending order from zero, with the terms that depend only on the postsynaptic (or only on
the presynaptic) neuron computed once outside the inner loop. One kernel body per setting of
the projection's switches (e.g. learning on and off), so no switch is tested inside the
loops. ``fastmath`` is off, so LLVM neither contracts to FMA nor reassociates. The source is
imported through :func:`._modcache.import_source`, so numba's disk cache keeps the machine
code between processes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

from mc_models import get_activation
from mc_models.render import numba as rnb
from mc_network.backends._modcache import import_source
from mc_network.program import StepProgram

__all__ = ["ARGS", "kernel_module", "kernel_source", "layout", "segment_length"]

_PCG64_DIGEST = hashlib.sha256(Path(__file__).with_name("_pcg64.py").read_bytes()).hexdigest()[:16]

ARGS = (
    "b, NS, SV, CT, P, EN, SON, X, T, ORD, RNG, REC, RI, FS, k0, n, every, r0, sps, window, noisy, "
    "last"
)
_JIT = "@njit(cache=True, nogil=True, error_model='numpy', fastmath=False)"
_RECORD = """
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
def _record(ns, sv, ctr, row, RI):
    for e in range(RI.shape[0]):
        kind, t, v, o, size = RI[e, 0], RI[e, 1], RI[e, 2], RI[e, 3], RI[e, 4]
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
                for j in range(m.shape[1]):
                    row[o + i * m.shape[1] + j] = m[i, j]
"""


def float_vars(model) -> tuple[str, ...]:
    """A neuron model's per-neuron variables: the rows of its ``(B, n_vars, n)`` state."""
    return tuple(v.name for v in model.vars if not v.shared)


def layout(program: StepProgram):
    """Where the kernel finds things, shared by the generator and the backend.

    Returns ``(neuron_codes, synapse_codes, shared, synapse_vars, flags)``: the lowered
    renderings per operation; the shared counters as ``(population, var)`` in the order of
    the ``CT`` slots; the synapse variables as ``(projection, var)`` in the order of ``SV``;
    the switch enables as ``(operation kind, index, switch)`` in the order of ``EN``. The
    constants ``P`` hold every neuron operation's constants, then every synapse
    operation's, in program order.
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
    """The values of ``P``, in the kernel's order (see :func:`layout`).

    After the operations' constants: per sample-factorised projection, its factor's
    constants and its filter factor ``h``.
    """
    out: list = []
    for op, code in zip(program.neurons, ncodes, strict=True):
        out += code.values(op.resolved.values, program.dtype)
    for op, code in zip(program.synapses, scodes, strict=True):
        out += code.values(op.resolved.values, program.dtype)
    for op, code in _fast_codes(program):
        out += code.values(op.fast_resolved.values, program.dtype)
        out.append(op.resolved.values[op.fast.filter_param])
    return out


def _fast_codes(program: StepProgram) -> list:
    """``(operation, factor code)`` of every sample-factorised projection, in program order."""
    return [
        (op, rnb.synapse_code(op.fast.factor, op.fast_resolved.values, program.dtype))
        for op in program.synapses
        if op.fast is not None
    ]


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


def kernel_source(program: StepProgram) -> str:
    """Python source of the kernel module of a step program.

    The module defines ``run_member(b, NS, SV, CT, P, EN, SON, X, T, ORD, RNG, REC, RI, FS,
    k0, n, every, r0, sps, window, noisy, last)``: ``n`` steps of batch member ``b`` from
    stage step ``k0``, without the GIL. ``N_PARAMS`` and ``N_FLAGS`` are the lengths of ``P``
    and ``EN`` the caller fills in :func:`layout`'s order. ``FS[b]`` (float64) carries the
    segments of the sample-factorised projections from one call to the next (zero at a
    stage's start, :func:`segment_length` per projection); ``last``: the call ends the
    stage, so its segments end.
    """
    ncodes, scodes, shared, svars, flags = layout(program)
    pops = [op.population for op in program.neurons]
    head, body, end = _Src(), _Src(2), _Src(1)
    head(
        '"""Generated by mc_network.backends._codegen for one step program; do not edit."""',
        "import math",
        f"# {_PCG64_DIGEST}: _pcg64 is inlined, numba's cache does not track it",
        "import numpy as np",
        "from numba import njit",
        "from mc_network.backends._pcg64 import fill_normal_f32",
        f"DT = np.{program.dtype.name}",
        "",
        "",
        _JIT,
        *rnb.activation_source(get_activation(program.activation), "_act"),
        *_RECORD.format(jit=_JIT).split("\n"),
        "",
        _JIT,
        f"def run_member({ARGS}):",
    )
    init = _Src(1)
    # the member's state is copied in and out: private memory, no false sharing between
    # threads that run neighbouring members
    init(
        "zero = DT(0.0)",
        "ctr = CT[b].copy()",
        "rng = RNG[b].copy()",
        "xb, tb, ob = X[b % X.shape[0]], T[b % T.shape[0]], ORD[b]",
    )
    p_index = [0]

    def load_consts(tag: str, n_consts: int) -> None:
        for k in range(n_consts):
            init(f"{tag}c{k} = P[{p_index[0]}]")
            p_index[0] += 1

    def load_flags(kind: str, k: int, tag: str, switches) -> None:
        for s in switches:
            init(f"{tag}e_{s} = EN[{flags.index((kind, k, s))}] != 0")

    # populations: state rows, input buffers, constants, switch enables
    inputs: dict[tuple[str, str], str] = {}
    draws_end = "0"
    for i, op in enumerate(program.neurons):
        tag = f"n{i}"
        init(f"s{i} = _get(NS[{i}][b])")
        init(*(f"s{i}_{v} = s{i}[{r}]" for r, v in enumerate(float_vars(op.model))))
        for name in op.model.inputs:
            inputs[(op.population, name)] = f"in{i}_{name}"
            init(f"in{i}_{name} = np.zeros(s{i}.shape[1], DT)")
        load_consts(tag, len(ncodes[i].consts))
        load_flags("n", i, tag, op.model.switches)
        if op.draws:
            init(f"noff{i} = {draws_end}")
            draws_end = f"noff{i} + {op.draws} * s{i}.shape[1]"
    # projections: synapse variables, constants, switch enables, buffers
    for j, op in enumerate(program.synapses):
        tag = f"y{j}"
        for v in op.model.var_names:
            init(f"{tag}w_{v} = _get(SV[{svars.index((op.projection, v))}][b])")
        load_consts(tag, len(scodes[j].consts))
        load_flags("y", j, tag, op.model.switches)
        post = pops.index(op.post)
        settings = scodes[j].settings() or [{}]
        names = _snames(op, j, pops)
        n_terms = max(scodes[j].render(names, s, op.one_to_one).n_post_terms for s in settings)
        init(*(f"{tag}pt{k} = np.zeros(s{post}.shape[1], DT)" for k in range(n_terms)))
        if not op.first:
            init(f"{tag}tmp = np.zeros(s{post}.shape[1], DT)")
    fast = {}
    for op, fcode in _fast_codes(program):
        j = [o.projection for o in program.synapses].index(op.projection)
        if not fast:
            init("fso = 0")
        fast[j] = fcode
        _fast_init(init, j, op, fcode, pops, load_consts, flags, program.switches)
    if fast:  # whether synapse variables are recorded (a segment ends before such a record)
        init(
            "rec_sv = False", "for e in range(RI.shape[0]):", "    rec_sv = rec_sv or RI[e, 0] == 1"
        )
    init(f"xi = np.zeros({draws_end}, DT)")
    init("nsl = (" + "".join(f"s{i}, " for i in range(len(pops))) + ")")
    sv_names = [f"y{[o.projection for o in program.synapses].index(p)}w_{v}" for p, v in svars]
    init("svl = (" + "".join(f"{n}, " for n in sv_names) + ")")
    # the step
    body(
        "k = k0 + kk",
        "off = window > 0 and (k % sps) < window",
        *(f"sw_{s} = SON[{i}] != 0 and not off" for i, s in enumerate(program.switches)),
    )
    if program.noisy:
        body.block("if noisy:", ["fill_normal_f32(rng, xi)"])
    for j, op in enumerate(program.synapses):
        if j in fast:
            _fast_synapse(body, j, op, scodes[j], fast[j], pops, inputs)
        else:
            _synapse(body, j, op, scodes[j], pops, inputs)
    for i, op in enumerate(program.neurons):
        _neuron(body, i, op, ncodes[i], inputs, shared)
    if fast:
        flush = _Src()
        for j in fast:
            flush.block(
                f"if y{j}f_on:", [*_fast_flush(j, program.synapses[j]), f"y{j}f_on = False"]
            )
        # segments end before a record of synapse variables (and when the rates change)
        body.block("if rec_sv and k % every == 0:", flush.lines)
    body.block(
        "if RI.shape[0] > 0 and k % every == 0:",
        ["_record(nsl, svl, ctr, REC[b, k // every - r0], RI)"],
    )
    for j in fast:
        end.block(
            f"if last and y{j}f_on:", [*_fast_flush(j, program.synapses[j]), f"y{j}f_on = False"]
        )
        end(*_fast_save(j))
    end(*(f"_put(NS[{i}][b], s{i})" for i in range(len(pops))))
    end(*(f"_put(SV[{k}][b], {n})" for k, n in enumerate(sv_names)))
    end("for i in range(ctr.shape[0]):", "    CT[b, i] = ctr[i]")
    end("for i in range(rng.shape[0]):", "    RNG[b, i] = rng[i]")
    lines = [
        *head.lines,
        *init.lines,
        "    for kk in range(n):",
        *body.lines,
        *end.lines,
        "",
        f"N_PARAMS = {p_index[0]}",
        f"N_FLAGS = {len(flags)}",
    ]
    return "\n".join(lines) + "\n"


def _snames(op, j: int, pops: list[str]) -> rnb.SynapseNames:
    tag, pre, post = f"y{j}", pops.index(op.pre), pops.index(op.post)
    return rnb.SynapseNames(
        prefix=tag,
        pre=lambda v: f"s{pre}_{v}",
        post=lambda v: f"s{post}_{v}",
        var=lambda v: f"{tag}w_{v}",
        const=lambda k: f"{tag}c{k}",
        post_term=lambda k: f"{tag}pt{k}",
        pre_term=lambda k: f"{tag}pr{k}",
    )


def _synapse(e: _Src, j: int, op, code, pops: list[str], inputs: dict, add: bool = True) -> None:
    tag, post = f"y{j}", pops.index(op.post)
    buf = inputs[(op.post, op.target)]
    acc = buf if op.first else f"{tag}tmp"
    e(f"# {op.projection}: {op.pre} -> {op.post}.{op.target} ({op.model.name})")
    e(*(f"{tag}s_{s} = sw_{s} and {tag}e_{s}" for s in op.model.switches))
    settings = code.settings() or [{}]
    names = _snames(op, j, pops)
    n_post = f"s{post}.shape[1]"
    if op.one_to_one:
        e.block(f"for j in range({n_post}):", [f"{acc}[j] = zero"])
    else:
        n_post = f"{tag}w_g.shape[1]"
        e.block(f"for j in range({n_post}):", [f"{acc}[j] = zero"])
    for k, setting in enumerate(settings):
        v = code.render(names, setting, op.one_to_one)
        test = " and ".join(f"{'' if on else 'not '}{tag}s_{s}" for s, on in setting.items())
        lines = _Src()
        if op.one_to_one:
            if v.output is not None:
                lines.block(f"for j in range({n_post}):", [f"{acc}[j] = zero + {v.output}"])
        else:
            n_pre = f"{tag}w_g.shape[0]"
            if v.post_lines:
                lines.block(f"for j in range({n_post}):", list(v.post_lines))
            inner = [*v.inner_lines] + ([f"{acc}[j] += {v.output}"] if v.output else [])
            if inner:
                lines(f"for i in range({n_pre}):")
                lines.ind += 1
                lines(*v.pre_lines)
                lines.block(f"for j in range({n_post}):", inner)
                lines.ind -= 1
        if len(settings) == 1:
            e(*lines.lines)
        elif k == len(settings) - 1:
            e.block("else:", lines.lines or ["pass"])
        else:
            e.block(f"{'if' if k == 0 else 'elif'} {test}:", lines.lines or ["pass"])
    if add and not op.first:
        e.block(f"for j in range({buf}.shape[0]):", [f"{buf}[j] = {buf}[j] + {acc}[j]"])


def _fast_init(init: _Src, j: int, op, fcode, pops, load_consts, flags, switches) -> None:
    """A sample-factorised projection's segment state (see :mod:`mc_network.program`)."""
    tag, pre, post = f"y{j}f", pops.index(op.pre), pops.index(op.post)
    rule = op.fast
    n_pre, n_post = f"s{pre}.shape[1]", f"s{post}.shape[1]"
    # the segment from the previous call (FS[b], see segment_length), copied in
    init(
        f"{tag}_o = fso",
        f"fso = {tag}_o + 4 + {n_pre} + 4 * {n_post}",
        f"{tag}_on = FS[b, {tag}_o] != 0.0",
        f"{tag}_a = FS[b, {tag}_o + 1]",
        f"{tag}_A = FS[b, {tag}_o + 2]",
        f"{tag}_s = FS[b, {tag}_o + 3]",
        f"{tag}_x = np.empty({n_pre}, DT)",
        f"for i in range({n_pre}):",
        f"    {tag}_x[i] = DT(FS[b, {tag}_o + 4 + i])",
        f"{tag}_e = np.zeros({n_post}, DT)",
        *(f"{tag}_{v} = np.empty({n_post}, np.float64)" for v in ("p", "q", "u", "U")),
        f"for j in range({n_post}):",
        *(
            f"    {tag}_{v}[j] = FS[b, {tag}_o + 4 + {n_pre} + {r} * {n_post} + j]"
            for r, v in enumerate(("p", "q", "u", "U"))
        ),
    )
    load_consts(tag, len(fcode.consts))
    load_consts(f"{tag}k", 1)
    init(f"{tag}_step = np.float64({tag}kc0)", f"{tag}_keep = 1.0 - {tag}_step")
    # whether the rule can learn in this stage (else its increment is never read)
    en = flags.index(("y", j, rule.switch))
    son = list(switches).index(rule.switch)
    init(f"{tag}_learns = EN[{en}] != 0 and SON[{son}] != 0")


def segment_length(n_pre: int, n_post: int) -> int:
    """Length of a sample-factorised projection's segment in ``FS[b]``.

    ``on, a, A, s``, then ``x`` (``n_pre``), then ``p, q, u, U`` (``n_post`` each).
    """
    return 4 + n_pre + 4 * n_post


def _fast_save(j: int) -> list[str]:
    """Copy a projection's segment out to ``FS[b]`` (it goes on in the next call)."""
    tag = f"y{j}f"
    n_pre, n_post = f"{tag}_x.shape[0]", f"{tag}_p.shape[0]"
    return [
        f"FS[b, {tag}_o] = 1.0 if {tag}_on else 0.0",
        f"FS[b, {tag}_o + 1] = {tag}_a",
        f"FS[b, {tag}_o + 2] = {tag}_A",
        f"FS[b, {tag}_o + 3] = {tag}_s",
        f"for i in range({n_pre}):",
        f"    FS[b, {tag}_o + 4 + i] = np.float64({tag}_x[i])",
        f"for j in range({n_post}):",
        *(
            f"    FS[b, {tag}_o + 4 + {n_pre} + {r} * {n_post} + j] = {tag}_{v}[j]"
            for r, v in enumerate(("p", "q", "u", "U"))
        ),
    ]


def _fast_flush(j: int, op) -> list[str]:
    """Write the segment's weights and increments back (only where it learned)."""
    tag, w = f"y{j}f", f"y{j}w_"
    g, d = w + op.fast.weight, w + op.fast.filtered
    return [
        f"if {tag}_A != 0.0:",
        f"    for i in range({g}.shape[0]):",
        f"        {tag}_xv = np.float64({tag}_x[i])",
        f"        for j in range({g}.shape[1]):",
        f"            {tag}_d0 = np.float64({d}[i, j])",
        f"            {d}[i, j] = DT({tag}_a * {tag}_d0 + {tag}_u[j] * {tag}_xv)",
        f"            {g}[i, j] = DT(",
        f"                (np.float64({g}[i, j]) + {tag}_A * {tag}_d0) + {tag}_U[j] * {tag}_xv",
        "            )",
    ]


def _fast_synapse(e: _Src, j: int, op, code, fcode, pops: list[str], inputs: dict) -> None:
    """A sample-factorised projection: the factorised step inside a segment, else exact."""
    tag, pre = f"y{j}f", pops.index(op.pre)
    rule = op.fast
    buf = inputs[(op.post, op.target)]
    acc = buf if op.first else f"y{j}tmp"
    g, d = f"y{j}w_{rule.weight}", f"y{j}w_{rule.filtered}"
    first, *others = (f"s{pre}_{v}" for v in rule.pre_vars)
    e(f"# {op.projection}: sample-factorised while {op.pre} holds a sample")
    e(*(f"y{j}s_{s} = sw_{s} and y{j}e_{s}" for s in op.model.switches))
    # mismatches counted without branches (the loop vectorises)
    e(f"{tag}_nd = 0", f"{tag}_nx = 0")
    e(f"for i in range({first}.shape[0]):")
    e.ind += 1
    e(*(f"{tag}_nd += {other}[i] != {first}[i]" for other in others))
    e(f"{tag}_nx += {first}[i] != {tag}_x[i]")
    e.ind -= 1
    e(f"{tag}_same = {tag}_nd == 0", f"{tag}_cont = {tag}_on and {tag}_nx == 0")
    e.block(
        f"if {tag}_on and not ({tag}_same and {tag}_cont):",
        [*_fast_flush(j, op), f"{tag}_on = False"],
    )
    start = [
        f"{tag}_s = 0.0",
        f"for j in range({g}.shape[1]):",
        *(f"    {tag}_{v}[j] = 0.0" for v in ("p", "q", "u", "U")),
        f"for i in range({g}.shape[0]):",
        f"    {tag}_x[i] = {first}[i]",
        f"    {tag}_xv = np.float64({first}[i])",
        f"    {tag}_s += {tag}_xv * {tag}_xv",
        f"    for j in range({g}.shape[1]):",
        f"        {tag}_p[j] += np.float64({g}[i, j]) * {tag}_xv",
        f"    if {tag}_learns:",
        f"        for j in range({g}.shape[1]):",
        f"            {tag}_q[j] += np.float64({d}[i, j]) * {tag}_xv",
        f"{tag}_a = 1.0",
        f"{tag}_A = 0.0",
        f"{tag}_on = True",
    ]
    # no segment starts in a sample's first step: the players switch after the synapses read
    # the previous sample's rates, so it would last one step (a start and a write-back)
    e.block(f"if {tag}_same and not {tag}_on and k % sps != 0:", start)
    names = rnb.SynapseNames(
        prefix=tag,
        pre=lambda v: f"s{pre}_{v}",
        post=lambda v: f"s{pops.index(op.post)}_{v}",
        var=lambda v: f"{tag}w_{v}",
        const=lambda k: f"{tag}c{k}",
    )
    factor = fcode.render(names, {}, True).output
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
        *_block(f"if y{j}s_{rule.switch}:", learn),
        f"for j in range({g}.shape[1]):",
        f"    {acc}[j] = DT({tag}_p[j] + {tag}_A * {tag}_q[j] + {tag}_U[j] * {tag}_s)",
    ]
    exact = _Src()
    _synapse(exact, j, op, code, pops, inputs, add=False)
    e.block(f"if {tag}_on:", inside)
    e.block("else:", exact.lines)
    if not op.first:
        e.block(f"for j in range({buf}.shape[0]):", [f"{buf}[j] = {buf}[j] + {acc}[j]"])


def _block(head: str, body: list[str]) -> list[str]:
    return [head, *("    " + ln for ln in body)]


def _neuron(e: _Src, i: int, op, code, inputs: dict, shared: list) -> None:
    tag = f"n{i}"
    data = {"inputs": "xb", "teacher": "tb"}.get(op.data or "", "")
    e(f"# {op.population} ({op.model.name})")
    e(*(f"{tag}s_{s} = sw_{s} and {tag}e_{s}" for s in op.model.switches))
    names = rnb.NeuronNames(
        prefix=tag,
        size=f"s{i}.shape[1]",
        var=lambda v: f"s{i}_{v}",
        shared=lambda v: f"ctr[{shared.index((op.population, v))}]",
        input=lambda name: inputs[(op.population, name)],
        const=lambda k: f"{tag}c{k}",
        draw=(lambda k: f"xi[noff{i} + {k} * s{i}.shape[1] + j]")
        if op.draws
        else (lambda k: "zero"),
        sample=lambda idx: f"{data}[ob[{idx}], j]",
        switch=lambda s: f"{tag}s_{s}",
        act="_act",
    )
    e(*code.lines(names))


def kernel_module(program: StepProgram) -> ModuleType:
    """The imported kernel module of a program (generated, compiled and cached on first use)."""
    return import_source(kernel_source(program), "mc_kernel_")
