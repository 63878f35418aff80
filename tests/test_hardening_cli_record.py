"""Audit 2026-12-05 N7: `take record` keeps the take on SIGTERM and SIGHUP as on Ctrl-C, and further signals
while it saves do not lose it.

End to end: a real recorder process and `take send`. The handshake is what the recorder prints ("listening on
HOST:PORT"), never a sleep; frames already in the socket when the signal comes are kept (the receiver drains
them), so the count is exact. A generous overall timeout only guards against a hang.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from avatarcheck.takes.files import load_take, save_take
from avatarcheck.takes.synthetic import synthetic_take
from avatarcheck.takes.take import Take
from avatarcheck.takes.udp import UdpReceiver, build_packet, recording_signals

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
GUARD_S = 60.0  # a hang guard, not a timing assumption
FRAMES = 50
ENV = {**os.environ, "COLUMNS": "400", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def take_file(tmp_path_factory) -> Path:
    """The first FRAMES frames of a synthetic take: few enough to sit in any socket buffer at once."""
    t = synthetic_take(3)
    path = tmp_path_factory.mktemp("send") / "sent.csv"
    save_take(path, Take(t.weights[:FRAMES], t.head_rotation[:FRAMES], t.eye_left[:FRAMES], t.eye_right[:FRAMES],
                         t.timestamps[:FRAMES], t.fps))
    return path


class Recorder:
    """`avatarcheck take record` in a child process, its output read line by line on a thread."""

    def __init__(self, out: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "avatarcheck", "take", "record", "--udp", "0", "--frames", "100000",
             "--timeout", "600", "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV, start_new_session=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str) -> re.Match:
        while True:
            line = self.lines.get(timeout=GUARD_S)
            if line is None:
                raise AssertionError(f"recorder ended before {pattern!r}: {''.join(self.seen)}")
            self.seen.append(line)
            if m := re.search(pattern, line):
                return m

    def finish(self) -> tuple[int, str]:
        rc = self.proc.wait(timeout=GUARD_S)
        self._reader.join(timeout=GUARD_S)
        while (line := self.lines.get_nowait()) is not None:
            self.seen.append(line)
        return rc, "".join(self.seen)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _send(take_file: Path, port: int) -> None:
    r = subprocess.run([sys.executable, "-m", "avatarcheck", "take", "send", str(take_file), "--port", str(port),
                        "--no-pace"], capture_output=True, text=True, env=ENV, timeout=GUARD_S)
    assert r.returncode == 0 and f"sent {FRAMES} packets" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("signals, ended", [
    ((signal.SIGTERM,), "interrupted (SIGTERM)"),
    ((signal.SIGHUP,), "interrupted (SIGHUP)"),
    ((signal.SIGINT,), "interrupted (Ctrl-C)"),
    # a second and third stop while the first is handled (any order the kernel delivers them in): still one take
    ((signal.SIGTERM, signal.SIGINT, signal.SIGINT, signal.SIGHUP), "interrupted ("),
])
def test_a_stop_signal_writes_every_frame_that_arrived(tmp_path, take_file, signals, ended):
    out = tmp_path / "rec.npz"
    rec = Recorder(out)
    try:
        port = int(rec.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
        _send(take_file, port)
        for sig in signals:
            try:
                rec.proc.send_signal(sig)
            except ProcessLookupError:  # already gone after saving: the later signals came too late to matter
                break
        rc, output = rec.finish()
    finally:
        rec.kill()
    assert rc == 0, output
    assert f"recording {ended}" in output and f"wrote {out}" in output, output
    got, sent = load_take(out), load_take(take_file)
    assert got.num_frames == FRAMES
    np.testing.assert_allclose(got.weights, sent.weights, atol=1e-6)
    assert not list(tmp_path.glob(".*.tmp"))


# -- the pieces, in process ---------------------------------------------------------------------------

def test_the_first_stop_signal_interrupts_and_later_ones_are_ignored_until_the_block_ends():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    with recording_signals() as stop:
        assert stop.stopped_by is None
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        assert stop.stopped_by == "SIGTERM"
        for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):  # while saving: no exception, counted
            signal.raise_signal(s)
        assert stop.ignored == 3
    assert {s: signal.getsignal(s) for s in before} == before  # restored


def test_holding_ignores_signals_after_a_recording_that_ended_on_its_own():
    with recording_signals() as stop:
        stop.hold()  # the frames or the timeout ended the recording: the save must not be interrupted
        signal.raise_signal(signal.SIGINT)
        assert stop.ignored == 1 and stop.stopped_by is None


def test_recording_signals_is_a_no_op_off_the_main_thread():
    errors: list[BaseException] = []

    def body():
        try:
            with recording_signals() as stop:
                assert not stop.active
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    t = threading.Thread(target=body)
    t.start()
    t.join(GUARD_S)
    assert not errors


class _InterruptOnce:
    """A socket whose first receive raises KeyboardInterrupt (a signal arriving while it waits)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock, self._first = sock, True

    def recvfrom(self, n: int):
        if self._first:
            self._first = False
            raise KeyboardInterrupt
        return self._sock.recvfrom(n)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def test_an_interrupted_recording_keeps_the_datagrams_already_queued():
    with UdpReceiver(port=0) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for i in range(7):
            tx.sendto(build_packet(np.full(52, i / 10, np.float32), frame=i), ("127.0.0.1", rx.port))
        rx._sock = _InterruptOnce(rx._sock)
        take, stats = rx.record(max_frames=5, timeout_s=600)
    # queued frames are kept up to the frame limit, and the recording still says it was interrupted
    assert stats.interrupted and take.num_frames == 5 == stats.frames
    np.testing.assert_allclose(take.channel("eyeBlinkLeft"), [0.0, 0.1, 0.2, 0.3, 0.4], atol=1e-7)
