"""Your own data: a CSV table, an ``.npz`` of arrays, a folder of class-named image folders,
NumPy arrays, and scikit-learn's bundled iris, wine and breast-cancer sets.

Each becomes a :class:`~steepest.data.datasets.Dataset` with a stratified train/test split
(``test_fraction``, seeded), so the same validation split, preprocessing and tools apply:

- **CSV**: a header row, numeric feature columns, and a ``target`` column (the last column when
  none is named) holding class labels, numbers or names; classes are the sorted distinct labels.
  A missing value or a non-numeric feature is refused naming its column and row.
- **npz**: arrays ``X`` (n, ...) and ``y`` (n,) of integer labels, read without pickle.
- **image folder**: one subfolder per class (its name is the class), images of one size read
  with Pillow, grayscale when they all are, else RGB, scaled to [0, 1].
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .._bounded import short_repr
from ..errors import DataError, InputError

BUNDLED = {"iris": "load_iris", "wine": "load_wine", "breast-cancer": "load_breast_cancer"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
MAX_CSV_ROWS = 5_000_000


def looks_like_path(name: str) -> bool:
    """Whether a dataset name is a path to one's own data rather than a known name."""
    return (os.sep in name or "/" in name or name.endswith((".csv", ".npz"))
            or Path(name).expanduser().exists())


def labels_to_classes(raw: list | np.ndarray, what: str) -> tuple[np.ndarray, list[str]]:
    """Integer labels and class names from labels given as integers or as names.

    Integer labels ``0..k-1`` keep their values; names (or numbers that are not all integers
    from 0) become the indices of the sorted distinct values, refused when they are
    non-integer numbers (a classification needs classes).
    """
    values = np.asarray(raw)
    if values.dtype.kind in "iu" or (values.dtype.kind == "f" and np.all(np.isfinite(values))
                                     and np.all(values == np.round(values))):
        ints = values.astype(np.int64)
        if ints.size and ints.min() >= 0:
            k = int(ints.max()) + 1
            return ints, [str(c) for c in range(k)]
        distinct = np.unique(ints)
        return np.searchsorted(distinct, ints), [str(c) for c in distinct]
    if values.dtype.kind == "f":
        bad = values[~(np.isfinite(values) & (values == np.round(values)))][0]
        raise DataError(f"{what}: labels must be classes (integers or names), found {bad!r}")
    names = np.asarray([str(v) for v in values])
    distinct = np.unique(names)
    return np.searchsorted(distinct, names), list(distinct)


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a UTF-8 text file") from None
    except (OSError, csv.Error) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    rows = [r for r in rows if r and any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise DataError(f"{path}: a CSV dataset needs a header row and at least one data row")
    if len(rows) > MAX_CSV_ROWS:
        raise DataError(f"{path}: more than {MAX_CSV_ROWS:,} rows")
    return [h.strip() for h in rows[0]], rows[1:]


def load_table(path: str | os.PathLike, target: str | None = None):
    """``(X, y, classes)`` from a CSV file (see the module docstring)."""
    path = Path(path).expanduser()
    header, rows = _csv_rows(path)
    target = target if target is not None else header[-1]
    if target not in header:
        raise DataError(f"{path}: no column named {short_repr(target)} for the target; columns: "
                        f"{', '.join(header[:20])}")
    t = header.index(target)
    features = [k for k in range(len(header)) if k != t]
    X = np.empty((len(rows), len(features)), dtype=np.float64)
    labels = []
    for i, row in enumerate(rows, start=2):  # row 1 is the header
        if len(row) != len(header):
            raise DataError(f"{path}: row {i} has {len(row)} values, the header {len(header)}")
        labels.append(row[t].strip())
        if labels[-1] == "":
            raise DataError(f"{path}: missing value in column {target!r} at row {i}")
        for j, k in enumerate(features):
            X[i - 2, j] = _number(row[k], path, header[k], i)
    y, classes = labels_to_classes(_maybe_numbers(labels), f"{path}, column {target!r}")
    return X, y, classes


def _number(cell: str, path: Path, column: str, row: int) -> float:
    text = cell.strip()
    if text == "" or text.lower() in ("na", "nan", "null", "none", "?"):
        raise DataError(f"{path}: missing value in column {column!r} at row {row}")
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}: column {column!r} is not numeric (row {row} holds "
                        f"{short_repr(text)}); give it as numbers or make it the --target") \
            from None
    if not np.isfinite(value):
        raise DataError(f"{path}: column {column!r} holds {text!r} at row {row}; values must be "
                        f"finite")
    return value


def _maybe_numbers(labels: list[str]):
    try:
        return np.asarray([float(v) for v in labels])
    except ValueError:
        return labels


