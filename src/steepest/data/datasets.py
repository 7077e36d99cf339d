"""The :class:`Dataset` container and :func:`load_dataset` / :func:`dataset_info`.

Every loader returns rows flattened to ``float32`` features and ``int64`` labels. Image pixels
are scaled to [0, 1]: 8-bit datasets (MNIST, Fashion-MNIST, CIFAR-10) divide by 255, the
scikit-learn 8x8 digits (values 0..16) by 16. CIFAR-10 rows are flattened in (height, width,
channel) order so that ``row.reshape(image_shape)`` gives a 32 x 32 x 3 picture.

Where files come from, for ``mnist``, ``fashion-mnist`` and ``cifar10``:

1. ``data_dir`` when given (never downloads, never checksums: your files are used as they are);
2. else ``$STEEPEST_MNIST_DIR`` / ``$STEEPEST_FASHION_MNIST_DIR`` / ``$STEEPEST_CIFAR10_DIR``
   when that folder holds all the files;
3. else the cache (:func:`~steepest.data.download.get_cache_dir`), verified by checksum, and
   downloaded into it first when ``download`` is true.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import choice, labels, probability
from ..errors import ChecksumError, DataError, InputError
from ..results import Result
from ._files import md5_bytes, read_bytes
from .cifar import (
    CIFAR10_CLASSES,
    CIFAR10_DIRNAME,
    CIFAR10_IMAGE_SHAPE,
    CIFAR10_META_FILE,
    CIFAR10_TEST_FILE,
    CIFAR10_TRAIN_FILES,
    read_cifar_batch,
    read_cifar_meta,
)
from .download import (
    DEFAULT_TIMEOUT,
    SOURCES,
    RemoteFile,
    dataset_cache_dir,
    download_dataset,
    get_cache_dir,
)
from .idx import decompress_idx, parse_idx
from .split import split_indices
from .synthetic import make_blobs, make_spiral

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10", "spiral", "blobs")
_ALIASES = {
    "fashion": "fashion-mnist",
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}
_DIR_ENV = {
    "mnist": "STEEPEST_MNIST_DIR",
    "fashion-mnist": "STEEPEST_FASHION_MNIST_DIR",
    "cifar10": "STEEPEST_CIFAR10_DIR",
}

DIGIT_CLASSES = tuple(str(i) for i in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_SYNTHETIC_PARAMS = {
    "spiral": {"n_per_class": 100, "n_classes": 3, "noise": 0.2},
    "blobs": {"n_per_class": 100, "n_classes": 3, "n_features": 2, "std": 1.0, "box": 10.0},
}

# role -> file names accepted in a folder, in order of preference (the first is the one served).
_IDX_ROLES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _idx_candidates(stem: str) -> list[str]:
    dotted = stem.replace("-idx", ".idx")  # the Kaggle spelling, e.g. train-images.idx3-ubyte
    return [f"{stem}.gz", stem, f"{dotted}.gz", dotted]


# --------------------------------------------------------------------------------------------
# the container


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A classification dataset split into train and test rows.

    ``X_*`` are float32 ``(n, n_features)`` with one flattened example per row; ``y_*`` are
    int64 labels in ``[0, n_classes)``; ``classes`` names each label; ``image_shape`` is the
    shape one row reshapes to (``(28, 28)``, ``(32, 32, 3)``, ...) or None for non-image
    data; ``source`` records where the data came from (``source["kind"]`` is ``"files"``,
    ``"bundled"`` or ``"synthetic"``, plus the paths or generator parameters).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    image_shape: tuple[int, ...] | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        classes = [str(c) for c in self.classes]
        if not classes:
            raise InputError("a Dataset needs at least one class name")
        object.__setattr__(self, "classes", classes)
        for part in ("train", "test"):
            X = np.asarray(getattr(self, f"X_{part}"))
            if X.ndim != 2:
                raise InputError(f"X_{part} must be 2-D (n_samples, n_features), got {X.shape}")
            y = labels(getattr(self, f"y_{part}"), X.shape[0], len(classes), f"y_{part}")
            object.__setattr__(self, f"X_{part}", X.astype(np.float32, copy=False))
            object.__setattr__(self, f"y_{part}", y)
        if self.X_train.shape[1] != self.X_test.shape[1]:
            raise InputError(
                f"X_train has {self.X_train.shape[1]} features but X_test has "
                f"{self.X_test.shape[1]}"
            )
        if self.image_shape is not None:
            shape = tuple(int(s) for s in self.image_shape)
            if int(np.prod(shape)) != self.X_train.shape[1]:
                raise InputError(
                    f"image_shape {shape} holds {int(np.prod(shape))} values but rows have "
                    f"{self.X_train.shape[1]} features"
                )
            object.__setattr__(self, "image_shape", shape)
        object.__setattr__(self, "source", dict(self.source))

    @property
    def n_features(self) -> int:
        """Number of features per row."""
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes (``len(classes)``)."""
        return len(self.classes)

    @property
    def n_train(self) -> int:
        """Number of training rows."""
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test rows."""
        return int(self.X_test.shape[0])

    def class_counts(self, split: str = "train") -> np.ndarray:
        """Examples per class in ``split`` ("train" or "test"), as an int64 array."""
        y = self.y_train if choice(split, ("train", "test"), "split") == "train" else self.y_test
        return np.bincount(y, minlength=self.n_classes).astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={self.X_train.shape}, test={self.X_test.shape}, "
            f"n_classes={self.n_classes}, image_shape={self.image_shape}, "
            f"source={self.source.get('kind')!r})"
        )


# --------------------------------------------------------------------------------------------
# names


def canonical_name(name: str) -> str:
    """Normalise a dataset name (case, ``_`` vs ``-``, common aliases); raise if unknown."""
    if not isinstance(name, str):
        raise InputError(f"dataset name must be a string, got {name!r}")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    return choice(key, DATASETS, "dataset")


# --------------------------------------------------------------------------------------------
# IDX datasets (MNIST, Fashion-MNIST)


def _find_idx_files(folder: Path) -> tuple[dict[str, Path], list[str]]:
    found: dict[str, Path] = {}
    missing: list[str] = []
    for role, stem in _IDX_ROLES.items():
        for cand in _idx_candidates(stem):
            if (folder / cand).is_file():
                found[role] = folder / cand
                break
        else:
            missing.append(f"{stem}.gz")
    return found, missing


def _read_idx_checked(path: Path, spec: RemoteFile | None) -> np.ndarray:
    """An IDX file, checked against its published checksum before anything is decompressed
    (or, for files compressed again, against the checksum of their content, decompressed no
    further than the header announces)."""
    raw = read_bytes(path)
    if spec is not None and md5_bytes(raw) == spec.md5:
        return parse_idx(decompress_idx(raw, path), path)
    content = decompress_idx(raw, path)
    if spec is not None:
        got = md5_bytes(raw)
        ok = spec.content_md5 is not None and md5_bytes(content) == spec.content_md5
        if not ok:
            raise ChecksumError(
                f"{path}: checksum mismatch (md5 {got}); the cached file is corrupted, delete it "
                "or load with download=True to fetch it again"
            )
    return parse_idx(content, path)


def _load_idx_dataset(
    name: str, files: dict[str, Path], classes: Sequence[str], verify: bool
) -> Dataset:
    specs = {f.name: f for f in SOURCES[name].files} if verify else {}
    arrays = {role: _read_idx_checked(path, specs.get(path.name)) for role, path in files.items()}
    parts = {}
    for part in ("train", "test"):
        img_path, lab_path = files[f"{part}_images"], files[f"{part}_labels"]
        images, labs = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if 0 in images.shape or labs.size == 0:
            raise DataError(f"{img_path if 0 in images.shape else lab_path}: holds no data "
                            f"(shape {images.shape if 0 in images.shape else labs.shape}); a "
                            f"dataset file needs at least one image of at least one pixel")
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(
                f"{img_path}: expected 3-D uint8 images (n, rows, cols), got {images.dtype} "
                f"{images.shape}"
            )
        if labs.ndim != 1 or labs.dtype != np.uint8:
            raise DataError(f"{lab_path}: expected 1-D uint8 labels, got {labs.dtype} {labs.shape}")
        if images.shape[0] != labs.shape[0]:
            raise DataError(
                f"{img_path} holds {images.shape[0]} images but {lab_path} holds "
                f"{labs.shape[0]} labels; the counts must match"
            )
        if labs.size and labs.max() >= len(classes):
            raise DataError(f"{lab_path}: label {int(labs.max())} out of range [0, {len(classes)})")
        parts[part] = (_scale_u8(images), labs.astype(np.int64))
    if parts["train"][0].shape[1] != parts["test"][0].shape[1]:
        raise DataError(
            f"{files['train_images']} and {files['test_images']} have different image sizes"
        )
    image_shape = tuple(int(s) for s in arrays["train_images"].shape[1:])
    source = {"kind": "files", "dir": str(files["train_images"].parent)}
    source.update({role: str(p) for role, p in files.items()})
    source["verified"] = verify
    return Dataset(name, *parts["train"], *parts["test"], list(classes), image_shape, source)


def _scale_u8(images: np.ndarray) -> np.ndarray:
    """Flatten uint8 images to rows and scale to [0, 1] float32 (x / 255, correctly rounded)."""
    flat = images.reshape(images.shape[0], -1)
    X = np.empty(flat.shape, dtype=np.float32)
    np.divide(flat, np.float32(255.0), out=X, dtype=np.float32)
    return X


# --------------------------------------------------------------------------------------------
# CIFAR-10


def _cifar_folder(folder: Path) -> Path:
    """Accept either the ``cifar-10-batches-py`` folder itself or its parent."""
    inner = folder / CIFAR10_DIRNAME
    return inner if inner.is_dir() else folder


def _find_cifar_files(folder: Path) -> tuple[dict[str, Path], list[str]]:
    folder = _cifar_folder(folder)
    names = (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE)
    found = {n: folder / n for n in names if (folder / n).is_file()}
    missing = [n for n in names if n not in found]
    if (folder / CIFAR10_META_FILE).is_file():
        found[CIFAR10_META_FILE] = folder / CIFAR10_META_FILE
    return found, missing


def _load_cifar10(files: dict[str, Path], verify: bool) -> Dataset:
    md5s = SOURCES["cifar10"].files[0].members if verify else {}
    train = [read_cifar_batch(files[n], md5=md5s.get(n)) for n in CIFAR10_TRAIN_FILES]
    test_file = files[CIFAR10_TEST_FILE]
    test_images, y_test = read_cifar_batch(test_file, md5=md5s.get(CIFAR10_TEST_FILE))
    if CIFAR10_META_FILE in files:
        classes = read_cifar_meta(files[CIFAR10_META_FILE], md5=md5s.get(CIFAR10_META_FILE))
    else:
        classes = list(CIFAR10_CLASSES)
    X_train = _scale_u8(np.concatenate([im for im, _ in train]))
    y_train = np.concatenate([lab for _, lab in train])
    folder = files[CIFAR10_TEST_FILE].parent
    source: dict[str, Any] = {"kind": "files", "dir": str(folder)}
    source.update({n: str(p) for n, p in files.items()})
    source["verified"] = verify
    return Dataset(
        "cifar10",
        X_train,
        y_train,
        _scale_u8(test_images),
        y_test,
        classes,
        CIFAR10_IMAGE_SHAPE,
        source,
    )


# --------------------------------------------------------------------------------------------
# file-backed datasets: where to look


def _find(name: str, folder: Path) -> tuple[dict[str, Path], list[str]]:
    return _find_cifar_files(folder) if name == "cifar10" else _find_idx_files(folder)


def _cache_folder(name: str, cache_dir) -> Path:
    return dataset_cache_dir(name, cache_dir)


def _missing_message(name: str, folder: Path, missing: list[str], cache: Path, given: bool) -> str:
    where = "data_dir" if given else "the cache"
    return (
        f"{name}: {len(missing)} file(s) missing from {where} {folder}: {', '.join(missing)}. "
        f"Use download=True to fetch them into {cache}, or point data_dir (--data-dir) at a "
        "folder that holds them"
    )


def _resolve_files(
    name: str,
    data_dir,
    download: bool,
    cache_dir,
    mirrors,
    timeout: float,
) -> tuple[dict[str, Path], bool]:
    """Return (files, verify) for a file-backed dataset, downloading if needed and allowed."""
    cache = _cache_folder(name, cache_dir)
    if data_dir is not None:
        folder = Path(data_dir).expanduser()
        if not folder.is_dir():
            raise DataError(
                f"{name}: data_dir {folder} is not a folder; use download=True to fetch the "
                f"files into {cache}"
            )
        files, missing = _find(name, folder)
        if missing:
            raise DataError(_missing_message(name, folder, missing, cache, True))
        return files, False
    env = os.environ.get(_DIR_ENV[name])
    if env and Path(env).expanduser().is_dir():
        files, missing = _find(name, Path(env).expanduser())
        if not missing:
            return files, False
    if download:
        download_dataset(name, cache_dir=cache_dir, mirrors=mirrors, timeout=timeout)
        files, missing = _find(name, cache)
        if missing:  # pragma: no cover - download_dataset guarantees the files
            raise DataError(_missing_message(name, cache, missing, cache, False))
        return files, False  # download_dataset has just verified them
    files, missing = _find(name, cache)
    if missing:
        raise DataError(_missing_message(name, cache, missing, cache, False))
    return files, True


# --------------------------------------------------------------------------------------------
# bundled and synthetic


def _load_own(name, target, seed: int, test_fraction: float) -> Dataset | None:
    """A bundled table (iris, wine, breast-cancer) or one's own file or folder, else None."""
    from .own import BUNDLED, load_bundled, load_path, looks_like_path

    if not isinstance(name, str):
        return None
    key = name.strip().lower().replace("_", "-")
    if key in BUNDLED:
        X, y, classes = load_bundled(key)
        source = {"kind": "bundled", "origin": f"sklearn.datasets.{BUNDLED[key]}"}
        return split_own(key, X, y, classes, None, source, seed, test_fraction)
    if key in DATASETS or not looks_like_path(name):
        return None
    X, y, classes, image_shape, kind = load_path(name, target)
    source = {"kind": kind, "path": str(Path(name).expanduser())}
    return split_own(Path(name).stem or name, X, y, classes, image_shape, source, seed,
                     test_fraction)


