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
    resources: {cores: 1, memory: 2GB, gpu: 0}   # optional, per batched group (Dask, SLURM)
    profiles:                       # optional named shrinkings, chosen with --profile
      smoke:
        seeds: [1, 2]
        overrides: {protocol.n_epochs: 2, dataset.n_train: 20}

Members that differ only in their seed run as one batched simulation; every member still
gets its own run directory ``<sweep dir>/members/<variant>[_<grid point>]_seed<seed>``. Member
names become directory names: a variant or grid value that would make one leave ``members/``
(``/``, a leading ``.``, control characters) is an error of the sweep file.

The sweep directory's ``sweep.yaml`` records the members, each member's config fingerprint
and the base config. Continuing a sweep directory (``--dir``) whose configs changed, or
whose started members used model packages that changed since (another version, other
source files, not installed: :mod:`mc_experiments.plugins`), is refused with what differs
(key paths and both values; packages and versions), or, with
``on_config_change="new"`` (``mc-run sweep --on-config-change new``), continues into a new
sweep directory next to it (``<dir>-2``, ...) so that one directory never mixes two
configurations.

A variant may carry its own ``resources`` (``variants: {big: {resources: {memory: 8GB},
network.dims: [...]}}``); they replace the sweep's keys for that variant's members. Resources
matter to the Dask executor (Dask resources of a group's task, see
:mod:`mc_experiments.executors`) and the SLURM executor (``--cpus-per-task``, ``--mem``,
``--gres=gpu:N`` of the job array, see :mod:`mc_experiments.executors_slurm`).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mc_analysis import runformat as F
from mc_analysis.bounded import dump_yaml, load_yaml, short_repr
from mc_experiments.config import Config, ConfigError, apply_overrides, config_from_dict
from mc_experiments.plugins import sweep_plugin_changes
from mc_experiments.runner import batch_groups
from mc_experiments.storage import RunDir, atomic_write_bytes, create_run_dir

__all__ = [
    "ON_CONFIG_CHANGE",
    "RESOURCE_KEYS",
    "Sweep",
    "SweepMember",
    "group_members",
    "group_resources",
    "load_sweep",
    "open_sweep_dir",
    "parse_memory",
]

log = logging.getLogger(__name__)
_KEYS = ("name", "base", "seeds", "variants", "grid", "max_batch", "resources", "profiles")
_PROFILE_KEYS = ("seeds", "max_batch", "overrides")
RESOURCE_KEYS = ("cores", "memory", "gpu")
#: What continuing a sweep directory whose configs changed does: refuse, or use a new one.
ON_CONFIG_CHANGE = ("refuse", "new")


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

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the member's resolved config (``None`` when invalid)."""
        return F.fingerprint(self.config.to_dict()) if self.config is not None else None


@dataclass(frozen=True)
class Sweep:
    """A validated sweep."""

    name: str
    source: str
    members: tuple[SweepMember, ...]
    max_batch: int
    base: Mapping[str, Any] = field(default_factory=dict)
    profile: str | None = None

    @property
    def invalid(self) -> tuple[SweepMember, ...]:
        """The members whose config is invalid (only a non-strict :func:`load_sweep` keeps them)."""
        return tuple(m for m in self.members if not m.ok)

    def to_dict(self) -> dict[str, Any]:
        """What ``sweep.yaml`` in the sweep directory holds.

        ``members`` (name, variant, seed, overrides and the config fingerprint of each),
        ``fingerprint`` (of all the members' fingerprints), ``base`` (the base config as read,
        with the profile's overrides) and ``format_version``.
        """
        members = [
            {
                "name": m.name,
                "variant": m.variant,
                "seed": m.config.seed if m.config is not None else m.seed,
                "overrides": dict(m.overrides),
                "fingerprint": m.fingerprint,
            }
            for m in self.members
        ]
        return {
            "name": self.name,
            "source": self.source,
            "profile": self.profile,
            "max_batch": self.max_batch,
            "format_version": F.FORMAT_VERSION,
            "fingerprint": F.fingerprint(
                {"members": [[m["name"], m["fingerprint"]] for m in members]}
            ),
            "base": dict(self.base),
            "members": members,
        }


