from pathlib import Path

import pytest
import yaml

TINY = {
    "name": "tiny",
    "seed": 3,
    "network": {"preset": "yinyang", "feedback": "pal"},
    "dataset": {"name": "yinyang", "n_train": 3, "n_valid": 2, "n_test": 2, "seed": 42},
    "protocol": {"n_epochs": 2},
    "recording": {
        "validation": ["output.v_brev", "teacher.rate", "output.v_target"],
        "training": ["output.v_target"],
    },
    "backend": {"name": "reference"},
}


@pytest.fixture
def tiny_dict():
    import copy

    return copy.deepcopy(TINY)


@pytest.fixture
def write_yaml(tmp_path):
    def write(data, name="config.yaml") -> Path:
        p = tmp_path / name
        p.write_text(yaml.safe_dump(data, sort_keys=False))
        return p

    return write


@pytest.fixture
def stop_after_checkpoint(monkeypatch):
    """``stop(epoch)``: the next run raises Ctrl-C right after its checkpoint of ``epoch``.

    ``monkeypatch.undo()`` (or the end of the test) lets runs go on again.
    """
    from mc_experiments import protocol

    def stop(epoch):
        real = protocol.Experiment.checkpoint

        def checkpoint(self, e):
            real(self, e)
            if e == epoch:
                raise KeyboardInterrupt

        monkeypatch.setattr(protocol.Experiment, "checkpoint", checkpoint)

    return stop
