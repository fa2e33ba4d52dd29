"""Where one member-step of the compiled kernel spends its time, split by operation.

The kernel of the network's step program is generated as usual, then instrumented: a read
of the CPU's cycle counter (LLVM's ``readcyclecounter``) at the start of every section of
the step loop (the step's switches, the noise draws, every synapse operation, every neuron
operation, the segment flush and the recording), each adding its cycles to a per-member
counter of the section. The instrumented kernel replaces the simulation's kernel; one
thread runs every member (``MC_NETWORK_THREADS=1`` is set), so the sections and the
per-chunk Python add up to the stage's wall time. A second instrumented build with the
activation replaced by the identity gives the activation's share of each neuron
operation (the difference). The cycle counter is converted to seconds by timing it against
``time.perf_counter``.

Also printed: the flops and bytes of one member-step, counted from the step program's
renderings (each arithmetic operator of the rendered update once per element it runs on;
an activation as one ``exp`` and four float64 operations; bytes: every synapse variable
read and written once, every neuron variable and input read and written once), and the
fraction of the machine's peak float32 rate they reach (``--peak-gflops``: the machine's
peak without fused multiply-add, which the exact arithmetic forbids; by default 32 float32
operations per cycle and core, two 16-lane AVX-512 ports, at the measured counter rate).
The memory roof beside it is measured, not assumed: one thread passing again and again over
two float32 matrices of the largest projection's shape (its weights and increments, as a
member's chunk of steps does), reading and writing every element once a pass with almost
no arithmetic (``d = d * k + x_i``, ``g = g + d``), in GB/s; each projection's bytes per
nanosecond are printed against it.

    python benchmarks/profile_step.py --network mnist --input-mode fast --batch 10
    python benchmarks/profile_step.py --network yinyang --batch 10 --json out.json
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

os.environ["MC_NETWORK_THREADS"] = "1"  # before mc_network reads it

import numpy as np  # noqa: E402

from mc_network import build_network, mnist_spec, yinyang_spec  # noqa: E402

log = logging.getLogger("profile_step")

NETWORKS = {
    "mnist": mnist_spec,
    "yinyang": yinyang_spec,
    "mnist-10in": lambda v, **kw: mnist_spec(v, dims=(10, 100, 10), **kw),
}

_INTRINSIC = """
from numba.core import cgutils as _cgutils
from numba.core import types as _types
from numba.extending import intrinsic as _intrinsic
from llvmlite import ir as _ir


@_intrinsic
def _cycles(typingctx):
    def codegen(context, builder, signature, args):
        fnty = _ir.FunctionType(_ir.IntType(64), [])
        fn = _cgutils.get_or_insert_function(builder.module, fnty, "llvm.readcyclecounter")
        return builder.call(fn, [])

    return _types.int64(), codegen