def _is_seed(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63


MAX_MEMBERS = 100_000


def _seeds(value: Any, where: str) -> list[int]:
    if isinstance(value, Mapping):
        if set(value) != {"start", "count"}:
            raise ConfigError(f"{where}: seeds: use a list or {{start: N, count: K}}")
        start, count = value["start"], value["count"]
        if not _is_seed(start):
            raise ConfigError(
                f"{where}: seeds.start: expected an integer >= 0, got {short_repr(start)}"
            )
        if not (_is_seed(count) and 1 <= count <= MAX_MEMBERS):
            raise ConfigError(
                f"{where}: seeds.count: expected an integer from 1 to {MAX_MEMBERS}, got "
                f"{short_repr(count)}"
            )
        return list(range(start, start + count))
    if isinstance(value, list) and value and all(_is_seed(s) for s in value):
        if len(set(value)) != len(value):
            raise ConfigError(f"{where}: seeds: {short_repr(value)} lists a seed twice")
        return value
    raise ConfigError(
        f"{where}: seeds: expected a non-empty list of integers >= 0, got {short_repr(value)}"
    )


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
    data = load_yaml(path, error=ConfigError, what="sweep file")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: a sweep must be a mapping, got {short_repr(data)}")
    unknown = sorted(map(str, set(data) - set(_KEYS)))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown[:20]}; valid keys are {list(_KEYS)}")
    if "base" not in data:
        raise ConfigError(f"{where}: base: missing (a config file, relative to the sweep file)")
    base_path = (path.parent / data["base"]) if isinstance(data["base"], str) else None
    if base_path is None or not base_path.is_file():
        raise ConfigError(f"{where}: base: config file {short_repr(data['base'])} not found")
    base = load_yaml(base_path, error=ConfigError, what="config file")
    if not isinstance(base, Mapping):
        raise ConfigError(f"{base_path}: a config must be a mapping of sections")
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
    try:
        F.check_name(name, "name")
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    resources = _resources(data.get("resources"), f"{where}: resources")
    n_members = len(variants) * math.prod(len(v) for v in grid.values()) * len(seeds)
    if n_members > MAX_MEMBERS:  # counted before any member is made
        raise ConfigError(
            f"{where}: {len(variants)} variant(s) x {math.prod(len(v) for v in grid.values())} "
            f"grid point(s) x {len(seeds)} seed(s) = {n_members} members, more than "
            f"{MAX_MEMBERS}"
        )
    _no_member_keys(grid, f"{where}: grid")
    members = []
    grid_keys = list(grid)
    for vname, vover in variants.items():
        if not isinstance(vover, Mapping):
            raise ConfigError(
                f"{where}: variants.{short_repr(vname)}: expected a mapping of overrides"
            )
        _no_member_keys(vover, f"{where}: variants.{short_repr(vname, 60)}")
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
            point_cfg: Config | None = None  # validated once per point; seeds only differ
            for seed in seeds:
                mname = "_".join(x for x in (str(vname), glabel, f"seed{seed}") if x)
                try:  # before the name becomes a path anywhere
                    F.check_name(mname, f"variants.{short_repr(vname, 60)}: member name")
                except ValueError as err:
                    raise ConfigError(f"{where}: {err}") from None
                cfg, error = None, vres_error
                if error is None and point_cfg is not None:
                    cfg = dataclasses.replace(
                        point_cfg, seed=seed, name=mname, source=f"{where} [{mname}]"
                    )
                elif error is None:
                    over = {**common, **vover, **gover, "seed": seed, "name": mname}
                    try:
                        raw = apply_overrides(base, over, where, label=f"{where}: override")
                        cfg = point_cfg = config_from_dict(raw, source=f"{where} [{mname}]")
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
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"{where}: member names occur twice: {dup[:5]} (variants and grid)")
    if not members:
        raise ConfigError(f"{where}: the sweep has no members")
    return Sweep(
        name=name,
        source=where,
        members=tuple(members),
        max_batch=max_batch,
        base=apply_overrides(base, common, str(base_path), label=f"{where}: override")
        if common
        else dict(base),
        profile=profile,
    )


