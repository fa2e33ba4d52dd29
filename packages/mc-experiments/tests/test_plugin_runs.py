"""Runs of models from installed packages: listed, recorded, and continued only unchanged.

The package here is installed as an editable install leaves it: a ``*.dist-info`` folder
(``METADATA``, ``entry_points.txt`` and a PEP 610 ``direct_url.json`` naming its source
folder) in a site folder on ``sys.path``, and the source folder on ``sys.path`` too.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import sys

import numpy as np
import pytest

from mc_experiments import protocol
from mc_experiments.cli import main
from mc_experiments.config import ConfigError, config_from_dict
from mc_experiments.executors import run_sweep
from mc_experiments.plugins import package_state, source_hash
from mc_experiments.runner import resume, train
from mc_experiments.storage import RunDir
from mc_experiments.sweep import load_sweep
from mc_models import registry as R

RULE = '''
"""A feedback rule relaxing B towards gamma."""
from mc_models import Param, SynapseModel, Var

MODEL = SynapseModel(
    name="relax_fb",
    doc=__doc__,
    params=(Param("eta", "learning rate"), Param("gamma", "the value B relaxes to", 0.25)),
    vars=(Var("g", "weight"),),
    switches=("learning",),
    update="if learning:\\n    g += (dt * eta) * (gamma - g)\\n",
    output="g * rate_pre",
)
'''


@pytest.fixture
def fresh(monkeypatch):
    """A registry with the built-in models only and nothing loaded (restored afterwards)."""
    for name in ("_NEURONS", "_SYNAPSES", "_ORIGINS"):
        monkeypatch.setattr(R, name, dict(getattr(R, name)))
    monkeypatch.setattr(R, "_state", "unloaded")


class Package:
    """The installed package ``relax-rules``: its source folder and its metadata."""

    def __init__(self, root, monkeypatch):
        self.src, self.site = root / "relax-rules", root / "site"
        (self.src / "relax_rules").mkdir(parents=True)
        (self.src / "relax_rules" / "__init__.py").write_text(RULE)
        (self.src / "pyproject.toml").write_text('[project]\nname = "relax-rules"\n')
        self.site.mkdir()
        monkeypatch.syspath_prepend(str(self.src))
        monkeypatch.syspath_prepend(str(self.site))
        self.install("1.0")

    @property
    def info(self):
        (info,) = self.site.glob("*.dist-info")
        return info

    def install(self, version):
        """(Re)install at ``version``."""
        self.uninstall()
        info = self.site / f"relax_rules-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: relax-rules\nVersion: {version}\n"
        )
        (info / "entry_points.txt").write_text(
            f"[{R.ENTRY_POINT_GROUP}]\nrelax_fb = relax_rules:MODEL\n"
        )
        url = {"url": self.src.as_uri(), "dir_info": {"editable": True}}
        (info / "direct_url.json").write_text(json.dumps(url))
        importlib.invalidate_caches()

    def uninstall(self):
        for info in self.site.glob("*.dist-info"):
            shutil.rmtree(info)
        importlib.invalidate_caches()


@pytest.fixture
def package(fresh, tmp_path, monkeypatch):
    yield Package(tmp_path / "pkg", monkeypatch)
    sys.modules.pop("relax_rules", None)


@pytest.fixture
def cfg_dict(tiny_dict):
    tiny_dict["network"]["rules"] = {"feedback": {"model": "relax_fb", "gamma": 0.5}}
    tiny_dict["protocol"]["n_epochs"] = 3
    return tiny_dict


def _interrupted_run(cfg, out, monkeypatch):
    """A run stopped (as by Ctrl-C) right after its first checkpoint."""
    real = protocol.Experiment.checkpoint

    def checkpoint(self, epoch):
        real(self, epoch)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(protocol.Experiment, "checkpoint", checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, out, quiet=True)
    monkeypatch.setattr(protocol.Experiment, "checkpoint", real)
    (path,) = out.iterdir()
    return path


def test_a_run_records_the_packages_of_its_models(package, cfg_dict, tiny_dict, tmp_path):
    (run,) = train(config_from_dict(cfg_dict), tmp_path / "runs", quiet=True)
    digest, n_files = source_hash(package.src)
    assert run.environment()["plugins"] == {
        "relax-rules": {
            "version": "1.0",
            "source": {
                "url": package.src.as_uri(),
                "editable": True,
                "sha256": digest,
                "files": 2,  # relax_rules/__init__.py and pyproject.toml
            },
            "models": {"relax_fb": "synapse"},
        }
    }
    assert n_files == 2
    # B relaxes towards the package's gamma: the run used the package's rule
    arrays, _ = run.latest_checkpoint()
    (fb,) = [k for k in arrays if "fb_1" in k and k.endswith("g")]
    assert 0 < np.abs(arrays[fb] - 0.5).max() < np.abs(arrays[fb]).max()
    del tiny_dict["network"]["rules"]
    (plain,) = train(config_from_dict(tiny_dict), tmp_path / "plain", quiet=True)
    assert plain.environment()["plugins"] == {}  # built-in models only


def test_source_hash_covers_python_and_packaging_files_only(tmp_path):
    root = tmp_path / "p"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("x = 1\n")
    (root / "setup.cfg").write_text("[metadata]\n")
    before = source_hash(root)
    for junk in ("__pycache__/a.cpython-311.pyc", ".git/HEAD", "build/lib/a.py", "notes.txt",
                 "venv/pyvenv.cfg", "venv/lib/x.py", "x.egg-info/PKG-INFO"):  # fmt: skip
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("anything")
    assert source_hash(root) == before and before[1] == 2
    (root / "pkg" / "a.py").write_text("x = 2\n")
    assert source_hash(root)[0] != before[0]
    (root / "pkg" / "a.py").write_text("x = 1\n")
    (root / "pkg" / "b.py").write_text("")
    assert source_hash(root)[1] == 3 and source_hash(root)[0] != before[0]


@pytest.mark.parametrize("change", ["version", "source", "missing"])
def test_resume_with_a_changed_package_is_refused_naming_it(
    package, cfg_dict, tmp_path, monkeypatch, change
):
    cfg = config_from_dict(cfg_dict)
    (full,) = train(cfg, tmp_path / "full", quiet=True)
    cut = _interrupted_run(cfg, tmp_path / "cut", monkeypatch)
    module = package.src / "relax_rules" / "__init__.py"
    if change == "version":
        package.install("1.1")
        why = r"relax-rules: version 1\.0 -> 1\.1 \(the run's model\(s\): relax_fb\)"
    elif change == "source":
        module.write_text(RULE + "# edited\n")
        why = r"relax-rules 1\.0: source files sha256:\w+… -> sha256:\w+… \(file://"
    else:
        package.uninstall()
        why = r"relax-rules: 1\.0 -> not installed \(the run's model\(s\): relax_fb\)"
    with pytest.raises(ConfigError, match=rf"model packages it was run with changed(.|\n)*{why}"):
        resume(cut, quiet=True)
    assert RunDir(cut).status()["state"] == "interrupted"  # left as it was
    # the same package again: the run continues, as if it had never stopped
    module.write_text(RULE)
    package.install("1.0")
    resume(cut, quiet=True)
    assert RunDir(cut).read_metrics() == full.read_metrics()


def test_a_sweep_continued_with_another_package_version_is_refused(
    package, cfg_dict, write_yaml, tmp_path, caplog
):
    write_yaml(cfg_dict, "base.yaml")
    path = write_yaml({"name": "relax", "base": "base.yaml", "seeds": [1, 2]}, "sweep.yaml")
    done = run_sweep(load_sweep(path), directory=tmp_path / "sw", quiet=True)
    assert done.ok
    package.install("2.0")
    with pytest.raises(ConfigError, match=r"model packages of 2 started member\(s\) changed"):
        run_sweep(load_sweep(path), directory=tmp_path / "sw", quiet=True)
    with caplog.at_level(logging.WARNING):
        again = run_sweep(
            load_sweep(path), directory=tmp_path / "sw", quiet=True, on_config_change="new"
        )
    assert again.directory == tmp_path / "sw-2" and again.ok
    assert "relax-rules: version 1.0 -> 2.0" in caplog.text
    (member,) = [d for d in (tmp_path / "sw-2" / "members").iterdir() if d.name.endswith("1")]
    assert RunDir(member).environment()["plugins"]["relax-rules"]["version"] == "2.0"


def test_models_lists_every_model_with_its_package_and_defaults(package, capsys, caplog):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "  pal  [mc-models " in out and "  pyramidal  [mc-models " in out
    assert "  relax_fb  [relax-rules 1.0, entry point relax_fb = relax_rules:MODEL]" in out
    assert main(["models", "relax_fb"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "synapse models:",
        "  relax_fb  [relax-rules 1.0, entry point relax_fb = relax_rules:MODEL]",
        "      A feedback rule relaxing B towards gamma.",
        "      eta   (set by the network)  learning rate",
        "      gamma = 0.25                the value B relaxes to",
    ]
    assert main(["models", "relax_fv"]) == 2
    assert "no model named ['relax_fv']" in caplog.text


def test_validate_names_the_package_of_each_model(package, cfg_dict, write_yaml, capsys):
    assert main(["validate", str(write_yaml(cfg_dict))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("  models from mc-models ")
    assert lines[1].endswith(", built-in: pyramidal, interneuron, output, forward, "
                             "pyr_to_inter, inter_to_pyr")  # fmt: skip
    assert lines[2] == (
        "  models from relax-rules 1.0, entry point relax_fb = relax_rules:MODEL: "
        "relax_fb (rules.feedback)"
    )


def test_a_clash_is_refused_by_mc_run_naming_both_packages(
    package, cfg_dict, write_yaml, tmp_path, caplog, monkeypatch
):
    other = tmp_path / "other-site"
    info = other / "other_rules-3.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: other-rules\nVersion: 3.0\n")
    (info / "entry_points.txt").write_text(
        f"[{R.ENTRY_POINT_GROUP}]\nrelax_fb = other_rules:MODEL\n"
    )
    (other / "other_rules.py").write_text(RULE)
    monkeypatch.syspath_prepend(str(other))
    importlib.invalidate_caches()
    assert main(["validate", str(write_yaml(cfg_dict))]) == 2
    sys.modules.pop("other_rules", None)
    err = caplog.text
    assert "two synapse models are named 'relax_fb'" in err
    assert "other-rules 3.0" in err and "relax-rules 1.0" in err


def test_a_copy_installed_from_a_folder_is_hashed_by_its_installed_files(tmp_path, monkeypatch):
    site = tmp_path / "site"
    info = site / "copied_rules-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: copied-rules\nVersion: 1.0\n")
    (site / "copied_rules.py").write_text("X = 1\n")
    (info / "RECORD").write_text(
        "copied_rules.py,,\ncopied_rules-1.0.dist-info/METADATA,,\n"
        "__pycache__/copied_rules.cpython-311.pyc,,\n"
    )
    url = {"url": (tmp_path / "gone").as_uri(), "dir_info": {}}  # the folder may be gone
    (info / "direct_url.json").write_text(json.dumps(url))
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    state = package_state("copied-rules")
    assert state["version"] == "1.0" and state["source"]["editable"] is False
    assert state["source"]["files"] == 1  # the module; not the metadata, not caches
    (site / "copied_rules.py").write_text("X = 2\n")
    assert package_state("copied-rules")["source"]["sha256"] != state["source"]["sha256"]
    assert package_state("no-such-package-here") is None