def split_own(name, X, y, classes, image_shape, source, seed: int,
              test_fraction: float) -> Dataset:
    """A dataset of one's own split into train and test (stratified where every class has at
    least two rows)."""
    counts = np.bincount(y, minlength=len(classes))
    if len(y) < 2:
        raise DataError(f"{name}: a dataset needs at least two rows, got {len(y)}")
    stratify = bool(counts[counts > 0].min() >= 2)
    tr, te = split_indices(y, test_fraction, seed=seed, stratify=stratify)
    return Dataset(name, X[tr], y[tr], X[te], y[te], list(classes), image_shape,
                   {**source, "split_seed": seed, "test_fraction": test_fraction})


def _split_dataset(
    name: str, X, y, classes, image_shape, source, seed: int, test_fraction: float
) -> Dataset:
    tr, te = split_indices(y, test_fraction, seed=seed, stratify=True)
    return Dataset(name, X[tr], y[tr], X[te], y[te], list(classes), image_shape, source)


def _load_digits(seed: int, test_fraction: float) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = (np.asarray(bunch.data, dtype=np.float64) / 16.0).astype(np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    source = {
        "kind": "bundled",
        "origin": "sklearn.datasets.load_digits",
        "split_seed": seed,
        "test_fraction": test_fraction,
    }
    return _split_dataset("digits", X, y, DIGIT_CLASSES, (8, 8), source, seed, test_fraction)


def _synthetic_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    allowed = _SYNTHETIC_PARAMS[name]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown option(s) {', '.join(unknown)} for {name}; allowed: {', '.join(allowed)}"
        )
    return {**allowed, **params}


