import importlib.util

import pytest

from mc_network import BackendUnavailable, available_backends, build_network, yinyang_spec


def test_unknown_backend_lists_registered_ones():
    with pytest.raises(ValueError, match=r"unknown backend 'jax'; registered backends: \["):
        build_network(yinyang_spec("fa"), seeds=1, backend="jax")


@pytest.mark.skipif(importlib.util.find_spec("pygenn") is not None, reason="pygenn is installed")
def test_genn_without_pygenn_says_how_to_install():
    assert "pygenn" in available_backends()["genn"]
    with pytest.raises(BackendUnavailable, match="pygenn.*not installed.*build pygenn 5"):
        build_network(yinyang_spec("fa"), seeds=1, backend="genn")
