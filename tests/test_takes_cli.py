"""``avatarcheck take ...`` end to end: inspect, convert, synth, send, record, and exit code 2."""

import socket
import threading
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from avatarcheck.cli import app
from avatarcheck.takes.files import load_take
from avatarcheck.takes.udp import UdpReceiver, build_packet

runner = CliRunner()
MOMENT_NAMES = ("eye_wide", "full_blink", "half_blink_down")  # the three-moment gate's
RECORDING = Path(__file__).resolve().parents[1] / "recordings" / "synthetic_take_01.csv"


def test_take_help_lists_commands():
    r = runner.invoke(app, ["take", "--help"])
    assert r.exit_code == 0
    for cmd in ("inspect", "convert", "synth", "record", "send"):
        assert cmd in r.output


def test_inspect_prints_moments_and_writes_png(tmp_path):
    png = tmp_path / "timeline.png"
    r = runner.invoke(app, ["take", "inspect", str(RECORDING), "--plot", str(png)])
    assert r.exit_code == 0, r.output
    for name in MOMENT_NAMES:
        assert name in r.output
    assert "163" in r.output and "37" in r.output and "453" in r.output  # the frames in recordings/README.md
    img = Image.open(png)
    assert img.format == "PNG" and img.size[0] >= 600 and img.size[1] >= 200
    assert np.asarray(img.convert("L")).std() > 5  # something drawn
    assert not list(tmp_path.glob(".*.tmp"))


def test_inspect_bad_file_exits_2_with_the_message(tmp_path):
    bad = tmp_path / "broken.csv"
    lines = RECORDING.read_text().splitlines()[:5]
    cells = lines[3].split(",")
    cells[10] = "oops"
    lines[3] = ",".join(cells)
    bad.write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["take", "inspect", str(bad)])
    assert r.exit_code == 2
    assert "broken.csv" in r.output and "line 4" in r.output and "column EyeLookDownRight" in r.output
    r = runner.invoke(app, ["take", "inspect", str(tmp_path / "missing.csv")])
    assert r.exit_code == 2 and "missing.csv" in r.output
    r = runner.invoke(app, ["take", "inspect", str(RECORDING), "--eye", "middle"])
    assert r.exit_code == 2 and "eye" in r.output


def test_inspect_take_without_moments_exits_2(tmp_path):
    flat = tmp_path / "flat.csv"
    r = runner.invoke(app, ["take", "convert", str(RECORDING), str(tmp_path / "t.npz")])
    assert r.exit_code == 0, r.output
    lines = RECORDING.read_text().splitlines()[:20]  # the first 19 frames: no wide eyes yet
    flat.write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["take", "inspect", str(flat)])
    assert r.exit_code == 2 and "flat.csv: moment eye_wide" in r.output


def test_convert_and_synth_round_trip(tmp_path):
    npz, csv = tmp_path / "t.npz", tmp_path / "t.csv"
    assert runner.invoke(app, ["take", "convert", str(RECORDING), str(npz)]).exit_code == 0
    assert runner.invoke(app, ["take", "convert", str(npz), str(csv)]).exit_code == 0
    a, b = load_take(RECORDING), load_take(csv)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.eye_right, b.eye_right)
    assert csv.read_bytes() == RECORDING.read_bytes()  # byte-identical after csv -> npz -> csv
    out = tmp_path / "s.csv"
    r = runner.invoke(app, ["take", "synth", "--seed", "1", "--frames", "720", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == RECORDING.read_bytes()  # the README command reproduces the file
    r = runner.invoke(app, ["take", "convert", str(RECORDING), str(tmp_path / "t.txt")])
    assert r.exit_code == 2 and "suffix" in r.output


def test_send_to_a_receiver(tmp_path):
    part = tmp_path / "part.npz"
    from avatarcheck.takes.files import save_take

    save_take(part, load_take(RECORDING).slice(0, 30))
    with UdpReceiver(port=0) as rx:
        r = runner.invoke(app, ["take", "send", str(part), "--port", str(rx.port), "--no-pace"])
        assert r.exit_code == 0 and "sent 30 packets" in r.output
        got, stats = rx.record(max_frames=30, timeout_s=10)
    np.testing.assert_array_equal(got.weights, load_take(part).weights)


def test_record_from_a_sender_thread(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = threading.Event()

    def sender():  # keeps sending until the recorder has what it needs: no timing assumptions
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for i in range(20_000):
                if stop.is_set():
                    return
                w = np.zeros(52, np.float32)
                w[0] = (i % 100) / 100
                tx.sendto(b"junk" if i % 5 == 4 else build_packet(w, frame=i), ("127.0.0.1", port))
                stop.wait(0.001)

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    out = tmp_path / "rec.npz"
    try:
        r = runner.invoke(app, ["take", "record", "--udp", str(port), "--frames", "8", "--timeout", "20",
                                "--out", str(out)])
    finally:
        stop.set()
        thread.join(5)
    assert r.exit_code == 0, r.output
    take = load_take(out)
    assert take.num_frames == 8 and take.fps == 60 and (np.diff(take.timestamps) > 0).all()
    assert '"frames": 8' in r.output


def test_record_bad_output_suffix_fails_before_listening(tmp_path):
    r = runner.invoke(app, ["take", "record", "--udp", "0", "--frames", "1", "--timeout", "0.1",
                            "--out", str(tmp_path / "x.txt")])
    assert r.exit_code == 2 and "suffix" in r.output
    r = runner.invoke(app, ["take", "record", "--udp", "0", "--frames", "1", "--timeout", "0.1",
                            "--out", str(tmp_path / "x.npz")])
    assert r.exit_code == 2 and "frames: expected at least one valid" in r.output
