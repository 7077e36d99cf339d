"""Bounds on what steepest parses and prints, so that a hostile file fails fast.

A 430-byte YAML "billion laughs" (anchors referring to anchors) loads as a small graph of
shared lists, but anything that walks it as a tree (validation, ``repr`` in an error message,
``np.asarray``) touches 10^9 elements. :func:`check_size` measures the size of the tree a
value stands for without walking it (a memoized count over distinct objects) and refuses it
beyond a bound; :func:`load_yaml` parses text with bounded size, nesting and aliases;
:func:`short_repr` prints any value in bounded space and time.
"""

from __future__ import annotations

import reprlib
from pathlib import Path

import yaml

from .errors import InputError

MAX_BYTES = 1 << 20  # a config or search space is a few hundred bytes
MAX_DEPTH = 32
MAX_ELEMENTS = 100_000
MAX_ALIASES = 1_000

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxdict, _repr.maxtuple = 3, 6, 6, 6
_repr.maxstring, _repr.maxother, _repr.maxlong = 60, 60, 40


def short_repr(value) -> str:
    """``repr(value)`` in bounded space and time (nested and long values are cut with ...)."""
    return _repr.repr(value)


def check_size(value, what: str, max_elements: int = MAX_ELEMENTS,
               max_depth: int = MAX_DEPTH) -> None:
    """Raise unless ``value``, read as a tree of lists, tuples and dicts, has at most
    ``max_elements`` nodes and ``max_depth`` levels (shared references count once per use)."""
    sizes: dict[int, int] = {}

    def size(node, depth: int) -> int:
        if not isinstance(node, list | tuple | dict):
            return 1
        if depth > max_depth:
            raise InputError(f"{what} is nested more than {max_depth} levels deep")
        key = id(node)
        if key in sizes:
            return sizes[key]
        children = node.items() if isinstance(node, dict) else enumerate(node)
        total = 1
        for k, v in children:
            total += size(k, depth + 1) + size(v, depth + 1)
            if total > max_elements:
                raise InputError(f"{what} holds more than {max_elements:,} values (anchors or "
                                 f"references that expand it are counted at every use)")
        sizes[key] = total
        return total

    size(value, 0)


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a bound on nesting and on the number of aliases."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise InputError(f"more than {MAX_ALIASES} YAML aliases")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise InputError(f"YAML nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def parse_yaml(text: str, what: str):
    """Parse YAML ``text`` with the bounds of this module; errors name ``what``."""
    if len(text) > MAX_BYTES:
        raise InputError(f"{what} is {len(text):,} characters; at most {MAX_BYTES:,} are read")
    try:
        data = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except InputError as e:
        raise InputError(f"{what}: {e}") from None
    except yaml.YAMLError as e:
        raise InputError(f"{what} is not valid YAML: {short_repr(str(e))}") from None
    check_size(data, what)
    return data


def load_yaml(path: str | Path, what: str):
    """Read and parse a YAML file (UTF-8 text at most ``MAX_BYTES``) with bounds."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{what} {path} is {size:,} bytes; at most {MAX_BYTES:,} are read")
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not a text file (not UTF-8)") from None
    return parse_yaml(text, f"{what} {path}")
