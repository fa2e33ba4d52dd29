"""Models from installed packages in runs: what a run used, listed, recorded and checked.

Models come from mc-models itself, from installed packages that declare them under the
entry points ``mc_models.models`` (see :mod:`mc_models.registry`), or from
:func:`mc_models.register` in the running process. A run directory records, in
``environment.json`` under ``plugins``, every installed package whose models its network
uses::

    "plugins": {
      "pal-cubic": {
        "version": "0.1.0",
        "models": {"pal_cubic": "synapse"},
        "source": {"url": "file:///home/me/pal-cubic", "editable": true,
                   "sha256": "…", "files": 2}
      }
    }

``source`` is there for a package installed from a local folder (its PEP 610
``direct_url.json`` names a ``file://`` URL): the sha256 of its source files, so that
editing them without changing the version is noticed too. For an editable install these
are the Python files (``*.py``) and the packaging files (``pyproject.toml``, ``setup.cfg``,
``setup.py``) under the folder, outside hidden, ``__pycache__``, ``build``, ``dist``,
``*.egg-info`` and virtual-environment folders; for a copy installed from a folder, the
files it installed.

A run is continued (``mc-run resume``, a sweep continued with ``--dir``) only with the same
packages: each recorded package installed at the same version with the same source hash and
still providing the recorded models. Anything else is refused like a changed config, naming
the package. Nothing here loads code: packages are read through ``importlib.metadata``,
and models through the registry, which loads installed packages' entry points only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mc_experiments.config import ConfigError
from mc_experiments.storage import RunDir
from mc_models import (
    ModelOrigin,
    NeuronModel,
    SynapseModel,
    model_origin,
    neuron_model,
    neuron_models,
    synapse_model,
    synapse_models,
)
from mc_network.spec import NEURON_ROLES, RULE_ROLES, NetworkSpec, section_model

__all__ = [
    "check_run_plugins",
    "describe_models",
    "list_models",
    "network_models",
    "package_state",
    "plugin_changes",
    "plugin_record",
    "source_hash",
    "sweep_plugin_changes",
]

log = logging.getLogger(__name__)

KEY = "plugins"
MAX_SOURCE_ENTRIES = 20_000  # files and folders walked to hash an editable install's source
_PACKAGING = ("pyproject.toml", "setup.cfg", "setup.py")
_SKIP_DIRS = ("__pycache__", "build", "dist", "node_modules")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def network_models(spec: NetworkSpec) -> dict[str, NeuronModel | SynapseModel]:
    """The models a network's roles use, by role (``pyramidal`` ... ``rules.feedback``).

    The players, the bias and the fixed one-to-one projections are always built-in models.
    """
    out: dict[str, NeuronModel | SynapseModel] = {}
    for role in NEURON_ROLES:
        out[role] = section_model(getattr(spec, role))
    for role in RULE_ROLES:
        out[f"rules.{role}"] = section_model(getattr(spec.rules, role))
    return out


# ---------------------------------------------------------------------------- packages
def _direct_url(dist: Distribution) -> dict[str, Any] | None:
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("url"), str) else None


def _skipped_dir(path: Path) -> bool:
    name = path.name
    return (
        name.startswith(".")
        or name in _SKIP_DIRS
        or name.endswith(".egg-info")
        or (path / "pyvenv.cfg").is_file()
    )


def source_hash(root: Path) -> tuple[str, int]:
    """The sha256 of a package folder's source files and how many there are.

    Python files and packaging files (see the module docstring), each as its path relative
    to ``root`` and the sha256 of its bytes, in sorted order.

    Raises
    ------
    OSError
        When ``root`` is not a folder, or holds more than ``MAX_SOURCE_ENTRIES`` entries.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: the package's source folder is not there")
    found: list[str] = []
    seen = 0
    for here, dirs, files in os.walk(root):
        base = Path(here)
        dirs[:] = sorted(d for d in dirs if not _skipped_dir(base / d))
        seen += len(dirs) + len(files)
        if seen > MAX_SOURCE_ENTRIES:
            raise OSError(f"{root}: more than {MAX_SOURCE_ENTRIES} files and folders to look at")
        for name in files:
            if name.endswith(".py") or name in _PACKAGING:
                found.append((base / name).relative_to(root).as_posix())
    return _digest(root, sorted(found)), len(found)


