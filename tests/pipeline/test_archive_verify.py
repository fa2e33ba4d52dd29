"""A corrupted archived object is refused by ``dvc pull`` and named by ``archive_verify.py``.

Cheap: a copy of the archived objects of one small output (``paper/mnist``: its listing and
sixteen files), never the real remote. The ``dvc pull`` test needs DVC (``nox -s pipeline``
installs it) and is skipped, saying so, where it is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from archive_verify import ROOT, configured_remote, locked_outputs, object_path, verify_remote

STAGE = "summary_mnist"
OUTPUT = "paper/mnist"
FLIPPED = "summary.json"


def _lock_entry() -> dict:
    return yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"][STAGE]


def _small_remote(dst: Path, lock: Path) -> dict[str, Path]:
    """Copy the archived objects of ``paper/mnist`` into ``dst``; write a one-stage lock file.

    Returns the archived object of each file of the output, by path.
    """
    lock.write_text(yaml.safe_dump({"schema": "2.0", "stages": {STAGE: _lock_entry()}}))
    archive = configured_remote(ROOT)
    ((out, md5),) = locked_outputs(lock)
    listing = object_path(archive, md5)
    objects = {out: listing}
    for entry in yaml.safe_load(listing.read_text()):  # JSON is YAML
        objects[f"{out}/{entry['relpath']}"] = object_path(archive, entry["md5"])
    for obj in objects.values():
        target = dst / obj.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(obj, target)
    return {path: dst / obj.relative_to(archive) for path, obj in objects.items()}


def _flip(path: Path, where: int = 10) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[where] ^= 0x01
    path.write_bytes(bytes(data))


def test_the_committed_remote_verifies_what_it_fetches():
    config = (ROOT / ".dvc" / "config").read_text()
    section = config.split("['remote \"archive\"']", 1)[1].split("[", 1)[0]
    assert "verify = true" in section


def test_verify_names_the_corrupted_and_the_missing_file(tmp_path):
    remote, lock = tmp_path / "remote", tmp_path / "dvc.lock"
    objects = _small_remote(remote, lock)
    n, problems = verify_remote(remote, lock)
    assert (n, problems) == (17, [])
    _flip(objects[f"{OUTPUT}/{FLIPPED}"])
    objects[f"{OUTPUT}/angles.csv"].unlink()
    n, problems = verify_remote(remote, lock)
    assert sorted(p.path for p in problems) == [f"{OUTPUT}/angles.csv", f"{OUTPUT}/{FLIPPED}"]
    text = "\n".join(map(str, problems))
    assert f"{OUTPUT}/{FLIPPED}: md5 is " in text and f"{OUTPUT}/angles.csv: missing" in text
    assert str(objects[f"{OUTPUT}/{FLIPPED}"]) in text


def test_corrupted_listing_is_named(tmp_path):
    remote, lock = tmp_path / "remote", tmp_path / "dvc.lock"
    objects = _small_remote(remote, lock)
    _flip(objects[OUTPUT], 2)
    _, problems = verify_remote(remote, lock)
    assert [p.path for p in problems] == [OUTPUT]


def _dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["dvc", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("dvc") is None, reason="needs DVC (nox -s pipeline installs it)")
def test_dvc_pull_refuses_a_corrupted_object(tmp_path):
    """The committed ``.dvc/config`` against a copy of the archived objects of one output."""
    repo = tmp_path / "repo"
    (repo / ".dvc").mkdir(parents=True)
    shutil.copyfile(ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    (repo / ".dvc" / "config.local").write_text("[core]\n    no_scm = true\n")  # no git here
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {STAGE: pipeline["stages"][STAGE]}}))
    objects = _small_remote(configured_remote(repo), repo / "dvc.lock")
    assert _dvc("pull", cwd=repo).returncode == 0  # the intact copy
    assert (repo / OUTPUT / FLIPPED).is_file()
    shutil.rmtree(repo / OUTPUT)
    shutil.rmtree(repo / ".dvc" / "cache")
    _flip(objects[f"{OUTPUT}/{FLIPPED}"])
    res = _dvc("pull", cwd=repo)
    assert res.returncode != 0, res.stdout + res.stderr
    assert OUTPUT in res.stdout + res.stderr  # DVC names the output it could not check out
    assert not (repo / OUTPUT / FLIPPED).exists()
    # ... and the archive check names the file
    res = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("archive_verify.py")), "--root", str(repo)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1
    assert f"{OUTPUT}/{FLIPPED}: md5 is" in res.stderr
    assert "archive: 17 objects checked, 1 failed" in res.stdout
