"""The CUDA smoke check as a test (marked ``gpu``; skipped without pygenn's CUDA backend)."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("pygenn", reason="pygenn 5 is not installed (see the README)")

pytestmark = [pytest.mark.gpu, pytest.mark.genn]


@pytest.mark.parametrize("input_mode", ["exact", "fast"])
def test_cuda_smoke(input_mode):
    from mc_network import BackendUnavailable
    from mc_network.backends._genn_build import check_device

    try:
        check_device("cuda")
    except BackendUnavailable as err:
        pytest.skip(str(err))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import cuda_smoke
    finally:
        sys.path.pop(0)

    res = cuda_smoke.run(batch=4, samples=12, input_mode=input_mode)
    assert res["network_steps_per_s"] > 0