#: Keys a sweep sets for every member itself: the seeds come from ``seeds``, the name from
#: the variant, grid point and seed.
MEMBER_KEYS = ("seed", "name")


def _no_member_keys(overrides: Mapping[str, Any], where: str) -> None:
    """Refuse an override of ``seed`` or ``name``: the sweep sets them (it would be dropped)."""
    for key in MEMBER_KEYS:
        if key in overrides:
            what = "list the seeds in seeds:" if key == "seed" else "the name comes from the sweep"
            raise ConfigError(
                f"{where}: {key}: {short_repr(overrides[key])} cannot be set per member (every "
                f"member's {key} is set by the sweep: {what})"
            )


def _apply_profile(data: dict, profile: str | None, where: str) -> tuple[dict, dict]:
    profiles = data.pop("profiles", None) or {}
    for name, prof in profiles.items() if isinstance(profiles, Mapping) else ():
        over = prof.get("overrides") if isinstance(prof, Mapping) else None
        if isinstance(over, Mapping):  # every profile, also those not chosen now
            _no_member_keys(over, f"{where}: profiles.{name}.overrides")
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


def _member_key(members: Any) -> list:
    """What identifies a sweep's members (fingerprints aside) in ``sweep.yaml``."""
    if not isinstance(members, list):
        return []
    return [
        {k: m.get(k) for k in ("name", "variant", "seed", "overrides")}
        for m in members
        if isinstance(m, Mapping)
    ]


def _config_change(sweep: Sweep, sweep_dir: Path) -> str | None:
    """Why continuing ``sweep_dir`` with ``sweep`` would mix configs, or ``None``.

    Raises :class:`ConfigError` when the directory holds another sweep (other members).
    """
    record = sweep_dir / F.SWEEP
    old = load_yaml(
        record, max_bytes=F.MAX_SWEEP_RECORD_BYTES, error=ConfigError, what="sweep record"
    )
    new = sweep.to_dict()
    if not isinstance(old, Mapping) or _member_key(old.get("members")) != _member_key(
        new["members"]
    ):
        raise ConfigError(
            f"{sweep_dir}: holds a different sweep (its {F.SWEEP} lists other members); "
            "choose another --dir"
        )
    members = [F.member_dir(sweep_dir, m.name) for m in sweep.members]
    problem = sweep_plugin_changes(sweep_dir, members)  # the models' packages, then configs
    if problem:
        return problem
    old_fps = {m["name"]: m.get("fingerprint") for m in old["members"]}
    legacy = all(fp is None for fp in old_fps.values())
    suspects = [
        m for m in sweep.members if m.ok and (legacy or old_fps.get(m.name) != m.fingerprint)
    ]
    base_diffs = (
        F.config_diff(old["base"], new["base"]) if isinstance(old.get("base"), Mapping) else []
    )
    changed: list[tuple[SweepMember, list[str]]] = []
    for m in suspects:
        d = F.member_dir(sweep_dir, m.name)
        if (d / F.CONFIG).is_file():  # started: what it ran with, key by key
            diffs = F.config_diff(RunDir(d).read_config(), m.config.to_dict(), ignore_added=True)
        elif old_fps.get(m.name) is None:
            diffs = []  # never started and nothing recorded: nothing to mix
        else:  # not started: what the sweep file said then
            diffs = base_diffs or ["(the resolved config differs; no started member to compare)"]
        if diffs:
            changed.append((m, diffs))
    if not changed:
        if legacy:
            log.info("%s: legacy sweep directory (no fingerprints): configs checked", sweep_dir)
        return None
    diffs = base_diffs or changed[0][1]
    return (
        f"{sweep_dir}: the config of {len(changed)} of {len(sweep.members)} member(s) changed "
        "since this sweep directory was started; continuing it would mix two configurations. "
        "What differs (then -> now):\n  " + "\n  ".join(diffs)
    )


