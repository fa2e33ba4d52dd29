"""The committed sweep files: every profile loads and validates, and says what it runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mc_experiments.sweep import load_sweep

ROOT = Path(__file__).resolve().parent.parent
SWEEPS = sorted((ROOT / "configs" / "sweeps").glob("*.yaml"))


def _profiles(path: Path) -> list[str]:
    return list(yaml.safe_load(path.read_text()).get("profiles", {}))


@pytest.mark.parametrize(
    ("path", "profile"),
    [(p, prof) for p in SWEEPS for prof in [None, *_profiles(p)]],
    ids=lambda v: v.stem if isinstance(v, Path) else str(v),
)
def test_every_profile_of_every_sweep_validates(path, profile):
    sweep = load_sweep(path, profile=profile)
    assert sweep.members, f"{path.name} profile {profile}: no members"
    seeds = {m.config.seed for m in sweep.members}
    assert len(sweep.members) == len(seeds) * len({m.variant for m in sweep.members})


def test_mnist_profiles_choose_their_backend_and_input_mode():
    path = ROOT / "configs" / "sweeps" / "paper_mnist.yaml"
    paper = load_sweep(path, profile="paper").members[0].config
    assert (paper.backend.name, paper.network.input_mode) == ("genn", "exact")
    fast = load_sweep(path, profile="paper_cpu").members
    assert len(fast) == 20
    for m in fast:
        cfg = m.config
        assert (cfg.backend.name, cfg.network.input_mode) == ("compiled", "fast")
        # the paper's protocol otherwise: the full splits, 100 epochs
        assert (cfg.dataset.n_train, cfg.dataset.n_valid, cfg.protocol.n_epochs) == (
            paper.dataset.n_train,
            paper.dataset.n_valid,
            paper.protocol.n_epochs,
        )
    assert {m.config.network.feedback for m in fast} == {"pal", "fa"}
    # the quick profile: the same network and variants on a tenth of the epochs and 2 % of
    # the training images
    quick = load_sweep(path, profile="quick").members
    assert {m.config.network.feedback for m in quick} == {"pal", "fa"}
    for m in quick:
        cfg = m.config
        assert cfg.protocol.n_epochs * 10 == paper.protocol.n_epochs
        assert cfg.dataset.n_train * 50 == paper.dataset.n_train
