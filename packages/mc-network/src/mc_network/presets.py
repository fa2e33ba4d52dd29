"""The paper's network descriptions (shared hyperparameters of the original configs).

Conductances gl 0.03, gb 0.1, ga 0.06, gd 0.1, gsom 0.06, gtar 0.06; highpass and noise
time constants 0.1; tau_w_ff 100, tau_w_ip = tau_w_pi = 0.01; alpha 1e-6; dt 0.01 with
t_pattern 1 (100 steps per sample); apical noise sigma 0.01 for PAL and the noise control.
"""

from __future__ import annotations

from mc_network.spec import FeedbackMode, NetworkSpec, PlasticityParams, PyramidalParams

__all__ = ["PRESETS", "mnist_spec", "paper_spec", "yinyang_spec"]

_ETA = {
    # dataset: (dims, eta_up, eta_ip, eta_down for PAL)
    "yinyang": ((4, 30, 3), (50.0, 0.01), (0.05,), 0.5),
    "mnist": ((784, 100, 10), (1.0, 0.005), (0.02,), 0.2),
}

#: The names of the paper's networks (``network.preset`` in a config).
PRESETS: tuple[str, ...] = tuple(sorted(_ETA))


def paper_spec(dataset: str, feedback: FeedbackMode | str = "pal", **changes) -> NetworkSpec:
    """The paper's network for ``dataset`` (``yinyang`` or ``mnist``) and feedback variant."""
    if dataset not in _ETA:
        raise ValueError(f"unknown preset network {dataset!r}; valid presets: {list(PRESETS)}")
    dims, eta_up, eta_ip, eta_down = _ETA[dataset]
    mode = FeedbackMode(feedback)
    noisy = mode in (FeedbackMode.PAL, FeedbackMode.NOISE_CONTROL)
    plasticity = PlasticityParams(
        eta_up=eta_up,
        eta_ip=eta_ip,
        eta_pi=(0.02,) if noisy else (0.0,),
        eta_down=(eta_down,) if mode is FeedbackMode.PAL else (0.0,),
    )
    kwargs = {
        "dims": dims,
        "feedback": mode,
        "pyramidal": PyramidalParams(sigma_noise=0.01 if noisy else 0.0),
        "plasticity": plasticity,
    }
    return NetworkSpec(**{**kwargs, **changes})


def yinyang_spec(feedback: FeedbackMode | str = "pal", **changes) -> NetworkSpec:
    """Yin-Yang 4-30-3 network of the paper."""
    return paper_spec("yinyang", feedback, **changes)


def mnist_spec(feedback: FeedbackMode | str = "pal", **changes) -> NetworkSpec:
    """MNIST 784-100-10 network of the paper."""
    return paper_spec("mnist", feedback, **changes)
