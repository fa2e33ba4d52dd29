"""The network description: a frozen, serialisable, validated specification.

A :class:`NetworkSpec` says *what* to simulate (layer sizes of any depth, conductances,
learning rates per layer, LE on/off, the feedback-learning variant, initialisation, bias,
time step and precision); backends decide *how*. Defaults are the shared hyperparameters of
the paper's configs; learning rates have no defaults and must be given per layer.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import cache
from typing import Any

from mc_models import ACTIVATIONS, neuron_model, synapse_model
from mc_models.neurons import interneuron as _interneuron
from mc_models.neurons import output as _output
from mc_models.neurons import pyramidal as _pyramidal

log = logging.getLogger(__name__)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 2, 8, 8, 6
_REPR.maxstring = _REPR.maxother = 60


def _show(value: Any, limit: int = 100) -> str:
    """A value for an error message: its ``repr``, containers and strings abbreviated."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "BiasParams",
    "FeedbackMode",
    "InitParams",
    "InterneuronParams",
    "NetworkSpec",
    "OutputParams",
    "PlasticityParams",
    "PlayerParams",
    "PyramidalParams",
    "RuleModels",
    "SpecError",
    "section",
    "section_model",
]


class SpecError(ValueError):
    """An inconsistent or invalid network description; the message names the key."""


class FeedbackMode(StrEnum):
    """How the feedback weights B are treated.

    ``pal``: B learns by Phaseless Alignment Learning (needs apical noise and eta_down > 0).
    ``fa``: feedback alignment, fixed random B, no noise. ``noise_control``: fixed B with the
    apical noise on (control for "is the gain due to the noise?"). ``transpose``: B is set to
    the transposed forward weights at the start of every epoch (the protocol does this).
    """

    PAL = "pal"
    FA = "fa"
    NOISE_CONTROL = "noise_control"
    TRANSPOSE = "transpose"


# The sections of the neuron and synapse models are generated from the models' parameter
# lists: the models' defaults are the only defaults (the paper's shared hyperparameters),
# and a parameter added to a model is a key of its section. The parameters the network sets
# for every model (threshold, le_active; eta, tau, alpha) are not part of the sections.
NETWORK_WIDE = {"neuron": ("threshold", "le_active"), "synapse": ("eta", "tau", "alpha")}
NEURON_ROLES = {"pyramidal": "pyramidal", "interneuron": "interneuron", "output": "output"}
RULE_ROLES = {
    "forward": "forward",
    "p2i": "pyr_to_inter",
    "i2p": "inter_to_pyr",
    "feedback": "pal",
}
_CLASS_NAMES = {
    "pyramidal": "PyramidalParams",
    "interneuron": "InterneuronParams",
    "output": "OutputParams",
    "forward": "ForwardRule",
    "p2i": "PyrToInterRule",
    "i2p": "InterToPyrRule",
    "feedback": "FeedbackRule",
}


def _role_model(role: str, name: str) -> Any:
    kind = "neuron" if role in NEURON_ROLES else "synapse"
    try:
        return neuron_model(name) if kind == "neuron" else synapse_model(name)
    except ValueError as err:
        raise SpecError(f"{role}.model: {err}") from None


@cache
def _section_class(role: str, model: Any) -> type:
    kind = "neuron" if role in NEURON_ROLES else "synapse"
    own = [p for p in model.params if p.name not in NETWORK_WIDE[kind]]
    missing = [p.name for p in own if p.default is None]
    if missing:
        raise SpecError(
            f"{role}.model: {model.name!r} has parameters without defaults {missing}; give "
            "every parameter the network does not set a default"
        )
    default_model = {**NEURON_ROLES, **RULE_ROLES}[role]
    name = _CLASS_NAMES[role] + ("" if model.name == default_model else f"[{model.name}]")
    cls = dataclasses.make_dataclass(
        name,
        [(p.name, float, field(default=float(p.default))) for p in own]
        + [("model", str, field(default=model.name))],
        frozen=True,
        namespace={
            "__doc__": f"Parameters of the {role} model {model.name!r} (defaults: the model's)."
            " See :mod:`mc_models.registry`.",
            "__post_init__": _check_section_model,
            "__reduce__": _reduce_section,
            "role": role,
        },
    )
    cls.__module__ = __name__
    return cls


