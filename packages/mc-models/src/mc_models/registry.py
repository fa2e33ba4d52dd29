"""The models a network can use, by name: built-in, from installed packages, registered by code.

A new model is one module that declares it (see ``Adding a model`` in the mc-models README)
plus one registration, one of three:

- a line in ``BUILTIN`` for a model of this package;
- an entry point in the group ``mc_models.models`` (:data:`ENTRY_POINT_GROUP`) of an
  installed package of one's own, named like the model and pointing at it::

      [project.entry-points."mc_models.models"]
      pal_cubic = "pal_cubic:MODEL"

  Every process that looks a model up (``mc-run``, sweep workers, pipeline stages) loads
  these entry points, once, at its first look-up (:func:`load_plugins`);
- :func:`register` in a script, a notebook or a test (this process only).

Only the entry points of installed distributions are loaded (``importlib.metadata``),
never a module named by a config or a run directory. A model name that two sources provide
(a package's model named like a built-in one, two packages with the same model name, or a
registration in code with another model of a package's name) is an error naming both.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from pathlib import Path

from mc_models.model import NeuronModel, SynapseModel
from mc_models.neurons import bias, interneuron, output, pyramidal, pyramidal_white, rate_player
from mc_models.synapses import feedback, forward, inter_to_pyr, pyr_to_inter, static

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "ModelOrigin",
    "PluginError",
    "load_plugins",
    "model_origin",
    "neuron_model",
    "neuron_models",
    "register",
    "synapse_model",
    "synapse_models",
]

log = logging.getLogger(__name__)

#: The entry-point group under which installed packages declare their models.
ENTRY_POINT_GROUP = "mc_models.models"

BUILTIN: tuple[NeuronModel | SynapseModel, ...] = (
    pyramidal.MODEL,
    pyramidal_white.MODEL,
    interneuron.MODEL,
    output.MODEL,
    rate_player.MODEL,
    bias.MODEL,
    forward.MODEL,
    pyr_to_inter.MODEL,
    inter_to_pyr.MODEL,
    feedback.MODEL,
    static.DOWN_TO_INTER,
    static.TEACHER,
)

_HINT = (
    "a model of your own is registered with mc_models.register() in the process that "
    f"builds the network, or installed as a package declaring it under the entry points "
    f"{ENTRY_POINT_GROUP!r} (see 'Adding a model' in the mc-models README)"
)


class PluginError(ValueError):
    """An installed model package that cannot be used: it fails to load, or a name clashes."""


@dataclass(frozen=True)
class ModelOrigin:
    """Where a registered model comes from.

    Attributes
    ----------
    package
        The distribution that provides it (``mc-models`` for the built-in models), ``None``
        for a model registered by code in this process.
    version
        That distribution's version.
    entry_point
        ``"name = module:attribute"`` for a model from an installed package's entry point.
    registered_by
        The module that called :func:`register` (models registered in this process).
    """

    package: str | None
    version: str | None = None
    entry_point: str | None = None
    registered_by: str | None = None

    @property
    def builtin(self) -> bool:
        """Whether the model is one of this package's own."""
        return self.package == "mc-models" and self.entry_point is None

    @property
    def plugin(self) -> bool:
        """Whether the model comes from an installed package's entry point."""
        return self.entry_point is not None

    def __str__(self) -> str:
        if self.package is None:
            return f"registered in this process by {self.registered_by or 'unknown code'}"
        text = f"{self.package} {self.version}"
        return text + (f", entry point {self.entry_point}" if self.entry_point else ", built-in")


_NEURONS: dict[str, NeuronModel] = {}
_SYNAPSES: dict[str, SynapseModel] = {}
_ORIGINS: dict[tuple[str, str], ModelOrigin] = {}
_LOCK = threading.RLock()
# "unloaded", "loading" (in the thread holding _LOCK), "loaded", or the error that stopped it
_state: str | PluginError = "unloaded"


def _kind(model: NeuronModel | SynapseModel) -> tuple[str, dict]:
    if isinstance(model, NeuronModel):
        return "neuron", _NEURONS
    if isinstance(model, SynapseModel):
        return "synapse", _SYNAPSES
    raise TypeError(f"expected a NeuronModel or SynapseModel, got {model!r}")


def _own_version() -> str:
    try:
        return version("mc-models")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"


def load_plugins() -> None:
    """Register the models of installed packages (entry points of :data:`ENTRY_POINT_GROUP`).

    Called by every look-up and by :func:`register`; the entry points are loaded once per
    process, in the order of their packages' names. A package found through a relative
    entry of ``sys.path`` (the current directory) is not loaded, with a warning: only
    installed packages are.

    Raises
    ------
    PluginError
        When an entry point fails to import, is not a model, is not named like its model, or
        provides a model name that a built-in model or another package provides too (naming
        both packages). Every later look-up raises it again.
    """
    global _state
    if _state == "loaded":
        return
    with _LOCK:
        if _state in ("loaded", "loading"):  # loading: a plugin's module looks a model up
            return
        if isinstance(_state, PluginError):
            raise PluginError(str(_state))
        _state = "loading"
        try:
            for ep in _entry_points():
                _load_entry_point(ep)
        except PluginError as err:
            _state = err
            raise
        except BaseException:
            _state = "unloaded"  # interrupted: try again at the next look-up
            raise
        _state = "loaded"