def _digest(root: Path, relpaths: Iterable[str]) -> str:
    h = hashlib.sha256()
    for rel in relpaths:
        h.update(rel.encode() + b"\0" + hashlib.sha256((root / rel).read_bytes()).digest())
    return "sha256:" + h.hexdigest()


def _installed_hash(dist: Distribution) -> tuple[str, int]:
    files = sorted(
        str(f)
        for f in dist.files or ()
        if "__pycache__" not in f.parts and not f.parts[0].endswith(".dist-info")
    )
    root = Path(str(dist.locate_file("")))
    return _digest(root, files), len(files)


def _source(dist: Distribution) -> dict[str, Any] | None:
    """``source`` of a package installed from a local folder (``None`` for other installs)."""
    info = _direct_url(dist)
    if info is None or not info["url"].startswith("file://"):
        return None
    editable = bool((info.get("dir_info") or {}).get("editable"))
    out: dict[str, Any] = {"url": info["url"], "editable": editable}
    try:
        if editable:
            digest, n = source_hash(Path(unquote(urlparse(info["url"]).path)))
        else:
            digest, n = _installed_hash(dist)
    except OSError as err:
        log.warning("%s: no source hash recorded: %s", dist.metadata["Name"], err)
        return {**out, "sha256": None, "error": str(err)}
    return {**out, "sha256": digest, "files": n}


def package_state(name: str) -> dict[str, Any] | None:
    """The installed package ``name``: its ``version`` and, installed from a folder, ``source``.

    ``None`` when no such package is installed.
    """
    try:
        dist = distribution(name)
    except PackageNotFoundError:
        return None
    state: dict[str, Any] = {"version": dist.version}
    source = _source(dist)
    if source is not None:
        state["source"] = source
    return state


def plugin_record(spec: NetworkSpec) -> dict[str, dict[str, Any]]:
    """What ``environment.json`` records under ``plugins`` for a run of ``spec``.

    Every installed package (other than mc-models) whose models the network uses, with its
    version, the models it provides to this run and, installed from a local folder, the
    hash of its source. Models registered by code in this process are not packages and are
    not recorded.
    """
    out: dict[str, dict[str, Any]] = {}
    for model in network_models(spec).values():
        origin = model_origin(model)
        if not origin.plugin:
            continue
        entry = out.get(origin.package)
        if entry is None:
            entry = out[origin.package] = {**(package_state(origin.package) or {}), "models": {}}
            entry.setdefault("version", origin.version)
        entry["models"][model.name] = _kind(model)
    return out


def _kind(model: NeuronModel | SynapseModel) -> str:
    return "neuron" if isinstance(model, NeuronModel) else "synapse"


# ---------------------------------------------------------------------------- checks
def _provider(name: str, kind: str) -> ModelOrigin | None:
    """Where the model ``name`` comes from now (``None``: no such model)."""
    try:
        model = neuron_model(name) if kind == "neuron" else synapse_model(name)
    except ValueError:
        return None
    return model_origin(model)


def _short(digest: str | None) -> str:
    return f"{digest[:19]}…" if digest else "none"


def plugin_changes(recorded: Mapping[str, Any]) -> list[str]:
    """What differs between a run's recorded packages and those installed now (run -> now).

    Each line names a package: not installed now, another version, other source files (a
    package installed from a folder), or a recorded model that it no longer provides.
    """
    out: list[str] = []
    for name, rec in sorted(recorded.items()):
        rec = rec if isinstance(rec, Mapping) else {}
        was = rec.get("version")
        models = rec.get("models") if isinstance(rec.get("models"), Mapping) else {}
        used = ", ".join(sorted(models)) or "none"
        now = package_state(name)
        if now is None:
            out.append(f"{name}: {was} -> not installed (the run's model(s): {used})")
            continue
        if now["version"] != was:
            out.append(f"{name}: version {was} -> {now['version']} (the run's model(s): {used})")
            continue
        old_src, new_src = rec.get("source") or {}, now.get("source") or {}
        if old_src.get("sha256") and old_src.get("sha256") != new_src.get("sha256"):
            out.append(
                f"{name} {was}: source files {_short(old_src['sha256'])} -> "
                f"{_short(new_src.get('sha256'))} ({new_src.get('url') or 'not from a folder'})"
            )
        for model, kind in sorted(models.items()):
            origin = _provider(model, kind)
            if origin is None or origin.package is None or not origin.plugin:
                now_from = "nowhere" if origin is None else str(origin)
            elif _normalise(origin.package) != _normalise(name):
                now_from = f"{origin.package} {origin.version}"
            else:
                continue
            out.append(f"{kind} model {model}: from {name} {was} -> from {now_from}")
    return out


