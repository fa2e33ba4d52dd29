"""Test, lint and benchmark sessions for the monorepo.

``nox`` runs ``lint``, ``tests``, ``pipeline`` (the DVC smoke round trip) and ``docs`` (the
documentation site, ``docs/_build/html``); ``nox -s models`` (``network``, ``experiments``,
``analysis``) tests one package in isolation; ``nox -s cluster`` starts a one-node SLURM
cluster and runs the sweep executors against it (also a default session: it skips itself
where it cannot run); ``nox -s bench`` runs the benchmarks.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.sessions = ["lint", "tests", "pipeline", "docs", "cluster"]
nox.options.reuse_existing_virtualenvs = True

PKG = {
    "models": "packages/mc-models",
    "network": "packages/mc-network",
    "experiments": "packages/mc-experiments",
    "analysis": "packages/mc-analysis",
}
# What each package needs installed from this repository (itself last): exactly its declared
# dependencies, so that a package that imports an undeclared one fails its own session.
LOCAL_DEPS = {
    "models": ["models"],
    "network": ["models", "network"],
    "experiments": ["models", "network", "analysis", "experiments"],
    "analysis": ["analysis"],
}
EXTRAS = {
    "models": "[test]",
    "network": "[test,compiled]",
    "experiments": "[test,compiled,dask]",
    "analysis": "[test]",
}


def _install(session: nox.Session, names: list[str]) -> None:
    args = []
    for name in names:
        args += ["-e", PKG[name] + EXTRAS[name]]
    session.install(*args)


def _package_session(name: str):
    @nox.session(name=name)
    def run(session: nox.Session) -> None:
        _install(session, LOCAL_DEPS[name])
        session.run("pytest", f"{PKG[name]}/tests", *session.posargs)

    run.__doc__ = f"Run the tests of mc-{name} in a fresh environment."
    return run


for _name in PKG:
    globals()[f"test_{_name}"] = _package_session(_name)


@nox.session
def tests(session: nox.Session) -> None:
    """Install every package and run all tests (packages and cross-package).

    With DVC installed too: ``tests/test_documented_commands.py`` runs the documented
    commands, the ``dvc`` ones included, in a fresh copy of the repository.
    """
    _install(session, list(PKG))
    # the example model package's build backend and what its editable build imports
    # (hatchling 1.33 no longer brings `editables`): tests/test_plugin_package.py pip-installs
    # examples/plugin_package without build isolation (no index needed at test time); DVC for
    # the documented dvc commands that tests/test_documented_commands.py runs
    session.install("hatchling>=1.21", "editables>=0.3", "dvc>=3.50")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check lint and formatting with the root ruff configuration."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def pipeline(session: nox.Session) -> None:
    """Run the DVC pipeline on the smoke profile, push, delete, pull and compare; then the
    tests that need DVC (a corrupted archived object is refused by ``dvc pull``)."""
    session.install("-r", "requirements.txt", "dvc>=3.50", "pytest>=8")
    session.run("python", "tests/pipeline/dvc_roundtrip.py")
    session.run("pytest", "-q", "tests/pipeline", *session.posargs)


@nox.session
def cluster(session: nox.Session) -> None:
    """Start a real one-node SLURM cluster here and run the tests marked ``slurm`` against it.

    Needs root on Debian/Ubuntu: installs slurmctld, slurmd, slurm-client and munge with
    apt-get (unless present), starts the daemons from a private slurm.conf, runs both sweep
    executors, preemption and SLURM's refusals (a few minutes on 2 cores), and stops the
    daemons again. Skipped, with the reason, where it cannot run. Arguments go to pytest.
    """
    if os.name != "posix" or os.geteuid() != 0:
        session.skip("needs root (apt-get install of SLURM, slurmd runs as root)")
    tools = ("slurmctld", "slurmd", "sbatch", "munged")
    if not all(shutil.which(t) for t in tools) and not shutil.which("apt-get"):
        session.skip("SLURM is not installed and there is no apt-get to install it")
    _install(session, list(PKG))
    session.run("python", "tests/cluster/slurm_cluster.py", *session.posargs)


@nox.session
def archive(session: nox.Session) -> None:
    """Check every archived object against its checksum, pull the archived paper results from
    the in-repository remote, check ``dvc status`` and recompute their summaries (about a
    CPU-minute: not a default session)."""
    session.install("-r", "requirements.txt", "dvc>=3.50")
    session.run("python", "tests/pipeline/archive_check.py")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation into ``docs/_build/html`` (warnings are errors) and check it.

    Every cross-reference must resolve (``-n``); the gallery runs every example; then
    ``tests/test_docs.py`` checks the built site: every internal link and anchor resolves
    and every gallery page shows its figures. ``nox -s docs -- -D plot_gallery=0`` skips
    running the examples (their last figures are reused).
    """
    _install(session, list(PKG))
    session.install("-r", "docs/requirements.txt")
    # a page an earlier build wrote and this one does not (a removed page) would stay and be
    # checked: the site is built afresh
    shutil.rmtree("docs/_build/html", ignore_errors=True)
    session.run(
        "sphinx-build", "-b", "html", "-W", "--keep-going", "-n", "docs", "docs/_build/html",
        *session.posargs,
    )  # fmt: skip
    session.run("pytest", "-q", "tests/test_docs.py", env={"MC_DOCS_BUILT": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    """Run the speed and memory benchmarks; JSON goes to ``.benchmarks/``."""
    _install(session, list(PKG))
    session.install("pytest-benchmark>=4")
    session.run("python", "benchmarks/run.py", *session.posargs)
