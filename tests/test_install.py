"""`pip install mc-network` alone: only NumPy and mc-models come with it, no pygenn needed."""

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mc_network_installs_with_numpy_only(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    res = subprocess.run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "-q",
            str(ROOT / "packages" / "mc-models"),
            str(ROOT / "packages" / "mc-network"),
        ],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0 and "Could not find a version" in res.stderr:
        pytest.skip(f"no package index reachable: {res.stderr[-300:]}")
    assert res.returncode == 0, res.stderr
    listed = subprocess.run(
        [str(py), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {p["name"].lower() for p in json.loads(listed)} - {"pip", "setuptools", "wheel"}
    assert names == {"numpy", "mc-models", "mc-network"}
    code = (
        "import sys; import mc_network; from mc_network import build_network, yinyang_spec;"
        "net = build_network(yinyang_spec('fa'), seeds=1);"
        "assert net.backend_name == 'reference', net.backend_name;"
        "assert 'pygenn' not in sys.modules and 'numba' not in sys.modules;"
        "print(mc_network.available_backends())"
    )
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "'genn': \"the Python package 'pygenn' is not installed" in out.stdout
    assert sys.version_info >= (3, 11)