def check_run_plugins(run_path: Path, environment: Mapping[str, Any]) -> None:
    """Refuse to continue a run whose model packages changed since it started.

    ``environment`` is the run's ``environment.json``; a run without ``plugins`` (written
    before packages were recorded) is not checked.

    Raises
    ------
    ConfigError
        Naming the run directory and, for each changed package, what differs (run -> now).
    """
    recorded = environment.get(KEY)
    if not isinstance(recorded, Mapping) or not recorded:
        return
    changes = plugin_changes(recorded)
    if changes:
        raise ConfigError(
            f"{run_path}: the model packages it was run with changed; continuing it would mix "
            "two versions of their models. What differs (run -> now):\n  "
            + "\n  ".join(changes)
            + "\nInstall what the run used again, or train a new run"
        )


def sweep_plugin_changes(sweep_dir: Path, member_dirs: Iterable[Path]) -> str | None:
    """Why continuing a sweep directory would mix model packages, or ``None``.

    Every started member (one with an ``environment.json``) is checked as
    :func:`check_run_plugins` checks a run.
    """
    changed: dict[str, None] = {}
    n = 0
    for d in member_dirs:
        recorded = RunDir(d).environment().get(KEY)
        if isinstance(recorded, Mapping) and recorded:
            lines = plugin_changes(recorded)
            n += bool(lines)
            changed.update(dict.fromkeys(lines))
    if not changed:
        return None
    return (
        f"{sweep_dir}: the model packages of {n} started member(s) changed since this sweep "
        "directory was started; continuing it would mix two versions of their models. What "
        "differs (then -> now):\n  " + "\n  ".join(changed)
    )


# ---------------------------------------------------------------------------- listings
def describe_models(specs: Iterable[NetworkSpec]) -> list[str]:
    """The models networks use, grouped by where they come from (a line per package)."""
    groups: dict[str, list[str]] = {}
    for spec in specs:
        for role, model in network_models(spec).items():
            origin = model_origin(model)
            label = model.name if origin.builtin else f"{model.name} ({role})"
            names = groups.setdefault(str(origin), [])
            if label not in names:
                names.append(label)
    return [f"models from {where}: {', '.join(names)}" for where, names in groups.items()]


def _first_line(doc: str) -> str:
    return next((line.strip() for line in doc.strip().splitlines() if line.strip()), "")


def list_models(names: Iterable[str] = ()) -> str:
    """Every registered model (or those named) with its package, parameters and defaults.

    Raises
    ------
    ConfigError
        When a name is not a registered model.
    """
    tables = {"neuron": neuron_models(), "synapse": synapse_models()}
    wanted = set(names)
    unknown = sorted(wanted - set(tables["neuron"]) - set(tables["synapse"]))
    if unknown:
        known = sorted({*tables["neuron"], *tables["synapse"]})
        raise ConfigError(f"mc-run models: no model named {unknown}; registered: {known}")
    lines: list[str] = []
    for kind, table in tables.items():
        shown = [m for name, m in sorted(table.items()) if not wanted or name in wanted]
        if not shown:
            continue
        lines.append(f"{kind} models:")
        for model in shown:
            lines.append(f"  {model.name}  [{model_origin(model)}]")
            lines.append(f"      {_first_line(model.doc)}")
            width = max((len(p.name) for p in model.params), default=0)
            for p in model.params:
                value = "(set by the network)" if p.default is None else f"= {p.default:g}"
                unit = f" [{p.unit}]" if p.unit else ""
                lines.append(f"      {p.name:<{width}} {value:<21} {p.doc}{unit}")
    return "\n".join(lines)
