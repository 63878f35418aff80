"""Bundles read from a zip (or a folder) into memory: LAM's layout, and unsafe archives refused."""

from __future__ import annotations

import os
import re
import stat
import zipfile
from pathlib import Path

import pytest

from avatarcheck.errors import InputError
from avatarcheck.io import zipped
from avatarcheck.io.zipped import read_bundle, write_zip_atomic

FILES = {"skin.glb": b"glTF" + bytes(range(200)), "offset.ply": b"ply\n" + b"\x01\x02" * 300,
         "vertex_order.json": b"[2, 0, 1]", "animation.glb": b"glTF-anim"}
WANTED = ["skin.glb", "offset.ply", "vertex_order.json"]


def make_zip(path: Path, members: dict[str, bytes], **info_attrs) -> Path:
    """A zip written with zipfile directly; ``info_attrs`` set on every member's ZipInfo."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            for key, value in info_attrs.items():
                setattr(info, key, value)
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize("folder", ["p2-1", None])
def test_lam_layout_round_trip(tmp_path, folder):
    path = tmp_path / "avatar.zip"
    write_zip_atomic(path, FILES, folder=folder)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == [f"{folder}/{n}" if folder else n for n in FILES]
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    got = read_bundle(path, WANTED, optional=["animation.glb", "extra.txt"])
    assert got == {n: FILES[n] for n in [*WANTED, "animation.glb"]}
    first = path.read_bytes()
    write_zip_atomic(path, FILES, folder=folder)
    assert path.read_bytes() == first  # reproducible: fixed timestamps
    assert [p.name for p in tmp_path.iterdir()] == ["avatar.zip"]  # no temp file left


def test_folder_mode(tmp_path):
    avatar = tmp_path / "unpacked" / "p2-1"
    avatar.mkdir(parents=True)
    for name, data in FILES.items():
        (avatar / name).write_bytes(data)
    (avatar / "inner" / "deeper").mkdir(parents=True)  # two folders down is not looked into
    (avatar / "inner" / "deeper" / "skin.glb").write_bytes(b"other")
    want = {n: FILES[n] for n in WANTED}
    assert read_bundle(tmp_path / "unpacked", WANTED) == want
    assert read_bundle(avatar, WANTED) == want
    (avatar / "link.json").symlink_to(avatar / "vertex_order.json")  # a link inside the folder is fine
    assert read_bundle(avatar, ["link.json"]) == {"link.json": FILES["vertex_order.json"]}
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"secret")
    (avatar / "secret.txt").symlink_to(outside)
    with pytest.raises(InputError, match=r"secret\.txt: expected a file inside the folder, got a symlink"):
        read_bundle(avatar, ["secret.txt"])
    with pytest.raises(InputError, match=r"missing\.bin: expected a file of that name.*skin\.glb"):
        read_bundle(avatar, ["missing.bin"])


def test_missing_member_lists_what_the_archive_holds(tmp_path):
    path = make_zip(tmp_path / "a.zip", {"p2-1/skin.glb": b"x", "p2-1/offset.ply": b"y"})
    with pytest.raises(InputError) as err:
        read_bundle(path, ["skin.glb", "vertex_order.json"])
    assert str(err.value).startswith(f"{path}: vertex_order.json: expected a file of that name")
    assert "p2-1/offset.ply, p2-1/skin.glb" in str(err.value)


@pytest.mark.parametrize("members, field, got", [
    ({"a/skin.glb": b"1", "b/skin.glb": b"2"}, "skin.glb", "2: a/skin.glb, b/skin.glb"),
    ({"skin.glb": b"1", "p2-1/skin.glb": b"2"}, "skin.glb", "2: p2-1/skin.glb, skin.glb"),
    ({"a/skin.glb": b"1", "b/offset.ply": b"2"}, "members", "'a/skin.glb', 'b/offset.ply'"),
])
def test_ambiguous_bundles(tmp_path, members, field, got):
    path = make_zip(tmp_path / "a.zip", members)
    with pytest.raises(InputError, match=rf": {field}: expected .*{got}"):
        read_bundle(path, ["skin.glb"], optional=["offset.ply"])


def test_duplicate_member_names_are_two_candidates(tmp_path):
    path = tmp_path / "dup.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        make_zip(path, {"skin.glb": b"1"})
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("skin.glb", b"2")
    with pytest.raises(InputError, match="skin.glb: expected one file of that name"):
        read_bundle(path, ["skin.glb"])


@pytest.mark.parametrize("name, expected", [
    ("../evil.glb", "a member name without '..'"),
    ("p2-1/../../evil.glb", "a member name without '..'"),
    ("..\\evil.glb", "a member name without '..'"),
    ("/etc/skin.glb", "a relative member name"),
    ("C:/skin.glb", "a relative member name"),
])
def test_unsafe_member_names(tmp_path, name, expected):
    path = make_zip(tmp_path / "a.zip", {"skin.glb": b"ok", name: b"evil"})
    with pytest.raises(InputError, match=rf"a\.zip: {re.escape(name)}: expected {expected}"):
        read_bundle(path, ["skin.glb"])
    with pytest.raises(InputError, match="expected"):
        write_zip_atomic(tmp_path / "out.zip", {name: b"x"})
    assert not (tmp_path / "out.zip").exists()


def _patch_central(path: Path, offset: int, value: int) -> None:
    """Rewrite 4 bytes at ``offset`` of the last member's central directory entry."""
    data = bytearray(path.read_bytes())
    entry = data.rindex(b"PK\x01\x02")
    data[entry + offset:entry + offset + 4] = value.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_symlink_member(tmp_path):
    path = make_zip(tmp_path / "a.zip", {"p2-1/skin.glb": b"/etc/passwd"},
                    external_attr=(stat.S_IFLNK | 0o777) << 16, create_system=3)
    with pytest.raises(InputError, match=r"a\.zip: p2-1/skin\.glb: expected a regular file, got a symlink"):
        read_bundle(path, ["skin.glb"])


