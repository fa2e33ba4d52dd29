"""No model is written outside mc-models: the backends and the step program know none.

Every name a model declares (its parameters, derived parameters, variables and inputs) is
looked for in the network's execution code: the step program, the backend registry and
base, the reference, compiled and GeNN backends and the kernel generator. Only the models'
renderings may use them. The one exception is ``g``, the weight variable that the network
reads and writes for ``get_weights``/``set_weights`` (the lowering requires it of every
all-to-all projection's model); and the backends' noise source is called ``noise`` (a
member's noise stream, a replayed trace), a name the pyramidal's noise state shares: it is
not looked for in their identifiers, only in the strings the kernel generator writes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import mc_network
from mc_models import neuron_models, synapse_models

SRC = Path(mc_network.__file__).parent
EXECUTION = [SRC / "program.py", *sorted((SRC / "backends").glob("*.py"))]
# the random-number generators re-implement NumPy's and GeNN's: no model code
RNG = {"_pcg64.py", "_genn_rng.py"}
WEIGHT = "g"
# names of other things that share a model's name: the network's noise source (a member's
# noise stream RunStreams.noise, a replayed trace run_stage(noise=...), StageInputs.noise)
NOISE_SOURCE = "noise"
# attributes of other objects that share a model's name: list.index, ctypes' .value
OTHER_ATTRIBUTES = {NOISE_SOURCE, "index", "value"}


def _model_names() -> set[str]:
    out: set[str] = set()
    for m in [*neuron_models().values(), *synapse_models().values()]:
        out |= {p.name for p in m.params} | {d.name for d in m.derived}
        out |= {v.name for v in m.vars} | set(getattr(m, "inputs", ()))
    return out - {WEIGHT}


def _execution_names() -> set[str]:
    """The model names the execution code must not use (the noise source excepted)."""
    return _model_names() - {NOISE_SOURCE}


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }


@pytest.mark.parametrize("path", [p for p in EXECUTION if p.name not in RNG], ids=lambda p: p.name)
def test_no_model_name_in_the_execution_code(path):
    names, tree = _execution_names(), ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            ident = node.id
        elif isinstance(node, ast.arg | ast.keyword):
            ident = node.arg
        elif isinstance(node, ast.Attribute) and node.attr not in OTHER_ATTRIBUTES:
            ident = node.attr
        else:
            continue
        if ident in names:
            found.append(f"line {node.lineno}: {ident}")
        if ident in ("PopKind", "ProjKind"):  # no branching on what a population is
            found.append(f"line {node.lineno}: {ident}")
    assert not found, found


def test_the_kernel_generator_writes_no_model_code():
    """What the generator writes into the kernel itself (its string pieces) names no model
    parameter, variable or input: the models' code comes in through their renderings."""
    path = SRC / "backends" / "_codegen.py"
    tree, names = ast.parse(path.read_text()), _model_names()
    docs = _docstrings(tree)
    pattern = re.compile(
        r"(?<![A-Za-z0-9])_?(" + "|".join(sorted(map(re.escape, names))) + r")(?![A-Za-z0-9_])"
    )
    found = [
        f"line {node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and pattern.search(node.value)
    ]
    assert not found, found


def test_the_scan_would_see_a_model_written_here(tmp_path):
    # the check is not vacuous: the hand-written kernel pieces it replaced are caught
    names = _model_names()
    old = 'e(f"vs = ({p}gb * vbas + {p}ga * (va + nz)) * {p}tau_s", f"{s}_v_steady[j] = vs")'
    assert "v_steady" in names and re.search(r"(?<![A-Za-z0-9])_?v_steady(?![A-Za-z0-9_])", old)
    layout = "lambda p: p.g_basal + p.g_apical + p.g_leak"
    attrs = {n.attr for n in ast.walk(ast.parse(layout)) if isinstance(n, ast.Attribute)}
    assert attrs <= names
