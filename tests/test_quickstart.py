"""The README's main job: a quick Yin-Yang PAL run on the default backend learns the task."""

import json
from pathlib import Path

import pytest

from mc_experiments.cli import main
from mc_network import default_backend

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quickstart_reaches_70_percent(tmp_path, capsys):
    if default_backend() != "compiled":
        pytest.skip("the quick start is sized for the compiled backend (numba not installed)")
    assert (
        main(
            ["train", str(ROOT / "configs" / "quickstart.yaml"), "--out", str(tmp_path), "--quiet"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "test accuracy:" in out and "run directory:" in out
    (run,) = tmp_path.iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 70.0
    assert metrics["validation_accuracy"][-1] > metrics["validation_accuracy"][0]
    # PAL aligns the feedback with the transposed forward weights
    assert metrics["angles"]["fb_1"][-1] < metrics["angles"]["fb_1"][0] - 10
    env = json.loads((run / "environment.json").read_text())
    assert env["backend"]["name"] == "compiled"
