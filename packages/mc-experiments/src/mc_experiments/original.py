"""Import the original repository's two-document YAML configs.

The original code (unibe-cns/pal_microcircuits_genn) reads a YAML list
``[meta_params, network_params]`` and merges it as ``meta.update(network)``. This module maps
every key of that schema onto our typed :class:`~mc_experiments.config.Config`:

======================================  ==================================================
original key                            ours
======================================  ==================================================
``name``                                ``name``
``numpy_seed``                          ``seed`` (the run seed: weights, order, noise),
                                        with ``randomness: original`` (the original's draws)
``dataset_key``                         ``dataset.name`` (``yinyang``/``mnist``/``bars``)
``dt``                                  ``network.dt``
``sim_config.n_train/n_valid/n_test``   ``dataset.n_train/n_valid/n_test`` (per class)
``sim_config.n_class``                  checked against the dataset
``sim_config.data_seed``                ``dataset.seed``
``sim_config.data_noise``               ``dataset.noise_level`` (Bars only)
``sim_config.ulow`` / ``uhigh``         ``dataset.u_low`` / ``u_high``
``sim_config.n_epochs``                 ``protocol.n_epochs``
``sim_config.shuffle_samples``          ``protocol.shuffle``
``sim_config.recs_per_sample``          ``recording.records_per_sample``
``sim_config.pat_t``                    must equal ``t_pattern``
``dims``                                ``network.dims``
``activation_template``                 ``network.activation`` (original default soft_relu)
``le_active``                           ``network.le_active`` (``> 0``)
``gl``                                  ``network.{pyramidal,interneuron,output}.g_leak``
``gb``                                  ``network.{pyramidal,output}.g_basal``
``ga``                                  ``network.pyramidal.g_apical``
``gd`` / ``gsom``                       ``network.interneuron.g_dendrite`` / ``g_soma``
``gtar``                                ``network.output.g_target``
``noise_sig`` / ``noise_tau``           ``network.pyramidal.sigma_noise`` / ``tau_noise``
``highpass_tau``                        ``network.{pyramidal,output}.tau_highpass``
``eta.up[i]``                           ``network.plasticity.eta_up[i]`` (per projection)
``eta.down[l]`` (l = 1..n_hidden)       ``network.plasticity.eta_down[l-1]``
``eta.ip[l-1]`` / ``eta.pi[l-1]``       ``network.plasticity.eta_ip`` / ``eta_pi``
``tau_w_ff/ip/pi``, ``alpha``           ``network.plasticity.*``
``init_weights.up/down/ip/pi``          ``network.init.*``
``start_in_self_predict``               ``network.init.self_predicting``
``bias.on`` / ``bias.val``              ``network.bias.enabled`` / ``value``
``t_pattern`` / ``tau_0``               ``network.player.t_pattern`` / ``tau_0``
``out_lag``                             ``network.player.teacher_mute``
``learning_lag``                        ``network.player.learning_lag``
``set_wBackw_to_wTransp``               ``network.feedback: transpose``
``reinforce_self_predict``              ``protocol.reinforce_self_prediction``
``record.recordings``                   ``recording.validation/test/training`` (only with
                                        ``record_as_original``)
======================================  ==================================================

The feedback mode follows from the learning rates and the noise: ``eta.down > 0`` is ``pal``
(with ``noise_sig: 0`` too, a deterministic diagnostic setting in which B only decays; the
network description warns about it), all ``eta.down`` zero without noise ``fa``, all zero with
noise ``noise_control`` (the original's ``bw_eta_zero`` sweep; its i2p weights stay static by the
rule the spec applies automatically). Keys the toolkit does not use (``backend``,
``debug_mode``, ``noise``, ``reset_deltas``, the recorder settings, the derived ``idx_*`` and
``sim_time``, unused learning-rate slots that are nonzero, ...) are returned in a list, never
dropped silently; keys outside the original's schema raise :class:`ConfigError`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mc_analysis.original import original_name
from mc_analysis.original_yaml import OriginalYAMLError, is_original_config, load_original_yaml
from mc_experiments.config import Config, ConfigError, apply_overrides, config_from_dict

__all__ = [
    "import_original_config",
    "is_original_config",
    "is_original_file",
    "original_recording",
]

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- the schema
# A leaf is ``None`` (any value); a nested mapping lists its keys. ``record.recordings`` is a
# free-form mapping (layer index -> population -> variables) and is a leaf here.
_META_SCHEMA: dict[str, Any] = {
    "backend": None,
    "dataset_key": None,
    "dt": None,
    "input_rates": None,
    "name": None,
    "numpy_seed": None,
    "output_rates": None,
    "print_every_n_recs": None,
    "record": {
        "filename": None,
        "recordings": None,
        "update_indices": {
            k: None for k in ("rates", "sample", "test", "train", "valid", "weights", "write")
        },
    },
    "sim_config": {
        k: None
        for k in (
            "data_noise",
            "data_seed",
            "idx_epoch",
            "idx_rec",
            "idx_sample",
            "idx_test",
            "idx_train",
            "idx_valid",
            "n_class",
            "n_epochs",
            "n_test",
            "n_train",
            "n_valid",
            "pat_t",
            "recs_per_sample",
            "shuffle_samples",
            "sim_time",
            "uhigh",
            "ulow",
        )
    },
}
_NETWORK_SCHEMA: dict[str, Any] = {
    "activation_template": None,
    "alpha": None,
    "bias": {"on": None, "val": None},
    "debug_mode": None,
    "dims": None,
    "eta": {"down": None, "ip": None, "pi": None, "up": None},
    "ga": None,
    "gb": None,
    "gd": None,
    "gl": None,
    "gsom": None,
    "gtar": None,
    "highpass_tau": None,
    "init_weights": {"down": None, "ip": None, "pi": None, "up": None},
    "le_active": None,
    "learning_lag": None,
    "noise": None,
    "noise_sig": None,
    "noise_tau": None,
    "out_lag": None,
    "reinforce_self_predict": None,
    "reset_deltas": None,
    "set_wBackw_to_wTransp": None,
    "start_in_self_predict": None,
    "t_pattern": None,
    "tau_0": None,
    "tau_w_ff": None,
    "tau_w_ip": None,
    "tau_w_pi": None,
}
# The original merges the two documents, so a key may sit in either of them.
_SCHEMA: dict[str, Any] = {**_META_SCHEMA, **_NETWORK_SCHEMA}

# Why a key is not used (logged at INFO; the returned list names the keys only).
_WHY_IGNORED = {
    "backend": "the GeNN backend; ours is chosen by backend.name",
    "print_every_n_recs": "console output of the original",
    "input_rates": "data arrays filled in by the original runner; ours loads the dataset",
    "output_rates": "teacher arrays filled in by the original runner; ours builds them",
    "record.filename": "path of the original's HDF5 file; runs are directories here",
    "record.recordings": (
        "the original's recorder set; record_as_original (mc-run train --record-as-original) "
        "records it, or use recording.*"
    ),
    "record.update_indices": "derived by the original runner",
    "sim_config.sim_time": "derived by the original runner",
    "sim_config.idx": "derived by the original runner",
    "sim_config.data_noise": "only the Bars dataset uses it",
    "debug_mode": "debug printing of the original",
    "noise": "unused by the original",
    "reset_deltas": "unused by the original",
    "eta": "unused slot of the original's learning-rate indexing",
    "meta": "also given in the network document, which wins (as in the original)",
}


def _why(key: str) -> str:
    """Why an original key is not used (the longest matching prefix in ``_WHY_IGNORED``)."""
    for prefix in sorted(_WHY_IGNORED, key=len, reverse=True):
        if key == prefix or key.startswith((prefix + ".", prefix + "_")):
            return _WHY_IGNORED[prefix]
    return "not used by the toolkit"


_DATASET_CLASSES = {"yinyang": 3, "mnist": 10, "bars": 3}
_ACTIVATIONS = ("sigmoid", "soft_relu", "sigmoid_stable")
_ORIGINAL_DEFAULT_ACTIVATION = "soft_relu"  # microcircuits/genn_models/defaults.py
_ORIGINAL_THRESHOLD = 15.0  # hard-wired wrapper default, not a config key of the original
_REQUIRED = object()


# --------------------------------------------------------------------------- YAML loading
def _load_yaml(path: Path) -> Any:
    """The original's YAML, read by the one safe loader (data arrays rebuilt, nothing run)."""
    try:
        return load_original_yaml(path)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file: {err}") from None
    except OriginalYAMLError as err:
        raise ConfigError(str(err)) from None


