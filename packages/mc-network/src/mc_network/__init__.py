"""mc-network: assemble dendritic microcircuit networks and run them on a backend.

>>> from mc_network import NetworkSpec, PlasticityParams, build_network
>>> spec = NetworkSpec(dims=(4, 30, 3), feedback="fa",
...                    plasticity=PlasticityParams(eta_up=(50.0, 0.01), eta_ip=(0.05,),
...                                                eta_pi=(0.0,), eta_down=(0.0,)))
>>> net = build_network(spec, seeds=[1, 2], backend="reference")
>>> net.batch_size
2
"""

from importlib.metadata import PackageNotFoundError, version

from mc_network.backends import (
    BackendUnavailable,
    available_backends,
    backend_options,
    build_network,
    default_backend,
    register_backend,
)
from mc_network.backends.base import Simulation
from mc_network.presets import mnist_spec, paper_spec, yinyang_spec
from mc_network.record import RecordPlan
from mc_network.replay import noise_draws
from mc_network.seeding import RunStreams, run_streams
from mc_network.spec import (
    BiasParams,
    FeedbackMode,
    InitParams,
    InterneuronParams,
    NetworkSpec,
    OutputParams,
    PlasticityParams,
    PlayerParams,
    PyramidalParams,
    RuleModels,
    SpecError,
    section,
)
from mc_network.topology import Topology, build_topology

try:
    __version__ = version("mc-network")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "BackendUnavailable",
    "BiasParams",
    "FeedbackMode",
    "InitParams",
    "InterneuronParams",
    "NetworkSpec",
    "OutputParams",
    "PlasticityParams",
    "PlayerParams",
    "PyramidalParams",
    "RecordPlan",
    "RuleModels",
    "RunStreams",
    "Simulation",
    "SpecError",
    "Topology",
    "__version__",
    "available_backends",
    "backend_options",
    "build_network",
    "build_topology",
    "mnist_spec",
    "noise_draws",
    "paper_spec",
    "yinyang_spec",
    "default_backend",
    "register_backend",
    "run_streams",
    "section",
]
