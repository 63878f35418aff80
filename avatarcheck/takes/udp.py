"""Live Link Face over UDP: packet build/parse, a receiver that records a take, a sender.

Packet (big-endian, the app's version 6): ``uint8`` version, ``int32`` length + UTF-8 device id,
``int32`` length + UTF-8 subject name, ``int32`` frame, ``float32`` sub-frame, ``int32`` rate
numerator, ``int32`` rate denominator, ``uint8`` count (61), then 61 ``float32``: the 52
blendshapes in the network order (Apple's, see ``livelink``) and the 9 head/eye rotations.

The receiver never crashes on what arrives: a bad datagram is counted (by kind) and dropped.
Weights follow the readers' rule (``take.WEIGHT_BAND``): a real frame with eyeLookIn 1.05 is kept,
its weight clipped to 1 and counted (``RecordStats.clipped_frames``, ``Take.clipped``); only
values outside the band, NaN/inf, or rotations beyond ``take.ROTATION_LIMIT`` drop a datagram.
Datagrams the kernel dropped before the socket saw them are estimated from gaps in the frame
numbers (``RecordStats.missing_frames``). Ctrl-C ends a recording like its timeout does: the
frames received so far, and those already queued in the socket, are returned
(``RecordStats.interrupted``). ``recording_signals`` makes SIGTERM and SIGHUP (``kill``, ``timeout``,
``docker stop``, a closed terminal) stop it the same way, and ignores further stops while the take is saved.
"""

from __future__ import annotations

import contextlib
import math
import signal
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES
from avatarcheck.checks import checked_number, checked_positive_int
from avatarcheck.errors import InputError
from avatarcheck.takes import timecode as tc
from avatarcheck.takes.livelink import NETWORK_BLENDSHAPES, NETWORK_TO_CANONICAL, ROTATION_COLUMNS, VALUE_COUNT
from avatarcheck.takes.take import FPS_RANGE, ROTATION_LIMIT, WEIGHT_BAND, Take

PACKET_VERSION = 6
DEFAULT_PORT = 11111
#: Longest device id / subject name accepted, in UTF-8 bytes (the app sends ~40).
MAX_TEXT_BYTES = 256
_TIME = struct.Struct(">ifiiB")  # frame, sub-frame, rate numerator, rate denominator, count
MAX_PACKET_BYTES = 1 + 2 * (4 + MAX_TEXT_BYTES) + _TIME.size + 4 * VALUE_COUNT
#: Longest recording (seconds): a week; longer timeouts overflow the socket's timestamp arithmetic.
MAX_TIMEOUT_S = 7 * 86_400.0
#: Receive buffer asked of the kernel: ~20 s of 60 fps packets, so a busy moment does not drop any.
RECEIVE_BUFFER_BYTES = 4 << 20
#: Longest single wait for a datagram: how late a stop signal delivered to another thread may act.
SIGNAL_SLICE_S = 0.25
#: The most datagrams a full receive buffer can hold (Linux grants at most twice the size asked for,
#: and each queued datagram costs well over 64 bytes of it): the reads a drain after a stop may take.
_DRAIN_BUDGET = 2 * RECEIVE_BUFFER_BYTES // 64 + 1
_VALUE_NAMES = NETWORK_BLENDSHAPES + ROTATION_COLUMNS


class PacketError(InputError):
    """A datagram that is not a valid Live Link Face packet; ``kind`` buckets it for statistics
    (truncated, oversized, trailing, version, text, time, rate, count, nan, range)."""

    def __init__(self, source: str, field: str, expected: str, got: str, kind: str) -> None:
        super().__init__(source, field, expected, got)
        self.kind = kind


