"""Check every archived object against its checksum, naming any file that fails.

``python tests/pipeline/archive_verify.py`` reads ``dvc.lock`` and, for each output it records,
the objects of the ``archive`` remote (the folder ``archive/``, DVC's ``files/md5/`` layout):
each directory listing (``<md5>.dir``) and each file it lists must exist and have the md5 it is
stored under. A failure names the file as it would be checked out (``paper/yinyang/summary.json``)
and the remote object that holds it; the exit status is then 1.

``dvc pull`` refuses a corrupted object too (the remote is configured with ``verify = true``),
but names only the output it could not check out; this names the file. ``nox -s archive`` runs
it before its pull. It needs nothing but Python and PyYAML (no DVC, no network).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger("archive_verify")
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Problem:
    """One file whose archived object is missing or does not match its md5."""

    path: str
    obj: Path
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.why} (archived object {self.obj})"


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def object_path(remote: Path, md5: str) -> Path:
    """Where DVC 3 keeps the object of ``md5`` (``<hash>`` or ``<hash>.dir``) in a remote."""
    return remote / "files" / "md5" / md5[:2] / md5[2:]


def locked_outputs(lock: Path) -> Iterator[tuple[str, str]]:
    """``(output path, md5)`` of every output recorded in ``dvc.lock``."""
    data = yaml.safe_load(lock.read_text()) or {}
    for stage in (data.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if out.get("md5"):
                yield str(out["path"]), str(out["md5"])


class _Checker:
    def __init__(self, remote: Path) -> None:
        self.remote = remote
        self.seen: dict[str, str | None] = {}  # md5 -> why it fails (None: fine)
        self.n_objects = 0

    def check(self, path: str, md5: str) -> Problem | None:
        obj = object_path(self.remote, md5)
        if md5 not in self.seen:
            self.n_objects += 1
            if not obj.is_file():
                self.seen[md5] = "missing from the remote"
            else:
                got = _md5(obj)
                want = md5.removesuffix(".dir")
                self.seen[md5] = None if got == want else f"md5 is {got}, expected {want}"
        why = self.seen[md5]
        return None if why is None else Problem(path, obj, why)


def verify_remote(remote: str | Path, lock: str | Path) -> tuple[int, list[Problem]]:
    """Check the objects of every output of ``lock`` in ``remote``.

    Returns
    -------
    (int, list of Problem)
        The number of objects checked and every file whose object is missing or corrupted.
    """
    checker = _Checker(Path(remote))
    problems: list[Problem] = []
    for out, md5 in locked_outputs(Path(lock)):
        problem = checker.check(out, md5)
        if problem is not None:
            problems.append(problem)
            continue
        if not md5.endswith(".dir"):
            continue
        try:
            entries = json.loads(object_path(checker.remote, md5).read_bytes())
        except ValueError as err:
            problems.append(Problem(out, object_path(checker.remote, md5), f"unreadable: {err}"))
            continue
        for entry in entries:
            problem = checker.check(f"{out}/{entry['relpath']}", str(entry["md5"]))
            if problem is not None:
                problems.append(problem)
    return checker.n_objects, problems


def configured_remote(root: Path, name: str = "archive") -> Path:
    """The folder of the remote ``name`` in ``<root>/.dvc/config`` (a path relative to ``.dvc``)."""
    section = f"['remote \"{name}\"']"
    lines = (root / ".dvc" / "config").read_text().splitlines()
    inside = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped == section
        elif inside and stripped.split("=", 1)[0].strip() == "url":
            return (root / ".dvc" / stripped.split("=", 1)[1].strip()).resolve()
    raise SystemExit(f"{root / '.dvc' / 'config'}: no url for the remote {name!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository [this one]")
    parser.add_argument("--remote", type=Path, default=None, help="remote folder [archive]")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    remote = args.remote or configured_remote(args.root)
    n, problems = verify_remote(remote, args.root / "dvc.lock")
    for p in problems:
        log.error("%s", p)
    print(f"archive: {n} objects checked, {len(problems)} failed")  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
