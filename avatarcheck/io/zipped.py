"""A bundle of named files from a zip archive (or the same files in a folder), read into memory.

LAM's OpenAvatarChat export is a zip holding one folder named after the avatar (``p2-1/``) with
``skin.glb``, ``offset.ply``, ``vertex_order.json`` and ``animation.glb``. ``read_bundle`` finds
each wanted file by its base name at the top level or one folder down, and returns the bytes of
those files only; nothing is extracted to disk. Zips are untrusted input, so before anything is
decompressed every member is checked: no absolute, drive-letter or ``..`` names, no symlinks, no
encryption, at most ``MAX_MEMBERS`` members, declared sizes within ``MAX_MEMBER_BYTES`` /
``MAX_ARCHIVE_BYTES`` and a compression ratio within ``MAX_RATIO`` (zip bombs); members are then
read in bounded pieces, never trusting the declared size. A folder gets the same caps, and
symlinks that lead out of it are refused. Every violation is an ``InputError`` naming the archive
and member. ``write_zip_atomic`` writes such a bundle.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from avatarcheck.errors import InputError
from avatarcheck.io.atomic import atomic_open
from avatarcheck.io.inputs import checked_input_file, read_bytes_checked
from avatarcheck.io.npz import ARCHIVE_READ_ERRORS as _READ_ERRORS  # what zipfile / zlib raise on bad data

MAX_ARCHIVE_BYTES = 512 << 20  # a LAM export is about 10 MB
MAX_MEMBER_BYTES = 256 << 20
MAX_MEMBERS = 64
MAX_RATIO = 200  # meshes and floats compress ~2-5x; a 1 GiB run of zeros ~1000x
_RATIO_SLACK = 1 << 20  # small members (JSON, headers) may compress well without being bombs
_PIECE = 1 << 20  # decompress in 1 MiB pieces
_DRIVE = re.compile(r"^[A-Za-z]:")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # written zips are byte-reproducible


def _check_member_name(archive: str | os.PathLike, name: str) -> None:
    """A relative member name without ``..`` components (zip slip), else InputError."""
    parts = re.split(r"[/\\]", name)
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise InputError(archive, name, "a relative member name", "an absolute path")
    if ".." in parts:
        raise InputError(archive, name, "a member name without '..'", "a path leading out of the archive")


def _checked_infos(zf: zipfile.ZipFile, path: str | os.PathLike) -> list[zipfile.ZipInfo]:
    """Every member checked from its header alone (nothing decompressed); directories dropped."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InputError(path, "members", f"at most {MAX_MEMBERS} members", f"{len(infos)}")
    for info in infos:
        name = info.filename
        _check_member_name(path, name)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InputError(path, name, "a regular file", "a symlink")
        if info.flag_bits & 0x1:
            raise InputError(path, name, "an unencrypted member", "an encrypted one")
        if info.file_size > MAX_MEMBER_BYTES:
            raise InputError(path, name, f"at most {MAX_MEMBER_BYTES} bytes", f"{info.file_size} bytes declared")
        if info.file_size > MAX_RATIO * info.compress_size + _RATIO_SLACK:
            raise InputError(path, name, f"a compression ratio of at most {MAX_RATIO} (not a zip bomb)",
                             f"{info.file_size} bytes from {info.compress_size}")
    total = sum(i.file_size for i in infos)
    if total > MAX_ARCHIVE_BYTES:
        raise InputError(path, "members", f"at most {MAX_ARCHIVE_BYTES} bytes uncompressed", f"{total} bytes declared")
    return [i for i in infos if not i.is_dir()]


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str | os.PathLike) -> bytes:
    """A member's bytes, read in pieces and stopped one byte past its declared size."""
    pieces: list[bytes] = []
    done = 0
    with zf.open(info) as fp:
        while piece := fp.read(min(_PIECE, info.file_size + 1 - done)):
            pieces.append(piece)
            done += len(piece)
            if done > info.file_size:
                raise InputError(path, info.filename, f"{info.file_size} bytes as declared", "more")
    if done != info.file_size:
        raise InputError(path, info.filename, f"{info.file_size} bytes as declared", f"{done} bytes")
    return b"".join(pieces)


