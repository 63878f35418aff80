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
from tests.test_takes_udp import _InterruptingSocket

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


def test_inspect_shows_a_take_without_moments_with_the_closest_frames(tmp_path):
    flat = tmp_path / "flat.csv"
    lines = RECORDING.read_text().splitlines()[:20]  # the first 19 frames: no wide eyes yet
    flat.write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["take", "inspect", str(flat)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "eye_wide (missing; closest)" in r.output
    assert "eye_wide: no frame with the highest eyeWide" in r.output and "which fails: eyeWide" in r.output


def test_inspect_the_real_looking_take_without_an_eye_wide_moment():
    take5 = RECORDING.parent / "synthetic_take_05_no_eye_wide.csv"
    r = runner.invoke(app, ["take", "inspect", str(take5)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "30 fps" in r.output and "eye_wide (missing; closest)" in r.output
    assert "full_blink:" in r.output and "clipped" in r.output


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


# --- real-looking takes, recording that never loses data, output mistakes (issue 12, audit D4/D8/D13) ---

RECORDINGS = RECORDING.parent
REAL = RECORDINGS / "synthetic_take_04_real_30fps.csv"


def test_inspect_prints_what_was_clipped():
    """Counted from the CSV's own cells here, not by the reader under test."""
    import csv as csvmod

    with REAL.open(newline="") as fh:
        rows = list(csvmod.reader(fh))
    header, body = rows[0], np.array(rows[1:])[:, 2:54].astype(float)
    over = (body > 1) | (body < 0)
    expected = {header[2 + k]: int(n) for k, n in enumerate(over.sum(0)) if n}
    assert expected and all(name.startswith("EyeLook") for name in expected)
    r = runner.invoke(app, ["take", "inspect", str(REAL)])
    assert r.exit_code == 0, r.output
    assert "3600 frames at 30 fps" in r.output
    assert f"clipped into [0, 1]: {sum(expected.values())} cells" in r.output
    for name, count in expected.items():
        assert f"{name[0].lower() + name[1:]} {count}" in r.output


def test_synth_real_style_reproduces_the_shipped_take(tmp_path):
    out = tmp_path / "t5.csv"
    r = runner.invoke(app, ["take", "synth", "--seed", "5", "--frames", "328", "--fps", "30", "--style", "real",
                            "--no-eye-wide", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == (RECORDINGS / "synthetic_take_05_no_eye_wide.csv").read_bytes()
    assert "clipped into [0, 1]:" in r.output
    r = runner.invoke(app, ["take", "synth", "--seed", "-1", "--out", str(tmp_path / "n.csv")])
    assert r.exit_code == 2 and not (tmp_path / "n.csv").exists()
    r = runner.invoke(app, ["take", "synth", "--seed", "1", "--style", "fancy", "--out", str(tmp_path / "n.csv")])
    assert r.exit_code == 2 and "style" in r.output


def test_output_path_mistakes_fail_before_any_work(tmp_path):
    """Audit D8: --out an existing file's child, a directory, or unwritable: exit 2, nothing written."""
    (tmp_path / "f").write_text("x")
    bad_outs = [tmp_path / "f" / "x.npz", tmp_path / "f" / "deeper" / "x.csv", tmp_path, Path("/proc/t.csv")]
    for out in bad_outs:
        r = runner.invoke(app, ["take", "convert", str(tmp_path / "missing.csv"), str(out)])
        assert r.exit_code == 2 and "output" in r.output and "missing.csv" not in r.output, r.output  # out first
        r = runner.invoke(app, ["take", "synth", "--seed", "1", "--out", str(out)])
        assert r.exit_code == 2 and "output" in r.output, r.output
        r = runner.invoke(app, ["take", "record", "--udp", "0", "--timeout", "30", "--out", str(out)])
        assert r.exit_code == 2 and "output" in r.output and "listening" not in r.output, r.output
    assert (tmp_path / "f").read_text() == "x"


def test_record_ctrl_c_writes_what_arrived(tmp_path, monkeypatch):
    """Audit D4: Ctrl-C used to exit 130 and write nothing. Three frames wait in the socket, then the
    fourth receive raises KeyboardInterrupt, as SIGINT does."""
    from avatarcheck.takes import udp

    original = udp.UdpReceiver.__init__

    def init(self, port=11111, host="127.0.0.1"):
        original(self, port, host)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for i in range(3):
                tx.sendto(build_packet(np.full(52, i / 10, np.float32), frame=2 * i), ("127.0.0.1", self.port))
        self._sock = _InterruptingSocket(self._sock, 3)

    monkeypatch.setattr(udp.UdpReceiver, "__init__", init)
    out = tmp_path / "rec.csv"
    r = runner.invoke(app, ["take", "record", "--udp", "0", "--frames", "5000", "--timeout", "600", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "interrupted (Ctrl-C): wrote" in r.output and '"interrupted": true' in r.output
    take = load_take(out)
    assert take.num_frames == 3 and take.fps == 30
    np.testing.assert_allclose(take.channel("eyeBlinkLeft"), [0.0, 0.1, 0.2], atol=1e-7)
    assert not list(tmp_path.glob(".*.tmp"))


def test_record_and_send_options_are_checked(tmp_path):
    """Audit D13: --timeout 1e12 / inf gave an OverflowError traceback; --host '' bound every interface;
    send --fps 0 silently paced at the take's rate."""
    out = str(tmp_path / "t.csv")
    for timeout in ("1e12", "inf", "nan", "0"):
        r = runner.invoke(app, ["take", "record", "--udp", "0", "--timeout", timeout, "--out", out])
        assert r.exit_code == 2 and "--timeout" in r.output and "listening" not in r.output, r.output
    r = runner.invoke(app, ["take", "record", "--udp", "0", "--host", "", "--timeout", "0.05", "--out", out])
    assert r.exit_code == 2 and "host" in r.output and "listening" not in r.output
    r = runner.invoke(app, ["take", "record", "--udp", "0", "--host", "0.0.0.0", "--timeout", "0.05", "--out", out])
    assert "warning" in r.output and "every network interface" in r.output
    r = runner.invoke(app, ["take", "send", str(RECORDING), "--port", "9", "--fps", "0"])
    assert r.exit_code == 2 and "fps" in r.output and "sent" not in r.output