def _next_free(path: Path) -> Path:
    for n in range(2, 10_000):
        candidate = path.with_name(f"{path.name}-{n}")
        if not candidate.exists():
            return candidate
    raise ConfigError(f"{path}: no free directory name {path.name}-N")


@contextmanager
def open_sweep_dir(
    sweep: Sweep,
    out: Path | None = None,
    directory: Path | None = None,
    on_config_change: str = "refuse",
) -> Iterator[Path]:
    """Create a new sweep directory under ``out``, or use/continue ``directory``; lock it.

    Parameters
    ----------
    sweep
        The sweep.
    out
        Parent of a new sweep directory ``<out>/<name>_<timestamp>`` (default ``runs/``).
    directory
        The exact sweep directory; one that exists must hold the same sweep (same members)
        with the same configs.
    on_config_change
        ``"refuse"`` (default): a continued directory whose member configs changed is a
        :class:`ConfigError` listing what differs. ``"new"``: say so and continue into a new
        directory ``<directory>-N`` instead.

    Yields
    ------
    pathlib.Path
        The sweep directory, locked (:class:`mc_analysis.runformat.DirLock`) until the end.
    """
    if on_config_change not in ON_CONFIG_CHANGE:
        raise ValueError(f"on_config_change: {on_config_change!r}; use one of {ON_CONFIG_CHANGE}")
    if directory is None:
        sweep_dir = create_run_dir(out or Path("runs"), sweep.name)
    else:
        sweep_dir = Path(directory)
        if sweep_dir.exists() and not sweep_dir.is_dir():
            raise ConfigError(f"{sweep_dir}: exists and is not a directory")
        sweep_dir.mkdir(parents=True, exist_ok=True)
    while True:
        lock = F.DirLock(sweep_dir, "sweep directory").acquire()
        try:
            problem = None
            if (sweep_dir / F.SWEEP).exists():
                problem = _config_change(sweep, sweep_dir)
            elif any(p.name != F.LOCK for p in sweep_dir.iterdir()):
                raise ConfigError(f"{sweep_dir}: exists and is not a sweep directory")
            if problem is None:
                for m in sweep.members:  # a member that is a link is refused before any work
                    F.member_dir(sweep_dir, m.name)
                atomic_write_bytes(sweep_dir / F.SWEEP, dump_yaml(sweep.to_dict()).encode())
                (sweep_dir / F.MEMBERS).mkdir(exist_ok=True)
                yield sweep_dir
                return
            if on_config_change == "refuse":
                raise ConfigError(
                    f"{problem}\nChoose another --dir, or continue into a new directory next to "
                    "it with --on-config-change new"
                )
            new_dir = _next_free(sweep_dir)
            log.warning("%s\nContinuing into a new sweep directory: %s", problem, new_dir)
        finally:
            lock.release()
        sweep_dir = new_dir
        sweep_dir.mkdir(parents=True)


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
        ([m.config for m in group], [F.member_dir(sweep_dir, m.name) for m in group])
        for group in group_members(sweep)
    ]


def group_resources(members: Sequence[SweepMember]) -> dict[str, float]:
    """What one batched group of ``members`` needs: ``cores``, ``gpu``, ``memory`` (bytes).

    The largest request of the group counts and zero requests are left out. Members on the
    ``genn`` backend with ``device: cuda`` need ``gpu: 1`` unless their ``gpu`` is set.
    """
    out: dict[str, float] = {}
    for m in members:
        res = dict(m.resources)
        if res.get("gpu") is None and m.config is not None:
            backend = m.config.backend
            if backend.name == "genn" and str(backend.options.get("device", "")).lower() == "cuda":
                res["gpu"] = 1
        wanted = {
            "cores": res.get("cores"),
            "gpu": res.get("gpu"),
            "memory": parse_memory(res["memory"]) if res.get("memory") is not None else None,
        }
        for key, value in wanted.items():
            if value:
                out[key] = max(out.get(key, 0), value)
    return out
