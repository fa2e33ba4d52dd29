"""Typed, validated experiment configs (YAML).

A config has the sections ``network``, ``dataset``, ``protocol``, ``recording`` and
``backend`` plus ``name`` and ``seed``. Every value is checked once, when the file is loaded;
errors raise :class:`ConfigError` naming the file, the key path and what would be valid. The
resolved config (every default filled in) is what a run directory stores.

The ``network`` section is a :class:`mc_network.NetworkSpec` dictionary; ``preset: yinyang``
(or ``mnist``) with ``feedback: pal|fa|noise_control|transpose`` starts from the paper's
network and the remaining keys override it (nested sections are merged key by key).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mc_analysis.bounded import load_yaml, memory_bytes, short_list, short_repr
from mc_analysis.original_yaml import is_original_config, load_original_yaml
from mc_analysis.runformat import REQUIRED_RECORDS, check_name
from mc_experiments.randomness import RANDOMNESS_MODES
from mc_network import (
    FeedbackMode,
    NetworkSpec,
    SpecError,
    available_backends,
    backend_options,
    build_topology,
    default_backend,
    paper_spec,
)
from mc_network.models import population_model
from mc_network.presets import PRESETS
from mc_network.privatedir import UnsafeDirectory, check_private_dir

__all__ = [
    "BackendConfig",
    "Config",
    "ConfigError",
    "DatasetConfig",
    "ProtocolConfig",
    "RecordingConfig",
    "load_config",
    "parse_overrides",
]

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A config problem; the message names the file, the key and what would be valid."""


DATASETS = ("yinyang", "mnist", "bars")


@dataclass(frozen=True)
class DatasetConfig:
    """Which data and how much of it.

    ``n_train``, ``n_valid`` and ``n_test`` count samples **per class** (as the original).
    MNIST: a split holds its first ``10 * n`` samples, the same ones in every stage run. The
    original always loaded the whole splits (50 000 / 10 000 / 10 000) and showed, in every
    stage run, the first ``10 * n`` entries of a fresh shuffle of the whole split (a new
    random subset each run); both agree at the paper's sizes (5000 / 1000 / 1000, every sample
    shown), and ``randomness: original`` reproduces the original's subsets.
    ``seed``: the data seed (Yin-Yang uses seed, seed+1, seed+2 for its splits); ``None``
    derives it from the run seed. ``u_low``/``u_high``: teacher rates of the wrong and the
    right class. ``directory``: MNIST files (default: ``$MC_MNIST_DIR`` or ``data/mnist``).
    ``mnist_sample``: MNIST from the 400-image sample shipped with mc-experiments instead
    (offline tests, smoke runs; at most 20 / 10 / 10 per class, exactly the first samples of
    the full splits). ``noise_level``: Bars only.

    MNIST: each split uses its first ``10 * n`` samples, chosen once. The original code
    always loaded the full splits and showed, in every stage run, the first ``10 * n`` entries
    of a fresh shuffle of the whole split (a new random subset each run); at the paper's
    sizes (every sample shown) the two agree.
    """

    name: str = "yinyang"
    n_train: int = 100
    n_valid: int = 20
    n_test: int = 20
    seed: int | None = None
    u_low: float = 0.1
    u_high: float = 1.0
    directory: str | None = None
    mnist_sample: bool = False
    noise_level: float = 0.0


@dataclass(frozen=True)
class ProtocolConfig:
    """Epochs and per-epoch options (validation runs before each epoch, then a final one).

    ``shuffle``: new presentation order every stage from the run's ``order`` stream.
    ``reinforce_self_prediction``: set p2i to the forward weights after each epoch.
    ``checkpoint_every``: save a checkpoint every this many epochs (and always at the end).
    """

    n_epochs: int = 10
    shuffle: bool = True
    reinforce_self_prediction: bool = False
    checkpoint_every: int = 1


