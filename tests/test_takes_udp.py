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

from avatarcheck.errors import InputError
from avatarcheck.takes.synthetic import synthetic_take
from avatarcheck.takes.udp import (MAX_PACKET_BYTES, NoFramesError, PacketError, UdpReceiver, build_packet,
                                   parse_packet, send_take)

names = st.text(max_size=24)  # any Unicode (hypothesis leaves out lone surrogates, which UTF-8 cannot carry)
weights_52 = arrays(np.float32, 52, elements=st.floats(0, 1, width=32))
triples = arrays(np.float32, 3, elements=st.floats(-3.25, 3.25, width=32))


@given(weights_52, triples, triples, triples, st.integers(0, 2**31 - 1),
       st.floats(0, 1, exclude_max=True, width=32), st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1), names, names)
def test_packet_round_trip(w, head, left, right, frame, sub, num, den, device, subject):
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
