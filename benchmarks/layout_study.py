"""Which array layout numba vectorises: one projection's learning step, per member or in lanes.

The compiled kernel runs each batch member's loops on its own arrays (``(n_pre, n_post)``
per member, the postsynaptic index innermost and padded to 16 lanes). The alternative the
kernel issue names, *lanes over members*, puts the members innermost (``(n_pre, n_post,
16)``, members padded to 16), so that every synapse's update is one vector operation for all
members and each member keeps its arithmetic order. This script times both layouts on the
loop shape of a learning projection of the paper's networks (a rank-one delta rule with its
weight and increment, summed into the postsynaptic input in ascending presynaptic order, as
the generated kernel writes it), checks that both give the same bits, and reports whether
LLVM vectorised each loop (packed float32 operations in the machine code).

The loop body is a stand-in of that shape, not a model of the package (the models are
declared once, in mc-models); it is here to measure layouts, which the generated kernel
would follow.

    python benchmarks/layout_study.py --json benchmarks/results/kernel/layout-study.json
    python benchmarks/layout_study.py --noalias \
        --json benchmarks/results/kernel/layout-study-noalias.json

``--noalias`` compiles the lanes layout with numba's internal ``noalias`` flag (set through
a compiler pipeline class; numba has no public option for it): then LLVM may assume the
arrays apart, and vectorises the lanes loop.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from pathlib import Path

import numpy as np
from numba import njit
from numba.core.compiler import Compiler

log = logging.getLogger("layout_study")

DT = np.float32
LANES = 16
# (name, n_pre, n_post): the learning projections of the paper's networks
CASES = (
    ("mnist ff_2 / p2i (100 -> 10)", 100, 10),
    ("mnist fb / i2p (10 -> 100)", 10, 100),
    ("yinyang ff_2 / p2i (30 -> 3)", 30, 3),
    ("yinyang ff_1 (4 -> 30)", 4, 30),
)


@njit(nogil=True, error_model="numpy", fastmath=False)
def per_member(w, d, pt, rl, r, out, c1, steps):  # noqa: PLR0913
    """The kernel's layout: one member's ``(n_pre, n_post)`` arrays, post innermost."""
    for _ in range(steps):
        for j in range(out.shape[0]):
            out[j] = 0
        for i in range(w.shape[0]):
            p0 = rl[i]
            p1 = r[i]
            for j in range(out.shape[0]):
                g = w[i, j] + d[i, j]
                w[i, j] = g
                d[i, j] = d[i, j] + c1 * (pt[j] * p0 - d[i, j])
                out[j] += g * p1
    return out


@njit(nogil=True, error_model="numpy", fastmath=False)
def lanes(w, d, pt, rl, r, out, c1, steps):  # noqa: PLR0913
    """Lanes over members: ``(n_pre, n_post, 16)``, members innermost (a constant 16)."""
    for _ in range(steps):
        for j in range(out.shape[0]):
            for b in range(16):
                out[j, b] = 0
        for i in range(w.shape[0]):
            for j in range(out.shape[0]):
                for b in range(16):
                    g = w[i, j, b] + d[i, j, b]
                    w[i, j, b] = g
                    d[i, j, b] = d[i, j, b] + c1 * (pt[j, b] * rl[i, b] - d[i, j, b])
                    out[j, b] += g * r[i, b]
    return out


class _NoAliasCompiler(Compiler):
    """numba's compiler with its internal ``noalias`` flag set (no public option sets it):
    every array argument's data pointer is marked ``noalias`` for LLVM."""

    def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):  # noqa: PLR0913
        flags.noalias = True
        super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)


def _packed_ops(fn) -> int:
    """Packed float32 arithmetic instructions in the compiled function's machine code."""
    asm = "\n".join(fn.inspect_asm().values())
    return len(re.findall(r"\bv(?:add|sub|mul)ps\b", asm))


def _best(run, repeats: int = 3) -> tuple[float, list[np.ndarray]]:
    """The shortest of ``repeats`` timed calls of ``run()`` and the arrays of the last one."""
    best, arrays = float("inf"), []
    for _ in range(repeats):
        t0 = time.perf_counter()
        arrays = run()
        best = min(best, time.perf_counter() - t0)
    return best, arrays


def study(n_pre: int, n_post: int, members: int = 10, steps: int = 5000, lanes_fn=None) -> dict:
    """Both layouts on one projection for ``members`` members: ns per member-step, bits equal.

    ``lanes_fn``: the compiled lanes function (default: :func:`lanes`).
    """
    lanes_fn = lanes if lanes_fn is None else lanes_fn
    rng = np.random.default_rng(0)
    npad = -(-n_post // LANES) * LANES
    w = np.zeros((LANES, n_pre, npad), DT)
    w[:members, :, :n_post] = rng.standard_normal((members, n_pre, n_post)) * 0.1
    d = np.zeros_like(w)
    pt = np.zeros((LANES, npad), DT)
    pt[:members, :n_post] = rng.standard_normal((members, n_post))
    rl = np.zeros((LANES, n_pre), DT)
    rl[:members] = rng.random((members, n_pre))
    r = np.zeros_like(rl)
    r[:members] = rng.random((members, n_pre))
    out = np.zeros((LANES, npad), DT)

    def run_members(steps_=steps):  # each member's own call, as the kernel's threads run them
        wa, da, oa = (a.copy() for a in (w, d, out))
        for b in range(members):
            per_member(wa[b], da[b], pt[b], rl[b], r[b], oa[b], DT(0.1), steps_)
        return [wa, da, oa]

    lane_args = [np.ascontiguousarray(np.moveaxis(a, 0, -1)) for a in (w, d, pt, rl, r, out)]

    def run_lanes(steps_=steps):  # (lanes, ...) -> (..., lanes): members innermost
        work = [a.copy() for a in lane_args]
        lanes_fn(*work, DT(0.1), steps_)
        return [work[0], work[1], work[5]]

    run_members(1)  # compile both
    run_lanes(1)
    member_s, by_member = _best(run_members)
    lanes_s, by_lanes = _best(run_lanes)
    equal = all(
        np.array_equal(np.moveaxis(a, -1, 0)[:members], b[:members])
        for a, b in zip(by_lanes, by_member, strict=True)
    )
    per_step = 1e9 / (steps * members)
    return {
        "n_pre": n_pre,
        "n_post": n_post,
        "members": members,
        "per_member_ns": member_s * per_step,
        "lanes_ns": lanes_s * per_step,
        "lanes_over_per_member": member_s / lanes_s,
        "bits_equal": bool(equal),
        "per_member_packed_ops": _packed_ops(per_member),
        "lanes_packed_ops": _packed_ops(lanes_fn),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=10)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument(
        "--noalias",
        action="store_true",
        help="compile the lanes layout with numba's internal noalias flag",
    )
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    lanes_fn = lanes
    if args.noalias:
        lanes_fn = njit(
            pipeline_class=_NoAliasCompiler, nogil=True, error_model="numpy", fastmath=False
        )(lanes.py_func)
    rows = []
    for name, n_pre, n_post in CASES:
        stats = study(n_pre, n_post, args.members, args.steps, lanes_fn)
        row = {"case": name, "noalias": args.noalias, **stats}
        rows.append(row)
        log.info(
            "%-30s per member %7.0f ns  lanes %7.0f ns a member-step  lanes/per-member speed "
            "%.2f  bits equal %s  packed float ops: per member %d, lanes %d",
            name,
            row["per_member_ns"],
            row["lanes_ns"],
            row["lanes_over_per_member"],
            row["bits_equal"],
            row["per_member_packed_ops"],
            row["lanes_packed_ops"],
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