@dataclass(frozen=True, eq=False)
class Packet:
    """One decoded packet; ``weights`` (52,) float32 in canonical order (clipped into [0, 1]),
    rotations (3,) each; ``clipped``: canonical names of the weights that were clipped."""

    device_id: str
    subject: str
    frame: int
    sub_frame: float
    rate_num: int
    rate_den: int
    weights: np.ndarray
    head_rotation: np.ndarray
    eye_left: np.ndarray
    eye_right: np.ndarray
    version: int = PACKET_VERSION
    clipped: tuple[str, ...] = ()

    @property
    def rate(self) -> float:
        return self.rate_num / self.rate_den

    @property
    def time_s(self) -> float:
        """Seconds since 00:00:00:00 of the sender's timecode."""
        return (self.frame + self.sub_frame) / self.rate


def build_packet(weights: np.ndarray, head_rotation=(0.0, 0.0, 0.0), eye_left=(0.0, 0.0, 0.0),
                 eye_right=(0.0, 0.0, 0.0), *, frame: int, sub_frame: float = 0.0, rate: tuple[int, int] = (60, 1),
                 device_id: str = "avatarcheck", subject: str = "avatarcheck") -> bytes:
    """A version-6 packet from (52,) canonical weights and (3,) yaw/pitch/roll triples. Weights may
    stray into ``WEIGHT_BAND`` as a real tracker's do (eyeLookIn 1.05); the receiver clips them."""
    src = "build_packet"
    w = np.asarray(weights, np.float32)
    lo, hi = WEIGHT_BAND
    if w.shape != (52,) or not np.isfinite(w).all() or (w < lo).any() or (w > hi).any():
        raise InputError(src, "weights", f"52 finite weights in [{lo:g}, {hi:g}] (canonical order)",
                         f"shape {w.shape}" + (f", range [{w.min():g}, {w.max():g}]" if w.size else ""))
    rots = [np.asarray(r, np.float32) for r in (head_rotation, eye_left, eye_right)]
    if any(r.shape != (3,) or not np.isfinite(r).all() for r in rots):
        raise InputError(src, "rotations", "three finite (yaw, pitch, roll) triples", str([r.shape for r in rots]))
    if not (0 <= int(frame) < 2**31):
        raise InputError(src, "frame", "an int32 frame number >= 0", repr(frame))
    if not (0.0 <= float(np.float32(sub_frame)) < 1.0):
        raise InputError(src, "sub_frame", "a fraction in [0, 1)", repr(sub_frame))
    num, den = (int(x) for x in rate)
    if not (0 < num < 2**31 and 0 < den < 2**31 and FPS_RANGE[0] <= num / den <= FPS_RANGE[1]):
        raise InputError(src, "rate", f"a positive int32 numerator and denominator, {FPS_RANGE[0]:g} to "
                         f"{FPS_RANGE[1]:g} fps", repr(rate))
    parts = [struct.pack(">B", PACKET_VERSION)]
    for name, text in (("device_id", device_id), ("subject", subject)):
        encoded = text.encode("utf-8")
        if len(encoded) > MAX_TEXT_BYTES:
            raise InputError(src, name, f"at most {MAX_TEXT_BYTES} UTF-8 bytes", f"{len(encoded)} bytes")
        parts += [struct.pack(">i", len(encoded)), encoded]
    network = w[list(NETWORK_TO_CANONICAL)]  # network slot k holds canonical channel NETWORK_TO_CANONICAL[k]
    parts.append(_TIME.pack(int(frame), float(sub_frame), num, den, VALUE_COUNT))
    parts.append(np.concatenate([network, *rots]).astype(">f4").tobytes())
    return b"".join(parts)