def is_original_file(path: str | Path) -> bool:
    """Whether ``path`` is an original two-document config (False for our own configs).

    Parameters
    ----------
    path
        A YAML file. Unreadable or invalid files give False.
    """
    try:
        data = _load_yaml(Path(path))
    except ConfigError:
        return False
    return is_original_config(data)


# --------------------------------------------------------------------------- reading keys
# Reported as one key: blocks the original runner fills in.
_COLLAPSED = frozenset({"record.update_indices"})


def _leaves(schema: Mapping[str, Any], data: Mapping[Any, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the schema leaves present in ``data``."""
    out: list[str] = []
    for key, value in data.items():
        sub = schema.get(key)
        path = f"{prefix}{key}"
        if isinstance(sub, dict) and isinstance(value, Mapping) and path not in _COLLAPSED:
            out.extend(_leaves(sub, value, path + "."))
        else:
            out.append(path)
    return out


def _check_schema(
    schema: Mapping[str, Any], data: Any, source: str, doc: str, prefix: str = ""
) -> None:
    if not isinstance(data, Mapping):
        where = prefix.rstrip(".") or doc
        raise ConfigError(f"{source}: {where}: expected a mapping, got {data!r}")
    for key, value in data.items():
        if key not in schema:
            hint = ""
            if isinstance(key, bool):
                hint = " (YAML 1.1 reads unquoted on/off/yes/no as booleans; quote it: 'on')"
            raise ConfigError(
                f"{source}: unknown key {prefix}{key!s} in the {doc} document{hint}; it is not "
                f"a key of the original's config schema (valid here: {sorted(schema)})"
            )
        sub = schema[key]
        if isinstance(sub, dict) and value is not None:
            _check_schema(sub, value, source, doc, f"{prefix}{key}.")


class _Reader:
    """Typed access to the merged original config; remembers which keys were used."""

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.data = data
        self.source = source
        self.used: set[str] = set()

    def has(self, key: str) -> bool:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
        return True

    def raw(self, key: str, default: Any = _REQUIRED) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                if default is _REQUIRED:
                    raise ConfigError(
                        f"{self.source}: missing key {key!r} (the original requires it)"
                    )
                return default
            node = node[part]
        self.used.add(key)
        return node

    def _fail(self, key: str, what: str, value: Any) -> ConfigError:
        hint = ""
        if isinstance(value, str) and _parses_as_float(value):
            hint = (
                " (YAML 1.1 reads a number like 1e-6 without a decimal point as a string; "
                "write 1.0e-6)"
            )
        return ConfigError(f"{self.source}: {key}: expected {what}, got {value!r}{hint}")

    def number(self, key: str, default: Any = _REQUIRED) -> float:
        v = self.raw(key, default)
        if not _is_number(v):
            raise self._fail(key, "a number", v)
        return v

    def integer(self, key: str, default: Any = _REQUIRED, minimum: int | None = None) -> int:
        v = self.raw(key, default)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool):
            raise self._fail(key, "an integer", v)
        if minimum is not None and v < minimum:
            raise self._fail(key, f"an integer >= {minimum}", v)
        return v

    def flag(self, key: str, default: Any = _REQUIRED) -> bool:
        v = self.raw(key, default)
        if isinstance(v, bool):
            return v
        if _is_number(v) and v in (0, 1):
            return bool(v)
        raise self._fail(key, "true or false", v)

    def string(self, key: str, default: Any = _REQUIRED) -> str:
        v = self.raw(key, default)
        if not isinstance(v, str):
            raise self._fail(key, "a string", v)
        return v

    def numbers(self, key: str) -> list[float]:
        v = self.raw(key)
        if not isinstance(v, list) or not all(_is_number(x) for x in v):
            raise self._fail(key, "a list of numbers", v)
        return list(v)

    def init_range(self, key: str) -> float | list[float]:
        v = self.raw(key)
        if isinstance(v, list):
            if len(v) != 2 or not all(_is_number(x) for x in v):
                raise self._fail(key, "a number or [low, high]", v)
            return [float(v[0]), float(v[1])]
        if not _is_number(v):
            raise self._fail(key, "a number or [low, high]", v)
        return float(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- the importer
def import_original_config(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    record_as_original: bool = False,
) -> tuple[Config, list[str]]:
    """Load an original two-document config as our :class:`Config`.

    Parameters
    ----------
    path
        The original YAML file (a sweep config, or an original run's ``config.yaml``).
    overrides
        Dotted keys of *our* config (``protocol.n_epochs``, ``backend.name``, ...) set on the
        mapped config before it is validated. The mapped config has ``randomness: original``
        (the original's weights, orders and data draws for its ``numpy_seed``);
        ``{"randomness": "toolkit"}`` selects the toolkit's own streams instead.
    record_as_original
        Record what the original's ``record.recordings`` names, at its cadence (see
        :func:`original_recording`), instead of the toolkit's modest default; so that
        ``mc-analyze compare`` can match every recorded variable of an original run.

    Returns
    -------
    config : Config
        The validated config. Its ``source`` is ``path``.
    ignored : list of str
        Dotted keys of the original that the toolkit does not use (``debug_mode``,
        ``sim_config.sim_time``, ``eta.down[0]`` when nonzero, ...), in file order.

    Raises
    ------
    ConfigError
        For a file that is not an original config, a key outside the original's schema, a
        missing or mistyped key, ``sim_config.pat_t`` differing from ``t_pattern``, the
        ``mimic`` dataset (not supported yet) or a combination our specs cannot express.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError(f"{source}: no such config file")
    data = _load_yaml(path)
    if not (isinstance(data, list) and len(data) == 2):
        raise ConfigError(
            f"{source}: not an original config; expected a YAML list of two mappings "
            "[meta_params, network_params]"
        )
    meta, net = data
    _check_schema(_SCHEMA, meta, source, "first (meta_params)")
    _check_schema(_SCHEMA, net, source, "second (network_params)")

    ignored: list[str] = []
    for key in meta:
        if key in net:  # the original runs meta.update(network): the network value wins
            ignored.append(f"meta.{key}")
            log.info("%s: ignoring meta.%s: %s", source, key, _why("meta"))
    merged = {**dict(meta), **dict(net)}
    r = _Reader(merged, source)

    ours = _map(r, path)
    if record_as_original:
        wanted = r.raw("record.recordings", None) or {}
        ours["recording"].update(original_recording(wanted, ours["network"]["dims"], source))

    # Everything present and not read is reported.
    present = _leaves(_SCHEMA, merged)
    for key in present:
        if key in r.used:
            continue
        ignored.append(key)
        log.info("%s: ignoring %s: %s", source, key, _why(key))
    ignored.extend(ours.pop("_ignored_eta"))

    if overrides:
        ours = apply_overrides(ours, overrides, source)
    cfg = config_from_dict(ours, source=source)
    return cfg, ignored


def original_recording(
    recordings: Any, dims: list[int], source: str = "<config>"
) -> dict[str, list[str]]:
    """The toolkit's recording lists for the original's ``record.recordings``.

    Parameters
    ----------
    recordings
        ``{layer index: {population or synapse key: [variables]}}`` of the original.
    dims
        The layer sizes.
    source
        Named in messages.

    Returns
    -------
    dict
        ``validation``, ``test`` and ``training`` lists of ``owner.var`` names: neuron
        variables in every stage, synapse variables (``g``, ``delta``) in training only, as
        the original records them. Keys the toolkit cannot record (the one-to-one teacher
        synapse, GeNN's ``I`` and ``RefracTime``) are left out with a log message.
    """
    if not isinstance(recordings, Mapping):
        raise ConfigError(f"{source}: record.recordings: expected a mapping, got {recordings!r}")
    neurons: list[str] = []
    synapses: list[str] = []
    for layer, keys in recordings.items():
        if not isinstance(keys, Mapping):
            raise ConfigError(f"{source}: record.recordings.{layer}: expected a mapping")
        for key, variables in keys.items():
            owner = original_name(str(key), int(layer), dims)
            if owner is None or not isinstance(variables, list):
                log.info("%s: record.recordings.%s.%s: not recordable here", source, layer, key)
                continue
            is_neuron = not owner.startswith(("ff_", "fb_", "p2i_", "i2p_", "bias_"))
            for var in variables:
                if var in ("I", "RefracTime"):
                    log.info("%s: %s.%s is not a variable of the toolkit", source, owner, var)
                    continue
                (neurons if is_neuron else synapses).append(f"{owner}.{var}")
    return {"validation": neurons, "test": list(neurons), "training": neurons + synapses}


def _map(r: _Reader, path: Path) -> dict[str, Any]:
    """Build our config dictionary from the original keys (read through ``r``)."""
    src = r.source

    # ---- dataset
    dataset = r.string("dataset_key")
    if dataset == "mimic":
        raise ConfigError(
            f"{src}: dataset_key: 'mimic' (the teacher-student dataset) is not supported yet; "
            f"use one of {sorted(_DATASET_CLASSES)}"
        )
    if dataset not in _DATASET_CLASSES:
        raise ConfigError(
            f"{src}: dataset_key: {dataset!r} is not valid; use one of "
            f"{sorted(_DATASET_CLASSES)} (or 'mimic', which is not supported yet)"
        )
    n_class = r.integer("sim_config.n_class")
    if n_class != _DATASET_CLASSES[dataset]:
        raise ConfigError(
            f"{src}: sim_config.n_class: {n_class} does not fit dataset_key {dataset!r} "
            f"({_DATASET_CLASSES[dataset]} classes)"
        )
    ds: dict[str, Any] = {
        "name": dataset,
        "n_train": r.integer("sim_config.n_train"),
        "n_valid": r.integer("sim_config.n_valid"),
        "n_test": r.integer("sim_config.n_test"),
        "seed": r.integer("sim_config.data_seed", minimum=0),
        "u_low": float(r.number("sim_config.ulow")),
        "u_high": float(r.number("sim_config.uhigh")),
    }
    if dataset == "bars":
        ds["noise_level"] = float(r.number("sim_config.data_noise"))

    # ---- timing: the two pattern times (meta and network sections) must agree
    dt = float(r.number("dt"))
    t_pattern = float(r.number("t_pattern"))
    pat_t = float(r.number("sim_config.pat_t"))
    if not math.isclose(pat_t, t_pattern, rel_tol=1e-12, abs_tol=0.0):
        raise ConfigError(
            f"{src}: mismatched pattern time: sim_config.pat_t ({pat_t}) and t_pattern "
            f"({t_pattern}) must agree (the original's index bookkeeping uses pat_t, its rate "
            "players t_pattern)"
        )

    # ---- network
    dims = r.raw("dims")
    if not isinstance(dims, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in dims
    ):
        raise r._fail("dims", "a list of layer sizes", dims)
    n_layers = len(dims)
    n_hidden = n_layers - 2
    eta, ignored_eta = _map_eta(r, n_layers, n_hidden)

    activation = r.string("activation_template", _ORIGINAL_DEFAULT_ACTIVATION)
    if activation not in _ACTIVATIONS:
        raise ConfigError(
            f"{src}: activation_template: {activation!r} is not valid; use one of "
            f"{list(_ACTIVATIONS)}"
        )
    le = r.raw("le_active")
    if not (isinstance(le, bool) or _is_number(le)):
        raise r._fail("le_active", "0 or 1", le)

    gl, gb = float(r.number("gl")), float(r.number("gb"))
    sigma = float(r.number("noise_sig"))
    highpass = float(r.number("highpass_tau"))
    feedback = _feedback_mode(r, eta["eta_down"], sigma)

    out_lag = float(r.number("out_lag"))
    if out_lag > 0:
        log.warning(
            "%s: out_lag = %s: the original never mutes the teacher (its rate player reads "
            "noise_amp instead of mute_t); the toolkit applies the mute as intended",
            src,
            out_lag,
        )
    bias_on = r.flag("bias.on", False)
    bias_val = float(r.number("bias.val", 0.0))

    network = {
        "dims": dims,
        "dt": dt,
        "activation": activation,
        "threshold": _ORIGINAL_THRESHOLD,
        "le_active": bool(le > 0),
        "feedback": feedback,
        "dtype": "float32",
        "pyramidal": {
            "g_leak": gl,
            "g_basal": gb,
            "g_apical": float(r.number("ga")),
            "sigma_noise": sigma,
            "tau_noise": float(r.number("noise_tau")),
            "tau_highpass": highpass,
        },
        "interneuron": {
            "g_leak": gl,
            "g_dendrite": float(r.number("gd")),
            "g_soma": float(r.number("gsom")),
        },
        "output": {
            "g_leak": gl,
            "g_basal": gb,
            "g_target": float(r.number("gtar")),
            "tau_highpass": highpass,
        },
        "plasticity": {
            **eta,
            "tau_w_ff": float(r.number("tau_w_ff")),
            "tau_w_ip": float(r.number("tau_w_ip")),
            "tau_w_pi": float(r.number("tau_w_pi")),
            "alpha": float(r.number("alpha")),
        },
        "init": {
            "up": r.init_range("init_weights.up"),
            "down": r.init_range("init_weights.down"),
            "ip": r.init_range("init_weights.ip"),
            "pi": r.init_range("init_weights.pi"),
            "self_predicting": r.flag("start_in_self_predict", True),
        },
        "bias": {"enabled": bias_on, "value": bias_val},
        "player": {
            "t_pattern": t_pattern,
            "tau_0": float(r.number("tau_0")),
            "teacher_mute": out_lag,
            "learning_lag": float(r.number("learning_lag")),
        },
    }

    name = r.raw("name", None)
    if name is None:
        name = path.stem
    elif not isinstance(name, str):
        raise r._fail("name", "a string", name)

    seed = r.integer("numpy_seed", minimum=0)
    if dataset == "mnist":
        log.warning(
            "%s: the original never seeded numpy for MNIST (its load_mnist_dataset skips "
            "np.random.seed), so its MNIST weights and orders cannot be reproduced; this run "
            "seeds them from numpy_seed = %d",
            src,
            seed,
        )
    return {
        "name": name,
        "seed": seed,
        "randomness": "original",
        "network": network,
        "dataset": ds,
        "protocol": {
            "n_epochs": r.integer("sim_config.n_epochs", minimum=0),
            "shuffle": r.flag("sim_config.shuffle_samples"),
            "reinforce_self_prediction": r.flag("reinforce_self_predict"),
        },
        "recording": {"records_per_sample": r.integer("sim_config.recs_per_sample", minimum=1)},
        "_ignored_eta": ignored_eta,
    }


def _map_eta(r: _Reader, n_layers: int, n_hidden: int) -> tuple[dict[str, list[float]], list[str]]:
    """Translate the original's learning-rate indexing to ours (one entry per layer).

    ``eta.up[pre.level]`` per forward projection; ``eta.down[post.level]`` for the hidden
    levels 1..n_hidden (slot 0 unused); ``eta.ip[level-1]`` / ``eta.pi[level-1]`` per hidden
    layer (the last slot unused). Unused slots are reported when nonzero.
    """
    used = {
        "up": range(0, n_layers - 1),
        "down": range(1, n_hidden + 1),
        "ip": range(0, n_hidden),
        "pi": range(0, n_hidden),
    }
    out: dict[str, list[float]] = {}
    ignored: list[str] = []
    for key, idx in used.items():
        vals = r.numbers(f"eta.{key}")
        if len(vals) < idx.stop:
            raise ConfigError(
                f"{r.source}: eta.{key}: {vals} has {len(vals)} entries; the original indexes "
                f"it up to [{idx.stop - 1}] for dims of {n_layers} layers"
            )
        out[f"eta_{key}"] = [float(vals[i]) for i in idx]
        for i, v in enumerate(vals):
            if i not in idx and v != 0:
                ignored.append(f"eta.{key}[{i}]")
                log.info("%s: ignoring eta.%s[%d] = %s: %s", r.source, key, i, v, _why("eta"))
        if key == "down" and vals[0] != 0:
            log.warning(
                "%s: eta.down[0] = %s: the original's rule 'i2p static when no eta.down > 0' "
                "counted this unused slot, the toolkit counts only the hidden layers' rates",
                r.source,
                vals[0],
            )
    return out, ignored


def _feedback_mode(r: _Reader, eta_down: list[float], sigma: float) -> str:
    """The feedback variant the original config describes."""
    learns = any(e > 0 for e in eta_down)
    if r.flag("set_wBackw_to_wTransp"):
        if learns:
            raise ConfigError(
                f"{r.source}: set_wBackw_to_wTransp: true with eta.down > 0 (B learning by PAL "
                "between the per-epoch resets to W^T) is not supported; set eta.down to 0"
            )
        return "transpose"
    if learns:  # noise_sig = 0: B only decays by alpha; the network spec warns about it
        return "pal"
    return "noise_control" if sigma > 0 else "fa"