def _package(ep: EntryPoint) -> tuple[str, str | None]:
    dist = ep.dist
    if dist is None:  # pragma: no cover - entry points always come from a distribution here
        return "(unknown package)", None
    return dist.metadata["Name"], dist.version


def _entry_points() -> list[EntryPoint]:
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        package, _ = _package(ep)
        where = ep.dist.locate_file("") if ep.dist is not None else None
        if where is not None and not Path(str(where)).is_absolute():
            log.warning(
                "model package %s (entry point %s = %s) not loaded: it was found through a "
                "relative entry of sys.path (the current directory), not installed",
                package,
                ep.name,
                ep.value,
            )
            continue
        found.append(ep)
    return sorted(found, key=lambda ep: (_package(ep)[0].lower(), ep.name))


def _load_entry_point(ep: EntryPoint) -> None:
    package, ver = _package(ep)
    what = f"model package {package} {ver}: entry point '{ep.name} = {ep.value}'"
    try:
        model = ep.load()
    except Exception as err:
        raise PluginError(
            f"{what} (group {ENTRY_POINT_GROUP!r}) failed to load: {type(err).__name__}: {err}"
        ) from err
    if not isinstance(model, NeuronModel | SynapseModel):
        raise PluginError(
            f"{what}: expected a NeuronModel or SynapseModel, got {type(model).__name__}"
        )
    if model.name != ep.name:
        raise PluginError(
            f"{what}: the entry point names the model {model.name!r}; name the entry point "
            f'like its model ({model.name} = "{ep.value}")'
        )
    kind, table = _kind(model)
    origin = ModelOrigin(package, ver, f"{ep.name} = {ep.value}")
    old = table.get(model.name)
    taken = _ORIGINS.get((kind, model.name))
    # the same model may have been registered by its own module while it was imported
    if old is not None and (old is not model or taken.package is not None):
        raise PluginError(
            f"two {kind} models are named {model.name!r}: one from {origin}, one from "
            f"{taken}; a model's name selects it in configs, so it must "
            "be unique: rename one of them, or uninstall one of the packages"
        )
    table[model.name] = model
    _ORIGINS[(kind, model.name)] = origin


def _caller_module() -> str | None:
    frame = sys._getframe(2)  # the caller of register()
    return frame.f_globals.get("__name__") if frame is not None else None


def register(model: NeuronModel | SynapseModel, *, replace: bool = False) -> None:
    """Make ``model`` available to networks in this process under its name.

    The installed packages' models are loaded first (:func:`mc_models.registry.load_plugins`),
    so that a name taken by one of them is reported whatever the order. Registering another
    model under a taken name is an error (naming where the registered one comes from) unless
    ``replace``; registering the same model again does nothing.
    """
    kind, table = _kind(model)
    load_plugins()
    old = table.get(model.name)
    if old is model:
        return
    if old is not None and not replace:
        raise ValueError(
            f"a {kind} model named {model.name!r} is registered already "
            f"({_ORIGINS[(kind, model.name)]}); pick another name or pass replace=True"
        )
    table[model.name] = model
    _ORIGINS[(kind, model.name)] = ModelOrigin(None, registered_by=_caller_module())


def model_origin(model: NeuronModel | SynapseModel) -> ModelOrigin:
    """Where the registered ``model`` comes from (its package and version, or this process).

    Raises :class:`ValueError` when ``model`` is not the model registered under its name.
    """
    kind, table = _kind(model)
    load_plugins()
    if table.get(model.name) is not model:
        raise ValueError(f"{kind} model {model.name!r} is not the one registered under its name")
    return _ORIGINS[(kind, model.name)]


def neuron_model(name: str) -> NeuronModel:
    """The registered neuron model ``name``."""
    load_plugins()
    try:
        return _NEURONS[name]
    except KeyError:
        raise ValueError(
            f"unknown neuron model {name!r}; registered: {sorted(_NEURONS)}; {_HINT}"
        ) from None


def synapse_model(name: str) -> SynapseModel:
    """The registered synapse model ``name``."""
    load_plugins()
    try:
        return _SYNAPSES[name]
    except KeyError:
        raise ValueError(
            f"unknown synapse model {name!r}; registered: {sorted(_SYNAPSES)}; {_HINT}"
        ) from None


def neuron_models() -> dict[str, NeuronModel]:
    """Every registered neuron model by name."""
    load_plugins()
    return dict(_NEURONS)


def synapse_models() -> dict[str, SynapseModel]:
    """Every registered synapse model by name."""
    load_plugins()
    return dict(_SYNAPSES)


for _model in BUILTIN:
    _kind(_model)[1][_model.name] = _model
    _ORIGINS[(_kind(_model)[0], _model.name)] = ModelOrigin("mc-models", _own_version())
