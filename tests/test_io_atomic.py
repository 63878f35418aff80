"""Atomic writes under SIGKILL (audit D11) and output paths checked up front (D8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from avatarcheck.errors import InputError
from avatarcheck.io import atomic
from avatarcheck.io.atomic import (HOST_TAG, atomic_open, check_output_dir, check_output_file, remove_stale_temps,
                                   write_bytes_atomic)

KILLED_WRITER = """
import os, signal, sys
from avatarcheck.io.atomic import atomic_open
with atomic_open(sys.argv[1]) as fh:
    fh.write(b"partial" * 1000)
    fh.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temps(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_sigkilled_write_leaves_a_normal_temp_that_the_next_write_removes(tmp_path):
    target = tmp_path / "chibi_textured_mesh.obj"
    r = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], capture_output=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not target.exists()
    left = temps(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".{target.name}.{HOST_TAG}-"), left
    assert (tmp_path / left[0]).stat().st_mode & 0o777 == 0o666 & ~umask()  # not mkstemp's 0600
    atomic._SWEPT.clear()  # as in a new process
    write_bytes_atomic(target, b"whole")
    assert target.read_bytes() == b"whole" and temps(tmp_path) == []
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask()


def test_live_or_foreign_writers_temps_are_kept(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    live = tmp_path / f".a.png.{HOST_TAG}-{os.getppid()}.abcdefgh.tmp"  # our parent is alive
    other = "0000" if HOST_TAG != "0000" else "0001"
    foreign = tmp_path / f".a.png.{other}-999999999.abcdefgh.tmp"  # another host's pid means nothing here
    user = tmp_path / ".notes.tmp"  # not ours at all
    young = tmp_path / ".a.png.abcdefgh.tmp"  # legacy name, recent
    old = tmp_path / ".a.png.zyxwvuts.tmp"  # legacy name, an hour old: stale
    orphan = tmp_path / ".gone.png.zyxwvuts.tmp"  # legacy, old, but no target: not provably ours
    for p in (live, foreign, user, young, old, orphan):
        p.write_bytes(b"t")
    past = time.time() - atomic.LEGACY_TEMP_AGE_S - 60
    os.utime(old, (past, past))
    os.utime(orphan, (past, past))
    assert remove_stale_temps(tmp_path) == [old]
    assert all(p.exists() for p in (live, foreign, user, young, orphan))


def test_check_output_dir(tmp_path):
    (tmp_path / "f").write_text("x")
    before = sorted(os.listdir(tmp_path))
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert check_output_dir(tmp_path) == tmp_path
    assert sorted(os.listdir(tmp_path)) == before  # nothing created, no probe left behind
    with pytest.raises(InputError, match=r"f: output folder: expected a folder .*got an existing file"):
        check_output_dir(tmp_path / "f")
    with pytest.raises(InputError, match=r"f/x: output folder: .*which is a file"):
        check_output_dir(tmp_path / "f" / "x")
    if os.path.isdir("/proc/self"):
        with pytest.raises(InputError, match="can write in"):
            check_output_dir("/proc/avatarcheck-out")


def test_check_output_file(tmp_path):
    (tmp_path / "f").write_text("x")
    assert check_output_file(tmp_path / "f") == tmp_path / "f"  # replaced atomically later
    assert check_output_file(tmp_path / "a" / "b.npz") == tmp_path / "a" / "b.npz"
    assert not (tmp_path / "a").exists()
    with pytest.raises(InputError, match="output file: .*a directory"):
        check_output_file(tmp_path)
    with pytest.raises(InputError, match=r"x\.npz: output file: .*which is a file"):
        check_output_file(tmp_path / "f" / "x.npz")
    if os.path.isdir("/proc/self"):
        with pytest.raises(InputError, match="can write in"):
            check_output_file("/proc/h.npz")  # the audit's head convert --out /proc/h.npz
    if os.path.exists("/dev/null"):
        with pytest.raises(InputError, match="device"):
            check_output_file("/dev/null")


def test_atomic_open_under_a_file_is_an_input_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match=r"f/x\.bin: output file"):
        with atomic_open(tmp_path / "f" / "x.bin") as fh:
            fh.write(b"never")