def parse_packet(data: bytes, source: str = "udp packet") -> Packet:
    """Decode one datagram; raises ``PacketError`` (an ``InputError``) naming the byte offset and
    field for garbage, truncation, oversize or trailing bytes, a wrong version or count, a bad
    rate or sub-frame, a non-finite value, a weight outside ``WEIGHT_BAND`` or a rotation beyond
    ``ROTATION_LIMIT``. Weights within the band are clipped to [0, 1] and named in ``clipped``."""
    n = len(data)
    if n > MAX_PACKET_BYTES:
        raise PacketError(source, "length", f"at most {MAX_PACKET_BYTES} bytes", f"{n} bytes", "oversized")
    off = 0

    def need(k: int, what: str) -> None:
        if off + k > n:
            raise PacketError(source, f"byte {off} ({what})", f"{k} more bytes", f"a packet that ends at byte {n}",
                              "truncated")

    need(1, "version")
    if data[0] != PACKET_VERSION:
        raise PacketError(source, "byte 0 (version)", str(PACKET_VERSION), str(data[0]), "version")
    off = 1
    texts = []
    for what in ("device id", "subject name"):
        need(4, f"{what} length")
        (length,) = struct.unpack_from(">i", data, off)
        if not 0 <= length <= MAX_TEXT_BYTES:
            raise PacketError(source, f"byte {off} ({what} length)", f"0..{MAX_TEXT_BYTES}", str(length), "text")
        off += 4
        need(length, what)
        try:
            texts.append(data[off:off + length].decode("utf-8"))
        except UnicodeDecodeError as err:
            raise PacketError(source, f"byte {off + err.start} ({what})", "UTF-8 text", repr(err.reason), "text") from None
        off += length
    need(_TIME.size, "frame time and count")
    frame, sub, num, den, count = _TIME.unpack_from(data, off)
    if frame < 0 or not (0.0 <= sub < 1.0):
        raise PacketError(source, f"byte {off} (frame, sub-frame)", "a frame >= 0 and a sub-frame in [0, 1)",
                          f"{frame}, {sub!r}", "time")
    if num <= 0 or den <= 0 or not FPS_RANGE[0] <= num / den <= FPS_RANGE[1]:
        raise PacketError(source, f"byte {off + 8} (rate)",
                          f"a positive rate numerator and denominator, {FPS_RANGE[0]:g} to {FPS_RANGE[1]:g} fps",
                          f"{num}/{den}", "rate")
    if count != VALUE_COUNT:
        raise PacketError(source, f"byte {off + 16} (count)", str(VALUE_COUNT), str(count), "count")
    off += _TIME.size
    need(4 * VALUE_COUNT, "values")
    values = np.frombuffer(data, ">f4", VALUE_COUNT, off).astype(np.float32)
    off += 4 * VALUE_COUNT
    if off != n:
        raise PacketError(source, f"byte {off}", f"the end of the packet after {VALUE_COUNT} values",
                          f"{n - off} trailing bytes", "trailing")
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        k = int(bad[0])
        raise PacketError(source, f"value {k} ({_VALUE_NAMES[k]})", "a finite number", repr(float(values[k])), "nan")
    lo, hi = WEIGHT_BAND
    bad = np.flatnonzero((values[:52] < lo) | (values[:52] > hi))
    if len(bad):
        k = int(bad[0])
        raise PacketError(source, f"value {k} ({_VALUE_NAMES[k]})", f"a weight in [{lo:g}, {hi:g}]",
                          repr(float(values[k])), "range")
    bad = np.flatnonzero(np.abs(values[52:]) > ROTATION_LIMIT)
    if len(bad):
        k = 52 + int(bad[0])
        raise PacketError(source, f"value {k} ({_VALUE_NAMES[k]})", f"an angle within +-{ROTATION_LIMIT:.4g} rad",
                          repr(float(values[k])), "range")
    weights = np.empty(52, np.float32)
    weights[list(NETWORK_TO_CANONICAL)] = np.clip(values[:52], 0.0, 1.0)
    over = np.flatnonzero((values[:52] < 0) | (values[:52] > 1))
    clipped = tuple(sorted((ARKIT_NAMES[NETWORK_TO_CANONICAL[k]] for k in over), key=ARKIT_NAMES.index))
    return Packet(texts[0], texts[1], frame, sub, num, den, weights, values[52:55], values[55:58], values[58:61],
                  clipped=clipped)


