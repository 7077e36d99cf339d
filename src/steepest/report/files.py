"""Reading the files of a result folder for a report; a damaged file is named in a DataError.

Every reader returns None for a file that is not there (what a report shows depends on what a
folder holds) and raises :class:`steepest.errors.DataError` naming the file when one is there
but cannot be read: not UTF-8, not valid JSON, YAML or CSV, or the wrong shape.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from ..errors import DataError, InputError
from .page import png_uri

MAX_TEXT = 64 << 20  # a metrics table of a very long run is a few MB
IMAGE_SUFFIXES = {".png": "image/png", ".svg": "image/svg+xml"}


def _text(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        size = path.stat().st_size
        if size > MAX_TEXT:
            raise DataError(f"cannot read {path}: it is {size:,} bytes, more than a steepest "
                            f"result file ever holds ({MAX_TEXT:,})")
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"cannot read {path}: it is damaged (not UTF-8 text)") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None


def read_json(path: Path, expect: type = dict):
    """The JSON value in ``path`` (of type ``expect``), or None when there is no such file."""
    text = _text(path)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"cannot read {path}: it is damaged (not valid JSON: {e.msg} at line "
                        f"{e.lineno}, column {e.colno})") from None
    if not isinstance(value, expect):
        raise DataError(f"cannot read {path}: it holds a JSON {type(value).__name__}, not the "
                        f"{expect.__name__} steepest writes there")
    return value


def read_yaml(path: Path) -> tuple[dict | None, str] | None:
    """``(mapping, text)`` of a YAML file, or None when there is no such file."""
    from .._bounded import parse_yaml

    text = _text(path)
    if text is None:
        return None
    try:
        value = parse_yaml(text, str(path))
    except InputError as e:
        raise DataError(f"cannot read {path}: it is damaged ({e})") from None
    if value is not None and not isinstance(value, dict):
        raise DataError(f"cannot read {path}: it holds a YAML {type(value).__name__}, not a "
                        f"mapping of settings")
    return value, text


def _value(text: str):
    """A CSV cell: a number when it reads as one (nan and inf included), else the text."""
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def read_csv(path: Path) -> tuple[list[str], list[dict]] | None:
    """``(columns, rows)`` of a CSV table with a header; numbers are floats, empty cells None."""
    text = _text(path)
    if text is None:
        return None
    try:
        lines = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise DataError(f"cannot read {path}: it is damaged (not valid CSV: {e})") from None
    lines = [line for line in lines if line]
    if not lines:
        raise DataError(f"cannot read {path}: it is empty (not even a header)")
    header = lines[0]
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if len(line) != len(header):
            raise DataError(f"cannot read {path}: it is damaged (line {number} has "
                            f"{len(line)} cells, the header has {len(header)})")
        rows.append({k: _value(v) for k, v in zip(header, line)})
    return header, rows


def read_numbers(path: Path, columns: tuple[str, ...]) -> np.ndarray | None:
    """The ``columns`` of an all-numeric CSV table (``iterations.csv``, ``sharpness.csv``) as
    a float array of shape (rows, len(columns)), parsed by NumPy (fast for long runs)."""
    text = _text(path)
    if text is None:
        return None
    header, _, body = text.partition("\n")
    names = header.strip().split(",")
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"cannot read {path}: it is damaged (no column {', '.join(missing)} "
                        f"in its header {header.strip()[:80]!r})")
    if not body.strip():
        return np.empty((0, len(columns)))
    try:
        table = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2,
                           usecols=[names.index(c) for c in columns])
    except ValueError as e:
        raise DataError(f"cannot read {path}: it is damaged "
                        f"({str(e).splitlines()[0][:120]})") from None
    return table


def numeric_column(path: Path, rows: list[dict], name: str) -> np.ndarray:
    """Column ``name`` of a CSV as floats (missing cells NaN); text there is a damaged file."""
    out = np.full(len(rows), np.nan)
    for i, row in enumerate(rows):
        v = row.get(name)
        if isinstance(v, str):
            raise DataError(f"cannot read {path}: it is damaged (column {name!r} holds "
                            f"{v[:40]!r}, not a number, on line {i + 2})")
        if v is not None:
            out[i] = v
    return out


def read_npz(path: Path) -> dict | None:
    from .._io import load_npz

    return load_npz(path) if path.is_file() else None


def image_uri(path: Path) -> str | None:
    """A PNG or SVG file as a data: URI, or None when it is not there."""
    mime = IMAGE_SUFFIXES.get(path.suffix.lower())
    if mime is None or not path.is_file():
        return None
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if mime == "image/png" and not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise DataError(f"cannot read {path}: it is damaged (not a PNG image)")
    if mime == "image/svg+xml" and b"<svg" not in data[:4096]:
        raise DataError(f"cannot read {path}: it is damaged (not an SVG image)")
    return png_uri(data, mime)


def find_image(folder: Path, stem: str) -> str | None:
    """``folder/stem.png`` (else ``.svg``) as a data: URI, or None."""
    for suffix in IMAGE_SUFFIXES:
        uri = image_uri(folder / f"{stem}{suffix}")
        if uri is not None:
            return uri
    return None


def finite(value) -> float | None:
    """``value`` as a finite float, else None."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
