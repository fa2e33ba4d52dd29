"""Where reports go: never into an output that DVC tracks.

A run or sweep pulled from a DVC remote (or made by ``dvc repro``) lies inside a DVC output,
e.g. ``results/sweeps/yinyang`` of ``dvc.yaml``. A report written into it would change that
output: ``dvc status`` would call it modified and the next ``dvc checkout`` or ``dvc repro``
would delete the report. :func:`default_report_dir` therefore puts the report of such a
directory under ``<DVC root>/reports/`` (the directory's path relative to the root), and
next to it (``<dir>/report``) everywhere else.

The outputs are read from the files that declare them, as plain YAML (nothing is run, DVC
need not be installed): the ``outs``, ``metrics`` and ``plots`` of the stages of every
``dvc.yaml`` (with their ``wdir``) and ``dvc.lock`` between the directory and the DVC root
(the folder holding ``.dvc/``), and the ``outs`` of every ``*.dvc`` file there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mc_analysis.bounded import load_yaml

__all__ = ["REPORTS", "DvcOutput", "default_report_dir", "dvc_output_of"]

logger = logging.getLogger(__name__)

#: Folder under the DVC root that holds the reports of directories inside DVC outputs.
REPORTS = "reports"
_MAX_DECLARATION_BYTES = 16 << 20


@dataclass(frozen=True)
class DvcOutput:
    """A DVC-tracked output: its path, the DVC root and the file that declares it."""

    path: Path
    root: Path
    declared_in: Path


def _paths(entries: Any) -> Iterator[str]:
    """Paths of a list of outputs: ``- path`` or ``- path: {options}`` or ``- {path: ...}``."""
    if not isinstance(entries, list):
        return
    for e in entries:
        if isinstance(e, str):
            yield e
        elif isinstance(e, dict):
            if isinstance(e.get("path"), str):
                yield e["path"]
            elif len(e) == 1 and isinstance(next(iter(e)), str):
                yield next(iter(e))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = load_yaml(path, max_bytes=_MAX_DECLARATION_BYTES, what="DVC file")
    except (OSError, ValueError) as err:
        logger.debug("%s: not read: %s", path, err)
        return {}
    return data if isinstance(data, dict) else {}


def _declared(directory: Path) -> Iterator[tuple[Path, Path]]:
    """(output path, declaring file) of the DVC files in ``directory``."""
    wdirs: dict[str, Path] = {}
    pipeline = directory / "dvc.yaml"
    if pipeline.is_file():
        stages = _read(pipeline).get("stages")
        for name, stage in (stages if isinstance(stages, dict) else {}).items():
            if not isinstance(stage, dict):
                continue
            wdir = directory / str(stage.get("wdir", "."))
            wdirs[str(name)] = wdir
            body = stage.get("do") if isinstance(stage.get("do"), dict) else stage
            for key in ("outs", "metrics", "plots"):
                for p in _paths(body.get(key)):
                    if "${" not in p:  # templated (foreach, matrix): dvc.lock has them resolved
                        yield wdir / p, pipeline
    lock = directory / "dvc.lock"
    if lock.is_file():
        stages = _read(lock).get("stages")
        for name, stage in (stages if isinstance(stages, dict) else {}).items():
            if isinstance(stage, dict):
                wdir = wdirs.get(str(name).split("@", 1)[0], directory)
                for p in _paths(stage.get("outs")):
                    yield wdir / p, lock
    for f in sorted(directory.glob("*.dvc")):
        if f.is_file():
            for p in _paths(_read(f).get("outs")):
                yield directory / p, f


def _norm(path: Path) -> Path:
    return Path(*[part for part in path.parts if part != "."]).resolve()


def dvc_output_of(path: str | Path) -> DvcOutput | None:
    """The DVC-tracked output that holds ``path`` (or is it), ``None`` outside every output.

    Looks in ``path``'s folder and its parents up to the DVC root (the first one holding a
    ``.dvc`` folder); outside a DVC repository it returns ``None``.
    """
    target = Path(path).resolve()
    for directory in (target, *target.parents):
        if not directory.is_dir():
            continue
        for out, declared_in in _declared(directory):
            out = _norm(out)
            if target == out or out in target.parents:
                return DvcOutput(out, _root_of(directory) or directory, declared_in)
        if (directory / ".dvc").is_dir():
            return None
    return None


def _root_of(directory: Path) -> Path | None:
    for d in (directory, *directory.parents):
        if (d / ".dvc").is_dir():
            return d
    return None


def default_report_dir(target: str | Path) -> Path:
    """Where the report of a run or sweep directory goes when no folder is given.

    ``<target>/report``, unless ``target`` lies inside a DVC output: then
    ``<DVC root>/reports/<target relative to the root>`` (logged, naming the output), so
    that the output stays as DVC recorded it.
    """
    target = Path(target)
    out = dvc_output_of(target)
    if out is None:
        return target / "report"
    where = out.root / REPORTS / target.resolve().relative_to(out.root)
    logger.info(
        "%s is inside the DVC output %s (%s): its report goes to %s instead, so that the "
        "output stays unchanged (give --out to choose)",
        target,
        out.path.relative_to(out.root),
        out.declared_in.relative_to(out.root),
        where,
    )
    return where