@dataclass
class RecordStats:
    """What a recording saw: datagrams received, frames kept, drops by reason, frames kept with a
    weight clipped into [0, 1], and frames the sender numbered that never reached the socket
    (``missing_frames``: kernel buffer drops or network loss, estimated from the gaps between kept
    frames; frames lost after the last kept one leave no gap and are not counted)."""

    datagrams: int = 0
    frames: int = 0
    dropped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    clipped_frames: int = 0
    clipped: dict[str, int] = field(default_factory=dict)
    missing_frames: int = 0
    timed_out: bool = False
    interrupted: bool = False
    drained: int = 0  # datagrams read from the socket's queue after the stop
    elapsed_s: float = 0.0
    subject: str | None = None
    device_id: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class NoFramesError(InputError):
    """A recording ended without one valid frame; ``stats`` says what arrived instead."""

    def __init__(self, source: str, expected: str, stats: RecordStats) -> None:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(stats.reasons.items())) or "none"
        super().__init__(source, "frames", expected,
                         f"{stats.datagrams} datagram(s), {stats.dropped} dropped (reasons: {reasons})")
        self.stats = stats


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def checked_host(host: str, source: str = "udp") -> str:
    """A bind/destination address; ``''`` is refused: it silently means every interface."""
    if not isinstance(host, str) or not host.strip():
        raise InputError(source, "host", "an address such as 127.0.0.1 (or 0.0.0.0 to hear every interface "
                         "on purpose)", repr(host))
    return host.strip()


def listens_everywhere(host: str) -> bool:
    """True for the wildcard addresses that expose the port on every network interface."""
    return host in ("0.0.0.0", "::", "[::]")


def estimate_missing_frames(times_s: np.ndarray) -> int:
    """Frames absent from (T,) increasing packet times: each gap of k median steps hides k - 1.

    The median step is the sender's frame interval (2 timecode frames for a 30 fps take on a
    60 fps timecode), so this needs no rate; jitter under half a step is not a gap."""
    times_s = np.asarray(times_s, np.float64)
    if len(times_s) < 3:
        return 0
    steps = np.diff(times_s)
    step = float(np.median(steps))
    if not step > 0:
        return 0
    return int(np.maximum(np.rint(steps / step) - 1, 0).sum())


