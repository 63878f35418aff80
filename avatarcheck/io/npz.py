"""Read ``.npy`` / ``.npz`` files with every header checked before anything is allocated.

``np.load`` trusts the header: a 38 KB ``.npz`` whose member claims shape (10**12, 52) makes it
allocate 189 TiB. These readers bound every allocation by what the file really holds:

* the file is a regular file of at most ``max_bytes`` (``io.inputs.checked_input_file``);
* ``.npz``: only stored or deflated, unencrypted ``*.npy`` members; their compressed sizes add up
  to no more than the file, each declared uncompressed size is within deflate's maximum ratio of
  its compressed size, and all of them together are at most ``max_bytes``;
* each array: an npy 1.0 / 2.0 header, no object dtype (that would need pickle), and
  ``prod(shape) * itemsize`` equal to the bytes that follow the header (``np.save`` writes
  exactly that), so the shape cannot claim more than the member holds.

Any violation, and any zip / zlib / CRC error, is an ``InputError`` naming the file and member.
A missing file raises ``FileNotFoundError`` (the command-line layer reports it).
"""

from __future__ import annotations

import math
import os
import tokenize
import zipfile
import zlib
from collections.abc import Iterable
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

from avatarcheck.errors import InputError
from avatarcheck.io.inputs import MAX_INPUT_BYTES, checked_input_file

# zlib's deflate cannot expand more than about 1032:1; a member declaring more is lying.
DEFLATE_MAX_RATIO = 1032
_ZIP_SLACK = 1 << 16  # a tiny member (an npy header alone) may compress worse than it expands
_CHUNK = 16 << 20  # read arrays in 16 MiB pieces: no second full-size copy
_MAGIC_ZIP = b"PK\x03\x04"
_MAGIC_NPY = b"\x93NUMPY"
# numpy parses an npy header with Python's tokenizer: an unbalanced "(" raises tokenize.TokenError,
# which is neither a SyntaxError nor a ValueError.
ARCHIVE_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
                       RuntimeError, SyntaxError, TypeError, OverflowError, tokenize.TokenError)