def _locate(source: str | os.PathLike, names: Sequence[str], wanted: Sequence[str],
            optional: Sequence[str]) -> dict[str, str]:
    """{base name: relative POSIX path} for each wanted / optional name found in ``names``.

    A file counts at the top level or one folder down; all found files must share one folder.
    """
    found: dict[str, str] = {}
    for base in [*wanted, *optional]:
        hits = [n for n in names if len(PurePosixPath(n).parts) <= 2 and PurePosixPath(n).name == base]
        if len(hits) > 1:
            raise InputError(source, base, "one file of that name (top level or one folder down)",
                             f"{len(hits)}: {', '.join(sorted(hits))}")
        if hits:
            found[base] = hits[0]
        elif base in wanted:
            held = ", ".join(sorted(names)[:20]) + (", ..." if len(names) > 20 else "")
            raise InputError(source, base, "a file of that name (top level or one folder down)",
                             f"none; it holds: {held or 'nothing'}")
    folders = {str(PurePosixPath(p).parent) for p in found.values()}
    if len(folders) > 1:
        raise InputError(source, "members", "the bundle's files in one folder", repr(sorted(found.values())))
    return found


def _read_zip(path: str | os.PathLike, wanted: Sequence[str], optional: Sequence[str]) -> dict[str, bytes]:
    checked_input_file(path, MAX_ARCHIVE_BYTES, "a .zip archive")
    member = "file"
    try:
        with zipfile.ZipFile(path) as zf:
            infos = _checked_infos(zf, path)
            by_name = {i.filename: i for i in infos}
            out = {}
            # the name list keeps duplicates, so two members of one name are two candidates
            for base, member in _locate(path, [i.filename for i in infos], wanted, optional).items():
                out[base] = _read_member(zf, by_name[member], path)
            return out
    except InputError:
        raise
    except _READ_ERRORS as err:  # not a zip, truncated, bad CRC, unsupported compression
        raise InputError(path, member, "a readable zip archive", f"{type(err).__name__}: {err}") from None


def _folder_files(root: Path) -> list[str]:
    """Files at the top of ``root`` and one folder down (POSIX relative paths), within MAX_MEMBERS."""
    names: list[str] = []
    for top in sorted(os.scandir(root), key=lambda e: e.name):
        below = sorted(os.scandir(top.path), key=lambda e: e.name) if top.is_dir() else [top]
        names += [os.path.relpath(e.path, root).replace(os.sep, "/") for e in below if not e.is_dir()]
        if len(names) > MAX_MEMBERS:
            raise InputError(root, "files", f"at most {MAX_MEMBERS} files (top level and one folder down)", "more")
    return names


def _read_folder(root: Path, wanted: Sequence[str], optional: Sequence[str]) -> dict[str, bytes]:
    real_root = os.path.realpath(root)
    try:
        names = _folder_files(root)
    except OSError as err:  # a symlink loop, a folder that cannot be listed
        raise InputError(root, "files", "a folder that can be listed", f"{type(err).__name__}: {err}") from None
    out: dict[str, bytes] = {}
    for base, rel in _locate(root, names, wanted, optional).items():
        real = os.path.realpath(root / rel)
        if os.path.commonpath([real_root, real]) != real_root:
            raise InputError(root, rel, "a file inside the folder", f"a symlink to {real}")
        if not os.path.exists(real):
            raise InputError(root, rel, "a file", "a broken symlink")
        out[base] = read_bytes_checked(root / rel, MAX_MEMBER_BYTES, base)
        if sum(map(len, out.values())) > MAX_ARCHIVE_BYTES:
            raise InputError(root, "files", f"at most {MAX_ARCHIVE_BYTES} bytes in all", "more")
    return out


def read_bundle(path: str | os.PathLike, wanted: Sequence[str], optional: Sequence[str] = ()) -> dict[str, bytes]:
    """A .zip or a folder -> {base name: bytes} for each of ``wanted`` (required) and ``optional``.

    Files sit at the top level or in one sub-folder (LAM's zips hold one folder). A missing wanted
    file, two candidates for one name, or any unsafe member is an ``InputError``; a missing
    ``path`` raises ``FileNotFoundError``.
    """
    p = Path(path)
    if p.is_dir():
        return _read_folder(p, wanted, optional)
    return _read_zip(p, wanted, optional)


def write_zip_atomic(path: str | os.PathLike, members: Mapping[str, bytes], folder: str | None = None) -> None:
    """Write ``members`` {name: bytes} as a deflated zip at ``path`` atomically, under ``folder/``
    when given (LAM's layout). Names are checked like read ones; timestamps are fixed."""
    with atomic_open(path, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            arcname = f"{folder}/{name}" if folder else name
            _check_member_name(path, arcname)
            info = zipfile.ZipInfo(arcname, _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, data)
