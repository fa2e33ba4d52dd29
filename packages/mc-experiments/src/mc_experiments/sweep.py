"""Sweeps: one file declares a grid (variants x parameters x seeds) over a base config.

Example::

    name: yinyang_paper
    base: yinyang_pal.yaml          # relative to this file
    seeds: {start: 123456, count: 10}
    variants:                       # named sets of overrides (dotted keys)
      pal: {}
      fa: {network.feedback: fa}
    grid:                           # optional cartesian product
      network.plasticity.alpha: [1.0e-6, 1.0e-5]
    max_batch: 30
    resources: {cores: 1, memory: 2GB, gpu: 0}   # optional, per batched group (Dask executor)
    profiles:                       # optional named shrinkings, chosen with --profile
      smoke:
        seeds: [1, 2]
        overrides: {protocol.n_epochs: 2, dataset.n_train: 20}

Members that differ only in their seed run as one batched simulation; every member still
gets its own run directory ``<sweep dir>/members/<variant>[_<grid point>]_seed<seed>``.

A variant may carry its own ``resources`` (``variants: {big: {resources: {memory: 8GB},
network.dims: [...]}}``); they replace the sweep's keys for that variant's members. Resources
only matter to the Dask executor (see :mod:`mc_experiments.executors`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mc_experiments.config import Config, ConfigError, apply_overrides, config_from_dict
from mc_experiments.runner import batch_groups
from mc_experiments.storage import atomic_write_bytes, create_run_dir

__all__ = [
    "RESOURCE_KEYS",
    "Sweep",
    "SweepMember",
    "group_members",
    "load_sweep",
    "parse_memory",
    "run_sweep",
]

log = logging.getLogger(__name__)
_KEYS = ("name", "base", "seeds", "variants", "grid", "max_batch", "resources", "profiles")
_PROFILE_KEYS = ("seeds", "max_batch", "overrides")
RESOURCE_KEYS = ("cores", "memory", "gpu")


@dataclass(frozen=True)
class SweepMember:
    """One member of a sweep.

    Attributes
    ----------
    name
        The member's name (= its run directory name under ``members/``).
    variant
        The variant it belongs to.
    overrides
        The variant's and grid point's overrides (dotted keys).
    config
        The validated config, or ``None`` when it is invalid (only with ``strict=False``).
    error
        Why the config is invalid (``None`` for a valid member).
    seed
        The member's run seed.
    resources
        What one batched group of such members needs (``cores``, ``memory``, ``gpu``), as
        declared in the sweep file; empty when nothing is declared.
    """

    name: str
    variant: str
    overrides: Mapping[str, Any]
    config: Config | None
    error: str | None = None
    seed: int | None = None
    resources: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the member has a valid config (and can run)."""
        return self.config is not None


@dataclass(frozen=True)
class Sweep:
    """A validated sweep."""

    name: str
    source: str
    members: tuple[SweepMember, ...]
    max_batch: int

    @property
    def invalid(self) -> tuple[SweepMember, ...]:
        """The members whose config is invalid (only a non-strict :func:`load_sweep` keeps them)."""
        return tuple(m for m in self.members if not m.ok)

    def to_dict(self) -> dict[str, Any]:
        """What ``sweep.yaml`` in the sweep directory holds."""
        return {
            "name": self.name,
            "source": self.source,
            "max_batch": self.max_batch,
            "members": [
                {
                    "name": m.name,
                    "variant": m.variant,
                    "seed": m.config.seed if m.config is not None else m.seed,
                    "overrides": dict(m.overrides),
                }
                for m in self.members
            ],
        }


def _seeds(value: Any, where: str) -> list[int]:
    if isinstance(value, Mapping):
        if set(value) != {"start", "count"}:
            raise ConfigError(f"{where}: seeds: use a list or {{start: N, count: K}}")
        return list(range(int(value["start"]), int(value["start"]) + int(value["count"])))
    if isinstance(value, list) and value and all(isinstance(s, int) for s in value):
        return value
    raise ConfigError(f"{where}: seeds: expected a non-empty list of integers, got {value!r}")


