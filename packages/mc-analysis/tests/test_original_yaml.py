"""The safe reader of the original's YAML: real run configs load, other python tags are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from mc_analysis.original import load_original_config
from mc_analysis.original_yaml import OriginalYAMLError, is_original_config, load_original_yaml

RUNS = Path(__file__).parent / "data" / "original_runs"


@pytest.mark.parametrize(
    ("run", "n_per_class"), [("yinyang_fa", (10, 2, 2)), ("yinyang_pal", (5, 2, 2))]
)
def test_real_original_run_config_loads(run, n_per_class):
    path = RUNS / run / "config.yaml"
    text = path.read_text()
    assert "!!python/object/apply:numpy.core.multiarray._reconstruct" in text  # as written
    meta, net = load_original_config(path)
    assert net["dims"] == [4, 30, 3] and meta["dataset_key"] == "yinyang"
    sizes = dict(zip(("training", "validation", "testing"), n_per_class, strict=True))
    for stage, n in sizes.items():
        x, sup = meta["input_rates"][stage], meta["output_rates"][stage]
        assert x.dtype == np.float64 and x.shape == (4, 3 * n)
        # the Yin-Yang encoding (x, y, 1 - x, 1 - y): the bytes were decoded, not guessed
        np.testing.assert_allclose(x[2:], 1.0 - x[:2], rtol=0, atol=1e-15)
        assert np.all((x >= 0) & (x <= 1))
        assert sup.shape == (3, 3 * n)
        assert set(np.unique(sup)) <= {0.1, 1.0} and np.all((sup == 1.0).sum(axis=0) == 1)
    assert is_original_config([meta, net])


def _array_yaml(
    dtype="f8",
    byteorder="<",
    data="AAAAAAAA8D8AAAAAAAAAQA==",
    shape=(2,),
    fortran="false",
    name="numpy.ndarray",
    func="numpy.core.multiarray._reconstruct",
):
    dims = "\n".join(f"      - {n}" for n in shape)
    return f"""\
a: !!python/object/apply:{func}
  args:
  - !!python/name:{name} ''
  - !!python/tuple
    - 0
  - !!binary |
    Yg==
  state: !!python/tuple
  - 1
  - !!python/tuple
{dims}
  - !!python/object/apply:numpy.dtype
    args:
    - {dtype}
    - false
    - true
    state: !!python/tuple
    - 3
    - '{byteorder}'
    - null
    - null
    - null
    - -1
    - -1
    - 0
  - {fortran}
  - !!binary |
    {data}
"""


def _load(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return load_original_yaml(p)


def test_numpy_1_array_tags_are_rebuilt(tmp_path):
    a = _load(tmp_path, _array_yaml())["a"]  # [1.0, 2.0] little-endian float64
    np.testing.assert_array_equal(a, [1.0, 2.0])
    assert a.flags.writeable and a.dtype == np.float64
    big = _load(tmp_path, _array_yaml("i4", ">", "AAAAAQAAAAIAAAADAAAABA==", (2, 2)))["a"]
    np.testing.assert_array_equal(big, [[1, 2], [3, 4]])
    f = _load(tmp_path, _array_yaml("i4", ">", "AAAAAQAAAAIAAAADAAAABA==", (2, 2), "true"))["a"]
    np.testing.assert_array_equal(f, [[1, 3], [2, 4]])  # Fortran order


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6.0).reshape(2, 3),
        np.array([True, False]),
        np.arange(4, dtype=">u2"),
        np.array([1 + 2j]),
        np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
        np.zeros((0, 3), np.float32),
    ],  # fmt: skip
)
def test_what_yaml_dump_writes_round_trips(tmp_path, array):
    # PyYAML's default Dumper pickles arrays this way (NumPy 2 spells the function
    # numpy._core.multiarray._reconstruct; both spellings are read)
    got = _load(tmp_path, yaml.dump({"a": array, "t": (1, "x")}))
    assert got["t"] == (1, "x")
    np.testing.assert_array_equal(got["a"], array)
    assert got["a"].dtype == array.dtype and got["a"].shape == array.shape


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('a: !!python/object/apply:os.system ["echo pwned"]\n', "object/apply:os.system"),
        ("a: !!python/name:os.system ''\n", "python/name:os.system"),
        ("a: !!python/object/new:collections.OrderedDict []\n", "object/new:collections"),
        ("a: !!python/module:os ''\n", "python/module:os"),
        ("a: !!python/object:argparse.Namespace {}\n", "python/object:argparse"),
        (_array_yaml(name="numpy.matrix"), "python/name:numpy.matrix"),
        (_array_yaml(func="numpy.core.multiarray.scalar"), "multiarray.scalar"),
        (_array_yaml(dtype="O"), "'O' .* refused; only numeric"),
        (_array_yaml(dtype="V8"), "'V8' .* refused; only numeric"),
        (_array_yaml(data="AAAAAAAA8D8="), "8 bytes of data for shape \\(2,\\)"),
        (_array_yaml(dtype="nonsense"), "not a NumPy type string"),
    ],
)
def test_other_python_tags_are_refused(tmp_path, text, match):
    with pytest.raises(OriginalYAMLError, match=rf"c\.yaml: line \d+: .*{match}"):
        _load(tmp_path, text)


def test_refused_tags_are_not_executed(tmp_path):
    flag = tmp_path / "pwned"
    with pytest.raises(OriginalYAMLError):
        _load(tmp_path, f'a: !!python/object/apply:os.system ["touch {flag}"]\n')
    assert not flag.exists()


def test_invalid_and_missing_files(tmp_path):
    with pytest.raises(OriginalYAMLError, match=r"c\.yaml: not valid YAML"):
        _load(tmp_path, "a: [1, 2\n")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_original_yaml(tmp_path / "none.yaml")


def test_is_original_config():
    assert is_original_config([{"dims": [4, 30, 3], "eta": {}}, {"sim_config": {}}])
    assert is_original_config(({"dataset_key": "x"}, {"dims": [1], "eta": {}}))
    assert not is_original_config({"dims": [4, 30, 3]})
    assert not is_original_config([{"dims": 1}, {"eta": 1}])  # neither sim_config nor dataset
    assert not is_original_config([{"dims": 1, "eta": 1, "sim_config": 1}, 3])
