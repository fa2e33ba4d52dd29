"""mc-analysis stands alone: it reads run directories without mc-experiments installed."""

import ast
from pathlib import Path

import mc_analysis

SRC = Path(mc_analysis.__file__).parent


def test_never_imports_mc_experiments():
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            assert not any(n.split(".")[0] == "mc_experiments" for n in names), path


def test_the_run_format_is_defined_here_once():
    from mc_analysis import rundir, runformat

    assert rundir.CONFIG is runformat.CONFIG and rundir.SWEEP is runformat.SWEEP
    assert runformat.FORMAT_VERSION == 3
