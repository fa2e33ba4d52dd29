"""Populations and projections of a network, derived once from a :class:`NetworkSpec`.

Every backend iterates over the same :class:`Topology`, so any depth, the bias and every
feedback variant come for free. Names:

* populations: ``input``, ``pyramidal_1`` .. ``pyramidal_{L-1}``, ``inter_1`` ..,
  ``output``, ``teacher`` and ``bias`` (if enabled);
* projections: ``ff_1`` (input -> pyramidal_1) .. ``ff_L`` (last hidden -> output),
  ``fb_l`` (upper -> pyramidal_l, the feedback B), ``fbi_l`` (upper -> inter_l, one-to-one
  voltage), ``p2i_l``, ``i2p_l``, ``bias_pyr_l``, ``bias_inter_l`` and ``teacher``.

Weight matrices are stored pre-major with shape ``(n_pre, n_post)``, as GeNN does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mc_network.spec import NetworkSpec

__all__ = ["PopKind", "Population", "ProjKind", "Projection", "Topology", "build_topology"]


class PopKind(StrEnum):
    """Neuron model of a population."""

    INPUT = "input"
    TEACHER = "teacher"
    BIAS = "bias"
    PYRAMIDAL = "pyramidal"
    INTER = "inter"
    OUTPUT = "output"


class ProjKind(StrEnum):
    """Synapse model of a projection."""

    FORWARD = "forward"
    FEEDBACK = "feedback"
    P2I = "p2i"
    I2P = "i2p"
    DOWN_TO_INTER = "down_to_inter"
    TEACHER = "teacher"


@dataclass(frozen=True)
class Population:
    """A neuron population."""

    name: str
    kind: PopKind
    size: int
    layer: int


@dataclass(frozen=True)
class Projection:
    """A synapse group.

    ``target`` is the postsynaptic input variable it feeds; ``eta``/``tau`` its learning rate
    and filter time constant (0 for static groups); ``plastic`` whether it ever learns.
    """

    name: str
    kind: ProjKind
    pre: str
    post: str
    target: str
    n_pre: int
    n_post: int
    eta: float = 0.0
    tau: float = 0.0
    plastic: bool = False

    @property
    def one_to_one(self) -> bool:
        """Static one-to-one connections (voltage nudging and the teacher)."""
        return self.kind in (ProjKind.DOWN_TO_INTER, ProjKind.TEACHER)

    @property
    def has_delta(self) -> bool:
        """Whether the rule keeps a low-pass filtered increment ``delta``."""
        return self.kind in (ProjKind.FORWARD, ProjKind.P2I, ProjKind.I2P)


@dataclass(frozen=True)
class Topology:
    """Populations (in update order) and projections (in input-accumulation order)."""

    populations: tuple[Population, ...]
    projections: tuple[Projection, ...]

    def population(self, name: str) -> Population:
        """Look a population up by name."""
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(f"no population {name!r}; have {[p.name for p in self.populations]}")

    def projection(self, name: str) -> Projection:
        """Look a projection up by name."""
        for p in self.projections:
            if p.name == name:
                return p
        raise KeyError(f"no projection {name!r}; have {[p.name for p in self.projections]}")

    @property
    def weight_names(self) -> tuple[str, ...]:
        """Names of the projections with a weight matrix of their own (all but one-to-one)."""
        return tuple(p.name for p in self.projections if not p.one_to_one)

    def pyramidal_names(self) -> tuple[str, ...]:
        """Hidden pyramidal populations, bottom to top (the order of the noise draws)."""
        return tuple(p.name for p in self.populations if p.kind is PopKind.PYRAMIDAL)


def _upper(spec: NetworkSpec, layer: int) -> str:
    return "output" if layer + 1 == len(spec.dims) - 1 else f"pyramidal_{layer + 1}"


def build_topology(spec: NetworkSpec) -> Topology:
    """Derive the populations and projections of ``spec``."""
    dims = spec.dims
    n_layers = len(dims) - 1  # index of the output layer
    pl = spec.plasticity
    pops = [Population("input", PopKind.INPUT, dims[0], 0)]
    if spec.bias.enabled:
        pops.append(Population("bias", PopKind.BIAS, 1, 0))
    for layer in range(1, n_layers):
        pops.append(Population(f"pyramidal_{layer}", PopKind.PYRAMIDAL, dims[layer], layer))
        pops.append(Population(f"inter_{layer}", PopKind.INTER, dims[layer + 1], layer))
    pops.append(Population("output", PopKind.OUTPUT, dims[-1], n_layers))
    pops.append(Population("teacher", PopKind.TEACHER, dims[-1], n_layers + 1))

    projs: list[Projection] = []
    for layer in range(1, n_layers + 1):
        pre = "input" if layer == 1 else f"pyramidal_{layer - 1}"
        post = "output" if layer == n_layers else f"pyramidal_{layer}"
        projs.append(
            Projection(
                f"ff_{layer}",
                ProjKind.FORWARD,
                pre,
                post,
                "Isyn_up",
                dims[layer - 1],
                dims[layer],
                pl.eta_up[layer - 1],
                pl.tau_w_ff,
                True,
            )
        )
    for layer in range(n_layers - 1, 0, -1):
        upper = _upper(spec, layer)
        projs.append(
            Projection(
                f"fb_{layer}",
                ProjKind.FEEDBACK,
                upper,
                f"pyramidal_{layer}",
                "Isyn_down",
                dims[layer + 1],
                dims[layer],
                pl.eta_down[layer - 1],
                0.0,
                True,
            )
        )
        projs.append(
            Projection(
                f"fbi_{layer}",
                ProjKind.DOWN_TO_INTER,
                upper,
                f"inter_{layer}",
                "Isyn_down",
                dims[layer + 1],
                dims[layer + 1],
            )
        )
    for layer in range(1, n_layers):
        projs.append(
            Projection(
                f"p2i_{layer}",
                ProjKind.P2I,
                f"pyramidal_{layer}",
                f"inter_{layer}",
                "Isyn_pyramidal",
                dims[layer],
                dims[layer + 1],
                pl.eta_ip[layer - 1],
                pl.tau_w_ip,
                True,
            )
        )
        projs.append(
            Projection(
                f"i2p_{layer}",
                ProjKind.I2P,
                f"inter_{layer}",
                f"pyramidal_{layer}",
                "Isyn_inter",
                dims[layer + 1],
                dims[layer],
                pl.eta_pi[layer - 1],
                pl.tau_w_pi,
                spec.i2p_plastic,
            )
        )
    if spec.bias.enabled:
        for layer in range(1, n_layers):
            projs.append(
                Projection(
                    f"bias_pyr_{layer}",
                    ProjKind.FORWARD,
                    "bias",
                    f"pyramidal_{layer}",
                    "Isyn_up",
                    1,
                    dims[layer],
                    pl.eta_up[layer - 1],
                    pl.tau_w_ff,
                    True,
                )
            )
            # As in the original, bias -> interneuron filters with tau_w_ff.
            projs.append(
                Projection(
                    f"bias_inter_{layer}",
                    ProjKind.P2I,
                    "bias",
                    f"inter_{layer}",
                    "Isyn_pyramidal",
                    1,
                    dims[layer + 1],
                    pl.eta_ip[layer - 1],
                    pl.tau_w_ff,
                    True,
                )
            )
    projs.append(
        Projection(
            "teacher", ProjKind.TEACHER, "teacher", "output", "Isyn_target", dims[-1], dims[-1]
        )
    )
    return Topology(tuple(pops), tuple(projs))
