"""Models from installed packages: entry points of ``mc_models.models``, loaded once and lazily.

Each test installs small packages the way an installer leaves them (a ``*.dist-info`` folder
with ``METADATA`` and ``entry_points.txt`` on ``sys.path``, the module beside it) and starts
from a registry that has loaded nothing yet.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import subprocess
import sys

import pytest

from mc_models import PluginError, model_origin, neuron_model, register, synapse_model
from mc_models import registry as R

RULE = """
from mc_models import Param, SynapseModel, Var

MODEL = SynapseModel(
    name={name!r},
    doc="A test rule.",
    params=(Param("eta", "learning rate"), Param("gamma", "a constant", {default})),
    vars=(Var("g", "weight"),),
    switches=("learning",),
    update="if learning:\\n    g += (dt * eta) * (gamma - g)\\n",
    output="g * rate_pre",
)
NOT_A_MODEL = 42
"""


@pytest.fixture
def fresh(monkeypatch):
    """A registry with the built-in models only and nothing loaded (restored afterwards)."""
    monkeypatch.setattr(R, "_NEURONS", dict(R._NEURONS))
    monkeypatch.setattr(R, "_SYNAPSES", dict(R._SYNAPSES))
    monkeypatch.setattr(R, "_ORIGINS", dict(R._ORIGINS))
    monkeypatch.setattr(R, "_state", "unloaded")


@pytest.fixture
def install(tmp_path, monkeypatch):
    """``install(dist, version, model_name, ...)``: an installed package with one model.

    Its module holds ``MODEL`` (a rule named ``model_name`` whose ``gamma`` defaults to
    ``default``); the entry point ``entry_name = <module>:<target>`` declares it (``target``
    with a colon is the whole value).
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def make(dist, version, model_name, default=0.1, target="MODEL", entry_name=None):
        module = f"{dist.replace('-', '_')}_{len(modules)}"
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        value = target if ":" in target else f"{module}:{target}"
        (info / "entry_points.txt").write_text(
            f"[{R.ENTRY_POINT_GROUP}]\n{entry_name or model_name} = {value}\n"
        )
        (site / f"{module}.py").write_text(RULE.format(name=model_name, default=default))
        modules.append(module)
        importlib.invalidate_caches()
        return value

    yield make
    for m in modules:
        sys.modules.pop(m, None)


def test_an_installed_packages_model_is_found_by_name(fresh, install):
    value = install("my-rules", "1.2.0", "relax", default=0.25)
    assert R._state == "unloaded"  # nothing is loaded before the first look-up
    model = synapse_model("relax")
    assert R._state == "loaded"
    assert model.params[1].default == 0.25
    origin = model_origin(model)
    assert (origin.package, origin.version) == ("my-rules", "1.2.0")
    assert origin.entry_point == f"relax = {value}" and origin.plugin
    assert str(origin) == f"my-rules 1.2.0, entry point relax = {value}"
    assert model_origin(synapse_model("pal")).builtin


