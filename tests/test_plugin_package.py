"""The example model package (examples/plugin_package) installed with ``pip install -e``.

A fresh virtual environment sees this environment's packages (a ``.pth`` file adds its
site folders) and gets the example package installed into it by pip, from a copy of the
example (so that the test can change it). There, with the package installed:

- ``mc-run train`` of the example's config and a smoke sweep through the Dask executor
  (members in worker processes) give bit for bit the numbers of the same model registered
  in-process (``mc_models.register``) before the package was installed; with ``beta = 0``
  the rule is PAL's, bit for bit, and with ``beta > 0`` it is not;
- ``mc-run validate`` and ``mc-run models`` name the package, and ``environment.json``
  records it with its version and source hash;
- a run stopped by SIGTERM is refused by ``mc-run resume`` (exit status 2, naming the
  package) after its source is edited, at another version and with the package
  uninstalled, as is the continued sweep; with the package back it resumes.

About a minute (pip, a two-worker Dask cluster and a dozen short ``mc-run`` processes).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

import numpy as np
import pytest

from mc_experiments.storage import RunDir

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin_package"
SMALL = {
    "dataset.n_train": 3,
    "dataset.n_valid": 2,
    "dataset.n_test": 2,
    "protocol.n_epochs": 2,
    "backend.name": "reference",
}
MEMBERS = [f"default_beta{b}_seed{s}" for b in ("0", "0.001", "0.01") for s in (1, 2)]

pytestmark = pytest.mark.slow


class Env:
    """A virtual environment over this one's packages, with the example copied beside it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        venv.EnvBuilder(with_pip=False).create(root / "env")
        self.python = str(root / "env" / "bin" / "python")
        inner = self.run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        outer = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
        lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in outer)
        (Path(inner.stdout.strip()) / "_outer_site.pth").write_text(lines)
        self.package = root / "plugin_package"
        shutil.copytree(EXAMPLE, self.package, ignore=shutil.ignore_patterns("__pycache__"))

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run([self.python, *args], capture_output=True, text=True, cwd=self.root)
        if check:
            assert res.returncode == 0, res.stdout + res.stderr
        return res

    def mc_run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("-m", "mc_experiments.cli", *args, check=check)

    def pip_install(self, version: str) -> None:
        """Install the copy of the example at ``version`` (editable, as the guide says)."""
        pyproject = self.package / "pyproject.toml"
        text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text())
        pyproject.write_text(text)
        # without build isolation where the build backend and its editable support are here
        backend = all(importlib.util.find_spec(m) for m in ("hatchling", "editables"))
        isolation = ["--no-build-isolation"] if backend else []
        res = self.run("-m", "pip", "install", "-q", "--no-deps", *isolation, "-e",
                       str(self.package), check=False)  # fmt: skip
        if res.returncode != 0 and "Could not find a version" in res.stderr:
            pytest.skip(f"no package index reachable for the build backend: {res.stderr[-300:]}")
        assert res.returncode == 0, res.stderr

    def sets(self, values=SMALL) -> list[str]:
        return [a for k, v in values.items() for a in ("--set", f"{k}={v}")]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if importlib.util.find_spec("pal_cubic") is not None:
        pytest.skip("the example package is installed in this environment already")
    return Env(tmp_path_factory.mktemp("plugin"))


def _arrays(run: Path) -> dict[str, np.ndarray]:
    import zarr

    g = zarr.open_group(run / "recordings.zarr", mode="r")
    out = {f"{s}/{a}": g[s][a][...] for s in g.group_keys() for a in g[s].array_keys()}
    arrays, _ = RunDir(run).latest_checkpoint()
    return {**out, **{f"checkpoint/{k}": v for k, v in arrays.items()}}


def _same_numbers(a: Path, b: Path) -> bool:
    x, y = _arrays(a), _arrays(b)
    assert x.keys() == y.keys() and x
    same_arrays = all(np.array_equal(x[k], y[k], equal_nan=True) for k in x)
    ma, mb = RunDir(a).read_metrics(), RunDir(b).read_metrics()
    return same_arrays and ma.pop("name") and mb.pop("name") and ma == mb  # names may differ


def _only(folder: Path) -> Path:
    (path,) = folder.iterdir()
    return path


IN_PROCESS = """
import sys
from pathlib import Path

sys.path.insert(0, {src!r})  # the model's module, not installed: registered by hand
import pal_cubic

import mc_models
from mc_experiments import load_config, train
from mc_experiments.executors import run_sweep
from mc_experiments.sweep import load_sweep

assert "pal_cubic" not in mc_models.synapse_models()  # no package declares it here
mc_models.register(pal_cubic.MODEL)
out = Path({out!r})
train(load_config({config!r}, {small!r}), out / "train", quiet=True)
run_sweep(load_sweep({sweep!r}, profile="smoke"), directory=out / "sweep", quiet=True)
pal = {{**{small!r}, "network.rules.feedback": {{"model": "pal"}}, "name": "pal"}}
train(load_config({config!r}, pal), out / "pal", quiet=True)
"""