class UdpReceiver:
    """A bound UDP socket that records Live Link Face packets into a take.

    Binding happens in the constructor, so ``port=0`` gives an ephemeral port (``.port``) that a
    sender can target before ``record`` runs; datagrams wait in the socket buffer meanwhile.
    """

    def __init__(self, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> None:
        host = checked_host(host, "UdpReceiver")
        self._sock = socket.socket(_family(host), socket.SOCK_DGRAM)
        try:
            try:  # a bigger buffer than the default ~200 KB: fewer kernel drops in a burst
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            except OSError:
                pass
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise
        self.host: str = host
        self.port: int = self._sock.getsockname()[1]

    def __enter__(self) -> UdpReceiver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def record(self, max_frames: int, timeout_s: float, *, interrupted: bool = False) -> tuple[Take, RecordStats]:
        """Receive until ``max_frames`` valid frames, ``timeout_s`` seconds in all, or Ctrl-C.

        The first valid packet fixes the subject and rate; later packets from another subject,
        at another rate, or not later in time than the last kept one are dropped and counted.
        On Ctrl-C (``KeyboardInterrupt``) the frames so far are returned, with the datagrams already
        queued in the socket (they arrived before the stop), ``stats.interrupted`` set.
        ``interrupted``: the stop came before this call (while the caller printed): only the queue is read.
        Raises ``NoFramesError`` when no valid frame arrived.
        """
        max_frames = checked_positive_int(max_frames, "record", "max_frames")
        timeout_s = checked_number(timeout_s, "record", "timeout_s", 0.0, MAX_TIMEOUT_S)
        if timeout_s <= 0:
            raise InputError("record", "timeout_s", f"a time in (0, {MAX_TIMEOUT_S:g}] seconds", repr(timeout_s))
        stats = RecordStats()
        reasons: Counter[str] = Counter()
        clipped: Counter[str] = Counter()
        packets: list[Packet] = []
        start = time.monotonic()
        stats.interrupted = interrupted
        if not interrupted:
            try:
                self._receive(packets, stats, reasons, max_frames, start + timeout_s)
            except KeyboardInterrupt:  # Ctrl-C: keep what arrived; the caller decides what to write
                stats.interrupted = True
        if stats.interrupted:
            self._drain(packets, stats, reasons, max_frames)
        stats.elapsed_s = time.monotonic() - start
        stats.reasons = dict(sorted(reasons.items()))
        stats.dropped = sum(reasons.values())
        stats.frames = len(packets)
        for pkt in packets:
            clipped.update(pkt.clipped)
        stats.clipped_frames = sum(1 for pkt in packets if pkt.clipped)
        stats.clipped = {n: clipped[n] for n in ARKIT_NAMES if clipped[n]}
        source = f"udp://{self.host}:{self.port}"
        if not packets:
            raise NoFramesError(source, f"at least one valid Live Link Face packet within {timeout_s:g} s", stats)
        stats.subject, stats.device_id = packets[0].subject, packets[0].device_id
        times = np.array([p.time_s for p in packets])
        stats.missing_frames = estimate_missing_frames(times)
        rate = packets[0].rate
        fps = tc.row_rate(times, rate)  # 30 for a 30 fps take numbered on a 60 fps timecode
        if not FPS_RANGE[0] <= fps <= FPS_RANGE[1]:  # sub-frame-spaced packets: fall back to their rate
            fps = rate
        take = Take(np.stack([p.weights for p in packets]), np.stack([p.head_rotation for p in packets]),
                    np.stack([p.eye_left for p in packets]), np.stack([p.eye_right for p in packets]),
                    times, fps, f"{source} ({packets[0].subject})", stats.clipped)
        return take, stats

    def _receive(self, packets: list[Packet], stats: RecordStats, reasons: Counter[str], max_frames: int,
                 deadline: float) -> None:
        """The receive loop: appends kept packets, counts datagrams and drop reasons in place.

        Each wait lasts at most ``SIGNAL_SLICE_S``: the kernel may hand a signal to another thread (numpy,
        torch and numba start some), which does not interrupt this thread's ``recvfrom``, and Python runs
        the handler (the stop) only when the main thread runs again."""
        while len(packets) < max_frames:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stats.timed_out = True
                return
            self._sock.settimeout(min(remaining, SIGNAL_SLICE_S))
            try:
                data, addr = self._sock.recvfrom(65535)
            except (socket.timeout, TimeoutError):
                continue  # the deadline is checked above; a pending signal's handler has run by now
            _keep(data, addr, packets, stats, reasons)

    def _drain(self, packets: list[Packet], stats: RecordStats, reasons: Counter[str], max_frames: int) -> None:
        """After a stop: the datagrams already queued in the socket, without waiting for more.

        At most as many reads as a full receive buffer can hold, so a sender that keeps sending cannot
        keep the recording from ending; a second Ctrl-C (outside ``recording_signals``) ends the drain."""
        try:
            self._sock.settimeout(0.0)
            for _ in range(_DRAIN_BUDGET):
                if len(packets) >= max_frames:
                    return
                try:
                    data, addr = self._sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError, socket.timeout, TimeoutError):
                    return
                stats.drained += 1
                _keep(data, addr, packets, stats, reasons)
        except (KeyboardInterrupt, OSError):
            return


