"""Fixtures of the mc-analysis tests; the directory builders are in ``analysis_builders``."""

from __future__ import annotations

import pytest
from analysis_builders import make_run


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "tiny_20240101-000000"
    expected = make_run(d)
    return d, expected