def test_the_example_package_everywhere(env, tmp_path):
    out = tmp_path
    config, sweep = env.package / "cubic.yaml", env.package / "sweep.yaml"
    # before the package is installed: the config names an unknown model; registered in-process
    res = env.mc_run("validate", str(config), check=False)
    assert res.returncode == 2 and "unknown synapse model 'pal_cubic'" in res.stderr
    script = IN_PROCESS.format(
        src=str(env.package / "src"),
        out=str(out / "in_process"),
        config=str(config),
        sweep=str(sweep),
        small=SMALL,
    )
    env.run("-c", script)

    env.pip_install("0.1.0")
    res = env.mc_run("validate", str(config))
    assert "models from pal-cubic 0.1.0, entry point pal_cubic = pal_cubic:MODEL: pal_cubic " in (
        res.stdout
    )
    listing = env.mc_run("models", "pal_cubic").stdout.splitlines()
    assert listing[1] == "  pal_cubic  [pal-cubic 0.1.0, entry point pal_cubic = pal_cubic:MODEL]"
    assert listing[-1].split()[:3] == ["beta", "=", "0.001"]

    # mc-run train: the same numbers as the model registered in-process
    env.mc_run("train", str(config), "--out", str(out / "cli"), "--quiet", *env.sets())
    run = _only(out / "cli")
    assert _same_numbers(run, _only(out / "in_process" / "train"))
    recorded = json.loads((run / "environment.json").read_text())["plugins"]
    assert list(recorded) == ["pal-cubic"] and recorded["pal-cubic"]["version"] == "0.1.0"
    assert recorded["pal-cubic"]["models"] == {"pal_cubic": "synapse"}
    assert recorded["pal-cubic"]["source"]["editable"] is True
    assert recorded["pal-cubic"]["source"]["sha256"].startswith("sha256:")

    # a smoke sweep through the Dask executor: members in two worker processes
    dask = out / "dask"
    args = ["sweep", str(sweep), "--profile", "smoke", "--dir", str(dask), "--quiet"]
    env.mc_run(*args, "--executor", "dask", "--cluster", "local", "--workers", "2")
    for name in MEMBERS:
        here, there = dask / "members" / name, out / "in_process" / "sweep" / "members" / name
        assert _same_numbers(here, there), name
        assert json.loads((here / "environment.json").read_text())["plugins"] == recorded
    # beta = 0 is PAL, bit for bit; beta > 0 is not
    pal = _only(out / "in_process" / "pal")
    assert _same_numbers(dask / "members" / "default_beta0_seed1", pal)
    assert not _same_numbers(dask / "members" / "default_beta0.01_seed1", pal)

    # a run stopped by SIGTERM after its first checkpoint, then continued
    long = env.sets({**SMALL, "protocol.n_epochs": 8})  # about 4 s: stopped after 1
    cut = _stopped_run(env, config, out / "cut", long)
    module = env.package / "src" / "pal_cubic" / "__init__.py"
    source = module.read_text()
    module.write_text(source + "# an edit\n")
    _refused(env, cut, r"pal-cubic 0.1.0: source files sha256:")
    module.write_text(source)
    env.pip_install("0.2.0")
    _refused(env, cut, "pal-cubic: version 0.1.0 -> 0.2.0 (the run's model(s): pal_cubic)")
    env.run("-m", "pip", "uninstall", "-q", "-y", "pal-cubic")
    _refused(env, cut, "pal-cubic: 0.1.0 -> not installed (the run's model(s): pal_cubic)")
    res = env.mc_run(*args, check=False)  # the sweep, continued without the package
    assert res.returncode == 2, res.stderr
    assert "the model packages of 6 started member(s) changed" in res.stderr
    assert "pal-cubic: 0.1.0 -> not installed" in res.stderr
    env.pip_install("0.1.0")
    env.mc_run("resume", str(cut), "--quiet")
    assert RunDir(cut).status()["state"] == "completed"


def _stopped_run(env: Env, config: Path, out: Path, sets: list[str]) -> Path:
    """``mc-run train`` stopped by SIGTERM once its first checkpoint is written."""
    cmd = [env.python, "-m", "mc_experiments.cli", "train", str(config), "--out", str(out)]
    proc = subprocess.Popen([*cmd, "--quiet", *sets], cwd=env.root, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(out.glob("*/checkpoints/epoch_0001.json")):
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode()
    run = _only(out)
    assert RunDir(run).status()["state"] == "interrupted"
    return run


def _refused(env: Env, run: Path, why: str) -> None:
    res = env.mc_run("resume", str(run), "--quiet", check=False)
    assert res.returncode == 2, res.stderr
    assert "the model packages it was run with changed" in res.stderr
    assert why in res.stderr, res.stderr
    assert RunDir(run).status()["state"] == "interrupted"  # left as it was
    assert os.path.isdir(run / "checkpoints")