def _check_section_model(self) -> None:
    expected = next(f.default for f in fields(self) if f.name == "model")
    if self.model != expected:
        raise SpecError(
            f"{self.role}.model: {type(self).__name__} holds the parameters of {expected!r}; "
            f"for {self.model!r} use section({self.role!r}, model={self.model!r}, ...)"
        )


def _reduce_section(self) -> tuple:
    # a generated class is found again through section(), also in another process
    values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
    return (_rebuild_section, (self.role, self.model, values))


def _rebuild_section(role: str, model: str, values: dict[str, float]) -> Any:
    return section(role, model, **values)


def section(role: str, model: str | None = None, **values: float) -> Any:
    """The parameter section of a role, for its default model or another registered one.

    ``role`` is a neuron role (``pyramidal``, ``interneuron``, ``output``) or a plasticity
    rule (``forward``, ``p2i``, ``i2p``, ``feedback``). Unset parameters take the model's
    defaults.

    >>> section("pyramidal", model="pyramidal_white", sigma_noise=0.01).model
    'pyramidal_white'
    """
    roles = {**NEURON_ROLES, **RULE_ROLES}
    if role not in roles:
        raise SpecError(f"section: unknown role {role!r}; valid roles are {sorted(roles)}")
    cls = _section_class(role, _role_model(role, model or roles[role]))
    return cls(**values)


def section_model(sec: Any) -> Any:
    """The registered model a section belongs to."""
    return _role_model(sec.role, sec.model)


# the built-in models themselves: importing this module loads no installed model package
PyramidalParams = _section_class("pyramidal", _pyramidal.MODEL)
InterneuronParams = _section_class("interneuron", _interneuron.MODEL)
OutputParams = _section_class("output", _output.MODEL)


@dataclass(frozen=True)
class RuleModels:
    """The plasticity rules: a section per role, naming its synapse model.

    ``forward`` (forward and bias -> pyramidal projections), ``p2i`` (pyramidal and bias ->
    interneuron), ``i2p`` (interneuron -> pyramidal) and ``feedback`` (B). Learning rates,
    filter time constants and alpha come from :class:`PlasticityParams`; a section holds
    the rule's other parameters, if it has any.
    """

    forward: Any = field(default_factory=lambda: section("forward"))
    p2i: Any = field(default_factory=lambda: section("p2i"))
    i2p: Any = field(default_factory=lambda: section("i2p"))
    feedback: Any = field(default_factory=lambda: section("feedback"))


@dataclass(frozen=True)
class PlasticityParams:
    """Learning rates per layer and weight-filter time constants.

    ``eta_up`` has one entry per forward projection (``len(dims) - 1``: input -> hidden 1,
    ..., last hidden -> output); ``eta_ip``, ``eta_pi`` and ``eta_down`` one per hidden layer.
    """

    eta_up: tuple[float, ...] = ()
    eta_ip: tuple[float, ...] = ()
    eta_pi: tuple[float, ...] = ()
    eta_down: tuple[float, ...] = ()
    tau_w_ff: float = 100.0
    tau_w_ip: float = 0.01
    tau_w_pi: float = 0.01
    alpha: float = 1e-6


@dataclass(frozen=True)
class InitParams:
    """Initial weights: U(-a, a) for a number ``a``, or U(lo, hi) for a pair."""

    up: float | tuple[float, float] = 0.1
    down: float | tuple[float, float] = 1.0
    ip: float | tuple[float, float] = 0.1
    pi: float | tuple[float, float] = 1.0
    self_predicting: bool = True


@dataclass(frozen=True)
class BiasParams:
    """Optional bias neuron feeding every hidden layer (pyramidal and interneuron)."""

    enabled: bool = False
    value: float = 1.0


