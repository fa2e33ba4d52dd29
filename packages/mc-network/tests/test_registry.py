import importlib.util
import subprocess
import sys
import textwrap

import pytest

from mc_network import (
    BackendUnavailable,
    available_backends,
    backend_options,
    build_network,
    register_backend,
    yinyang_spec,
)


def test_unknown_backend_lists_registered_ones():
    with pytest.raises(ValueError, match=r"unknown backend 'jax'; registered backends: \["):
        build_network(yinyang_spec("fa"), seeds=1, backend="jax")


@pytest.mark.skipif(importlib.util.find_spec("pygenn") is not None, reason="pygenn is installed")
def test_genn_without_pygenn_says_how_to_install():
    assert "pygenn" in available_backends()["genn"]
    with pytest.raises(BackendUnavailable, match="pygenn.*not installed.*build pygenn 5"):
        build_network(yinyang_spec("fa"), seeds=1, backend="genn")


def test_backend_options_come_from_the_backend_signature():
    assert backend_options("reference") == {}
    genn = backend_options("genn")  # readable without pygenn
    assert genn == {
        "device": "single_threaded_cpu",
        "cache_dir": None,
        "optimize": True,
        "max_samples": 1,
        "cuda_device": None,
        "exact": True,
    }
    with pytest.raises(ValueError, match="unknown backend 'jax'"):
        backend_options("jax")


def test_unknown_options_are_named_with_the_valid_ones():
    spec = yinyang_spec("fa")
    with pytest.raises(ValueError, match=r"'reference' has no option\(s\) \['device'\]; valid"):
        build_network(spec, seeds=1, backend="reference", device="cuda")
    # checked before availability: a typo is reported even where pygenn is missing
    with pytest.raises(ValueError, match=r"no option\(s\) \['devcie'\]; valid options: \['cache"):
        build_network(spec, seeds=1, backend="genn", devcie="cuda")


def test_a_backend_taking_any_keyword_is_not_checked():
    register_backend("any_options", "tests_any_options:AnyOptions")
    try:
        import sys
        import types

        from mc_network.backends.reference import ReferenceSimulation

        class AnyOptions(ReferenceSimulation):
            def __init__(self, spec, seeds, weights=None, **options):
                super().__init__(spec, seeds, weights)
                self.options = options

        sys.modules["tests_any_options"] = types.SimpleNamespace(AnyOptions=AnyOptions)
        assert backend_options("any_options") is None
        net = build_network(yinyang_spec("fa"), seeds=1, backend="any_options", colour="blue")
        assert net.options == {"colour": "blue"}
    finally:
        from mc_network.backends import _REGISTRY

        _REGISTRY.pop("any_options", None)
        sys.modules.pop("tests_any_options", None)


def test_without_numba_the_compiled_backend_is_a_clear_error():
    """Where numba is missing, ``compiled`` is unavailable (not an ImportError), the default
    falls back to the reference backend and the options are still known."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["numba"] = None  # as if numba were not installed
        from mc_network import BackendUnavailable, build_network, yinyang_spec
        from mc_network.backends import available_backends, backend_options, default_backend
        assert "numba" in available_backends()["compiled"], available_backends()
        assert default_backend() == "reference"
        assert backend_options("compiled") is not None
        try:
            build_network(yinyang_spec("fa"), backend="compiled")
        except BackendUnavailable as err:
            assert "pip install 'mc-network[compiled]'" in str(err), err
        else:
            raise AssertionError("built a compiled network without numba")
        assert build_network(yinyang_spec("fa")).backend_name == "reference"
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