def _label(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _resources(value: Any, where: str) -> dict[str, Any]:
    """Validate a ``resources`` mapping (``cores``, ``memory``, ``gpu``)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping such as {{cores: 1, memory: 2GB, gpu: 0}}")
    unknown = sorted(set(value) - set(RESOURCE_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}; valid keys are {list(RESOURCE_KEYS)}"
        )
    out = dict(value)
    for key in ("cores", "gpu"):
        v = out.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or v < 0):
            raise ConfigError(f"{where}.{key}: expected a number >= 0, got {v!r}")
    mem = out.get("memory")
    if mem is not None:
        if isinstance(mem, bool) or not isinstance(mem, str | int | float):
            raise ConfigError(f"{where}.memory: expected bytes or a size like '2GB', got {mem!r}")
        try:
            parse_memory(mem)
        except ValueError:
            raise ConfigError(
                f"{where}.memory: {mem!r} is not a size (use e.g. 512MB, 2GB, 2GiB)"
            ) from None
    return out


_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_memory(value: str | int | float) -> int:
    """``"2GB"`` -> 2e9 bytes, ``"1GiB"`` -> 2**30 (as ``dask.utils.parse_bytes``)."""
    if isinstance(value, int | float):
        return int(value)
    text = value.strip().replace(" ", "").lower()
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :]
    if unit not in _UNITS or not number:
        raise ValueError(value)
    return int(float(number) * _UNITS[unit])


def load_sweep(path: str | Path, profile: str | None = None, strict: bool = True) -> Sweep:
    """Load and validate a sweep file; every member's config is validated now.

    Parameters
    ----------
    path
        The sweep file.
    profile
        An entry of the file's ``profiles``: its ``seeds`` and ``max_batch`` replace the
        sweep's and its ``overrides`` apply to every member.
    strict
        With ``True`` (default) the first invalid member raises :class:`ConfigError`. With
        ``False`` invalid members are kept as ``SweepMember(config=None, error=...)`` (the
        executors report them as failed and run the others); errors of the sweep file itself
        (its keys, base, seeds, grid) still raise.

    Returns
    -------
    Sweep
        The sweep with its members in file order (variants, grid points, seeds).
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise ConfigError(f"{where}: no such sweep file")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: a sweep must be a mapping")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys are {list(_KEYS)}")
    if "base" not in data:
        raise ConfigError(f"{where}: base: missing (a config file, relative to the sweep file)")
    base_path = (path.parent / data["base"]) if isinstance(data["base"], str) else None
    if base_path is None or not base_path.is_file():
        raise ConfigError(f"{where}: base: config file {data['base']!r} not found")
    base = yaml.safe_load(base_path.read_text())
    data, common = _apply_profile(dict(data), profile, where)
    seeds = _seeds(data.get("seeds", [base.get("seed", 0)]), where)
    variants = data.get("variants") or {"default": {}}
    grid = data.get("grid") or {}
    if not isinstance(variants, Mapping) or not isinstance(grid, Mapping):
        raise ConfigError(f"{where}: variants and grid must be mappings")
    for key, vals in grid.items():
        if not isinstance(vals, list) or not vals:
            raise ConfigError(f"{where}: grid.{key}: expected a non-empty list of values")
    max_batch = data.get("max_batch", 30)
    if not isinstance(max_batch, int) or max_batch < 1:
        raise ConfigError(f"{where}: max_batch: expected a positive integer, got {max_batch!r}")
    name = data.get("name", path.stem)
    resources = _resources(data.get("resources"), f"{where}: resources")
    members = []
    grid_keys = list(grid)
    for vname, vover in variants.items():
        if not isinstance(vover, Mapping):
            raise ConfigError(f"{where}: variants.{vname}: expected a mapping of overrides")
        vover = dict(vover)
        vres_raw = vover.pop("resources", None)
        try:
            vres = {**resources, **_resources(vres_raw, f"{where}: variants.{vname}.resources")}
            vres_error = None
        except ConfigError as err:
            if strict:
                raise
            vres, vres_error = dict(resources), str(err)
        for point in itertools.product(*(grid[k] for k in grid_keys)):
            gover = dict(zip(grid_keys, point, strict=True))
            glabel = "_".join(f"{k.split('.')[-1]}{_label(v)}" for k, v in gover.items())
            for seed in seeds:
                mname = "_".join(x for x in (vname, glabel, f"seed{seed}") if x)
                over = {**common, **vover, **gover, "seed": seed, "name": mname}
                cfg, error = None, vres_error
                if error is None:
                    try:
                        raw = apply_overrides(base, over, where)
                        cfg = config_from_dict(raw, source=f"{where} [{mname}]")
                    except ConfigError as err:
                        if strict:
                            raise
                        error = str(err)
                if error is not None:
                    cfg = None
                    log.debug("%s: member %s is invalid: %s", where, mname, error)
                members.append(
                    SweepMember(mname, vname, {**vover, **gover}, cfg, error, seed, vres)
                )
    return Sweep(name=name, source=where, members=tuple(members), max_batch=max_batch)


