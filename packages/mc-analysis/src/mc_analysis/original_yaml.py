"""The one safe reader of the original code's YAML files (configs and run ``config.yaml``).

The original (unibe-cns/pal_microcircuits_genn) writes a run's ``config.yaml`` with
``yaml.dump([meta, net])``, which stores the data sets as pickled NumPy arrays in python tags,
and reads it back with the unsafe ``yaml.Loader``. Here an array is rebuilt from the plain data
in its tags, never by importing or calling what the file names. Exactly these tags are read::

    !!python/object/apply:numpy.core.multiarray._reconstruct   an ndarray (ndarray.__reduce__):
        args:  [!!python/name:numpy.ndarray '', !!python/tuple [0], !!binary 'b']
        state: !!python/tuple [1, <shape tuple>, <dtype>, <is_fortran>, !!binary <data>]
    !!python/object/apply:numpy.dtype                           its dtype (numeric kinds only):
        args:  ['f8', false, true]
        state: !!python/tuple [3, '<', null, null, null, -1, -1, 0]
    !!python/name:numpy.ndarray                                 only as the first argument above
    !!binary                                                    the raw bytes (standard YAML)

(``numpy._core.multiarray._reconstruct``, NumPy 2's name of the same function, is read too),
plus the plain-data tags ``!!python/tuple``, ``str``, ``unicode``, ``int``, ``long``,
``float``, ``bool`` and ``none``. Any other python tag (another object, function, module or
name) is refused with :class:`OriginalYAMLError` naming the file, the line and the tag.

Both ``mc-analysis`` (reading original runs) and ``mc-experiments`` (importing original
configs) read the original's YAML through :func:`load_original_yaml`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = [
    "OriginalYAMLError",
    "is_original_config",
    "load_original_yaml",
]

_PY = "tag:yaml.org,2002:python/"
# The original's numpy 1 spelling, and numpy 2's (the same function), e.g. in a re-saved config.
_RECONSTRUCT = "numpy.core.multiarray._reconstruct"
_RECONSTRUCT_NP2 = "numpy._core.multiarray._reconstruct"
_DTYPE = "numpy.dtype"
_NDARRAY = "numpy.ndarray"
_NUMERIC_KINDS = "biufc"  # bool, int, uint, float, complex: plain bytes, nothing to execute


class OriginalYAMLError(ValueError):
    """An original YAML file cannot be read safely; the message names the file and line."""


class _NdarrayName:
    """Marker for ``!!python/name:numpy.ndarray`` (never resolved to the real class)."""

    def __repr__(self) -> str:
        return "<numpy.ndarray>"


_NDARRAY_MARK = _NdarrayName()


def _where(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _refuse(node: yaml.Node, why: str) -> OriginalYAMLError:
    return OriginalYAMLError(f"{_where(node)}: {why}")


def _apply_parts(
    loader: yaml.SafeLoader, node: yaml.Node, what: str
) -> tuple[tuple[Any, ...], Any]:
    """``args`` and ``state`` of an ``object/apply`` node (its other keys are refused)."""
    if isinstance(node, yaml.SequenceNode):
        return tuple(loader.construct_sequence(node, deep=True)), None
    if not isinstance(node, yaml.MappingNode):
        raise _refuse(node, f"{what}: expected a mapping with 'args' and 'state'")
    parts = loader.construct_mapping(node, deep=True)
    unknown = sorted(set(parts) - {"args", "state"})
    if unknown:
        raise _refuse(node, f"{what}: unexpected key(s) {unknown} (only args and state are read)")
    args = parts.get("args", ())
    if not isinstance(args, list | tuple):
        raise _refuse(node, f"{what}: args must be a list, got {args!r}")
    return tuple(args), parts.get("state")


def _dtype(loader: yaml.SafeLoader, node: yaml.Node) -> np.dtype:
    """A numeric dtype from ``numpy.dtype`` args (type string) and state (byte order)."""
    args, state = _apply_parts(loader, node, _DTYPE)
    if not args or not isinstance(args[0], str):
        raise _refuse(node, f"{_DTYPE}: expected a type string as the first argument, got {args}")
    try:
        dtype = np.dtype(args[0])
    except TypeError:
        raise _refuse(node, f"{_DTYPE}: {args[0]!r} is not a NumPy type string") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.names is not None or dtype.subdtype is not None:
        raise _refuse(
            node,
            f"{_DTYPE}: {args[0]!r} (kind {dtype.kind!r}) refused; only numeric arrays "
            "(bool, integer, float, complex) are read",
        )
    if state is not None:
        if not (isinstance(state, tuple) and len(state) >= 2 and state[1] in "<>|="):
            raise _refuse(node, f"{_DTYPE}: unexpected state {state!r}")
        if len(state) > 4 and (state[2] is not None or state[3] is not None):
            raise _refuse(node, f"{_DTYPE}: structured dtypes are refused")
        if state[1] in "<>":
            dtype = dtype.newbyteorder(state[1])
    return dtype


def _is_shape(shape: Any) -> bool:
    return isinstance(shape, tuple) and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    )


def _ndarray(loader: yaml.SafeLoader, node: yaml.Node) -> np.ndarray:
    """An array from ``_reconstruct``'s state: shape, dtype, order and raw bytes."""
    args, state = _apply_parts(loader, node, _RECONSTRUCT)
    if not args or args[0] is not _NDARRAY_MARK:
        raise _refuse(node, f"{_RECONSTRUCT}: only numpy.ndarray is rebuilt, got {args[:1]}")
    if not (isinstance(state, tuple) and len(state) == 5):
        raise _refuse(node, f"{_RECONSTRUCT}: expected the state (1, shape, dtype, fortran, data)")
    version, shape, dtype, fortran, data = state
    if version != 1 or not _is_shape(shape) or not isinstance(dtype, np.dtype):
        raise _refuse(node, f"{_RECONSTRUCT}: unexpected state header {state[:3]!r}")
    if not isinstance(fortran, bool) or not isinstance(data, bytes):
        raise _refuse(node, f"{_RECONSTRUCT}: the data must be !!binary bytes")
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) != count * dtype.itemsize:
        raise _refuse(
            node,
            f"{_RECONSTRUCT}: {len(data)} bytes of data for shape {shape} of {dtype} "
            f"({count * dtype.itemsize} expected)",
        )
    flat = np.frombuffer(data, dtype=dtype, count=count)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def _construct_apply(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if suffix in (_RECONSTRUCT, _RECONSTRUCT_NP2):
        return _ndarray(loader, node)
    if suffix == _DTYPE:
        return _dtype(loader, node)
    raise _refuse(node, f"refused python tag {node.tag!r} (only NumPy arrays are read)")


def _construct_name(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if suffix == _NDARRAY:
        return _NDARRAY_MARK
    raise _refuse(node, f"refused python tag {node.tag!r} (only NumPy arrays are read)")


def _construct_other(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    """Plain-data python tags; everything else is refused."""
    if isinstance(node, yaml.SequenceNode) and suffix == "tuple":
        return tuple(loader.construct_sequence(node, deep=True))
    if isinstance(node, yaml.ScalarNode):
        if suffix in ("str", "unicode"):
            return loader.construct_scalar(node)
        if suffix in ("int", "long"):
            return loader.construct_yaml_int(node)
        if suffix == "float":
            return loader.construct_yaml_float(node)
        if suffix == "bool":
            return loader.construct_yaml_bool(node)
        if suffix == "none":
            return None
    raise _refuse(
        node, f"refused python tag {node.tag!r} (only NumPy arrays and plain data are read)"
    )


_CONSTRUCTORS = {
    **yaml.SafeLoader.yaml_multi_constructors,
    _PY + "object/apply:": _construct_apply,
    _PY + "name:": _construct_name,
    _PY: _construct_other,
}


class OriginalLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus the NumPy-array tags of the original (see the module doc)."""

    yaml_multi_constructors = dict(_CONSTRUCTORS)


if hasattr(yaml, "CSafeLoader"):

    class _FastOriginalLoader(yaml.CSafeLoader):  # libyaml parser, the same constructors
        yaml_multi_constructors = dict(_CONSTRUCTORS)

else:  # pragma: no cover - PyYAML built without libyaml
    _FastOriginalLoader = OriginalLoader


def load_original_yaml(path: str | Path) -> Any:
    """Read the first YAML document of an original config or run ``config.yaml``, safely.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    Any
        The document; the original's data arrays come back as :class:`numpy.ndarray`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    OriginalYAMLError
        If it is not valid YAML or holds a python tag other than the ones read here (the
        message names the file, the line and the tag).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with path.open("rb") as f:
            return next(iter(yaml.load_all(f, Loader=_FastOriginalLoader)), None)
    except OriginalYAMLError as err:
        raise OriginalYAMLError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise OriginalYAMLError(f"{path}: not valid YAML: {err}") from None


def is_original_config(data: Any) -> bool:
    """Whether loaded YAML data is an original ``[meta_params, network_params]`` config.

    True for a list of two mappings that together carry the original's ``dims``, ``eta``
    and ``sim_config`` or ``dataset_key`` (the importer checks every other key).
    """
    if not isinstance(data, list | tuple) or len(data) != 2:
        return False
    if not all(isinstance(d, Mapping) for d in data):
        return False
    keys = set(data[0]) | set(data[1])
    return {"dims", "eta"} <= keys and bool({"sim_config", "dataset_key"} & keys)