def test_importing_the_package_loads_no_plugin():
    code = (
        "import mc_models, mc_models.registry as R;"
        "assert R._state == 'unloaded', R._state;"
        "mc_models.neuron_model('pyramidal');"
        "assert R._state == 'loaded', R._state"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_entry_points_load_once(fresh, install, monkeypatch):
    install("my-rules", "1.0", "relax_b")
    calls = []
    real = R._entry_points
    monkeypatch.setattr(R, "_entry_points", lambda: calls.append(1) or real())
    synapse_model("relax_b")
    synapse_model("pal")
    neuron_model("pyramidal")
    assert calls == [1]


def test_a_clash_with_a_built_in_model_names_both_packages(fresh, install):
    install("pal-fork", "0.3", "pal")
    msg = r"two synapse models are named 'pal': one from pal-fork 0\.3, .* one from mc-models"
    with pytest.raises(PluginError, match=msg):
        synapse_model("forward")  # any look-up: the clash is not hidden by the built-in
    with pytest.raises(PluginError, match=msg):  # and every later one says so again
        neuron_model("pyramidal")


def test_a_clash_between_two_packages_names_both(fresh, install):
    one = install("rules-one", "1.0", "relax_c")
    two = install("rules-two", "2.0", "relax_c")
    with pytest.raises(PluginError) as err:
        synapse_model("relax_c")
    assert f"rules-one 1.0, entry point relax_c = {one}" in str(err.value)
    assert f"rules-two 2.0, entry point relax_c = {two}" in str(err.value)


def test_two_packages_declaring_one_model_clash_too(fresh, install):
    one = install("rules-one", "1.0", "relax_h")
    install("rules-two", "2.0", "relax_h", target=one)  # the first package's model object
    with pytest.raises(PluginError, match=r"one from rules-two 2\.0, .* one from rules-one 1\.0"):
        synapse_model("relax_h")


def test_a_module_registering_its_own_model_is_not_a_clash(fresh, install, tmp_path):
    value = install("self-reg", "1.0", "relax_i")
    module = tmp_path / "site" / f"{value.split(':')[0]}.py"
    module.write_text(module.read_text() + "\nfrom mc_models import register\nregister(MODEL)\n")
    assert (
        str(model_origin(synapse_model("relax_i")))
        == f"self-reg 1.0, entry point relax_i = {value}"
    )


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("NOT_A_MODEL", "expected a NeuronModel or SynapseModel, got int"),
        ("MISSING", "failed to load: AttributeError"),
        ("no_such_module_d:MODEL", "failed to load: ModuleNotFoundError"),
    ],
)
def test_a_broken_entry_point_is_an_error_naming_its_package(fresh, install, target, why):
    install("broken-rules", "0.1", "relax_d", target=target)
    with pytest.raises(PluginError, match=rf"model package broken-rules 0\.1: .*{why}"):
        synapse_model("pal")


def test_an_entry_point_is_named_like_its_model(fresh, install):
    install("my-rules", "1.0", "relax_e", entry_name="other_name")
    with pytest.raises(PluginError, match=r"names the model 'relax_e'; name the entry point"):
        synapse_model("relax_e")


def test_registering_a_packages_model_name_is_refused_naming_the_package(fresh, install):
    install("my-rules", "1.0", "relax_f")
    other = dataclasses.replace(synapse_model("relax_f"))  # another model, the same name
    with pytest.raises(ValueError, match=r"'relax_f' is registered already \(my-rules 1\.0"):
        register(other)  # whether or not a look-up loaded the packages before
    register(synapse_model("relax_f"))  # the same model again: nothing to do


def test_registration_by_code_names_its_module(fresh):
    model = dataclasses.replace(synapse_model("pal"), name="pal_copy")
    register(model)
    assert str(model_origin(model)) == f"registered in this process by {__name__}"


def test_a_package_found_through_the_current_directory_is_not_loaded(
    fresh, tmp_path, monkeypatch, caplog
):
    info = tmp_path / "sneaky-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sneaky\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{R.ENTRY_POINT_GROUP}]\nrelax_g = sneaky_g:MODEL\n")
    (tmp_path / "sneaky_g.py").write_text(RULE.format(name="relax_g", default=0.1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("")
    importlib.invalidate_caches()
    unknown = r"unknown synapse model 'relax_g'.*entry points"
    with (
        caplog.at_level(logging.WARNING, "mc_models.registry"),
        pytest.raises(ValueError, match=unknown),
    ):
        synapse_model("relax_g")
    assert "sneaky" in caplog.text and "not installed" in caplog.text
    assert "sneaky_g" not in sys.modules


def test_a_model_name_is_never_imported_as_a_module(fresh):
    with pytest.raises(ValueError, match=r"unknown synapse model 'json:loads'"):
        synapse_model("json:loads")
    with pytest.raises(ValueError, match=r"unknown neuron model 'os\.path'"):
        neuron_model("os.path")