def test_encrypted_member(tmp_path):
    path = make_zip(tmp_path / "a.zip", {"p2-1/skin.glb": b"secret"})
    _patch_central(path, 8, 0x1 | (zipfile.ZIP_DEFLATED << 16))  # general purpose flags, then method
    with pytest.raises(InputError, match=r"a\.zip: p2-1/skin\.glb: expected an unencrypted member"):
        read_bundle(path, ["skin.glb"])


def test_zip_bomb_is_refused_before_decompression(tmp_path):
    # 8 MiB of zeros deflate to ~8 KB (ratio ~1000); a 1 GiB bomb is the same thing, larger
    path = make_zip(tmp_path / "bomb.zip", {"p2-1/skin.glb": b"glTF", "p2-1/offset.ply": bytes(8 << 20)})
    with pytest.raises(InputError, match=r"offset\.ply: expected a compression ratio of at most 200"):
        read_bundle(path, ["skin.glb"])


def test_caps_on_members_and_sizes(tmp_path, monkeypatch):
    many = make_zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(zipped.MAX_MEMBERS + 1)})
    with pytest.raises(InputError, match=rf"members: expected at most {zipped.MAX_MEMBERS} members"):
        read_bundle(many, ["f0.txt"])
    path = make_zip(tmp_path / "a.zip", FILES)
    monkeypatch.setattr(zipped, "MAX_MEMBER_BYTES", 100)
    with pytest.raises(InputError, match=r"skin\.glb: expected at most 100 bytes"):
        read_bundle(path, ["skin.glb"])
    monkeypatch.setattr(zipped, "MAX_MEMBER_BYTES", 1000)
    monkeypatch.setattr(zipped, "MAX_ARCHIVE_BYTES", 700)
    with pytest.raises(InputError, match="members: expected at most 700 bytes uncompressed"):
        read_bundle(path, ["skin.glb"])


@pytest.mark.parametrize("delta", [-100, 100])
def test_decompressed_size_must_match_the_declared_one(tmp_path, delta):
    path = make_zip(tmp_path / "a.zip", {"skin.glb": bytes(range(256)) * 4})
    _patch_central(path, 24, 1024 + delta)  # the declared uncompressed size
    with pytest.raises(InputError, match=r"a\.zip: skin\.glb: expected"):
        read_bundle(path, ["skin.glb"])


def test_not_a_zip_and_truncated(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all" * 10)
    with pytest.raises(InputError, match=r"junk\.zip: file: expected a readable zip archive, got BadZipFile"):
        read_bundle(junk, ["skin.glb"])
    whole = make_zip(tmp_path / "whole.zip", FILES).read_bytes()
    for cut in (len(whole) - 1, len(whole) - 30, len(whole) // 2, 10, 0):
        cut_path = tmp_path / f"cut{cut}.zip"
        cut_path.write_bytes(whole[:cut])
        with pytest.raises(InputError, match="expected a readable zip archive"):
            read_bundle(cut_path, ["skin.glb"])


def test_corrupt_member_data_names_the_member(tmp_path):
    path = make_zip(tmp_path / "a.zip", {"skin.glb": bytes(range(256)) * 4})
    data = bytearray(path.read_bytes())
    data[40:60] = b"\xff" * 20  # inside the deflate stream (local header 30 + name 8)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"a\.zip: skin\.glb: expected a readable zip archive"):
        read_bundle(path, ["skin.glb"])


def test_missing_path_and_directory_entries(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_bundle(tmp_path / "nope.zip", ["skin.glb"])
    path = make_zip(tmp_path / "a.zip", {"p2-1/": b"", "p2-1/skin.glb": b"s"})
    assert read_bundle(path, ["skin.glb"]) == {"skin.glb": b"s"}
    assert os.listdir(tmp_path) == ["a.zip"]  # nothing extracted

