"""Live Link Face UDP: packet round trips, clear errors for bad datagrams, a loopback receiver that
counts and drops them, and a sender. Loopback only, ephemeral ports, bounded counts and timeouts."""

import math
import socket
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from avatarcheck.arkit import ARKIT_NAMES as ARKIT
from avatarcheck.errors import InputError
from avatarcheck.takes.synthetic import synthetic_take
from avatarcheck.takes.udp import (MAX_PACKET_BYTES, NoFramesError, PacketError, UdpReceiver, build_packet,
                                   parse_packet, send_take)

names = st.text(max_size=24)  # any Unicode (hypothesis leaves out lone surrogates, which UTF-8 cannot carry)
weights_52 = arrays(np.float32, 52, elements=st.floats(0, 1, width=32))
triples = arrays(np.float32, 3, elements=st.floats(-3.25, 3.25, width=32))


# (numerator, denominator) with a rate of 0.001 to 1000 fps, as the packet check requires
rates = st.integers(1, 2**31 - 1).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(max(1, -(-n // 1000)), min(2**31 - 1, n * 1000))))


@given(weights_52, triples, triples, triples, st.integers(0, 2**31 - 1),
       st.floats(0, 1, exclude_max=True, width=32), rates, names, names)
def test_packet_round_trip(w, head, left, right, frame, sub, rate, device, subject):
    num, den = rate
    data = build_packet(w, head, left, right, frame=frame, sub_frame=sub, rate=(num, den), device_id=device,
                        subject=subject)
    p = parse_packet(data)
    assert (p.version, p.device_id, p.subject, p.frame, p.rate_num, p.rate_den) == (6, device, subject, frame, num, den)
    assert p.sub_frame == sub
    np.testing.assert_array_equal(p.weights, w)
    for got, want in ((p.head_rotation, head), (p.eye_left, left), (p.eye_right, right)):
        np.testing.assert_array_equal(got, want)


def packet_layout(device: bytes = b"dev", subject: bytes = b"subj", frame: int = 10, values=None) -> bytes:
    """A packet laid out by hand from the spec (independent of build_packet)."""
    values = [0.0] * 61 if values is None else values
    return (struct.pack(">B", 6) + struct.pack(">i", len(device)) + device + struct.pack(">i", len(subject)) + subject
            + struct.pack(">ifiiB", frame, 0.5, 60, 1, 61) + struct.pack(">61f", *values))


def test_build_packet_matches_the_spec_layout():
    values = [0.0] * 61
    values[15] = 0.25  # network order is Apple's: slot 15 is JawLeft, 21 MouthLeft
    values[21] = 0.75
    values[52:55] = [0.125, -0.25, 0.5]
    w = np.zeros(52, np.float32)
    w[15], w[21] = 0.25, 0.75
    built = build_packet(w, (0.125, -0.25, 0.5), frame=10, sub_frame=0.5, device_id="dev", subject="subj")
    assert built == packet_layout(values=values)
    p = parse_packet(built)
    assert p.time_s == pytest.approx(10.5 / 60)


def _offset_of_count(device=b"dev", subject=b"subj"):
    return 1 + 4 + len(device) + 4 + len(subject) + 16


def _with(data: bytes, offset: int, payload: bytes) -> bytes:
    return data[:offset] + payload + data[offset + len(payload):]


GOOD = packet_layout()
VALUES_AT = _offset_of_count() + 1
BAD_PACKETS = {
    "empty": (b"", "truncated"),
    "version only": (b"\x06", "truncated"),
    "text garbage": (b"hello, this is not a packet", "version"),
    "truncated": (GOOD[:-3], "truncated"),
    "truncated in the name": (GOOD[:12], "truncated"),
    "trailing bytes": (GOOD + b"\x00\x01", "trailing"),
    "oversized": (b"\x06" + bytes(MAX_PACKET_BYTES + 10), "oversized"),
    "wrong version": (_with(GOOD, 0, b"\x05"), "version"),
    "wrong count": (_with(GOOD, _offset_of_count(), b"\x3c"), "count"),
    "nan value": (_with(GOOD, VALUES_AT + 4 * 3, struct.pack(">f", math.nan)), "nan"),
    "inf rotation": (_with(GOOD, VALUES_AT + 4 * 55, struct.pack(">f", math.inf)), "nan"),
    "weight above one": (_with(GOOD, VALUES_AT, struct.pack(">f", 1.5)), "range"),
    "weight just above the band": (_with(GOOD, VALUES_AT, struct.pack(">f", 1.2501)), "range"),
    "weight below the band": (_with(GOOD, VALUES_AT + 4 * 7, struct.pack(">f", -0.2)), "range"),
    "huge rotation": (_with(GOOD, VALUES_AT + 4 * 52, struct.pack(">f", 3e38)), "range"),
    "absurd rate": (_with(GOOD, _offset_of_count() - 8, struct.pack(">ii", 1, 2**31 - 1)), "rate"),
    "negative name length": (_with(GOOD, 1, struct.pack(">i", -5)), "text"),
    "huge name length": (_with(GOOD, 1, struct.pack(">i", 10**6)), "text"),
    "bad utf-8": (_with(GOOD, 5, b"\xff"), "text"),
    "zero rate": (_with(GOOD, _offset_of_count() - 8, struct.pack(">i", 0)), "rate"),
    "nan sub-frame": (_with(GOOD, _offset_of_count() - 12, struct.pack(">f", math.nan)), "time"),
}


@pytest.mark.parametrize("case", sorted(BAD_PACKETS))
def test_bad_packets_raise_clear_errors(case):
    data, kind = BAD_PACKETS[case]
    with pytest.raises(PacketError) as info:
        parse_packet(data, source="test datagram")
    err = info.value
    assert isinstance(err, InputError) and err.kind == kind
    assert str(err).startswith("test datagram: ") and "expected" in str(err)


def test_random_garbage_never_escapes_as_another_exception():
    rng = np.random.default_rng(0)
    for n in range(300):
        blob = rng.integers(0, 256, rng.integers(0, 400), dtype=np.uint8).tobytes()
        if n % 3 == 0 and blob:
            blob = b"\x06" + blob[1:]  # get past the version byte into the length fields
        try:
            parse_packet(blob)
        except PacketError:
            pass


def test_build_packet_rejects_bad_input():
    with pytest.raises(InputError, match="weights"):
        build_packet(np.full(52, 1.5, np.float32), frame=0)
    with pytest.raises(InputError, match="weights"):
        build_packet(np.zeros(51, np.float32), frame=0)
    with pytest.raises(InputError, match="rotations"):
        build_packet(np.zeros(52), (0, math.nan, 0), frame=0)
    with pytest.raises(InputError, match="sub_frame"):
        build_packet(np.zeros(52), frame=0, sub_frame=1.0)
    with pytest.raises(InputError, match="subject"):
        build_packet(np.zeros(52), frame=0, subject="x" * 300)


def _frame_packet(i: int, subject: str = "me") -> bytes:
    w = np.zeros(52, np.float32)
    w[0] = i / 100  # eyeBlinkLeft carries the frame index, to check what was kept
    return build_packet(w, frame=100 + i, subject=subject)


def test_receiver_counts_and_drops_bad_datagrams():
    with UdpReceiver(port=0) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        sequence = [_frame_packet(0), b"garbage", _frame_packet(1), GOOD[:-3], _frame_packet(1),  # repeat: order
                    BAD_PACKETS["nan value"][0], _frame_packet(2, subject="someone else"), _frame_packet(2),
                    BAD_PACKETS["oversized"][0], BAD_PACKETS["trailing bytes"][0], _frame_packet(3)]
        for data in sequence:  # all queued before recording starts: no timing involved
            tx.sendto(data, ("127.0.0.1", rx.port))
        take, stats = rx.record(max_frames=4, timeout_s=10)
    assert stats.datagrams == len(sequence) and stats.frames == 4 and stats.dropped == 7 and not stats.timed_out
    assert stats.reasons == {"version": 1, "truncated": 1, "order": 1, "nan": 1, "subject": 1, "oversized": 1,
                             "trailing": 1}
    assert stats.subject == "me"
    np.testing.assert_allclose(take.channel("eyeBlinkLeft"), [0.0, 0.01, 0.02, 0.03], atol=1e-7)
    np.testing.assert_allclose(take.timestamps, (100 + np.arange(4)) / 60)
    assert take.fps == 60 and str(rx.port) in take.source


def test_receiver_stops_at_its_timeout_with_what_it_has():
    with UdpReceiver(port=0) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for i in range(2):
            tx.sendto(_frame_packet(i), ("127.0.0.1", rx.port))
        take, stats = rx.record(max_frames=50, timeout_s=0.2)
    assert stats.timed_out and take.num_frames == 2


def test_receiver_with_only_garbage_raises_with_stats():
    with UdpReceiver(port=0) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(b"garbage", ("127.0.0.1", rx.port))
        with pytest.raises(NoFramesError) as info:
            rx.record(max_frames=5, timeout_s=0.2)
    assert info.value.stats.datagrams == 1 and info.value.stats.reasons == {"version": 1}
    assert "udp://127.0.0.1" in str(info.value) and "version 1" in str(info.value)


def test_send_take_to_receiver_round_trip():
    take = synthetic_take(4).slice(100, 160)
    with UdpReceiver(port=0) as rx:
        sent = send_take(take, rx.port, pace=False, subject="Zoë")
        got, stats = rx.record(max_frames=sent, timeout_s=10)
    assert sent == take.num_frames == got.num_frames and stats.dropped == 0 and stats.subject == "Zoë"
    np.testing.assert_array_equal(got.weights, take.weights)
    np.testing.assert_array_equal(got.eye_left, take.eye_left)
    np.testing.assert_array_equal(got.head_rotation, take.head_rotation)
    np.testing.assert_allclose(got.timestamps, take.timestamps, atol=1e-6)
    assert got.fps == take.fps


def test_send_take_paced_keeps_every_frame():
    take = synthetic_take(5).slice(0, 6)
    with UdpReceiver(port=0) as rx:
        send_take(take, rx.port, fps=600)  # paced, but fast: no timing asserted
        got, _ = rx.record(max_frames=6, timeout_s=10)
    np.testing.assert_array_equal(got.weights, take.weights)


def _channel_packet(frame: int, values: dict[str, float], rate=(60, 1)) -> bytes:
    """A packet laid out by hand with some network-order blendshape slots set (may exceed 1)."""
    from avatarcheck.takes.livelink import NETWORK_BLENDSHAPES

    vals = [0.0] * 61
    for name, v in values.items():
        vals[NETWORK_BLENDSHAPES.index(name)] = v
    return (struct.pack(">B", 6) + struct.pack(">i", 2) + b"me" + struct.pack(">i", 2) + b"me"
            + struct.pack(">ifiiB", frame, 0.652, *rate, 61) + struct.pack(">61f", *vals))


def test_real_overshoot_is_kept_clipped_and_counted():
    """Issue 12: a real frame is never dropped for a weight of 1.05."""
    p = parse_packet(_channel_packet(3, {"EyeLookInLeft": 1.05, "BrowInnerUp": -0.05}))
    assert p.weights[ARKIT.index("eyeLookInLeft")] == 1.0 and p.weights[ARKIT.index("browInnerUp")] == 0.0
    assert p.clipped == ("eyeLookInLeft", "browInnerUp")
    assert parse_packet(_channel_packet(3, {"EyeLookInLeft": 1.0})).clipped == ()
    with UdpReceiver(port=0) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for i in range(4):
            over = {"EyeLookInRight": 1.053} if i in (1, 2) else {}
            if i == 2:
                over["JawOpen"] = 1.2
            tx.sendto(_channel_packet(2 * i, over), ("127.0.0.1", rx.port))
        take, stats = rx.record(max_frames=4, timeout_s=10)
    assert take.num_frames == 4 and stats.dropped == 0
    assert stats.clipped_frames == 2 and stats.clipped == {"eyeLookInRight": 2, "jawOpen": 1}
    assert take.clipped == {"eyeLookInRight": 2, "jawOpen": 1}
    assert take.channel("eyeLookInRight").tolist() == [0.0, 1.0, 1.0, 0.0]
    assert take.fps == 30.0  # frame numbers 2 apart on a 60 fps timecode: a 30 fps take


def test_missing_frames_are_estimated_from_frame_number_gaps():
    """Audit D13: datagrams the kernel dropped never reach the socket; the frame numbers show them."""
    sent = [0, 2, 4, 10, 12, 14, 18, 20]  # 30 fps on a 60 fps timecode; frames 6, 8 and 16 missing
    expected_missing = sum((b - a) // 2 - 1 for a, b in zip(sent, sent[1:]))
    assert expected_missing == 3
    with UdpReceiver(port=0) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for f in sent:
            tx.sendto(_channel_packet(f, {}), ("127.0.0.1", rx.port))
        take, stats = rx.record(max_frames=len(sent), timeout_s=10)
    assert stats.missing_frames == 3 and take.fps == 30.0 and stats.dropped == 0


class _InterruptingSocket:
    """Delegates to a real socket, then raises KeyboardInterrupt (what Ctrl-C does) on a receive."""

    def __init__(self, sock, after: int):
        self._sock, self._left = sock, after

    def settimeout(self, t):
        self._sock.settimeout(t)

    def recvfrom(self, n):
        if self._left == 0:
            raise KeyboardInterrupt
        self._left -= 1
        return self._sock.recvfrom(n)

    def close(self):
        self._sock.close()


def test_ctrl_c_returns_what_was_received():
    """Audit D4: Ctrl-C used to lose the whole recording."""
    with UdpReceiver(port=0) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for i in range(5):
            tx.sendto(_frame_packet(i), ("127.0.0.1", rx.port))
        rx._sock = _InterruptingSocket(rx._sock, after=3)
        take, stats = rx.record(max_frames=100, timeout_s=600)
    assert stats.interrupted and not stats.timed_out and take.num_frames == 3 == stats.frames
    np.testing.assert_allclose(take.channel("eyeBlinkLeft"), [0.0, 0.01, 0.02], atol=1e-7)


@pytest.mark.parametrize("frames, timeout", [(5, 1e12), (5, math.inf), (5, math.nan), (5, 0.0), (5, -1.0),
                                             (0, 1.0), (True, 1.0), (2.5, 1.0)])
def test_record_arguments_are_checked_before_waiting(frames, timeout):
    with UdpReceiver(port=0) as rx, pytest.raises(InputError, match=r"record: (max_frames|timeout_s)"):
        rx.record(max_frames=frames, timeout_s=timeout)


def test_empty_host_and_zero_send_rate_are_refused():
    """Audit D13: host '' silently binds every interface; send --fps 0 silently used the take's rate."""
    with pytest.raises(InputError, match="UdpReceiver: host: expected an address"):
        UdpReceiver(port=0, host="")
    take = synthetic_take(5).slice(0, 3)
    for fps in (0, -1.0, math.inf, 1e300):
        with pytest.raises(InputError, match="send_take: fps"):
            send_take(take, 9, fps=fps, pace=False)
    with pytest.raises(InputError, match="send_take: host"):
        send_take(take, 9, host=" ", pace=False)