def npy_header(fp: IO[bytes], source: str | os.PathLike, field: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Parse an npy magic + header from ``fp`` -> (shape, fortran_order, dtype); nothing allocated."""
    try:
        version = npy_format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"npy format version {version} (1.0 or 2.0 expected)")
    except ARCHIVE_READ_ERRORS as err:
        raise InputError(source, field, "a .npy array header", f"{type(err).__name__}: {err}") from None
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise InputError(source, field, "a .npy header with a non-negative shape", repr(shape))
    if dtype.hasobject:
        raise InputError(source, field, "a plain (pickle-free) array", f"dtype {dtype} (needs pickle)")
    return tuple(shape), bool(fortran), dtype


def npy_nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    """Bytes an array of ``shape`` and ``dtype`` occupies (exact Python int: no overflow)."""
    return math.prod(shape) * dtype.itemsize


def _read_body(fp: IO[bytes], shape: tuple[int, ...], fortran: bool, dtype: np.dtype) -> np.ndarray:
    """The array data after a checked header; the caller has bounded ``npy_nbytes``."""
    out = np.empty(math.prod(shape), dtype)
    raw = out.view(np.uint8).reshape(-1) if out.size else np.empty(0, np.uint8)
    done = 0
    while done < raw.size:
        piece = fp.read(min(_CHUNK, raw.size - done))
        if not piece:
            raise EOFError(f"array data ends after {done} of {raw.size} bytes")
        raw[done:done + len(piece)] = np.frombuffer(piece, np.uint8)
        done += len(piece)
    if fp.read(1):  # also makes zipfile check the member's CRC
        raise ValueError("data continues after the array")
    return out.reshape(shape, order="F" if fortran else "C")


def _checked_read(fp: IO[bytes], data_bytes: int, budget: int, source: str | os.PathLike,
                  field: str) -> np.ndarray:
    """Header, then the size checks, then the data; ``data_bytes``: what follows the magic."""
    start = fp.tell()
    shape, fortran, dtype = npy_header(fp, source, field)
    held = data_bytes - (fp.tell() - start)
    claimed = npy_nbytes(shape, dtype)
    if claimed != held:
        raise InputError(source, field, f"shape {shape} x {dtype} = {claimed} bytes as the header says",
                         f"{held} bytes of data in the file")
    # zero-size items (dtype V0, <U0) hold no bytes, yet 10**12 of them still cost time and memory
    # to iterate: count each element as at least one byte
    if max(claimed, math.prod(shape)) > budget:
        raise InputError(source, field, f"arrays of at most {budget} bytes in all",
                         f"shape {shape} x {dtype} ({claimed} bytes)")
    try:
        return _read_body(fp, shape, fortran, dtype)
    except ARCHIVE_READ_ERRORS as err:
        raise InputError(source, field, "readable array data", f"{type(err).__name__}: {err}") from None


def load_npy_checked(path: str | os.PathLike, max_bytes: int = MAX_INPUT_BYTES) -> np.ndarray:
    """One ``.npy`` file -> its array, header checked against the file's size first."""
    size = checked_input_file(path, max_bytes, "a .npy file")
    with open(path, "rb") as fp:
        return _checked_read(fp, size, max_bytes, path, "file")


def _member_infos(zf: zipfile.ZipFile, size: int, max_bytes: int, path: str | os.PathLike) -> list[zipfile.ZipInfo]:
    """The archive's members after the checks that need no decompression."""
    infos = zf.infolist()
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise InputError(path, "members", "unique member names", f"duplicates in {sorted(names)[:20]}")
    packed = sum(i.compress_size for i in infos)
    if packed > size:
        raise InputError(path, "members", f"compressed sizes adding up to at most the file's {size} bytes",
                         f"{packed} bytes")
    for info in infos:
        field = info.filename
        if not info.filename.endswith(".npy"):
            raise InputError(path, field, "only .npy members (as numpy.savez writes)", repr(info.filename[:80]))
        if info.flag_bits & 0x1:
            raise InputError(path, field, "an unencrypted member", "an encrypted one")
        if info.compress_type == zipfile.ZIP_STORED:
            limit = info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            limit = info.compress_size * DEFLATE_MAX_RATIO + _ZIP_SLACK
        else:
            raise InputError(path, field, "a stored or deflated member (as numpy.savez writes)",
                             f"zip compression method {info.compress_type}")
        if info.file_size > limit:
            raise InputError(path, field, f"at most {limit} bytes from {info.compress_size} compressed",
                             f"{info.file_size} bytes declared")
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        raise InputError(path, "members", f"at most {max_bytes} bytes uncompressed", f"{total} bytes")
    return infos


def load_npz_checked(path: str | os.PathLike, max_bytes: int = MAX_INPUT_BYTES,
                     keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """A ``.npz`` -> {name: array} (names without ``.npy``), every header checked before allocation.

    keys: read only these members (absent ones are simply missing from the result; the caller
    decides what is required). ``max_bytes`` bounds the file and all members' uncompressed sizes.
    """
    size = checked_input_file(path, max_bytes, "a .npz file")
    with open(path, "rb") as fh:
        magic = fh.read(len(_MAGIC_ZIP))
    if magic != _MAGIC_ZIP:
        got = "a single .npy array" if magic == _MAGIC_NPY[:4] else f"a file starting {magic!r}"
        raise InputError(path, "file", "a .npz (zip) archive", got)
    wanted = None if keys is None else set(keys)
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in _member_infos(zf, size, max_bytes, path):
                name = info.filename[: -len(".npy")]
                if wanted is not None and name not in wanted:
                    continue
                with zf.open(info) as fp:
                    out[name] = _checked_read(fp, info.file_size, max_bytes, path, name)
    except InputError:
        raise
    except ARCHIVE_READ_ERRORS as err:
        raise InputError(path, "file", "a readable .npz archive", f"{type(err).__name__}: {err}") from None
    return out


def load_array_file_checked(path: str | os.PathLike, max_bytes: int = MAX_INPUT_BYTES) -> np.ndarray | dict[str, np.ndarray]:
    """``.npy`` -> array, ``.npz`` -> dict, told apart by content (not by the suffix's case)."""
    checked_input_file(path, max_bytes, "a .npy or .npz file")
    with open(path, "rb") as fh:
        magic = fh.read(len(_MAGIC_NPY))
    if magic.startswith(_MAGIC_ZIP):
        return load_npz_checked(path, max_bytes)
    if magic == _MAGIC_NPY:
        return load_npy_checked(path, max_bytes)
    raise InputError(path, "file", "a .npy or .npz file", f"a file starting {magic!r}")
