"""Bounded parsing and printing: YAML that cannot blow up, messages that stay short.

Every YAML file the toolkit reads from a user (configs, sweeps, overrides, run and sweep
records) goes through :func:`load_yaml`:

* at most ``max_bytes`` are read (a config is a few kB; the default allows 1 MiB), and only
  from a regular text file (not a directory, a device or a binary file);
* aliases may not expand the document beyond ``max_nodes`` values (a "billion laughs" alias
  tree is refused before anything walks it) and may not be recursive;
* a key given twice in one mapping is an error naming both lines (YAML would silently keep
  the last one);
* numbers in exponent notation without a dot or sign (``1e-3``, ``1e6``) are numbers, as in
  YAML 1.2 (PyYAML's YAML 1.1 reads them as strings).

Error messages format values with :func:`short_repr` and lists with :func:`short_list`, so a
huge value prints as a bounded excerpt.
"""

from __future__ import annotations

import os
import re
import reprlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_NODES",
    "MAX_YAML_BYTES",
    "check_fits",
    "check_yaml",
    "dump_yaml",
    "int_at_least",
    "load_yaml",
    "memory_bytes",
    "read_text_file",
    "short_list",
    "short_repr",
]

#: Largest YAML file read (bytes); configs and sweep files are a few kB.
MAX_YAML_BYTES = 1 << 20
#: Most values a YAML document may hold once its aliases are expanded.
MAX_NODES = 100_000

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 8
_repr.maxstring = _repr.maxother = _repr.maxlong = 80


def short_repr(value: Any, limit: int = 120) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (nested containers abbreviated).

    Never walks more of ``value`` than it prints, so an alias-bomb list formats instantly.

    >>> short_repr(list(range(100)))
    '[0, 1, 2, 3, 4, 5, 6, 7, ...]'
    """
    text = _repr.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_list(items: Iterable[Any], limit: int = 10) -> str:
    """A list for a message: the first ``limit`` items and how many more there are.

    >>> short_list([f"k{i}" for i in range(25)], limit=3)
    "['k0', 'k1', 'k2', ... (22 more)]"
    """
    items = list(items)
    head = ", ".join(short_repr(x, 60) for x in items[:limit])
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return f"[{head}{more}]"


def memory_bytes() -> int | None:
    """The physical memory of this machine in bytes (``None`` where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_fits(nbytes: int, what: str, error: Callable[[str], Exception] = ValueError) -> None:
    """Raise ``error`` naming ``what`` when reading ``nbytes`` would exceed this machine's memory.

    A file that declares more data than the machine holds is refused before anything is
    allocated (instead of a ``MemoryError`` deep inside a read, or the machine swapping).
    """
    have = memory_bytes()
    if have is not None and nbytes > have:
        raise error(
            f"{what}: reading it needs {nbytes / 2**30:.1f} GiB, more than this machine's "
            f"{have / 2**30:.1f} GiB (is its declared size right?)"
        )


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An ``argparse`` type: an integer ``>= minimum`` (a usage error otherwise).

    >>> int_at_least(1)("3")
    3
    """
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be >= {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE):  # type: ignore[misc, valid-type]
    """Safe loading with duplicate-key detection and YAML 1.2 exponent floats."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            try:
                key = self.construct_object(key_node, deep=True)
                hash(key)
            except (TypeError, yaml.YAMLError):
                continue  # unhashable keys: the base class reports them
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {short_repr(key, 60)} (line {seen[key]} and line {line}; "
                    "YAML would keep only the last one)",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_FLOAT12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT12, list("-+0123456789"))


class _Dumper(yaml.SafeDumper):
    """Safe dumping that quotes strings :func:`load_yaml` would read as numbers (``"1e5"``)."""


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT12, list("-+0123456789"))