"""


def sections_of(body: list[str], indent: str) -> list[tuple[int, str]]:
    """``(line index, section name)`` of every section start in the step loop's body.

    A section starts at a comment at the body's indentation (``# section: name`` or the
    operation comments ``# name: ...`` / ``# name (model)``), at the noise draw, at the
    segment flush before records and at the recording.
    """
    out = []
    explicit = any(ln.strip().startswith("# section:") for ln in body)
    for k, line in enumerate(body):
        if not line.startswith(indent) or line[len(indent)] == " ":
            continue
        text = line.strip()
        if text.startswith("# section:"):
            out.append((k, text.split(":", 1)[1].strip()))
        elif explicit:
            continue
        elif text.startswith("# "):
            out.append((k, re.split(r"[:(]", text[2:], maxsplit=1)[0].strip()))
        elif text.startswith("if noisy"):
            out.append((k, "noise draws"))
        elif text.startswith("if rec_sv"):
            out.append((k, "segment flush (records)"))
        elif text.startswith("if RI.shape[0] > 0"):
            out.append((k, "recording"))
    return out


def instrument(source: str, identity_activation: bool = False) -> tuple[str, list[str]]:
    """The kernel source with cycle counters per section, and the section names.

    ``run_member(...)`` becomes ``run_member_prof(PROF, ...)``; ``PROF[b, s]`` gains the
    cycles of section ``s`` (section 0: the step's switches and loop overhead).
    """
    lines = source.split("\n")
    start = next(k for k, ln in enumerate(lines) if ln.startswith("def run_member("))
    lines[start] = lines[start].replace("def run_member(", "def run_member_prof(PROF, ")
    loop = next(k for k in range(start, len(lines)) if lines[k].lstrip().startswith("for kk in"))
    indent = lines[loop][: len(lines[loop]) - len(lines[loop].lstrip())] + "    "
    end = loop + 1
    while end < len(lines) and (lines[end].startswith(indent) or not lines[end].strip()):
        end += 1
    body = lines[loop + 1 : end]
    names = ["step switches, loop"]
    out = [f"{indent}_t = _cycles()"]
    current = 0
    marks = dict(sections_of(body, indent))
    for k, line in enumerate(body):
        if k in marks:
            names.append(marks[k])
            out += [
                f"{indent}_c = _cycles()",
                f"{indent}PROF[b, {current}] += _c - _t",
                f"{indent}_t = _c",
            ]
            current = len(names) - 1
        out.append(line)
    out += [f"{indent}PROF[b, {current}] += _cycles() - _t"]
    lines[loop + 1 : end] = out
    text = "\n".join(lines)
    text = text.replace("from numba import njit", "from numba import njit\n" + _INTRINSIC, 1)
    if identity_activation:  # the scalar and the vectorised activation
        text = re.sub(r"(def _v?act\(x, thr\):\n)(    .*\n)+", r"\1    return x\n", text)
    return text, names


def counter_hz() -> float:
    """Cycle-counter ticks per second (timed against ``time.perf_counter``)."""
    from mc_network.backends._modcache import import_source

    mod = import_source(
        _INTRINSIC + "\nfrom numba import njit\n\n@njit\ndef now():\n    return _cycles()\n",
        "mc_cycles_",
    )
    mod.now()
    rates = []
    for _ in range(5):
        c0, t0 = mod.now(), time.perf_counter()
        while time.perf_counter() - t0 < 0.05:
            pass
        rates.append((mod.now() - c0) / (time.perf_counter() - t0))
    return float(np.median(rates))


def _data(spec, n: int, seed: int = 0, digits: bool = False):
    """``n`` samples: uniform random inputs, or the bundled MNIST sample's training images."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(n, spec.dims[0])).astype(np.float32)
    if digits:
        from mc_experiments.datasets.mnist import SAMPLE_DIR, read_idx

        pixels = read_idx(SAMPLE_DIR / "train-images-idx3-ubyte.gz").reshape(-1, 784)
        x = pixels[np.arange(n) % len(pixels)].astype(np.float32) / np.float32(256.0)
    t = np.full((n, spec.dims[-1]), 0.1, np.float32)
    t[np.arange(n), rng.integers(0, spec.dims[-1], n)] = 1.0
    return x, t


class _Shim:
    """Stands in for the kernel module: ``run_member`` calls the instrumented kernel."""

    def __init__(self, module, prof: np.ndarray) -> None:
        self._module, self._prof = module, prof
        self.N_PARAMS, self.N_FLAGS = module.N_PARAMS, module.N_FLAGS

    def run_member(self, *args):
        self._module.run_member_prof(self._prof, *args)


def measure(
    spec, batch: int, samples: int, learning: bool, rounds: int, identity: bool, digits=False
):
    """Per-section cycles per member-step, and the stage's wall time per member-step."""
    from mc_network.backends._codegen import kernel_source
    from mc_network.backends._modcache import import_source

    net = build_network(spec, seeds=list(range(batch)), backend="compiled")
    x, t = _data(spec, samples, digits=digits)
    # the uninstrumented kernel first (its wall time is the reference)
    net.run_stage(x[:1], t[:1], learning=learning, teaching=learning)
    plain = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        net.run_stage(x, t, learning=learning, teaching=learning)
        plain.append(time.perf_counter() - t0)
    source, names = instrument(kernel_source(net.program), identity)
    module = import_source(source, "mc_kernel_prof_")
    prof = np.zeros((batch, len(names)), dtype=np.int64)
    net._kernel = _Shim(module, prof)
    net.run_stage(x[:1], t[:1], learning=learning, teaching=learning)
    best, walls = None, []
    for _ in range(rounds):
        prof[...] = 0
        t0 = time.perf_counter()
        net.run_stage(x, t, learning=learning, teaching=learning)
        walls.append(time.perf_counter() - t0)
        per = prof.sum(axis=0)
        best = per if best is None or per.sum() < best.sum() else best
    steps = batch * samples * 100
    return names, best / steps, min(walls) / steps, min(plain) / steps, net.program


def memory_roof(n_pre: int, n_post: int, seconds: float = 0.3) -> float:
    """GB/s of read-modify-write passes over two float32 ``(n_pre, n_post)`` matrices.

    The access pattern of a projection's learning pass (weights and increments read and
    written once) with almost no arithmetic, on one thread, over the same two matrices
    again and again (cache-resident where they fit, as in a member's chunk). The best of
    five timings of about ``seconds / 5`` each.
    """
    from numba import njit

    from mc_network.backends._vecmath import prefer_wide_vectors

    @njit(nogil=True, error_model="numpy")
    def passes(g, d, x, k, n):
        prefer_wide_vectors()
        for _ in range(n):
            for i in range(g.shape[0]):
                xi = x[i]
                for j in range(g.shape[1]):
                    dj = d[i, j] * k + xi
                    d[i, j] = dj
                    g[i, j] = g[i, j] + dj

    g = np.zeros((n_pre, n_post), np.float32)
    d = np.zeros_like(g)
    x = np.full(n_pre, 0.5, np.float32)
    k = np.float32(0.5)  # d stays away from subnormal numbers: x_i / (1 - k) at most
    passes(g, d, x, k, 1)
    t0 = time.perf_counter()
    passes(g, d, x, k, 10)
    n = max(1, int(seconds / 5 / max((time.perf_counter() - t0) / 10, 1e-9)))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        passes(g, d, x, k, n)
        best = min(best, (time.perf_counter() - t0) / n)
    return 4 * g.nbytes / best * 1e-9  # two matrices, each read and written


def _count(node) -> tuple[int, int]:
    """(arithmetic operators, activation calls) in rendered Python source."""
    ops = acts = 0
    for n in ast.walk(node):
        if (
            isinstance(n, ast.BinOp | ast.AugAssign)
            or isinstance(n, ast.UnaryOp)
            and isinstance(n.op, ast.USub)
        ):
            ops += 1
        elif isinstance(n, ast.Call) and getattr(n.func, "id", "") == "_act":
            acts += 1
    return ops, acts


def _parse(lines) -> ast.AST:
    text = "\n".join(lines)
    try:
        return ast.parse(text)
    except SyntaxError:  # statements that open blocks: count their expressions only
        return ast.parse("\n".join(ln.strip().rstrip(":") for ln in lines if ln.strip()))


def _factorised(op) -> bool:
    """Whether an operation runs sample-factorised (also in commits before its own type)."""
    return type(op).__name__ == "FactorisedOp" or getattr(op, "fast", None) is not None


def work(program, learning: bool) -> dict[str, dict[str, float]]:
    """Flops and bytes of one member-step, per operation (see the module docstring).

    Synapse operations count the rendering of the stage's switch setting (learning on or
    off); a sample-factorised projection counts its in-segment step (per postsynaptic
    neuron: the factor, four updates of the segment and the output).
    """
    from mc_models.render import numba as rnb

    def _snames(op, j, pops):
        return rnb.SynapseNames(
            prefix=f"y{j}",
            pre=lambda v: f"pre_{v}",
            post=lambda v: f"post_{v}",
            var=lambda v: f"w_{v}",
            const=lambda k: f"c{k}",
        )

    pops = [op.population for op in program.neurons]
    isz = program.dtype.itemsize
    out: dict[str, dict[str, float]] = {}
    for j, op in enumerate(program.synapses):
        code = rnb.synapse_code(op.model, op.resolved.values, program.dtype)
        settings = code.settings() or [{}]
        setting = next(
            (
                s
                for s in settings
                if all(v == (learning and k not in op.frozen) for k, v in s.items())
            ),
            settings[-1],
        )
        v = code.render(_snames(op, j, pops), setting, op.one_to_one)
        inner, _ = _count(_parse(list(v.inner_lines)))
        post, _ = _count(_parse(list(v.post_lines)))
        pre, _ = _count(_parse(list(v.pre_lines)))
        learns = any(setting.values())
        n_vars = len(op.model.var_names)
        if op.one_to_one:
            flops, nbytes = 1 * op.n_post, 3 * isz * op.n_post
        elif _factorised(op):
            flops = op.n_post * (3 + 6 + 4) + (2 if learns else 0)
            nbytes = 8 * 5 * op.n_post + 2 * op.n_pre * isz * 2  # segment state; input check
        else:
            flops = (inner + (2 if v.output else 0)) * op.n_pre * op.n_post
            flops += post * op.n_post + pre * op.n_pre
            rw = 2 if learns else 1
            nbytes = (
                n_vars * isz * rw * op.n_pre * op.n_post if learns else isz * op.n_pre * op.n_post
            )
            nbytes += isz * (op.n_pre * 2 + op.n_post * 2)
        out[op.projection] = {"flops": flops, "bytes": nbytes, "activations": 0}
    for i, op in enumerate(program.neurons):
        code = rnb.neuron_code(op.model, op.resolved.values, program.dtype)
        names = rnb.NeuronNames(
            prefix=f"n{i}",
            size="n",
            var=lambda v: f"s_{v}",
            shared=lambda v: f"c_{v}",
            input=lambda v: f"in_{v}",
            const=lambda k: f"c{k}",
            act="_act",
        )
        ops, acts = _count(_parse(code.lines(names)))
        n_vars = len([v for v in op.model.vars if not v.shared]) + len(op.model.inputs)
        out[op.population] = {
            "flops": (ops + 4 * acts) * op.size,
            "bytes": 2 * n_vars * isz * op.size,
            "activations": acts * op.size,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--network", choices=sorted(NETWORKS), default="mnist")
    p.add_argument("--variant", default="pal")
    p.add_argument("--input-mode", choices=("exact", "fast"), default="fast")
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--samples", type=int, default=0, help="samples per round (0: by network)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-learning", action="store_true")
    p.add_argument(
        "--inputs",
        choices=("uniform", "digits"),
        default="uniform",
        help="uniform random inputs, or (mnist) the bundled MNIST sample's training images",
    )
    p.add_argument("--peak-gflops", type=float, default=0.0)
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = NETWORKS[a.network](a.variant, input_mode=a.input_mode)
    samples = a.samples or {"mnist": 20, "yinyang": 200, "mnist-10in": 40}[a.network]
    learning = not a.no_learning
    hz = counter_hz()
    if a.inputs == "digits" and a.network != "mnist":
        p.error("--inputs digits needs --network mnist (784 inputs)")
    digits = a.inputs == "digits"
    names, cyc, wall, plain, program = measure(
        spec, a.batch, samples, learning, a.rounds, False, digits
    )
    _, cyc_id, _, _, _ = measure(spec, a.batch, samples, learning, a.rounds, True, digits)
    ns = cyc / hz * 1e9
    act_ns = np.maximum(cyc - cyc_id, 0) / hz * 1e9
    counts = work(program, learning)
    kernel_ns = ns.sum()
    rows = []
    for k, name in enumerate(names):
        c = counts.get(name, {})
        rows.append(
            {
                "section": name,
                "ns": float(ns[k]),
                "activation_ns": float(act_ns[k]) if c.get("activations") else 0.0,
                "share": float(ns[k] / (wall * 1e9)),
                "flops": c.get("flops", 0),
                "bytes": c.get("bytes", 0),
            }
        )
    from mc_network.backends._codegen import padded

    widest = max(
        (op for op in program.synapses if not op.one_to_one), key=lambda op: op.n_pre * op.n_post
    )
    roof = memory_roof(widest.n_pre, padded(widest.n_post))
    projections = {op.projection for op in program.synapses}
    for r in rows:  # the projections' matrix passes, to hold against the roof
        moved = r["section"] in projections and r["bytes"] and r["ns"] > 0
        r["gbs"] = r["bytes"] / r["ns"] if moved else None
    python_ns = wall * 1e9 - kernel_ns
    flops = sum(r["flops"] for r in rows)
    nbytes = sum(r["bytes"] for r in rows)
    cores = len(os.sched_getaffinity(0))
    peak = a.peak_gflops or 32 * hz * 1e-9 * cores
    result = {
        "network": a.network,
        "variant": a.variant,
        "input_mode": a.input_mode,
        "inputs": a.inputs,
        "batch": a.batch,
        "learning": learning,
        "counter_ghz": hz * 1e-9,
        "sections": rows,
        "per_chunk_python_ns": python_ns,
        "instrumented_ns_per_member_step": wall * 1e9,
        "plain_ns_per_member_step": plain * 1e9,
        "flops_per_member_step": flops,
        "bytes_per_member_step": nbytes,
        "gflops_one_core": flops / plain,
        "peak_gflops_machine": peak,
        "fraction_of_peak_two_cores": 2 * flops / plain * 1e-9 / peak if cores >= 2 else None,
        "activations_per_member_step": sum(c["activations"] for c in counts.values()),
        "memory_roof_gbs": roof,
        "memory_roof_shape": [widest.n_pre, padded(widest.n_post)],
        "memory_roof_projection": widest.projection,
    }
    print(
        f"{a.network} {a.input_mode} batch {a.batch} "
        f"{'learning' if learning else 'no learning'}, {a.inputs} inputs"
    )
    print(
        f"{'section':34s} {'ns':>8s} {'act ns':>8s} {'share':>6s} {'flops':>8s} {'bytes':>8s} "
        f"{'GB/s':>6s}"
    )
    for r in rows:
        gbs = "" if r["gbs"] is None else f"{r['gbs']:.1f}"
        print(
            f"{r['section']:34s} {r['ns']:8.0f} {r['activation_ns']:8.0f} {r['share']:6.1%} "
            f"{r['flops']:8d} {r['bytes']:8d} {gbs:>6s}"
        )
    print(f"{'per-chunk Python':34s} {python_ns:8.0f} {'':8s} {python_ns / (wall * 1e9):6.1%}")
    print(
        f"member-step: {wall * 1e9:.0f} ns instrumented, {plain * 1e9:.0f} ns plain; "
        f"{flops} flops, {nbytes} bytes; {flops / plain * 1e-9:.2f} GFLOP/s on one core "
        f"({flops / plain * 1e-9 / (peak / cores):.1%} of its peak {peak / cores:.0f} GFLOP/s)"
    )
    print(
        f"memory roof: {roof:.1f} GB/s (one thread, read-modify-write passes over two float32 "
        f"{widest.n_pre} x {padded(widest.n_post)} matrices, the shape of {widest.projection})"
    )
    on_roof = next((r for r in rows if r["section"] == widest.projection), {"gbs": None})
    if on_roof["gbs"] and not _factorised(widest):  # (a factorised pass moves other bytes)
        print(f"{widest.projection}: {on_roof['gbs']:.1f} GB/s, {on_roof['gbs'] / roof:.0%} of it")
    if a.json:
        a.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