@dataclass(frozen=True)
class PlayerParams:
    """Input and teacher rate players.

    ``t_pattern``: presentation time per sample; ``tau_0``: onset low-pass (``tau_0 = dt``
    plays rates unfiltered); ``teacher_mute``: time at the start of each sample during which
    the teacher plays ``teacher_base_rate`` (original ``out_lag``); ``learning_lag``: time at
    the start of each training sample with learning and teaching off.
    """

    t_pattern: float = 1.0
    tau_0: float = 0.01
    teacher_mute: float = 0.0
    teacher_base_rate: float = 0.1
    learning_lag: float = 0.0


_SECTIONS: dict[str, type] = {
    "plasticity": PlasticityParams,
    "init": InitParams,
    "bias": BiasParams,
    "player": PlayerParams,
}


@dataclass(frozen=True)
class NetworkSpec:
    """A complete, validated description of one microcircuit network.

    Parameters
    ----------
    dims
        Layer sizes ``(n_in, n_hidden_1, ..., n_out)``, at least one hidden layer.
    dt
        Time step (the paper uses 0.01 with ``t_pattern = 1``: 100 steps per sample).
    activation, threshold
        Activation function name (``sigmoid``, ``soft_relu``, ``sigmoid_stable``) and its
        threshold parameter.
    le_active
        Latent Equilibrium (prospective voltages) on, or the original Sacramento dynamics.
    feedback
        The :class:`FeedbackMode`.
    dtype
        ``"float32"`` (GeNN "float" semantics, bit-exact with the original) or ``"float64"``.
    pyramidal, interneuron, output
        The neuron models' sections: the ``model`` (a registered neuron model) and its
        parameters (see :func:`section`).
    rules
        The plasticity rules' models (:class:`RuleModels`).
    input_mode
        How projections from the input rate player run: ``"exact"`` (the default: every
        synapse every step, bit-identical to the original) or ``"fast"`` (the
        sample-factorised update while the player holds a sample, see
        :mod:`mc_network.program`; equal in real arithmetic, it differs in float32
        rounding). Every backend (GeNN: ``mc_network.backends._genn_fast``).
    """

    dims: tuple[int, ...]
    dt: float = 0.01
    activation: str = "sigmoid"
    threshold: float = 15.0
    le_active: bool = True
    feedback: FeedbackMode = FeedbackMode.PAL
    dtype: str = "float32"
    pyramidal: PyramidalParams = field(default_factory=PyramidalParams)
    interneuron: InterneuronParams = field(default_factory=InterneuronParams)
    output: OutputParams = field(default_factory=OutputParams)
    plasticity: PlasticityParams = field(default_factory=PlasticityParams)
    rules: RuleModels = field(default_factory=RuleModels)
    init: InitParams = field(default_factory=InitParams)
    bias: BiasParams = field(default_factory=BiasParams)
    player: PlayerParams = field(default_factory=PlayerParams)
    input_mode: str = "exact"

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", tuple(self.dims))
        try:
            object.__setattr__(self, "feedback", FeedbackMode(self.feedback))
        except ValueError:
            raise SpecError(
                f"feedback: {_show(self.feedback)} is not valid; use one of "
                f"{[m.value for m in FeedbackMode]}"
            ) from None
        self._validate()

    # ----------------------------------------------------------------- derived properties
    @property
    def n_hidden(self) -> int:
        """Number of hidden layers."""
        return len(self.dims) - 2

    @property
    def steps_per_sample(self) -> int:
        """Time steps per presented sample, ``t_pattern / dt``."""
        return round(self.player.t_pattern / self.dt)

    @property
    def i2p_plastic(self) -> bool:
        """Whether interneuron->pyramidal weights learn.

        As in the original: with the self-predicting start and every ``eta_down`` zero, the
        i2p weights are kept static (they stay ``-B``).
        """
        p = self.plasticity
        return not (self.init.self_predicting and all(e == 0 for e in p.eta_down))

    @property
    def noisy(self) -> bool:
        """Whether any neuron model draws noise (the apical noise of the pyramidals)."""
        return any(_draws(getattr(self, role)) for role in NEURON_ROLES)

    def _noise(self) -> tuple[str, float]:
        """The pyramidal section's noise key and value (``sigma_noise``), for messages."""
        gate = section_model(self.pyramidal).noise_gate
        if gate is None:
            return "model", float(_draws(self.pyramidal))
        return gate, float(getattr(self.pyramidal, gate))

    # ----------------------------------------------------------------- validation
    def _validate(self) -> None:
        if len(self.dims) < 3:
            raise SpecError(
                f"dims: {list(self.dims)} has no hidden layer; give at least "
                "(n_in, n_hidden, n_out)"
            )
        for i, n in enumerate(self.dims):
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise SpecError(f"dims[{i}]: {_show(n)} must be a positive integer")
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise SpecError(f"dt: {_show(self.dt)} must be a positive number")
        self._validate_finite()
        if self.activation not in ACTIVATIONS:
            raise SpecError(
                f"activation: {_show(self.activation)} is not valid; use one of "
                f"{sorted(ACTIVATIONS)}"
            )
        if self.dtype not in ("float32", "float64"):
            raise SpecError(f"dtype: {_show(self.dtype)} is not valid; use 'float32' or 'float64'")
        if self.input_mode not in ("exact", "fast"):
            raise SpecError(
                f"input_mode: {_show(self.input_mode)} is not valid; use 'exact' (every synapse "
                "every step, bit-identical to the original) or 'fast' (sample-factorised "
                "projections from the input player)"
            )
        for role in NEURON_ROLES:
            _check_section(getattr(self, role), role, role)
        if not isinstance(self.rules, RuleModels):
            raise SpecError(f"rules: expected a RuleModels, got {_show(self.rules)}")
        for role in RULE_ROLES:
            _check_section(getattr(self.rules, role), role, f"rules.{role}")
        self._validate_plasticity()
        self._validate_player()
        self._validate_feedback()

    def _validate_finite(self) -> None:
        """Every number of the network is finite (NaN or inf would run and mean nothing)."""
        if not (_is_number(self.threshold) and math.isfinite(self.threshold)):
            raise SpecError(f"threshold: {_show(self.threshold)} must be a finite number")
        for name in _SECTIONS:
            sec = getattr(self, name)
            for f in fields(sec):
                value = getattr(sec, f.name)
                for x in value if isinstance(value, tuple) else (value,):
                    if _is_number(x) and not math.isfinite(x):
                        raise SpecError(f"{name}.{f.name}: {_show(value)} must be finite")

    def _validate_plasticity(self) -> None:
        p = self.plasticity
        want = {
            "eta_up": len(self.dims) - 1,
            "eta_ip": self.n_hidden,
            "eta_pi": self.n_hidden,
            "eta_down": self.n_hidden,
        }
        for name, n in want.items():
            vals = getattr(p, name)
            what = "forward projection" if name == "eta_up" else "hidden layer"
            if len(vals) != n:
                raise SpecError(
                    f"plasticity.{name}: needs one learning rate per {what} ({n} for dims "
                    f"{list(self.dims)}), got {len(vals)}: {list(vals)}"
                )
            for i, v in enumerate(vals):
                if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                    raise SpecError(f"plasticity.{name}[{i}]: {_show(v)} must be a number >= 0")
        for name in ("tau_w_ff", "tau_w_ip", "tau_w_pi"):
            if not getattr(p, name) > 0:
                raise SpecError(f"plasticity.{name}: {_show(getattr(p, name))} must be > 0")
        if not p.alpha >= 0:
            raise SpecError(f"plasticity.alpha: {_show(p.alpha)} must be >= 0")

    def _validate_player(self) -> None:
        pl = self.player
        ratio = pl.t_pattern / self.dt
        if pl.t_pattern <= 0 or abs(ratio - round(ratio)) > 1e-6 * max(1.0, ratio):
            raise SpecError(
                f"player.t_pattern: {_show(pl.t_pattern)} must be a positive multiple of dt "
                f"({_show(self.dt)})"
            )
        if round(ratio) < 1:
            raise SpecError(
                f"player.t_pattern: {_show(pl.t_pattern)} is shorter than one time step dt "
                f"({_show(self.dt)}): a sample needs at least one step"
            )
        for name in ("teacher_mute", "learning_lag"):
            v = getattr(pl, name)
            if not (0 <= v < pl.t_pattern):
                raise SpecError(f"player.{name}: {_show(v)} must be >= 0 and < t_pattern")
        if not pl.tau_0 >= self.dt:
            raise SpecError(f"player.tau_0: {_show(pl.tau_0)} must be >= dt ({_show(self.dt)})")

    def _validate_feedback(self) -> None:
        mode, eta_down = self.feedback, self.plasticity.eta_down
        key, sigma = self._noise()
        if mode is FeedbackMode.PAL and not any(e > 0 for e in eta_down):
            raise SpecError(
                f"plasticity.eta_down: {list(eta_down)} needs an entry > 0 for feedback 'pal'; "
                "use 'fa' or 'noise_control' for fixed feedback"
            )
        if mode is FeedbackMode.PAL and not sigma > 0:
            log.warning(
                "feedback 'pal' with pyramidal.%s = 0: B only decays (a diagnostic "
                "setting, e.g. to compare backends without noise)",
                key,
            )
        if mode is not FeedbackMode.PAL and any(e != 0 for e in eta_down):
            raise SpecError(
                f"plasticity.eta_down: {list(eta_down)} must be all 0 for feedback "
                f"{mode.value!r} (only 'pal' learns B)"
            )
        if mode is FeedbackMode.FA and sigma != 0:
            raise SpecError(
                f"pyramidal.{key}: {sigma} must be 0 for feedback 'fa'; "
                "use 'noise_control' for fixed B with noise"
            )
        if mode is FeedbackMode.NOISE_CONTROL and not sigma > 0:
            raise SpecError(f"pyramidal.{key}: must be > 0 for feedback 'noise_control'")

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """A plain, YAML/JSON-ready dictionary (round-trips through :meth:`from_dict`)."""
        d = dataclasses.asdict(self)
        d["feedback"] = self.feedback.value
        d["dims"] = list(self.dims)
        return _lists(d)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "network") -> NetworkSpec:
        """Build from a dictionary; unknown keys and wrong types raise :class:`SpecError`.

        ``where`` prefixes key paths in error messages (e.g. the config file and section).
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"{where}: expected a mapping, got {type(data).__name__}")
        top = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - top)
        if unknown:
            raise SpecError(
                f"{where}: unknown key(s) {_show(unknown)}; valid keys are {sorted(top)}"
            )
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in NEURON_ROLES:
                kwargs[key] = _model_section_from_dict(key, value, f"{where}.{key}")
            elif key == "rules":
                kwargs[key] = _rules_from_dict(value, f"{where}.rules")
            elif key in _SECTIONS:
                kwargs[key] = _section_from_dict(_SECTIONS[key], value, f"{where}.{key}")
            elif key == "dims":
                if not isinstance(value, list | tuple):
                    raise SpecError(
                        f"{where}.dims: expected a list of layer sizes, got {_show(value)}"
                    )
                kwargs[key] = tuple(value)
            else:
                kwargs[key] = _check_scalar(cls, key, value, f"{where}.{key}")
        if "dims" not in kwargs:
            raise SpecError(f"{where}.dims: missing (the layer sizes, e.g. [4, 30, 3])")
        try:
            return cls(**kwargs)
        except SpecError as err:
            raise SpecError(f"{where}.{err}") from None

    def replace(self, **changes: Any) -> NetworkSpec:
        """A copy with some top-level fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _lists(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [_lists(v) for v in obj]
    return obj


_SCALAR_TYPES = {
    "dt": (int, float),
    "activation": (str,),
    "threshold": (int, float),
    "le_active": (bool,),
    "feedback": (str,),
    "dtype": (str,),
    "input_mode": (str,),
}


def _check_scalar(cls: type, key: str, value: Any, where: str) -> Any:
    types = _SCALAR_TYPES.get(key)
    if types and (not isinstance(value, types) or (bool not in types and isinstance(value, bool))):
        names = " or ".join(t.__name__ for t in types)
        raise SpecError(f"{where}: expected {names}, got {_show(value)}")
    return value


def _section_from_dict(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, Mapping):
        raise SpecError(f"{where}: expected a mapping, got {_show(value)}")
    valid = {f.name: f for f in fields(cls)}
    unknown = sorted(set(value) - set(valid))
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {_show(unknown)}; valid keys are {sorted(valid)}")
    out: dict[str, Any] = {}
    for key, v in value.items():
        default = valid[key].default
        if key == "model":
            if not isinstance(v, str):
                raise SpecError(f"{where}.model: expected a model name, got {_show(v)}")
        elif isinstance(default, bool):
            if not isinstance(v, bool):
                raise SpecError(f"{where}.{key}: expected true or false, got {_show(v)}")
        elif key.startswith("eta_"):
            if not isinstance(v, list | tuple) or not all(_is_number(x) for x in v):
                raise SpecError(f"{where}.{key}: expected a list of numbers, got {_show(v)}")
            v = tuple(float(x) for x in v)
        elif cls is InitParams:
            if isinstance(v, list | tuple):
                if len(v) != 2 or not all(_is_number(x) for x in v):
                    raise SpecError(
                        f"{where}.{key}: expected a number or [low, high], got {_show(v)}"
                    )
                v = (float(v[0]), float(v[1]))
            elif not _is_number(v):
                raise SpecError(f"{where}.{key}: expected a number or [low, high], got {_show(v)}")
        elif not _is_number(v):
            raise SpecError(f"{where}.{key}: expected a number, got {_show(v)}")
        out[key] = v
    return cls(**out)


def _model_section_from_dict(role: str, value: Any, where: str) -> Any:
    if not isinstance(value, Mapping):
        raise SpecError(f"{where}: expected a mapping, got {_show(value)}")
    name = value.get("model", {**NEURON_ROLES, **RULE_ROLES}[role])
    if not isinstance(name, str):
        raise SpecError(f"{where}.model: expected a model name, got {_show(name)}")
    try:
        cls = _section_class(role, _role_model(role, name))
    except SpecError as err:
        raise SpecError(f"{where}.{str(err).split('.', 1)[1]}") from None
    return _section_from_dict(cls, value, where)


def _rules_from_dict(value: Any, where: str) -> RuleModels:
    if not isinstance(value, Mapping):
        raise SpecError(f"{where}: expected a mapping, got {_show(value)}")
    unknown = sorted(set(value) - set(RULE_ROLES))
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {_show(unknown)}; valid keys are {sorted(RULE_ROLES)}"
        )
    return RuleModels(
        **{r: _model_section_from_dict(r, v, f"{where}.{r}") for r, v in value.items()}
    )


def _check_section(sec: Any, role: str, where: str) -> None:
    """A model section of ``role`` with valid values (the model's parameter domains)."""
    if getattr(sec, "role", None) != role:
        raise SpecError(f"{where}: expected a {role} section (see section()), got {_show(sec)}")
    model = section_model(sec)
    for f in fields(sec):
        if f.name == "model":
            continue
        v = getattr(sec, f.name)
        if not (_is_number(v) and math.isfinite(v)):
            raise SpecError(f"{where}.{f.name}: {_show(v)} must be a finite number")
        why = model.param(f.name).check(v)
        if why is not None:
            raise SpecError(f"{where}.{f.name}: {_show(v)} {why}")


def _draws(sec: Any) -> bool:
    """Whether a neuron section's model draws noise with its values."""
    model = section_model(sec)
    gate = model.noise_gate
    return model.n_draws > 0 and (gate is None or getattr(sec, gate) > 0)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