def _load_synthetic(name: str, params: dict[str, Any], seed: int, test_fraction: float) -> Dataset:
    opts = _synthetic_params(name, params)
    gen = make_spiral if name == "spiral" else make_blobs
    X, y = gen(**opts, seed=seed)
    source = {"kind": "synthetic", "generator": name, "seed": seed, **opts}
    source["test_fraction"] = test_fraction
    classes = [str(i) for i in range(opts["n_classes"])]
    return _split_dataset(name, X, y, classes, None, source, seed, test_fraction)


# --------------------------------------------------------------------------------------------
# public API


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    cache_dir: str | os.PathLike | None = None,
    mirrors: str | Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    seed: int = 0,
    test_fraction: float = 0.2,
    **params: Any,
) -> Dataset:
    """Load a dataset by name: ``digits``, ``mnist``, ``fashion-mnist``, ``cifar10``,
    ``spiral`` or ``blobs``.

    * ``digits`` (scikit-learn's bundled 8x8 digits, offline), ``spiral`` and ``blobs`` are
      split into train/test with a stratified split of ``test_fraction`` seeded by ``seed``;
      ``spiral`` / ``blobs`` take generator options as keyword ``params`` (``n_per_class``,
      ``n_classes``, ``noise`` / ``n_features``, ``std``, ``box``) and use ``seed`` too.
      ``data_dir`` and ``download`` are ignored for them.
    * ``mnist``, ``fashion-mnist``, ``cifar10`` use their official train/test split and come
      from ``data_dir``, ``$STEEPEST_<NAME>_DIR``, or the cache (downloading into it when
      ``download``); see the module docstring.

    Raises :class:`InputError` for an unknown name or option, :class:`DataError` for missing,
    truncated or corrupted files (:class:`ChecksumError` for a checksum mismatch).
    """
    test_fraction = probability(test_fraction, "test_fraction")
    if test_fraction >= 1:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    target = params.pop("target", None)
    own = _load_own(name, target, int(seed), test_fraction)
    if own is not None:
        return own
    if target is not None:
        raise InputError(f"--target names a column of a CSV dataset, not of {name!r}")
    key = canonical_name(name)
    if key in _SYNTHETIC_PARAMS:
        return _load_synthetic(key, params, int(seed), test_fraction)
    if params:
        raise InputError(f"{key} takes no options, got {', '.join(sorted(params))}")
    if key == "digits":
        return _load_digits(int(seed), test_fraction)
    files, verify = _resolve_files(key, data_dir, download, cache_dir, mirrors, timeout)
    if key == "cifar10":
        return _load_cifar10(files, verify)
    classes = DIGIT_CLASSES if key == "mnist" else FASHION_MNIST_CLASSES
    return _load_idx_dataset(key, files, classes, verify)