def _keep(data: bytes, addr, packets: list[Packet], stats: RecordStats, reasons: Counter[str]) -> None:
    """Count one datagram; append it to ``packets`` when it is a valid frame that continues them."""
    stats.datagrams += 1
    try:
        pkt = parse_packet(data, f"datagram {stats.datagrams} from {addr[0]}:{addr[1]}")
    except PacketError as err:
        reasons[err.kind] += 1
        return
    if packets:
        first, last = packets[0], packets[-1]
        if pkt.subject != first.subject:
            reasons["subject"] += 1
            return
        if (pkt.rate_num, pkt.rate_den) != (first.rate_num, first.rate_den):
            reasons["rate"] += 1
            return
        if pkt.time_s <= last.time_s:
            reasons["order"] += 1
            return
    packets.append(pkt)


@dataclass
class RecordingSignals:
    """What ``recording_signals`` saw: the first stop signal's name, and how many later ones it ignored."""

    active: bool = False           # handlers installed (only the main thread can install them)
    stopped_by: str | None = None  # "SIGINT", "SIGTERM" or "SIGHUP": the stop that interrupted the recording
    ignored: int = 0
    holding: bool = False          # every stop signal is ignored from now on

    def hold(self) -> None:
        """Ignore every further stop signal (call it when the recording ended and the take is being saved)."""
        self.holding = True


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that stop a recording: Ctrl-C, ``kill`` / ``timeout`` / ``docker stop``, a closed terminal."""
    return tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def recording_signals() -> Iterator[RecordingSignals]:
    """Within the block, the first SIGINT / SIGTERM / SIGHUP raises ``KeyboardInterrupt`` (which ``record``
    turns into "interrupted, keep what arrived"); every later one is ignored and counted, so a second
    Ctrl-C or a ``kill`` while the take is built and written cannot lose it. The previous handlers come
    back when the block ends. Off the main thread (where Python cannot install handlers) it does nothing.
    """
    state = RecordingSignals()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum: int, frame) -> None:
        if state.holding or state.stopped_by is not None:
            state.ignored += 1
            return
        state.stopped_by = signal.Signals(signum).name
        state.holding = True
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in stop_signals()}
    state.active = True
    try:
        yield state
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        state.active = False


def record_udp(port: int = DEFAULT_PORT, max_frames: int = 600, timeout_s: float = 10.0,
               host: str = "127.0.0.1") -> tuple[Take, RecordStats]:
    """Bind ``host:port``, record up to ``max_frames`` frames or ``timeout_s`` seconds, close."""
    with UdpReceiver(port, host) as receiver:
        return receiver.record(max_frames, timeout_s)


def send_take(take: Take, port: int = DEFAULT_PORT, host: str = "127.0.0.1", *, fps: float | None = None,
              pace: bool = True, subject: str = "avatarcheck", device_id: str = "avatarcheck-sender") -> int:
    """Send every frame of ``take`` as a packet; returns the number sent.

    Frame numbers and sub-frames encode the take's timestamps at its own rate (as a fraction,
    e.g. 30000/1001). With ``pace`` frames leave at ``fps`` (default: the take's) on a
    perf-counter schedule; without it they go as fast as the socket takes them.
    """
    rate = Fraction(take.fps).limit_denominator(1001)
    per_second = rate.numerator / rate.denominator
    # an explicit 0 is a mistake, not "the default": only None means the take's own rate
    pace_fps = take.fps if fps is None else checked_number(fps, "send_take", "fps", *FPS_RANGE)
    host = checked_host(host, "send_take")
    with socket.socket(_family(host), socket.SOCK_DGRAM) as sock:
        t0 = time.perf_counter()
        for i in range(take.num_frames):
            if pace:
                delay = t0 + i / pace_fps - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            f = float(take.timestamps[i]) * per_second
            frame = math.floor(f)
            sub = float(np.float32(f - frame))
            if sub >= 1.0:  # float32 rounding up to a whole frame
                frame, sub = frame + 1, 0.0
            sock.sendto(build_packet(take.weights[i], take.head_rotation[i], take.eye_left[i], take.eye_right[i],
                                     frame=frame, sub_frame=sub, rate=(rate.numerator, rate.denominator),
                                     device_id=device_id, subject=subject), (host, port))
    return take.num_frames
