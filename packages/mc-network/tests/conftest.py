import numpy as np
import pytest

from mc_network import available_backends


def stage_data(n_samples, n_in, n_out, seed=0):
    """Random input rates and a one-hot teacher (u_low 0.1, u_high 1.0)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n_samples, n_in)).astype(np.float32)
    labels = rng.integers(0, n_out, size=n_samples)
    t = np.full((n_samples, n_out), 0.1, np.float32)
    t[np.arange(n_samples), labels] = 1.0
    return x, t


@pytest.fixture
def data():
    return stage_data


BACKENDS = [name for name, why in available_backends().items() if why is None and name != "genn"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param