def _apply_profile(data: dict, profile: str | None, where: str) -> tuple[dict, dict]:
    profiles = data.pop("profiles", None) or {}
    if profile is None:
        return data, {}
    if profile not in profiles:
        raise ConfigError(
            f"{where}: profile {profile!r} is not defined; profiles: {sorted(profiles)}"
        )
    prof = profiles[profile] or {}
    unknown = sorted(set(prof) - set(_PROFILE_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: profiles.{profile}: unknown key(s) {unknown}; valid: {list(_PROFILE_KEYS)}"
        )
    for key in ("seeds", "max_batch"):
        if key in prof:
            data[key] = prof[key]
    over = prof.get("overrides") or {}
    if not isinstance(over, Mapping):
        raise ConfigError(f"{where}: profiles.{profile}.overrides: expected a mapping")
    return data, dict(over)


def prepare_sweep_dir(sweep: Sweep, out: Path | None = None, directory: Path | None = None) -> Path:
    """Create a new sweep directory under ``out``, or use/continue ``directory``.

    A continued directory must hold the same sweep (same members); ``sweep.yaml`` records it.
    """
    record = yaml.safe_dump(sweep.to_dict(), sort_keys=False)
    if directory is None:
        sweep_dir = create_run_dir(out or Path("runs"), sweep.name)
    else:
        sweep_dir = Path(directory)
        existing = sweep_dir / "sweep.yaml"
        if existing.exists():
            old = yaml.safe_load(existing.read_text())
            if old.get("members") != sweep.to_dict()["members"]:
                raise ConfigError(
                    f"{sweep_dir}: holds a different sweep (its sweep.yaml lists other members); "
                    "choose another --dir"
                )
        elif sweep_dir.exists() and any(sweep_dir.iterdir()):
            raise ConfigError(f"{sweep_dir}: exists and is not a sweep directory")
        sweep_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(sweep_dir / "sweep.yaml", record.encode())
    (sweep_dir / "members").mkdir(exist_ok=True)
    return sweep_dir


def group_members(sweep: Sweep) -> list[list[SweepMember]]:
    """The batched groups of a sweep's valid members (invalid members are left out)."""
    valid = [m for m in sweep.members if m.ok]
    return [
        [valid[i] for i in idx] for idx in batch_groups([m.config for m in valid], sweep.max_batch)
    ]


def group_tasks(sweep: Sweep, sweep_dir: Path) -> list[tuple[list[Config], list[Path]]]:
    """The batched groups of a sweep: (configs, member run directories) per group.

    Members with an invalid config (non-strict :func:`load_sweep`) are not in any group.
    """
    return [
        ([m.config for m in group], [Path(sweep_dir) / "members" / m.name for m in group])
        for group in group_members(sweep)
    ]


def run_sweep(
    sweep: Sweep,
    out: Path | None = None,
    quiet: bool = False,
    directory: Path | None = None,
    **executor: Any,
) -> Path:
    """Run every member (batched where possible); returns the sweep directory.

    With ``directory`` an interrupted sweep continues: completed members are skipped and the
    others resume from their checkpoints. ``executor`` keywords (``executor="dask"``,
    ``scheduler=...``, ``cluster=...``, ...) go to :func:`mc_experiments.executors.run_sweep`,
    which also returns which members failed; here failed members are only logged.
    """
    from mc_experiments.executors import run_sweep as _run

    return _run(sweep, out, quiet=quiet, directory=directory, **executor).directory
