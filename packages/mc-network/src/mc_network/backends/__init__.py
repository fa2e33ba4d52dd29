"""Backend registry: backends are plugins chosen by name.

``reference`` (NumPy, always available), ``compiled`` (numba, when installed) and ``genn``
(pygenn 5, when installed). Third parties can add their own with :func:`register_backend`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mc_network.backends.base import BackendUnavailable, Simulation
from mc_network.spec import NetworkSpec

__all__ = [
    "BackendUnavailable",
    "available_backends",
    "backend_options",
    "build_network",
    "default_backend",
    "register_backend",
]


@dataclass(frozen=True)
class _Entry:
    factory: str  # "module:attr", imported lazily
    available: Callable[[], str | None]  # None if usable, else why not


def _has(module: str, hint: str) -> Callable[[], str | None]:
    def check() -> str | None:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # e.g. blocked: ``sys.modules[module] = None``
            found = False
        if not found:
            return f"the Python package {module!r} is not installed ({hint})"
        return None

    return check


_REGISTRY: dict[str, _Entry] = {
    "reference": _Entry("mc_network.backends.reference:ReferenceSimulation", lambda: None),
    "compiled": _Entry(
        "mc_network.backends.compiled:CompiledSimulation",
        _has("numba", "pip install 'mc-network[compiled]'"),
    ),
    "genn": _Entry(
        "mc_network.backends.genn:GeNNSimulation",
        _has("pygenn", "build pygenn 5 from GeNN's sources; see the README"),
    ),
}


def register_backend(name: str, factory: str, available: Callable[[], str | None] | None = None):
    """Register a backend: ``factory`` is ``"module:ClassName"`` of a :class:`Simulation`."""
    _REGISTRY[name] = _Entry(factory, available or (lambda: None))


def available_backends() -> dict[str, str | None]:
    """Every registered backend with ``None`` if it is usable, else the reason it is not."""
    return {name: entry.available() for name, entry in _REGISTRY.items()}


def _factory(name: str) -> type[Simulation]:
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; registered backends: {sorted(_REGISTRY)}")
    module, attr = _REGISTRY[name].factory.split(":")
    return getattr(importlib.import_module(module), attr)


_COMMON = ("self", "spec", "seeds", "weights")


def backend_options(name: str) -> dict[str, Any] | None:
    """The options a backend takes (name -> default), read from its class's signature.

    ``None`` if the backend accepts any keyword. Importing a backend's module does not need
    its optional dependency (pygenn, numba), so this works where the backend cannot run.
    """
    params = inspect.signature(_factory(name).__init__).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {
        p.name: p.default
        for p in params
        if p.name not in _COMMON
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }


def default_backend() -> str:
    """The embedded default: ``compiled`` when numba is installed, else ``reference``."""
    return "compiled" if available_backends()["compiled"] is None else "reference"


def build_network(
    spec: NetworkSpec,
    seeds: int | Sequence[int] = 0,
    *,
    backend: str | None = None,
    weights: Mapping[str, np.ndarray] | None = None,
    **options: Any,
) -> Simulation:
    """Build a network of ``len(seeds)`` independent members on a backend.

    Parameters
    ----------
    spec
        The network description.
    seeds
        One run seed per batch member (weights and noise streams derive from it).
    backend
        Backend name (default: :func:`default_backend`).
    weights
        Optional initial weights (``name -> (n_pre, n_post)`` or ``(B, n_pre, n_post)``).
    **options
        Backend options (e.g. ``device="cuda"`` for GeNN).
    """
    name = backend or default_backend()
    valid = backend_options(name)  # raises ValueError for an unknown backend
    unknown = sorted(set(options) - set(valid)) if valid is not None else []
    if unknown:
        raise ValueError(
            f"backend {name!r} has no option(s) {unknown}; valid options: {sorted(valid)}"
        )
    why = _REGISTRY[name].available()
    if why is not None:
        raise BackendUnavailable(f"backend {name!r} is not available: {why}")
    return _factory(name)(spec, seeds, weights=weights, **options)
