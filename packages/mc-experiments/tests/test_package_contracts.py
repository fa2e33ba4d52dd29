"""Package contracts of mc-experiments: a public API, no import cycles, no test hooks inside."""

import ast
from pathlib import Path

import mc_experiments

SRC = Path(mc_experiments.__file__).parent
#: Import cycles allowed (none: config reads original configs through mc_analysis.original_yaml).
KNOWN_CYCLES: list[set[str]] = []


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the mc_experiments modules it imports anywhere (functions included)."""
    modules = {_module(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found - {"mc_experiments"}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = _imports()
    assert "mc_experiments.executors_dask" in graph["mc_experiments.executors"]
    cycles = [c for c in _cycles(graph) if c not in KNOWN_CYCLES]
    assert cycles == []


def test_public_api_and_version():
    from importlib.metadata import version

    assert mc_experiments.__version__ == version("mc-experiments")
    for name in ("load_config", "train", "resume", "load_sweep", "run_sweep", "RunDir", "Config"):
        assert name in mc_experiments.__all__ and callable(getattr(mc_experiments, name)), name
    from mc_experiments.executors import run_sweep

    assert mc_experiments.run_sweep is run_sweep


def test_no_test_hooks_in_the_package():
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert "os._exit" not in text and "test hook" not in text.lower(), path
