"""Every shell command the documentation shows is run here, or states what it costs.

The commands are read from ``README.md``, ``paper/README.md`` and the documentation
(``docs/**/*.rst``, ``docs/**/*.md`` and the parts of other files they include): each line
of a ``bash`` code block, and each inline code span that starts with a command
(``mc-run ...``, ``dvc ...``, ``python ...``). :data:`COMMANDS` lists every one of them
with what this test does with it:

``Run``
    run as written, in a fresh copy of the repository (the committed and untracked files,
    ``git init`` and committed there, ``.venv`` pointing at this environment, its scripts
    first on ``PATH``), after the commands it needs; it must exit with 0 and print what is
    expected. A command whose text has placeholders (``RUN_A``, ``<member>``) runs with them
    filled in (``instead``).
``Cost``
    not run here (minutes to hours, or it installs software); the documentation states its
    measured cost beside it (in its comment, its code block or the paragraph after it) and
    the test checks that it still does.
``Skip``
    not run, with the reason (it needs a cluster, an original run, ...); the reason names
    the test that covers it where one does.

A command in the documentation that is not in the table, or an entry of the table that the
documentation no longer shows, fails :func:`test_every_documented_command_is_listed`:
nothing slips in untested and uncosted. ``pytest tests/test_documented_commands.py -rs
-v`` lists every command with what was done with it. The commands that run take about
three minutes of a 2-core machine; those that need DVC are skipped, saying so, where DVC is
not installed (``nox -s tests`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTS = re.compile(
    r"(mc-run|mc-analyze|nox|dvc|python3?|pip|pytest|git|source|dask|sbatch|\.venv/bin/[\w-]+|"
    r"[A-Z_]+=\S*) "
)


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Run:
    """Run the command (or ``instead``, its placeholders filled) after those it ``needs``."""

    expect: str = ""
    instead: str = ""
    needs: tuple[str, ...] = ()
    dvc: bool = False


@dataclass(frozen=True)
class Cost:
    """Not run here: the documentation states ``text`` (its measured cost) beside it."""

    text: str
    why: str


@dataclass(frozen=True)
class Skip:
    """Not run here, for ``why``."""

    why: str


QUICK = "mc-run train configs/quickstart.yaml --set protocol.n_epochs=5"
REFERENCE = (
    "mc-run train configs/quickstart.yaml --backend reference --set protocol.n_epochs=1 "
    "--set dataset.n_train=50"
)
SMOKE = "mc-run sweep configs/sweeps/paper_yinyang.yaml --profile smoke --out runs"
PULL = "dvc pull"
PAPER_SWEEP = "about 2 core-hours"
SLURM_SKIP = Skip(
    "needs a SLURM cluster (partition, /scratch); `nox -s cluster` runs the same commands on "
    "the smoke profile against a real one-node SLURM (packages/mc-experiments/tests/"
    "test_slurm_cluster.py), test_slurm.py against a simulated one"
)
FORM = "a form with placeholders, not a command to copy"

COMMANDS: dict[str, Run | Cost | Skip] = {
    # ---- quick start (README, docs/tutorials/quickstart.rst)
    "python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt && .venv/bin/mc-run "
    "train configs/quickstart.yaml": Cost(
        "1 min 22 s", "installs the packages from the index; tests/test_quickstart.py trains it"
    ),
    "python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt": Cost(
        "installing takes 40 s", "installs the packages from the package index"
    ),
    ".venv/bin/mc-run train configs/quickstart.yaml": Cost(
        "training 42 s", "60 epochs; tests/test_quickstart.py trains it (marked slow)"
    ),
    "python3 -m venv .venv && .venv/bin/pip install -q nox && .venv/bin/nox": Cost(
        "26 min", "every test session, this one included"
    ),
    ".venv/bin/mc-analyze run runs/yinyang_pal_quick_<time>": Run(
        "report written to", instead=".venv/bin/mc-analyze run {run}", needs=(QUICK,)
    ),
    "mc-analyze run <that directory>": Run(
        "report written to", instead="mc-analyze run {run}", needs=(QUICK,)
    ),
    "nox -s docs": Skip("the docs session of `nox` (the second quick-start command)"),
    "nox -s models": Skip("a session of `nox` that tests mc-models alone (seconds to minutes)"),
    "nox -s cluster": Skip("the cluster session of `nox` (its cost is stated in the README)"),
    "nox -s bench": Skip("the benchmarks: minutes of timing, never in the tests"),
    "python benchmarks/run.py": Skip("the benchmarks: minutes of timing, never in the tests"),
    "python benchmarks/profile_step.py --network mnist --input-mode fast --batch 10": Skip(
        "the kernel's profile: minutes of timing, never in the tests"
    ),
    "nox -s archive": Cost("2 min 16 s", "a fresh environment and copy of the archive"),
    # ---- using it (README, docs/tutorials/quickstart.rst, runs.rst)
    "mc-run validate configs/quickstart.yaml": Run("valid (yinyang_pal_quick"),
    "mc-run models": Run("pyramidal"),
    QUICK: Run("test accuracy: "),
    REFERENCE: Run("test accuracy: "),
    "mc-run resume runs/yinyang_pal_quick_20261128-101500": Run("test accuracy: "),
    SMOKE: Run("sweep directory: runs/paper_yinyang_"),
    "mc-run sweep configs/sweeps/paper_yinyang.yaml --profile paper --out runs": Cost(
        "1-2.5 h, 40 MB", "the paper's sweep, 30 runs of 400 epochs"
    ),
    "mc-run train original_config.yaml": Skip(
        "original_config.yaml stands for the user's original config; tests/"
        "test_original_runs.py trains the original runs' configs"
    ),
    "mc-run train ORIGINAL_RUN/config.yaml --backend reference --record-as-original": Skip(
        "ORIGINAL_RUN stands for a run of the original code; tests/test_original_runs.py runs "
        "this on the original runs recorded for the tests"
    ),
    "mc-analyze compare runs/<new run> ORIGINAL_RUN": Skip(
        "ORIGINAL_RUN stands for a run of the original code; tests/test_original_runs.py "
        "compares with the recorded original runs"
    ),
    "mc-analyze compare RUN_A RUN_B": Run(
        "bit-identical", instead="mc-analyze compare {run} {run_again}", needs=(QUICK,)
    ),
    "mc-analyze run RUN_DIR": Run("report written to", instead="mc-analyze run {run}"),
    "mc-analyze sweep SWEEP_DIR": Run(
        "report written to", instead="mc-analyze sweep {sweep}", needs=(SMOKE,)
    ),
    "mc-analyze run ORIGINAL_RUN": Skip("ORIGINAL_RUN stands for a run of the original code"),
    "mc-run train CONFIG --backend reference": Skip(FORM),
    "mc-run train ... --replay-noise ORIGINAL_RUN": Skip(
        FORM + "; tests/test_original_runs.py replays an original run's noise"
    ),
    "mc-run sweep ... --dir DIR": Skip(FORM),
    "mc-analyze sweep DIR": Skip(FORM + " (mc-analyze sweep SWEEP_DIR runs here)"),
    "pip install mc-network": Skip(
        "mc-network alone, from a package index; tests/test_install.py installs it from the "
        "repository into a fresh environment"
    ),
    "pip install 'mc-network[compiled]'": Skip("installs numba into the user's environment"),
    "python -m pytest packages/mc-network/tests/test_genn.py": Skip(
        "the GeNN tests, run by `nox -s tests` with the others (skipped without pygenn)"
    ),
    "MC_TEST_SLURM_PARTITION=<partition> pytest -m slurm packages/mc-experiments/tests": Skip(
        "needs a SLURM partition; `nox -s cluster` runs these tests against one it starts"
    ),
    "mc-run data mnist --out <folder>": Skip(FORM + "; downloads MNIST (below)"),
    "mc-run validate CONFIG": Skip(FORM),
    "pip install -e": Skip("an option of pip named in the text"),
    "pytest tests/test_documented_commands.py -rs": Skip("this test itself"),
    "mc-run data mnist --out data/mnist": Skip(
        "downloads MNIST (network); packages/mc-experiments/tests/test_mnist.py tests the "
        "download and the checks against a local server"
    ),
    # ---- the paper (README, paper/README.md, docs/tutorials/paper.rst)
    "source .venv/bin/activate": Skip("shell set-up: the environment of the quick start"),
    "pip install dvc": Cost("35 s, 160 MB", "installs DVC from the package index"),
    "python tests/pipeline/archive_verify.py": Run("objects checked, 0 failed"),
    PULL: Run("A       ", dvc=True),
    "dvc status": Run("Data and pipelines are up to date.", needs=(PULL,), dvc=True),
    "dvc repro --pull": Run("Data and pipelines are up to date.", needs=(PULL,), dvc=True),
    "dvc repro": Cost("about 5-6 h on 2 cores", "recomputes every sweep of the paper"),
    "dvc exp run --temp -S profile=smoke -S mnist_profile=smoke": Run("Ran experiment", dvc=True),
    "mc-run sweep configs/sweeps/paper_yinyang.yaml --profile paper": Cost(
        "under an hour", "the Yin-Yang paper sweep, 3 variants x 10 seeds x 400 epochs"
    ),
    "mc-run sweep configs/sweeps/paper_mnist.yaml --profile paper_cpu": Cost(
        "about 3.2-5", "the MNIST paper sweep, 2 variants x 10 seeds x 100 epochs"
    ),
    "dvc exp run --temp -S mnist_profile=quick": Cost(
        "about 40 minutes", "the reduced MNIST comparison, two variants x 10 seeds"
    ),
    "dvc exp run -S ...": Skip(FORM),
    "git checkout params.yaml dvc.lock && dvc checkout": Run("", needs=(PULL,), dvc=True),
    "mc-analyze sweep results/sweeps/yinyang --out again": Run(
        "report written to again", needs=(PULL,), dvc=True
    ),
    "mc-analyze run results/sweeps/yinyang/members/pal_seed123456": Run(
        "/reports/results/sweeps/yinyang/members/pal_seed123456",
        needs=(PULL,),
        dvc=True,
    ),
    "mc-analyze run results/sweeps/yinyang/members/<member>": Run(
        "/reports/results/sweeps/yinyang/members/pal_seed123456",
        instead="mc-analyze run results/sweeps/yinyang/members/pal_seed123456",
        needs=(PULL,),
        dvc=True,
    ),
    "dvc remote add --local -d labstore s3://bucket/mc-paper": Run("", dvc=True),
    "dvc remote modify --local labstore verify true": Run(
        "", needs=("dvc remote add --local -d labstore s3://bucket/mc-paper",), dvc=True
    ),
    "dvc push": Skip("uploads to the lab's storage (s3://bucket/mc-paper stands for it)"),
    "dvc remote modify --local labstore profile NAME": Skip(FORM + " (NAME: the lab's profile)"),
    "mc-run sweep ... --profile ${profile} --dir results/sweeps/<name>": Skip(FORM),
    "mc-analyze sweep results/sweeps/<name> --out paper/<name>": Skip(FORM),
    # ---- sweeps and clusters (README, docs/tutorials/sweeps.rst)
    "mc-run validate configs/sweeps/paper_yinyang.yaml": Run("valid sweep, 30 members"),
    "pip install -e 'packages/mc-experiments[dask]'": Skip(
        "changes the environment; `nox -s tests` installs mc-experiments[test,compiled,dask]"
    ),
    "mc-run sweep configs/sweeps/paper_yinyang.yaml --profile smoke --executor dask --cluster "
    "local --workers 2": Run("sweep directory: "),
    "dask scheduler": Skip("a Dask scheduler on another machine; test_dask.py uses a local one"),
    "dask worker tcp://hostA:8786 --nworkers 8 --nthreads 1": Skip(
        "Dask workers on other machines (hostA); test_dask.py uses local ones"
    ),
    "mc-run sweep configs/sweeps/paper_yinyang.yaml --profile paper --executor dask --scheduler "
    "tcp://hostA:8786 --dir /shared/runs/paper_yinyang": Cost(
        PAPER_SWEEP, "the paper's sweep on machines reached by SSH"
    ),
    "mc-run sweep configs/sweeps/paper_yinyang.yaml --profile paper --executor slurm "
    "--cluster-config my_cluster.yaml --dir /scratch/$USER/paper_yinyang": Cost(
        PAPER_SWEEP, "the paper's sweep on a SLURM cluster"
    ),
    "mc-run sweep --status /scratch/$USER/paper_yinyang": SLURM_SKIP,
    "mc-run sweep configs/sweeps/paper_yinyang.yaml --profile paper --executor dask --cluster "
    "slurm --cluster-config my_slurm.yaml --workers 10 --dir /scratch/$USER/paper_yinyang": Cost(
        PAPER_SWEEP, "the paper's sweep on Dask workers that are SLURM jobs"
    ),
    "mc-run sweep ... --executor slurm --dir DIR": Skip(FORM),
    "sbatch --array": Skip("an option of sbatch named in the text"),
    "sbatch --test-only": Skip("an option of sbatch named in the text"),
    'dask worker ... --resources "cores=1,GPU=1"': Skip(FORM),
    # ---- the gallery (docs/gallery: examples/GALLERY_HEADER.rst)
    "python examples/plot_<name>.py": Skip(
        FORM + "; tests/test_examples.py runs every example as a script"
    ),
    # ---- a model package of one's own (packages/mc-models/README.md, in the docs)
    "pip install -e examples/plugin_package": Cost(
        "about 5 s", "changes the environment; tests/test_plugin_package.py installs it"
    ),
    "mc-run models pal_cubic": Cost("(1 s)", "needs the example package installed (above)"),
    "mc-run validate examples/plugin_package/cubic.yaml": Cost(
        "(1 s)", "needs the example package installed; tests/test_plugin_package.py runs it"
    ),
    "mc-run train examples/plugin_package/cubic.yaml": Cost(
        "about 15 s", "needs the example package installed; tests/test_plugin_package.py"
    ),
    "mc-run sweep examples/plugin_package/sweep.yaml --profile smoke --executor dask --cluster "
    "local --workers 2": Cost("about 12 s", "needs the example package installed"),
}


# ------------------------------------------------------------------- reading the documents


@dataclass
class Shown:
    """A command as the documentation shows it, and the text beside it."""

    command: str
    where: list[str] = field(default_factory=list)
    beside: list[str] = field(default_factory=list)  # per place: its comment, its paragraph


def _documents() -> list[Path]:
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    docs = [ROOT / p for p in tracked if p.endswith((".rst", ".md"))]
    return [ROOT / "README.md", ROOT / "paper" / "README.md", *sorted(docs)]


def _included(path: Path, text: str) -> list[tuple[Path, str]]:
    """The parts of other files that ``.. include::`` directives of ``text`` bring in."""
    parts = []
    for m in re.finditer(r"^\.\. include:: (\S+)\n((?:   :[\w-]+:.*\n)*)", text, flags=re.M):
        target = (path.parent / m.group(1)).resolve()
        body = target.read_text()
        options = dict(re.findall(r":([\w-]+):\s*(.*)", m.group(2)))
        if "start-after" in options:
            body = body.split(options["start-after"].strip(), 1)[1]
        if "end-before" in options:
            body = body.split(options["end-before"].strip(), 1)[0]
        parts.append((target, body))
    return parts


def _blocks(text: str, rst: bool) -> list[tuple[str, str]]:
    """``(block, text after it)`` of every bash/shell code block."""
    if rst:
        found = re.finditer(
            r"\.\. code-block:: (?:bash|sh|shell|console)\n\n((?:(?:   .*)?\n)+)", text
        )
        return [(textwrap.dedent(m.group(1)), _after(text, m.end())) for m in found]
    found = re.finditer(r"```(?:bash|sh|shell|console)\n(.*?)```", text, flags=re.S)
    return [(m.group(1), _after(text, m.end())) for m in found]


def _after(text: str, end: int) -> str:
    """The two paragraphs after a code block (its explanation, a table of costs)."""
    return "\n\n".join(text[end:].lstrip("\n").split("\n\n")[:2])


def _block_commands(block: str) -> list[tuple[str, str]]:
    """``(command, its comment)`` of each command line (continuations joined)."""
    out = []
    for line in re.sub(r"\\\n\s*", "", block).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        command, _, comment = line.partition("  #")
        out.append((re.sub(r"\s+", " ", command).strip(), comment))
    return out


def _inline(text: str, rst: bool) -> list[tuple[str, str]]:
    """``(command, its paragraph)`` of each inline code span that starts with a command."""
    out = []
    for paragraph in re.split(r"\n\s*\n", re.sub(r"```.*?```", "", text, flags=re.S)):
        flat = " ".join(paragraph.split())
        spans = re.findall(r"``([^`]+)``" if rst else r"(?<!`)`([^`]+)`(?!`)", flat)
        for span in (s.strip() for s in spans):
            name_only = re.fullmatch(r"(mc-run|mc-analyze) [\w-]+", span)  # a subcommand's name
            if STARTS.match(span + " ") and " " in span and not name_only:
                out.append((span, flat))
    return out


def shown_commands() -> dict[str, Shown]:
    """Every command the documentation shows, with where and what is written beside it."""
    found: dict[str, Shown] = {}
    queue = [(path, path.read_text()) for path in _documents()]
    while queue:
        path, text = queue.pop(0)
        rst = path.suffix == ".rst"
        if rst:
            queue += _included(path, text)
        where = str(path.relative_to(ROOT))
        for block, after in _blocks(text, rst):
            comments = " ".join(c for c in re.findall(r"#(.*)", block))
            for command, comment in _block_commands(block):
                shown = found.setdefault(command, Shown(command))
                shown.where.append(where)
                shown.beside.append(" ".join((comment, comments, after)))
        for command, paragraph in _inline(text, rst):
            shown = found.setdefault(command, Shown(command))
            shown.where.append(where)
            shown.beside.append(paragraph)
    return found


SHOWN = shown_commands()


def test_every_documented_command_is_listed():
    missing = sorted(set(SHOWN) - set(COMMANDS))
    stale = sorted(set(COMMANDS) - set(SHOWN))
    assert not missing, "documented commands neither run nor costed here:\n" + "\n".join(
        f"  {c}  ({', '.join(SHOWN[c].where)})" for c in missing
    )
    assert not stale, "listed here, no longer in the documentation:\n  " + "\n  ".join(stale)


@pytest.mark.parametrize(
    "command", [c for c, what in COMMANDS.items() if isinstance(what, Cost)], ids=str
)
def test_costly_commands_state_their_cost(command):
    if command not in SHOWN:
        pytest.skip("not in the documentation (test_every_documented_command_is_listed)")
    cost = COMMANDS[command]
    shown = SHOWN[command]
    for where, beside in zip(shown.where, shown.beside, strict=True):
        assert cost.text in beside, f"{command} ({cost.why}): no {cost.text!r} beside it in {where}"


# ------------------------------------------------------------------- running the commands


class Copy:
    """A fresh copy of the repository in which the listed commands run, each once."""

    def __init__(self, path: Path) -> None:
        sys.path.insert(0, str(ROOT / "tests" / "pipeline"))
        try:
            from dvc_roundtrip import copy_repo
        finally:
            sys.path.pop(0)
        self.path = path
        copy_repo(path)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MC_")}
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        self.env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@localhost")
        self.env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@localhost")
        for git in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
            subprocess.run(["git", *git], cwd=path, env=self.env, check=True)
        (path / ".venv").symlink_to(sys.prefix, target_is_directory=True)  # the quick start's
        self.done: dict[str, str] = {}
        self.fills: dict[str, str] = {}

    def sh(self, command: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", command], cwd=self.path, env=self.env, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip

    def run(self, command: str) -> str:
        """Run ``command`` (its table entry), once, after what it needs; its output."""
        what = COMMANDS[command]
        for need in what.needs:
            self.run(need)
        text = what.instead.format_map(_Fills(self)) if what.instead else command
        if text in self.done:  # the same command shown in two forms: run once
            return self.done[text]
        if command == "mc-run resume runs/yinyang_pal_quick_20261128-101500":
            self._interrupted_run("runs/yinyang_pal_quick_20261128-101500")
        res = self.sh(text)
        out = res.stdout + res.stderr
        assert res.returncode == 0, f"{text}: exit status {res.returncode}\n{out[-3000:]}"
        assert what.expect in out, f"{text}: no {what.expect!r} in\n{out[-3000:]}"
        self.done[text] = out
        if command == QUICK:
            self.fills["run"] = _run_dir(out)
        return out

    def _interrupted_run(self, name: str) -> None:
        """A quick-start run stopped by Ctrl-C after its first epoch, moved to ``name``.

        An epoch of 300 samples takes about a second here, so the interrupt comes while the
        second epoch runs (with 10 samples, the whole run could end before it).
        """
        out = self.path / "interrupted"
        proc = subprocess.Popen(
            ["mc-run", "train", "configs/quickstart.yaml", "--backend", "reference", "--set",
             "dataset.n_train=300", "--set", "dataset.n_valid=10", "--set", "dataset.n_test=10",
             "--set", "protocol.n_epochs=3", "--out", str(out), "--quiet"],
            cwd=self.path, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not list(out.glob("*/checkpoints/*.json")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 130, proc.communicate()
        (run,) = out.iterdir()
        (self.path / name).parent.mkdir(exist_ok=True)
        run.rename(self.path / name)


class _Fills(dict):
    def __init__(self, copy: Copy) -> None:
        super().__init__()
        self.copy = copy

    def __missing__(self, key: str) -> str:
        if key == "run":
            self.copy.run(QUICK)
            return self.copy.fills["run"]
        if key == "run_again":  # the same config and seed again: bit-identical
            return _run_dir(self.copy.sh(QUICK).stdout)
        if key == "sweep":
            return re.search(r"sweep directory: (\S+)", self.copy.run(SMOKE)).group(1)
        raise KeyError(key)


def _run_dir(out: str) -> str:
    return re.search(r"run directory: (\S+)", out).group(1)


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    return Copy(tmp_path_factory.mktemp("documented") / "repo")


def _dvc() -> bool:
    return shutil.which("dvc") is not None or (Path(sys.executable).parent / "dvc").exists()


def _params():
    for command, what in COMMANDS.items():
        if isinstance(what, Run):
            yield pytest.param(command, id=command)
        else:
            reason = what.why if isinstance(what, Skip) else f"{what.why}; cost: {what.text}"
            mark = pytest.mark.skip(reason=f"not run: {reason}")
            yield pytest.param(command, id=command, marks=mark)


@pytest.mark.slow
@pytest.mark.parametrize("command", list(_params()))
def test_documented_command_runs_as_written(copy, command):
    what = COMMANDS[command]
    if what.dvc and not _dvc():
        pytest.skip("needs DVC (`nox -s tests` installs it)")
    copy.run(command)
    if command.startswith("dvc exp run --temp"):  # the working tree is left as it was
        status = copy.sh("git status --porcelain").stdout
        assert "params.yaml" not in status and "dvc.lock" not in status, status