_STATIC_INFO: dict[str, dict[str, Any]] = {
    "digits": {"classes": list(DIGIT_CLASSES), "image_shape": (8, 8)},
    "mnist": {"classes": list(DIGIT_CLASSES), "image_shape": (28, 28)},
    "fashion-mnist": {"classes": list(FASHION_MNIST_CLASSES), "image_shape": (28, 28)},
    "cifar10": {"classes": list(CIFAR10_CLASSES), "image_shape": CIFAR10_IMAGE_SHAPE},
    "spiral": {"classes": ["0", "1", "2"], "image_shape": None},
    "blobs": {"classes": ["0", "1", "2"], "image_shape": None},
}


@dataclass(frozen=True)
class DatasetInfo(Result):
    """What :func:`dataset_info` found out about a dataset, without downloading anything.

    ``location`` is the folder of the files, ``"bundled"`` / ``"synthetic"``, or None when the
    files are missing; ``files`` maps roles to paths; ``shapes`` (``X_train``/``y_train``/
    ``X_test``/``y_test`` -> shape) and ``class_counts`` (``{"train": [...], "test": [...]}``
    in class order) are None when the data is not available; ``hint`` says how to get missing
    files.
    """

    name: str
    available: bool
    location: str | None
    files: dict
    missing: list
    cache_dir: str
    classes: list
    n_classes: int
    image_shape: tuple | None
    n_features: int
    shapes: dict | None = None
    class_counts: dict | None = None
    hint: str | None = None