@dataclass(frozen=True)
class RecordingConfig:
    """What is written to ``recordings.zarr``.

    ``records_per_sample`` sets the cadence (5: every 20 steps of a 100-step sample, as the
    original). ``validation``/``test``/``training`` list ``population.var`` or
    ``projection.g`` names recorded in those stages; ``weights_per_epoch`` stores every weight
    matrix at the start and after every training epoch.

    ``validation_every`` and ``weights_every`` thin what is *written*: only every k-th
    validation (validation ``e`` for ``e % k == 0``, and always the final one) and every k-th
    weight snapshot (after ``e`` epochs, ``e % k == 0``, and always the final weights) go to
    ``recordings.zarr``. The metrics of every validation and the angles of every epoch are
    computed from the full records in memory and stored in ``metrics.json`` regardless, so a
    long run (the paper's 400 epochs) keeps every number of its learning curve at a fraction
    of the disk space. ``samples_written`` (``null``: all) writes the records of only the
    first ``N`` presented samples of each validation and test written (the traces of a few
    samples are enough for the figures of a 10 000-sample MNIST stage); accuracies and errors
    still use every sample and go to ``metrics.json``.
    """

    records_per_sample: int = 5
    validation: tuple[str, ...] = ("output.v_brev", "teacher.rate")
    test: tuple[str, ...] = ("output.v_brev", "teacher.rate")
    training: tuple[str, ...] = ()
    weights_per_epoch: bool = True
    validation_every: int = 1
    weights_every: int = 1
    samples_written: int | None = None


@dataclass(frozen=True)
class BackendConfig:
    """Which backend runs the network.

    ``name: null`` picks the embedded default (``compiled`` when numba is installed, else
    ``reference``). ``options`` go to the backend (e.g. ``device: cuda`` for ``genn``).
    ``fallback`` names a backend to use, with a warning, when the requested one is not
    available on this machine (e.g. ``genn`` on CUDA without a GPU).
    """

    name: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    fallback: str | None = None


