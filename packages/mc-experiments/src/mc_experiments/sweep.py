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
    profiles:                       # optional named shrinkings, chosen with --profile
      smoke:
        seeds: [1, 2]
        overrides: {protocol.n_epochs: 2, dataset.n_train: 20}

Members that differ only in their seed run as one batched simulation; every member still
gets its own run directory ``<sweep dir>/members/<variant>[_<grid point>]_seed<seed>``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mc_experiments.config import Config, ConfigError, apply_overrides, config_from_dict
from mc_experiments.runner import ProgressBar, batch_groups, run_group
from mc_experiments.storage import atomic_write_bytes, create_run_dir

__all__ = ["Sweep", "SweepMember", "load_sweep", "run_sweep"]

log = logging.getLogger(__name__)
_KEYS = ("name", "base", "seeds", "variants", "grid", "max_batch", "profiles")
_PROFILE_KEYS = ("seeds", "max_batch", "overrides")


@dataclass(frozen=True)
class SweepMember:
    """One member: its name (= run directory name), overrides and validated config."""

    name: str
    variant: str
    overrides: Mapping[str, Any]
    config: Config


@dataclass(frozen=True)
class Sweep:
    """A validated sweep."""

    name: str
    source: str
    members: tuple[SweepMember, ...]
    max_batch: int

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
                    "seed": m.config.seed,
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


def load_sweep(path: str | Path, profile: str | None = None) -> Sweep:
    """Load and validate a sweep file; every member's config is validated now.

    ``profile`` names an entry of the file's ``profiles``: its ``seeds`` and ``max_batch``
    replace the sweep's and its ``overrides`` apply to every member.
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
    members = []
    grid_keys = list(grid)
    for vname, vover in variants.items():
        if not isinstance(vover, Mapping):
            raise ConfigError(f"{where}: variants.{vname}: expected a mapping of overrides")
        for point in itertools.product(*(grid[k] for k in grid_keys)):
            gover = dict(zip(grid_keys, point, strict=True))
            glabel = "_".join(f"{k.split('.')[-1]}{_label(v)}" for k, v in gover.items())
            for seed in seeds:
                mname = "_".join(x for x in (vname, glabel, f"seed{seed}") if x)
                over = {**common, **vover, **gover, "seed": seed, "name": mname}
                raw = apply_overrides(base, over, where)
                cfg = config_from_dict(raw, source=f"{where} [{mname}]")
                members.append(SweepMember(mname, vname, {**vover, **gover}, cfg))
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


def group_tasks(sweep: Sweep, sweep_dir: Path) -> list[tuple[list[Config], list[Path]]]:
    """The batched groups of a sweep: (configs, member run directories) per group."""
    configs = [m.config for m in sweep.members]
    return [
        ([configs[i] for i in idx], [sweep_dir / "members" / sweep.members[i].name for i in idx])
        for idx in batch_groups(configs, sweep.max_batch)
    ]


def run_sweep(
    sweep: Sweep, out: Path | None = None, quiet: bool = False, directory: Path | None = None
) -> Path:
    """Run every member (batched where possible) on this machine.

    With ``directory`` an interrupted sweep continues: completed members are skipped and the
    others resume from their checkpoints.
    """
    sweep_dir = prepare_sweep_dir(sweep, out, directory)
    tasks = group_tasks(sweep, sweep_dir)
    log.info(
        "sweep %s: %d members in %d batched group(s) -> %s",
        sweep.name,
        len(sweep.members),
        len(tasks),
        sweep_dir,
    )
    for gi, (configs, paths) in enumerate(tasks):
        bar = ProgressBar(not quiet, f"{sweep.name} [{gi + 1}/{len(tasks)}]")
        try:
            run_group(configs, paths, bar)
        finally:
            bar.close()
    return sweep_dir
