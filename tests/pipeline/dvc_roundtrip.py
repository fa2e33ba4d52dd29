"""The reproducibility pipeline, end to end, on the smoke profile (run by ``nox -s pipeline``).

In a fresh copy of the repository (so the working tree is never touched): ``dvc exp run -S
profile=smoke`` runs every stage, ``dvc push`` archives the outputs in a temporary local
remote, outputs and cache are deleted, ``dvc pull`` restores them, and the script checks that
the pulled summaries equal the computed ones, that the analysis gives the same numbers on the
pulled runs, that ``dvc repro`` then has nothing to do, that ``mc-analyze run`` of a pulled
member leaves ``dvc status`` clean (its report goes to ``reports/``) and that ``git status``
shows no output files. It needs no network and no data beside the repository: the MNIST smoke
profile uses the sample shipped with mc-experiments.
"""

from __future__ import annotations

import filecmp
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger("dvc_roundtrip")
ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = (
    "data/yinyang",
    "results/sweeps/yinyang",
    "results/sweeps/mnist",
    "paper/yinyang",
    "paper/mnist",
)
SUMMARIES = ("paper/yinyang/summary.json", "paper/mnist/summary.json")


def sh(*cmd: str, cwd: Path, env: dict | None = None) -> str:
    log.info("$ %s", " ".join(cmd))
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        raise SystemExit(f"command failed ({res.returncode}): {' '.join(cmd)}")
    return res.stdout + res.stderr


def copy_repo(dst: Path) -> None:
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = {
        **{k: v for k, v in os.environ.items() if k != "MC_MNIST_DIR"},
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@localhost",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@localhost",
    }
    with tempfile.TemporaryDirectory(prefix="mc-pipeline-") as tmp:
        repo, remote = Path(tmp) / "repo", Path(tmp) / "remote"
        copy_repo(repo)
        sh("git", "init", "-q", cwd=repo, env=env)
        sh("git", "add", "-A", cwd=repo, env=env)
        sh("git", "commit", "-q", "-m", "snapshot", cwd=repo, env=env)
        sh("dvc", "remote", "add", "--local", "-f", "-d", "archive", str(remote), cwd=repo, env=env)
        smoke = ("-S", "profile=smoke", "-S", "mnist_profile=smoke")
        sh("dvc", "exp", "run", *smoke, cwd=repo, env=env)
        computed = Path(tmp) / "computed"
        for s in SUMMARIES:
            (computed / s).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / s, computed / s)
        sh("dvc", "push", cwd=repo, env=env)
        for out in OUTPUTS:
            shutil.rmtree(repo / out)
        shutil.rmtree(repo / ".dvc" / "cache")
        sh("dvc", "pull", cwd=repo, env=env)
        for s in SUMMARIES:
            if not filecmp.cmp(repo / s, computed / s, shallow=False):
                raise SystemExit(f"pulled {s} differs from the computed one")
        # the analysis works on pulled runs exactly as on fresh ones
        again = Path(tmp) / "again"
        sh("mc-analyze", "sweep", "results/sweeps/yinyang", "--out", str(again), cwd=repo, env=env)
        if not filecmp.cmp(again / "summary.json", repo / SUMMARIES[0], shallow=False):
            raise SystemExit("the analysis of the pulled runs differs from the archived summary")
        status = sh("dvc", "repro", cwd=repo, env=env)
        if "up to date" not in status:
            raise SystemExit(f"dvc repro after pull was not a no-op:\n{status}")
        # a member's report, as paper/README.md suggests, goes outside the DVC output
        member = next(p for p in sorted((repo / "results/sweeps/yinyang/members").iterdir()))
        sh("mc-analyze", "-q", "run", str(member.relative_to(repo)), cwd=repo, env=env)
        if not (repo / "reports" / member.relative_to(repo) / "summary.json").is_file():
            raise SystemExit(f"no report of {member.name} under reports/")
        status = sh("dvc", "status", cwd=repo, env=env)
        if "up to date" not in status:
            raise SystemExit(f"dvc status after mc-analyze run is not clean:\n{status}")
        porcelain = sh("git", "status", "--porcelain", cwd=repo, env=env).splitlines()
        stray = [line for line in porcelain if line[3:] not in ("dvc.lock", "params.yaml")]
        if stray:
            raise SystemExit("git status is not clean after repro/pull:\n" + "\n".join(stray))
    log.info("pipeline round trip: ok")
    print("pipeline: 1 passed, 0 failed")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
