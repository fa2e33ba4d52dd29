"""The CUDA smoke check as a test (marked ``gpu``; skipped without pygenn's CUDA backend)."""

import sys
from pathlib import Path

import pytest

pygenn = pytest.importorskip("pygenn", reason="pygenn 5 is not installed")

pytestmark = pytest.mark.gpu


def test_cuda_smoke():
    from pygenn.genn_model import backend_modules

    if "cuda" not in backend_modules:
        pytest.skip("pygenn was built without the CUDA backend (no GPU here)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import cuda_smoke

    res = cuda_smoke.run(batch=4, samples=10)
    assert res["network_steps_per_s"] > 0