def load_arrays(path: str | os.PathLike):
    """``(X, y, classes, image_shape)`` from an ``.npz`` holding ``X`` and ``y``."""
    from .._io import load_npz

    path = Path(path).expanduser()
    z = load_npz(path)
    missing = [k for k in ("X", "y") if k not in z]
    if missing:
        raise DataError(f"{path}: needs arrays X and y; missing {', '.join(missing)} (found "
                        f"{', '.join(sorted(z)) or 'none'})")
    X, raw = np.asarray(z["X"]), np.asarray(z["y"])
    if X.ndim < 2 or X.shape[0] != raw.shape[0] or raw.ndim != 1:
        raise DataError(f"{path}: X must be (n, features...) and y (n,), got {X.shape} and "
                        f"{raw.shape}")
    if X.dtype.kind not in "iuf":
        raise DataError(f"{path}: X must hold real numbers, got {X.dtype}")
    y, classes = labels_to_classes(raw, f"{path}, y")
    image_shape = X.shape[1:] if X.ndim > 2 else None
    return X.reshape(X.shape[0], -1).astype(np.float32), y, classes, image_shape


def load_image_folder(path: str | os.PathLike):
    """``(X, y, classes, image_shape)`` from class-named subfolders of images."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path).expanduser()
    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [(c, f) for c in classes for f in sorted((path / c).iterdir())
             if f.suffix.lower() in IMAGE_SUFFIXES]
    if len(classes) < 2 or not files:
        raise DataError(f"{path}: an image dataset needs at least two class subfolders holding "
                        f"images ({', '.join(IMAGE_SUFFIXES)})")
    images, y, size = [], [], None
    for label, file in files:
        try:
            with Image.open(file) as im:
                im.load()
                images.append(im.copy())
        except (OSError, UnidentifiedImageError) as e:
            raise DataError(f"{file}: not a readable image ({e})") from None
        if size is None:
            size = images[-1].size
        elif images[-1].size != size:
            raise DataError(f"{file} is {images[-1].size[0]}x{images[-1].size[1]} but the first "
                            f"image is {size[0]}x{size[1]}; images must share one size")
        y.append(classes.index(label))
    mode = "L" if all(im.mode in ("L", "1", "I;16") for im in images) else "RGB"
    arrays = [np.asarray(im.convert(mode), dtype=np.float32) / 255.0 for im in images]
    X = np.stack(arrays)
    return X.reshape(len(X), -1), np.asarray(y, dtype=np.int64), classes, X.shape[1:]


def load_bundled(name: str):
    """``(X, y, classes)`` of scikit-learn's bundled iris, wine or breast-cancer set."""
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, BUNDLED[name])()
    return (np.asarray(bunch.data, dtype=np.float32), np.asarray(bunch.target, np.int64),
            [str(c) for c in bunch.target_names])


def load_path(path: str, target: str | None = None):
    """``(X, y, classes, image_shape, kind)`` of a CSV, an npz or an image folder."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"no dataset {short_repr(path)}: neither a known name nor an existing "
                         f"file or folder")
    if p.is_dir():
        return (*load_image_folder(p), "image folder")
    if p.suffix.lower() == ".npz":
        if target is not None:
            raise InputError("--target names a CSV column; an .npz dataset holds X and y")
        return (*load_arrays(p), "npz")
    if p.suffix.lower() in (".csv", ".txt", ".tsv"):
        return (*load_table(p, target), None, "csv")
    raise InputError(f"{p}: a dataset file must be a .csv or an .npz, or a folder of class "
                     f"folders of images")


def from_arrays(X, y, classes=None, *, name: str = "arrays", image_shape=None,
                test_fraction: float = 0.2, seed: int = 0):
    """A :class:`~steepest.data.datasets.Dataset` from NumPy arrays: rows of ``X`` (any shape
    after the first axis; flattened) and labels ``y`` (integers or names), split into train
    and test with a stratified, seeded split of ``test_fraction``."""
    from .datasets import split_own

    X = np.asarray(X)
    if X.ndim < 2:
        raise InputError(f"X must have one row per example (at least 2-D), got shape {X.shape}")
    if X.dtype.kind not in "iuf":
        raise InputError(f"X must hold real numbers, got dtype {X.dtype}")
    codes, found = labels_to_classes(y, "y")
    if len(codes) != X.shape[0]:
        raise InputError(f"y has {len(codes)} labels for {X.shape[0]} rows of X")
    shape = image_shape if image_shape is not None else (X.shape[1:] if X.ndim > 2 else None)
    return split_own(name, X.reshape(X.shape[0], -1).astype(np.float32), codes,
                     list(classes) if classes is not None else found, shape,
                     {"kind": "arrays"}, seed, test_fraction)