def dump_yaml(data: Any) -> str:
    """YAML text that :func:`load_yaml` reads back as ``data`` (keys in their order)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False)


def _check_size(node: yaml.Node, max_nodes: int) -> None:
    """Refuse documents whose aliases expand beyond ``max_nodes`` values, or recurse."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        n, done = stack.pop()
        key = id(n)
        if done:
            active.discard(key)
            if isinstance(n, yaml.SequenceNode):
                kids = n.value
            elif isinstance(n, yaml.MappingNode):
                kids = [x for pair in n.value for x in pair]
            else:
                kids = []
            sizes[key] = 1 + sum(sizes[id(k)] for k in kids)
            if sizes[key] > max_nodes:
                raise ValueError(
                    f"expands to more than {max_nodes} values through its aliases "
                    "(an alias bomb?); write the values out or shrink the document"
                )
            continue
        if key in sizes:
            continue
        if key in active:
            raise ValueError("holds a recursive alias (a value that contains itself)")
        active.add(key)
        stack.append((n, True))
        if isinstance(n, yaml.SequenceNode):
            stack.extend((k, False) for k in n.value)
        elif isinstance(n, yaml.MappingNode):
            stack.extend((x, False) for pair in n.value for x in pair)


def read_text_file(
    path: str | Path,
    max_bytes: int = MAX_YAML_BYTES,
    error: Callable[[str], Exception] = ValueError,
    what: str = "file",
) -> str:
    """The text of a regular UTF-8 file of at most ``max_bytes`` bytes.

    Raises ``error(message)`` naming the file when it is missing, not a regular file, too
    large or not text.
    """
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: no such {what}")
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise error(f"{path}: is {kind}, not a {what}")
    size = path.stat().st_size
    if size > max_bytes:
        raise error(
            f"{path}: {size} bytes is too large for a {what} (at most {max_bytes} bytes are read)"
        )
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as err:
        raise error(f"{path}: cannot be read: {err.strerror or err}") from None
    if len(data) > max_bytes:
        raise error(f"{path}: grew beyond {max_bytes} bytes while being read")
    if b"\0" in data:
        raise error(f"{path}: is a binary file, not a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{path}: is not UTF-8 text (byte {err.start}); not a {what}") from None


def _describe(err: yaml.YAMLError) -> str:
    """A YAML error in one line: where (line, column) and what."""
    if not isinstance(err, yaml.MarkedYAMLError):
        return f"not valid YAML: {str(err)[:300]}"
    mark = err.problem_mark or err.context_mark
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    what = " ".join(x for x in (err.context, err.problem) if x)
    if "duplicate key" in (err.problem or ""):
        return str(err.problem)
    return f"not valid YAML{where}: {what[:300]}"


def check_yaml(
    source: str | Path,
    *,
    max_bytes: int = MAX_YAML_BYTES,
    max_nodes: int = MAX_NODES,
    error: Callable[[str], Exception] = ValueError,
    what: str = "YAML file",
) -> str:
    """Check a YAML file's bounds (size, text, alias expansion) without constructing it.

    For files another loader reads (e.g. the original code's configs with their Python
    tags): returns the text; raises ``error(message)`` naming ``source`` like
    :func:`load_yaml`.
    """
    text = read_text_file(source, max_bytes, error, what)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_size(node, max_nodes)
    except yaml.YAMLError as err:
        raise error(f"{source}: {_describe(err)}") from None
    except ValueError as err:
        raise error(f"{source}: {err}") from None
    except RecursionError:
        raise error(f"{source}: nested too deeply") from None
    finally:
        loader.dispose()
    return text


def load_yaml(
    source: str | Path,
    *,
    text: str | None = None,
    max_bytes: int = MAX_YAML_BYTES,
    max_nodes: int = MAX_NODES,
    error: Callable[[str], Exception] = ValueError,
    what: str = "YAML file",
) -> Any:
    """Parse one YAML document safely (no tags execute) within bounds.

    Parameters
    ----------
    source
        The file to read, or (with ``text``) the name used in messages.
    text
        YAML text to parse instead of reading ``source``.
    max_bytes, max_nodes
        Bounds on the text and on the document with its aliases expanded.
    error
        The exception class (or factory) raised, with a message naming ``source``.
    what
        What the file is, for messages ("config file", "sweep file", ...).

    Returns
    -------
    Any
        The document (``None`` for an empty one).
    """
    if text is None:
        text = read_text_file(source, max_bytes, error, what)
    elif len(text.encode("utf-8", "replace")) > max_bytes:
        raise error(f"{source}: more than {max_bytes} bytes of YAML")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, max_nodes)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        raise error(f"{source}: {_describe(err)}") from None
    except ValueError as err:
        raise error(f"{source}: {err}") from None
    except RecursionError:
        raise error(f"{source}: nested too deeply") from None
    finally:
        loader.dispose()
