"""Strict reader and writer for the IDX format used by MNIST and Fashion-MNIST.

Layout (all integers big-endian)::

    byte 0-1   zero
    byte 2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
               0x0D float32, 0x0E float64
    byte 3     number of dimensions d (>= 1)
    4*d bytes  the sizes of each dimension, uint32
    rest       prod(sizes) elements in C (row-major) order

The reader accepts gzip-compressed or plain files (detected by content) and refuses anything
whose header is malformed or whose byte count does not match the declared dimensions exactly.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from ..errors import DataError, InputError
from ._files import atomic_write_bytes, gunzip_if_needed, read_bytes

#: IDX element-type code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}


def parse_idx(buf: bytes, source: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode uncompressed IDX bytes into an array in native byte order.

    ``source`` only names the data in error messages. Raises :class:`DataError` on a bad magic
    number, an unknown type code, a truncated header, or a payload whose length differs from
    ``prod(dims) * itemsize``.
    """
    n = len(buf)
    if n < 4:
        raise DataError(f"{source}: not an IDX file (only {n} bytes, header needs at least 4)")
    zero, code, ndim = struct.unpack(">HBB", buf[:4])
    if zero != 0 or code not in IDX_DTYPES:
        raise DataError(
            f"{source}: not an IDX file (magic bytes {buf[:4].hex()}; expected 0000 followed by "
            f"a type code in {{{', '.join(f'{c:02x}' for c in IDX_DTYPES)}}} and a dimension "
            "count)"
        )
    if ndim == 0:
        raise DataError(f"{source}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if n < header:
        raise DataError(
            f"{source}: truncated IDX header ({n} bytes, {ndim} dimensions need {header})"
        )
    dims = struct.unpack(f">{ndim}I", buf[4:header])
    dtype = IDX_DTYPES[code]
    count = 1
    for d in dims:
        count *= d
    expected = header + count * dtype.itemsize
    if n != expected:
        what = "truncated" if n < expected else "has trailing bytes"
        raise DataError(
            f"{source}: IDX data {what}: dimensions {dims} of {dtype.name} need {expected} bytes "
            f"in total, the file has {n}"
        )
    arr = np.frombuffer(buf, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def announced_size(head: bytes) -> int | None:
    """The total byte count an IDX header announces (header + data), or None if ``head`` is
    not the start of an IDX file. Lets decompression stop where the file must end."""
    if len(head) < 4:
        return None
    zero, code, ndim = struct.unpack(">HBB", head[:4])
    header = 4 + 4 * ndim
    if zero != 0 or code not in IDX_DTYPES or ndim == 0 or len(head) < header:
        return None
    count = 1
    for d in struct.unpack(f">{ndim}I", head[4:header]):
        count *= d
    return header + count * IDX_DTYPES[code].itemsize


def decompress_idx(raw: bytes, source) -> bytes:
    """IDX bytes from plain or gzip-compressed ``raw``, decompressed no further than the size
    its header announces."""
    return gunzip_if_needed(raw, source, size_of=announced_size)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or plain) into a native-byte-order array."""
    path = Path(path)
    return parse_idx(decompress_idx(read_bytes(path), path), path)


def encode_idx(array: np.ndarray) -> bytes:
    """Encode an array as IDX bytes (the inverse of :func:`parse_idx`)."""
    arr = np.asarray(array)
    key = (arr.dtype.kind, arr.dtype.itemsize)
    if key not in _CODES or arr.ndim == 0 or arr.ndim > 255:
        raise InputError(
            f"cannot encode dtype {arr.dtype} with {arr.ndim} dimensions as IDX; allowed dtypes: "
            "uint8, int8, int16, int32, float32, float64 with 1 to 255 dimensions"
        )
    code = _CODES[key]
    head = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file atomically, gzipped if ``compress`` (default: ``.gz`` name).

    The gzip header carries no timestamp, so equal arrays give byte-identical files.
    """
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    data = encode_idx(array)
    if compress:
        data = gzip.compress(data, mtime=0)
    return atomic_write_bytes(path, data)
