"""Datasets for steepest: loading, downloading, synthetic problems, splits and preprocessing.

Everything returns plain NumPy arrays; nothing here prints. Entry points:

* :func:`load_dataset` / :func:`dataset_info` for the named datasets in :data:`DATASETS`;
* :func:`download_dataset` to fill the cache (:func:`get_cache_dir`);
* :func:`make_spiral`, :func:`make_blobs` for synthetic problems;
* :func:`train_val_split`, :func:`batch_indices` for splitting and mini-batching;
* :class:`Preprocessor` for statistics fitted on training rows only;
* :func:`read_idx` / :func:`write_idx` and :func:`read_cifar_batch` for the raw formats.
"""

from __future__ import annotations

from .cifar import RestrictedUnpickler, read_cifar_batch, read_cifar_meta, safe_unpickle
from .datasets import DATASETS, Dataset, DatasetInfo, canonical_name, dataset_info, load_dataset
from .download import (
    SOURCES,
    RemoteFile,
    dataset_cache_dir,
    download_dataset,
    download_file,
    get_cache_dir,
    resolve_mirrors,
    safe_extract_tar,
    verify_file,
)
from .idx import encode_idx, parse_idx, read_idx, write_idx
from .own import from_arrays
from .preprocess import METHODS as PREPROCESS_METHODS
from .preprocess import Preprocessor
from .split import batch_indices, split_indices, train_val_split
from .synthetic import make_blobs, make_spiral

__all__ = [
    "DATASETS",
    "PREPROCESS_METHODS",
    "SOURCES",
    "Dataset",
    "Preprocessor",
    "RemoteFile",
    "RestrictedUnpickler",
    "batch_indices",
    "canonical_name",
    "dataset_cache_dir",
    "DatasetInfo",
    "from_arrays",
    "dataset_info",
    "download_dataset",
    "download_file",
    "encode_idx",
    "get_cache_dir",
    "load_dataset",
    "make_blobs",
    "make_spiral",
    "parse_idx",
    "read_cifar_batch",
    "read_cifar_meta",
    "read_idx",
    "resolve_mirrors",
    "safe_extract_tar",
    "safe_unpickle",
    "split_indices",
    "train_val_split",
    "verify_file",
    "write_idx",
]
