"""The README's Python examples run as written; the repository carries the declared licence."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(_python_blocks(ROOT / "README.md"))))
def test_readme_python_example_runs(index, monkeypatch, capsys, tmp_path):
    import tempfile

    monkeypatch.chdir(ROOT)  # the examples name files relative to the repository
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the system's, as seen by them
    block = _python_blocks(ROOT / "README.md")[index]
    exec(compile(block, f"README.md python block {index + 1}", "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip()  # each example prints what it made
    assert not list(tmp_path.iterdir()), "the example left files in the temporary folder"


def test_readme_example_shapes(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(_python_blocks(ROOT / "README.md")[0], "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "(3, 50, 3)"


def test_licence_file_matches_the_packages():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the mc contributors" in text
    for pyproject in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        assert tomllib.loads(pyproject.read_text())["project"]["license"] == "MIT", pyproject
