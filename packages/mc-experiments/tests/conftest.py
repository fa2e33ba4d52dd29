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
def tiny_sweep(tmp_path, tiny_dict):
    """Write a sweep file over the tiny config into ``tmp_path``; returns its path.

    ``tiny_sweep(n_epochs=1, seeds=[4], variants={...}, max_batch=1, ...)``: the base config
    is ``tiny_dict`` (with ``n_epochs`` when given), the sweep's other keys as given.
    """

    def write(
        n_epochs: int | None = None,
        seeds: list | None = None,
        variants: dict | None = None,
        name: str = "mini",
        **keys,
    ) -> Path:
        if n_epochs is not None:
            tiny_dict["protocol"]["n_epochs"] = n_epochs
        (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny_dict))
        sweep = {
            "name": name,
            "base": "base.yaml",
            "seeds": seeds or [4, 5],
            "variants": variants or {"pal": {}, "fa": {"network.feedback": "fa"}},
            **keys,
        }
        p = tmp_path / f"{name}.yaml"
        p.write_text(yaml.safe_dump(sweep, sort_keys=False))
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