def _missing_info(key, data_dir, cache, base: dict) -> DatasetInfo | None:
    """The info of a dataset whose files are (partly) missing; None if none is missing."""
    folder = Path(data_dir).expanduser() if data_dir is not None else cache
    files, missing = _find(key, folder) if folder.is_dir() else ({}, _all_names(key))
    if not missing:
        return None
    hint = (f"run `steepest data download {key}` (or load with download=True) to fetch the "
            f"files into {cache}, or pass --data-dir pointing at a folder that holds them")
    return DatasetInfo(**base, files={r: str(p) for r, p in files.items()}, missing=missing,
                       hint=hint)


def dataset_info(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
) -> DatasetInfo:
    """Describe a dataset without downloading anything (see :class:`DatasetInfo`).

    Corrupted files raise :class:`DataError`.
    """
    key = canonical_name(name)
    static = _STATIC_INFO[key]
    cache = _cache_folder(key, cache_dir) if key in SOURCES else None
    base = {
        "name": key, "available": False, "location": None,
        "cache_dir": str(cache) if cache is not None else str(get_cache_dir(cache_dir)),
        "classes": list(static["classes"]), "n_classes": len(static["classes"]),
        "image_shape": static["image_shape"],
        "n_features": int(np.prod(static["image_shape"])) if static["image_shape"] else 2,
    }
    try:
        ds = load_dataset(key, data_dir, download=False, cache_dir=cache_dir)
    except DataError:
        info = _missing_info(key, data_dir, cache, base) if key in SOURCES else None
        if info is None:
            raise
        return info
    kind = ds.source.get("kind")
    files = ({k: v for k, v in ds.source.items() if k not in ("kind", "dir", "verified")}
             if kind == "files" else {})
    base.update(available=True, location=ds.source["dir"] if kind == "files" else kind,
                classes=list(ds.classes), n_classes=ds.n_classes, image_shape=ds.image_shape,
                n_features=ds.n_features)
    return DatasetInfo(
        **base, files=files, missing=[],
        shapes={"X_train": ds.X_train.shape, "y_train": ds.y_train.shape,
                "X_test": ds.X_test.shape, "y_test": ds.y_test.shape},
        class_counts={"train": ds.class_counts("train").tolist(),
                      "test": ds.class_counts("test").tolist()},
    )


def _all_names(key: str) -> list[str]:
    if key == "cifar10":
        return [*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]
    return [f"{stem}.gz" for stem in _IDX_ROLES.values()]