@dataclass(frozen=True)
class Config:
    """A complete experiment config.

    ``randomness``: ``toolkit`` (named streams from the run seed) or ``original`` (the
    original code's draws for the same seed: weights, presentation orders, MNIST subsets and
    Bars data; see :mod:`mc_experiments.randomness`).
    """

    name: str
    seed: int
    network: NetworkSpec
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    randomness: str = "toolkit"
    source: str = "<dict>"

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (every default filled in)."""
        out: dict[str, Any] = {
            "name": self.name,
            "seed": self.seed,
            "randomness": self.randomness,
        }
        out["network"] = self.network.to_dict()
        for key in ("dataset", "protocol", "recording", "backend"):
            d = dataclasses.asdict(getattr(self, key))
            out[key] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
        out["backend"]["options"] = dict(self.backend.options)
        return out

    def with_seed(self, seed: int) -> Config:
        """The same config with another run seed."""
        return dataclasses.replace(self, seed=seed)


_SECTIONS = {
    "dataset": DatasetConfig,
    "protocol": ProtocolConfig,
    "recording": RecordingConfig,
    "backend": BackendConfig,
}
_TOP = ("name", "seed", "randomness", "network", *_SECTIONS)


def _type_ok(value: Any, annotation: str) -> bool:
    checks = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: (
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        ),
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "int | None": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
        "str | None": lambda v: v is None or isinstance(v, str),
        "tuple[str, ...]": lambda v: (
            isinstance(v, list | tuple) and all(isinstance(x, str) for x in v)
        ),
        "Mapping[str, Any]": lambda v: isinstance(v, Mapping),
    }
    return checks[annotation](value)


_TYPE_WORDS = {
    "int": "an integer",
    "float": "a finite number",
    "bool": "true or false",
    "str": "a string",
    "int | None": "an integer or null",
    "str | None": "a string or null",
    "tuple[str, ...]": "a list of strings",
    "Mapping[str, Any]": "a mapping",
}


def _section(cls: type, data: Any, where: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {short_repr(data)}")
    valid = {f.name: f for f in fields(cls)}
    unknown = sorted(map(str, set(data) - set(valid)))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {short_list(unknown)}; valid keys are {sorted(valid)}"
        )
    kwargs = {}
    for key, value in data.items():
        ann = valid[key].type
        if not _type_ok(value, ann):
            raise ConfigError(
                f"{where}.{key}: expected {_TYPE_WORDS[ann]}, got {short_repr(value)}"
            )
        kwargs[key] = tuple(value) if ann.startswith("tuple") else value
    return cls(**kwargs)


def _merge(base: dict, over: Mapping) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        mine = out.get(k)
        if isinstance(v, Mapping) and isinstance(mine, dict) and _same_model(mine, v):
            out[k] = _merge(mine, v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _same_model(base: Mapping, over: Mapping) -> bool:
    """Whether ``over`` keeps ``base``'s model.

    A section that names another model starts from that model's defaults instead of the
    values of the other model.
    """
    return over.get("model", base.get("model")) == base.get("model")


def _network(data: Any, where: str, u_low: float) -> NetworkSpec:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {short_repr(data)}")
    data = dict(data)
    preset = data.pop("preset", None)
    modes = [m.value for m in FeedbackMode]
    if "feedback" in data and data["feedback"] not in modes:
        raise ConfigError(
            f"{where}.feedback: {short_repr(data['feedback'])} is not valid; use one of {modes}"
        )
    if preset is not None and preset not in PRESETS:
        raise ConfigError(
            f"{where}.preset: {short_repr(preset)} is not a preset network; valid presets: "
            f"{list(PRESETS)}"
        )
    try:
        if preset is not None:
            base = paper_spec(preset, data.pop("feedback", "pal")).to_dict()
            data = _merge(base, data)
        data = _merge({"player": {"teacher_base_rate": u_low}}, data)
        return NetworkSpec.from_dict(data, where=where)
    except SpecError as err:
        raise ConfigError(str(err)) from None
    except ValueError as err:  # unknown preset or feedback mode
        raise ConfigError(f"{where}: {err}") from None


def config_from_dict(data: Any, source: str = "<dict>") -> Config:
    """Validate a config dictionary (``source`` names the file in error messages)."""
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: a config must be a mapping of sections, got {short_repr(data)}"
        )
    unknown = sorted(map(str, set(data) - set(_TOP)))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {short_list(unknown)}; valid keys are {sorted(_TOP)}"
        )
    for key in ("network",):
        if key not in data:
            raise ConfigError(f"{source}: missing section {key!r}")
    name = data.get("name", Path(source).stem if source != "<dict>" else "run")
    try:
        check_name(name, "name")
    except ValueError as err:
        hint = "" if "name" in data else " (taken from the file name: give the config a name:)"
        raise ConfigError(f"{source}: {err}{hint}") from None
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ConfigError(
            f"{source}: seed: expected a non-negative integer (below 2**63), got {short_repr(seed)}"
        )
    randomness = data.get("randomness", "toolkit")
    if randomness not in RANDOMNESS_MODES:
        raise ConfigError(
            f"{source}: randomness: {short_repr(randomness)} is not valid; use one of "
            f"{list(RANDOMNESS_MODES)}"
        )
    sections = {k: _section(cls, data.get(k), f"{source}: {k}") for k, cls in _SECTIONS.items()}
    ds: DatasetConfig = sections["dataset"]
    network = _network(data["network"], f"{source}: network", ds.u_low)
    cfg = Config(
        name=name,
        seed=seed,
        network=network,
        source=source,
        randomness=randomness,
        **sections,
    )
    _check(cfg)
    return cfg


def _check(cfg: Config) -> None:
    src = cfg.source
    ds, pr, rec = cfg.dataset, cfg.protocol, cfg.recording
    if ds.name not in DATASETS:
        raise ConfigError(f"{src}: dataset.name: {ds.name!r} is not valid; use one of {DATASETS}")
    for key in ("n_train", "n_valid", "n_test"):
        if getattr(ds, key) < 1:
            raise ConfigError(f"{src}: dataset.{key}: must be >= 1 (samples per class)")
        if ds.name == "mnist":
            most = (MNIST_SAMPLE_PER_CLASS if ds.mnist_sample else MNIST_PER_CLASS)[key]
            if getattr(ds, key) > most:
                what = "the bundled MNIST sample" if ds.mnist_sample else "MNIST"
                raise ConfigError(
                    f"{src}: dataset.{key}: {getattr(ds, key)} per class is more than {what} "
                    f"holds for that split ({most} per class)"
                )
    if ds.mnist_sample and ds.name != "mnist":
        raise ConfigError(f"{src}: dataset.mnist_sample: applies to dataset.name 'mnist' only")
    if ds.mnist_sample and ds.directory is not None:
        raise ConfigError(
            f"{src}: dataset.directory and dataset.mnist_sample: give one (the sample is "
            "bundled with mc-experiments, the directory holds the full files)"
        )
    if not ds.u_low < ds.u_high:
        raise ConfigError(f"{src}: dataset.u_low ({ds.u_low}) must be below u_high ({ds.u_high})")
    if cfg.network.player.teacher_base_rate != ds.u_low:
        raise ConfigError(
            f"{src}: network.player.teacher_base_rate ({cfg.network.player.teacher_base_rate}) "
            f"must equal dataset.u_low ({ds.u_low}); set only dataset.u_low"
        )
    n_in = {"yinyang": 4, "mnist": 784, "bars": 9}[ds.name]
    n_out = {"yinyang": 3, "mnist": 10, "bars": 3}[ds.name]
    dims = cfg.network.dims
    if dims[0] != n_in or dims[-1] != n_out:
        raise ConfigError(
            f"{src}: network.dims: {list(dims)} does not fit dataset {ds.name!r} "
            f"({n_in} inputs, {n_out} classes)"
        )
    if pr.n_epochs < 0:
        raise ConfigError(f"{src}: protocol.n_epochs: must be >= 0")
    if pr.checkpoint_every < 1:
        raise ConfigError(f"{src}: protocol.checkpoint_every: must be >= 1")
    for key in ("validation_every", "weights_every"):
        if getattr(rec, key) < 1:
            raise ConfigError(
                f"{src}: recording.{key}: {getattr(rec, key)} must be >= 1 (1 writes every entry)"
            )
    if rec.samples_written is not None and rec.samples_written < 1:
        raise ConfigError(
            f"{src}: recording.samples_written: {rec.samples_written} must be >= 1 (or null: "
            "every sample)"
        )
    _check_backend(cfg)
    sps = cfg.network.steps_per_sample
    if rec.records_per_sample < 1 or sps % rec.records_per_sample:
        raise ConfigError(
            f"{src}: recording.records_per_sample: {rec.records_per_sample} must divide the "
            f"steps per sample ({sps} = network.player.t_pattern / network.dt)"
        )
    if rec.records_per_sample == 1:
        log.warning(
            "%s: recording.records_per_sample: 1 records only the first step of each sample, "
            "where the output still answers the previous sample: accuracies come out at chance "
            "level; use 2 or more (the paper: 5; the evaluation averages records 1..n-1)",
            src,
        )
    _check_recording(cfg)
    _check_memory(cfg)


# Samples per class each MNIST split can give (60 000 training images, the last 10 000 of
# them for validation, and 10 000 test images; ten classes).
MNIST_PER_CLASS = {"n_train": 5000, "n_valid": 1000, "n_test": 1000}
# ... and the 400-image sample bundled with mc-experiments (dataset.mnist_sample)
MNIST_SAMPLE_PER_CLASS = {"n_train": 20, "n_valid": 10, "n_test": 10}


def _recordable(cfg: Config) -> dict[str, tuple[int, ...]]:
    """Every ``owner.variable`` a stage can record, with its shape per record."""
    topo = build_topology(cfg.network)
    out: dict[str, tuple[int, ...]] = {}
    for pop in topo.populations:
        for var in population_model(cfg.network, pop).var_names:
            out[f"{pop.name}.{var}"] = (pop.size,)
    for name in topo.weight_names:
        proj = topo.projection(name)
        for var in ("g", "delta") if proj.has_delta else ("g",):
            out[f"{name}.{var}"] = (proj.n_pre, proj.n_post)
    return out


def _check_recording(cfg: Config) -> None:
    """Every recorded name exists in this network (what the backends would refuse later)."""
    valid = _recordable(cfg)
    for stage in ("validation", "test", "training"):
        for var in getattr(cfg.recording, stage):
            if var in valid:
                continue
            owner = var.split(".", 1)[0]
            have = sorted(v.split(".", 1)[1] for v in valid if v.startswith(owner + "."))
            hint = (
                f"{owner!r} has {have}"
                if have
                else f"owners are {sorted({v.split('.', 1)[0] for v in valid})}"
            )
            raise ConfigError(
                f"{cfg.source}: recording.{stage}: {short_repr(var)} is not a variable of this "
                f"network ({hint})"
            )


def estimate_memory(cfg: Config) -> int:
    """Bytes one member needs at least: its network, data set and largest stage's records.

    The network holds every state variable of its populations and projections (weights and
    their increments: ``n_pre * n_post`` values each) in ``network.dtype``; the data set
    counts its float32 rates and, for Yin-Yang, the float64 points drawn while generating
    it; a stage records ``records_per_sample`` rows per sample of every recorded variable
    (float32), plus the records every validation and test keep for the metrics.
    """
    ds, rec, dims = cfg.dataset, cfg.recording, cfg.network.dims
    n_cls = dims[-1]
    per_sample = 4 * (dims[0] + dims[-1]) + 8 + (8 * (dims[0] + 2) if ds.name == "yinyang" else 0)
    data = per_sample * n_cls * (ds.n_train + ds.n_valid + ds.n_test)
    shapes = _recordable(cfg)
    itemsize = 8 if cfg.network.dtype == "float64" else 4
    network = itemsize * sum(math.prod(shape) for shape in shapes.values())
    largest = 0
    for stage, n in (("validation", ds.n_valid), ("test", ds.n_test), ("training", ds.n_train)):
        names = set(getattr(rec, stage)) | (set() if stage == "training" else set(REQUIRED_RECORDS))
        row = sum(math.prod(shapes[v]) for v in names if v in shapes)
        largest = max(largest, 4 * row * rec.records_per_sample * n * n_cls)
    return network + data + largest


def _check_memory(cfg: Config) -> None:
    need, have = estimate_memory(cfg), memory_bytes()
    if have is not None and need > have:
        ds = cfg.dataset
        raise ConfigError(
            f"{cfg.source}: network.dims {list(cfg.network.dims)} with dataset.n_train/n_valid/"
            f"n_test ({ds.n_train}/{ds.n_valid}/{ds.n_test} per class) and these recordings need "
            f"at least {need / 2**30:.1f} GiB per run; this machine has {have / 2**30:.1f} GiB. "
            "Use smaller layers, fewer samples or record less (recording.training, "
            "recording.records_per_sample)"
        )


#: Device names given where a backend name belongs, and the backend that runs on them.
_DEVICES = {"cuda": "genn", "gpu": "genn", "cpu": "compiled"}


def unknown_backend(name: str | None, or_null: bool = False) -> str | None:
    """Why ``name`` is not a backend name (with the valid ones), or ``None`` when it is.

    A device name points to its backend: CUDA is the ``genn`` backend with ``device: cuda``.
    ``or_null``: say that null (the default backend) is valid too.
    """
    registered = sorted(available_backends())
    if name is None or name in registered:
        return None
    why = f"{name!r} is not a registered backend; use one of {registered}"
    if or_null:
        why += " (or null for the default)"
    device = str(name).lower()
    if _DEVICES.get(device) == "genn":
        why += (
            f"; {name} is a device of the genn backend: --backend genn --set "
            "backend.options.device=cuda (in a config: backend: {name: genn, options: "
            "{device: cuda}})"
        )
    elif device in _DEVICES:
        why += "; on the CPU: compiled (numba, the default), reference (NumPy) or genn"
    return why


def _check_backend(cfg: Config) -> None:
    """Backend names registered, options known to the backend (not whether it can run here).

    A code cache the config names (``backend.options.cache_dir``, GeNN's) must be a
    directory only this user can write, if it exists: code built there is loaded.
    """
    src, bc = cfg.source, cfg.backend
    _check_cache_dir(bc.options.get("cache_dir"), src)
    for key in ("name", "fallback"):
        problem = unknown_backend(getattr(bc, key), or_null=True)
        if problem:
            raise ConfigError(f"{src}: backend.{key}: {problem}")
    name = bc.name or default_backend()
    try:
        valid = backend_options(name)
    except ImportError:  # the backend's module needs a package missing here: not checkable
        return
    if valid is None:
        return
    for key in bc.options:
        if key not in valid:
            raise ConfigError(
                f"{src}: backend.options.{key}: backend {name!r} has no such option; valid "
                f"options: {sorted(valid) or 'none'}"
            )


def _check_cache_dir(value: Any, src: str) -> None:
    if value is None:
        return
    key = "backend.options.cache_dir"
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{src}: {key}: expected a directory path, got {short_repr(value)}")
    try:
        check_private_dir(value, what="GeNN code cache", env=key)
    except (UnsafeDirectory, NotADirectoryError) as err:
        raise ConfigError(f"{src}: {key}: {err}") from None


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Config:
    """Load and validate a YAML config; ``overrides`` maps dotted keys to values.

    The file is read within the bounds of :func:`mc_analysis.bounded.load_yaml` (size, alias
    expansion, duplicate keys are errors).
    """
    path = Path(path)
    hint = (
        f"{path}: this is an original two-document config; load it with "
        "mc_experiments.original.import_original_config (or `mc-run train` does it)"
    )
    try:
        data = load_yaml(path, error=ConfigError, what="config file")
    except ConfigError:
        if path.is_file() and _original_run_config(path):  # numpy arrays in python tags
            raise ConfigError(hint) from None
        raise
    if is_original_config(data):
        raise ConfigError(hint)
    if not overrides:
        return config_from_dict(data, source=str(path))
    try:
        return config_from_dict(apply_overrides(data, overrides, str(path)), source=str(path))
    except ConfigError as err:
        raise _blame_overrides(err, data, overrides, path) from None


def _blame_overrides(
    err: ConfigError, data: Any, overrides: Mapping[str, Any], path: Path
) -> ConfigError:
    """``err`` naming the ``--set`` that causes it, when the file alone is valid.

    The overrides are added one at a time; the first after which the config is invalid is
    the one named (``--set protocl.n_epochs=5: unknown key(s) ['protocl']; ...``).
    """
    try:
        config_from_dict(data, source=str(path))
    except ConfigError:
        return err  # the file itself is invalid: the error names it
    applied: dict[str, Any] = {}
    for key, value in overrides.items():
        applied[key] = value
        try:
            config_from_dict(apply_overrides(data, applied, str(path)), source=str(path))
        except ConfigError as one:
            if str(one).startswith("--set "):
                return one
            message = str(one).removeprefix(f"{path}: ")
            return ConfigError(f"--set {key}={_shown(value)}: {message}")
    return err


def _shown(value: Any) -> str:
    """An override's value as typed (``None``: nothing after the ``=``)."""
    return "" if value is None else short_repr(value, 60)


def _original_run_config(path: Path) -> bool:
    """Whether ``path`` is an original run's ``config.yaml`` (its data arrays in python tags)."""
    try:
        return is_original_config(load_original_yaml(path))
    except (OSError, ValueError):
        return False


def apply_overrides(
    data: Any, overrides: Mapping[str, Any], source: str, label: str = "--set"
) -> dict:
    """Set dotted keys (``protocol.n_epochs``) in a config dictionary (a copy).

    A key that holds a section (a mapping) takes only a mapping: ``--set protocol=`` would
    silently reset the whole section to its defaults. ``label`` names the overrides in
    messages (``--set``, or a sweep file's variant).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a config must be a mapping of sections")
    out = copy.deepcopy(dict(data))
    for dotted, value in overrides.items():
        node = out
        parts = dotted.split(".")
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"{label} {dotted}: {short_repr(p)} is not a section")
            node = nxt
        last = parts[-1]
        section = node.get(last, {} if dotted in _TOP_SECTIONS else None)
        if isinstance(section, Mapping) and not isinstance(value, Mapping):
            raise ConfigError(
                f"{label} {dotted}={_shown(value)}: {dotted!r} is a section (a mapping); set one "
                f"of its keys instead ({dotted}.KEY=VALUE), or give a mapping "
                f"({dotted}={{KEY: VALUE}})"
            )
        node[last] = value
    return out


#: Top-level keys that hold sections (a mapping), also where a file leaves them out.
_TOP_SECTIONS = ("network", *_SECTIONS)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """Parse ``key=value`` strings (values are YAML: ``3``, ``0.5``, ``[1, 2]``, ``true``)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. protocol.n_epochs=5")
        key, raw = item.split("=", 1)
        if not key.strip():
            raise ConfigError(f"--set {short_repr(item)}: the key is empty")
        out[key.strip()] = load_yaml(
            f"--set {short_repr(item)}", text=raw, max_bytes=64 << 10, error=ConfigError
        )
    return out
