"""The archived paper results, as a new user gets them (run by ``nox -s archive``).

In a fresh copy of the repository with no network and nothing beside it: every archived object
holds the md5 it is stored under (``archive_verify.py``, naming any file that fails), ``dvc
pull`` fetches every output of ``dvc.lock`` from the ``archive`` remote (a folder of the
repository; it verifies what it fetches), ``dvc status`` then reports nothing to do,
``paper/yinyang`` and ``paper/mnist`` hold the figures and tables that ``paper/README.md``
names, ``mc-analyze sweep`` on the pulled runs reproduces the pulled summaries byte for byte,
and ``mc-analyze run`` of a member, as ``paper/README.md`` suggests, leaves ``dvc status``
and ``git status`` clean.
"""

from __future__ import annotations

import filecmp
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from archive_verify import configured_remote, verify_remote  # the script's folder is on sys.path
from dvc_roundtrip import ROOT, copy_repo, sh

log = logging.getLogger("archive_check")
SWEEPS = ("yinyang", "mnist")
PAPER_FILES = (
    "summary.json",
    "comparisons.csv",
    "test_accuracy.csv",
    "validation_accuracy.csv",
    "angles.csv",
    "per_seed.csv",
    "sweep_validation_accuracy.png",
    "sweep_validation_accuracy.pdf",
    "sweep_test_accuracy.png",
    "sweep_test_accuracy.pdf",
    "sweep_angle_fb_1.png",
    "sweep_angle_fb_1.pdf",
)
#: The member whose report ``paper/README.md`` suggests.
MEMBER = "results/sweeps/yinyang/members/pal_seed123456"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    env = {
        **{k: v for k, v in os.environ.items() if k != "MC_MNIST_DIR"},
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@localhost",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@localhost",
        # no network: a pull that needed one would fail here instead of hanging
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    if not (ROOT / "dvc.lock").is_file():
        raise SystemExit("no dvc.lock committed: nothing is archived")
    with tempfile.TemporaryDirectory(prefix="mc-archive-") as tmp:
        repo = Path(tmp) / "repo"
        copy_repo(repo)
        sh("git", "init", "-q", cwd=repo, env=env)
        sh("git", "add", "-A", cwd=repo, env=env)
        sh("git", "commit", "-q", "-m", "snapshot", cwd=repo, env=env)
        n, problems = verify_remote(configured_remote(repo), repo / "dvc.lock")
        if problems:
            raise SystemExit("archived objects fail their md5:\n" + "\n".join(map(str, problems)))
        log.info("archive: %d objects hold their md5", n)
        sh("dvc", "pull", cwd=repo, env=env)
        status = sh("dvc", "status", cwd=repo, env=env)
        if "up to date" not in status:
            raise SystemExit(f"dvc status after pull is not clean:\n{status}")
        for sweep in SWEEPS:
            missing = [f for f in PAPER_FILES if not (repo / "paper" / sweep / f).is_file()]
            if missing:
                raise SystemExit(f"paper/{sweep}: missing {missing}")
            again = Path(tmp) / f"again-{sweep}"
            sh("mc-analyze", "-q", "sweep", f"results/sweeps/{sweep}", "--out", str(again),
               cwd=repo, env=env)  # fmt: skip
            for name in ("summary.json", "comparisons.csv", "test_accuracy.csv"):
                if not filecmp.cmp(again / name, repo / "paper" / sweep / name, shallow=False):
                    raise SystemExit(f"mc-analyze of the pulled runs changes paper/{sweep}/{name}")
        sh("mc-analyze", "-q", "run", MEMBER, cwd=repo, env=env)
        if not (repo / "reports" / MEMBER / "summary.json").is_file():
            raise SystemExit(f"mc-analyze run {MEMBER} wrote no reports/{MEMBER}/summary.json")
        status = sh("dvc", "status", cwd=repo, env=env)
        if "up to date" not in status:
            raise SystemExit(f"dvc status after mc-analyze run is not clean:\n{status}")
        porcelain = sh("git", "status", "--porcelain", cwd=repo, env=env).strip()
        if porcelain:
            raise SystemExit(f"git status is not clean after the pull:\n{porcelain}")
        shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
    log.info("archive: pulled, up to date, reproduced")
    print("archive: 1 passed, 0 failed")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
