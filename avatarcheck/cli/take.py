"""``avatarcheck take ...``: inspect, convert, synthesise, record and send ARKit takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape
from rich.table import Table

from avatarcheck.cli.common import console
from avatarcheck.cli.common import fail as _fail
from avatarcheck.errors import InputError

if TYPE_CHECKING:  # the commands import the take modules lazily, to keep `avatarcheck --help` fast
    from avatarcheck.takes.take import Take
    from avatarcheck.takes.udp import RecordStats

take_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                       help="ARKit-52 takes: Live Link Face CSV/UDP, .npz, synthetic takes, gate moments.")
_ERRORS = (InputError, FileNotFoundError, IsADirectoryError, PermissionError)


@take_app.command("inspect")
def take_inspect(
    file: Path = typer.Argument(..., help="take .csv (Live Link Face) or .npz"),
    eye: str = typer.Option("both", help="both | left | right"),
    gate: str = typer.Option("three-moment", help="moment set"),
    plot: Optional[Path] = typer.Option(None, help="write a timeline PNG with the moments marked"),
    fps: Optional[float] = typer.Option(None, help="CSV timecode rate (default: inferred, else 60)"),
) -> None:
    """Print a take's gate moments (eye wide, full blink, half blink looking down), found or not:
    for a moment the take lacks, the closest frame and the condition it fails."""
    from avatarcheck.gate.spec import load_gate
    from avatarcheck.moments import MissingMoment, pick_moments
    from avatarcheck.takes.files import load_take

    try:
        spec = load_gate(gate, Path("pyproject.toml"))
        take = load_take(file, fps)
        picked = pick_moments(take, spec.moments, spec.moment_params, eye=eye)
        found = {k: m for k, m in picked.items() if not isinstance(m, MissingMoment)}
        if plot is not None:
            from avatarcheck.takes.plot import plot_timeline

            plot_timeline(take, found, plot, eye=eye)
    except _ERRORS as err:
        _fail(err)
    console.print(f"{escape(take.source)}: {take.num_frames} frames at {take.fps:g} fps ({take.duration_s:.2f} s), "
                  f"eye: {escape(eye)}", soft_wrap=True)
    console.print(escape(_clipped_line(take)), soft_wrap=True)
    table = Table(title=f"{escape(gate)} moments")
    table.add_column("moment", no_wrap=True)
    table.add_column("frame", justify="right", no_wrap=True)
    table.add_column("t (s)", justify="right", no_wrap=True)
    sides = ("Left", "Right") if eye == "both" else (eye.capitalize(),)
    bases = {"eyeBlink": "blink", "eyeWide": "wide", "eyeLookDown": "look down"}
    for label in bases.values():
        table.add_column(label + (" L/R" if eye == "both" else f" {sides[0][0]}"), justify="right", no_wrap=True)
    for m in picked.values():
        frame = m.best_frame if isinstance(m, MissingMoment) else m.frame
        cells = ["/".join(f"{m.values[base + s]:.3f}" for s in sides) if m.values else "-" for base in bases]
        t = "-" if frame is None else f"{take.timestamps[frame] - take.timestamps[0]:.2f}"
        label = f"{m.name} (missing; closest)" if isinstance(m, MissingMoment) else m.name
        table.add_row(escape(label), "-" if frame is None else str(frame), t, *cells)
    console.print(table)
    for m in picked.values():
        console.print(escape(f"{m.name}: {m.reason}"), soft_wrap=True)
    if plot is not None:
        console.print(f"wrote {escape(str(plot))}", soft_wrap=True)


@take_app.command("convert")
def take_convert(
    source: Path = typer.Argument(..., help="input take (.csv or .npz)"),
    out: Path = typer.Argument(..., help="output take (.csv or .npz)"),
    fps: Optional[float] = typer.Option(None, help="CSV timecode rate (default: inferred, else 60)"),
) -> None:
    """Convert a take between Live Link Face CSV and .npz."""
    from avatarcheck.takes.files import check_output_path, load_take, save_take

    try:
        check_output_path(out)  # before the work: a bad --out fails at once
        take = load_take(source, fps)
        save_take(out, take)
    except _ERRORS as err:
        _fail(err)
    console.print(f"wrote {escape(str(out))} ({take.num_frames} frames at {take.fps:g} fps)", soft_wrap=True)


@take_app.command("synth")
def take_synth(
    seed: int = typer.Option(..., min=0, help="random seed (numpy default_rng)"),
    frames: int = typer.Option(720, min=1, help="number of frames"),
    fps: float = typer.Option(60.0, help="frame rate"),
    style: str = typer.Option("default", help="default | real (overshooting eyeLook weights, blinks looking "
                              "down, exact zeros, a time-of-day start, 60 fps timecodes in a CSV)"),
    eye_wide: bool = typer.Option(True, "--eye-wide/--no-eye-wide", help="--no-eye-wide: eyeWide stays below 0.5"),
    out: Path = typer.Option(..., help="output take (.csv or .npz)"),
) -> None:
    """Write a synthetic take (blinks, an eye-wide peak, a half blink looking down, saccades)."""
    from avatarcheck.takes.files import check_output_path
    from avatarcheck.takes.synthetic import synthetic_raw, write_synthetic

    try:
        check_output_path(out)
        take, raw = synthetic_raw(seed, frames, fps, style=style, eye_wide=eye_wide)
        write_synthetic(out, take, raw, style)
    except _ERRORS as err:
        _fail(err)
    console.print(f"wrote {escape(str(out))} ({take.num_frames} frames at {take.fps:g} fps, seed {seed}, "
                  f"style {escape(style)})", soft_wrap=True)
    if take.clipped:
        console.print(escape(_clipped_line(take)), soft_wrap=True)


@take_app.command("record")
def take_record(
    udp: int = typer.Option(11111, "--udp", min=0, max=65535, help="UDP port to listen on (Live Link Face: 11111)"),
    frames: int = typer.Option(600, min=1, help="stop after this many valid frames"),
    timeout: float = typer.Option(30.0, help="stop after this many seconds in all (at most a week)"),
    host: str = typer.Option("127.0.0.1", help="address to bind (0.0.0.0 to hear a phone on the network)"),
    out: Path = typer.Option(..., help="output take (.csv or .npz)"),
) -> None:
    """Record Live Link Face UDP packets into a take; bad datagrams are counted and dropped.

    The output is checked before listening. On Ctrl-C, SIGTERM, SIGHUP or the timeout, the frames
    received so far are written (atomically) and the command says so; further signals while it
    writes are ignored."""
    from avatarcheck.checks import checked_number
    from avatarcheck.takes.files import check_output_path, save_take
    from avatarcheck.takes.udp import MAX_TIMEOUT_S, UdpReceiver, checked_host, listens_everywhere, recording_signals

    try:
        check_output_path(out)
        checked_number(timeout, "--timeout", "seconds", 0.001, MAX_TIMEOUT_S)
        host = checked_host(host, "--host")
        # the handlers go in before "listening" is printed: whoever waits for that line may signal at once
        with recording_signals() as stop, UdpReceiver(udp, host) as receiver:
            try:
                if listens_everywhere(host):
                    console.print(f"[yellow]warning:[/yellow] {escape(host)} listens on every network interface: "
                                  f"anyone on the network can send to port {receiver.port}", soft_wrap=True)
                console.print(f"listening on {escape(host)}:{receiver.port} for up to {frames} frames / "
                              f"{timeout:g} s (Ctrl-C stops and keeps what arrived)", soft_wrap=True)
                interrupted = False
            except KeyboardInterrupt:  # a stop before the receive loop: keep what is queued all the same
                interrupted = True
            take, stats = receiver.record(frames, timeout, interrupted=interrupted)
            stop.hold()  # from here to the end of the save, a stop signal cannot lose the take
            save_take(out, take)
    except (*_ERRORS, OSError) as err:
        _fail(err)
    console.print(escape(json.dumps(stats.to_dict())), soft_wrap=True)
    console.print(escape(_record_summary(stats)), soft_wrap=True)
    how = {None: "Ctrl-C", "SIGINT": "Ctrl-C"}.get(stop.stopped_by, stop.stopped_by)
    ended = (f"interrupted ({how})" if stats.interrupted else f"timed out after {timeout:g} s" if stats.timed_out
             else "complete")
    console.print(f"recording {ended}: wrote {escape(str(out))} ({take.num_frames} frames at {take.fps:g} fps)",
                  soft_wrap=True)


@take_app.command("send")
def take_send(
    file: Path = typer.Argument(..., help="take (.csv or .npz)"),
    port: int = typer.Option(11111, min=1, max=65535, help="UDP port"),
    host: str = typer.Option("127.0.0.1", help="destination address"),
    fps: Optional[float] = typer.Option(None, help="pacing rate (default: the take's)"),
    pace: bool = typer.Option(True, help="--no-pace sends as fast as possible"),
    subject: str = typer.Option("avatarcheck", help="subject name in the packets"),
) -> None:
    """Stream a take as Live Link Face UDP packets (e.g. to Unreal or to `take record`)."""
    from avatarcheck.takes.files import load_take
    from avatarcheck.takes.udp import send_take

    try:
        take = load_take(file)
        sent = send_take(take, port, host, fps=fps, pace=pace, subject=subject)
    except (*_ERRORS, OSError) as err:
        _fail(err)
    console.print(f"sent {sent} packets to {escape(host)}:{port}", soft_wrap=True)


def _clipped_line(take: Take) -> str:
    """``take.clipped`` for people: which channels had how many cells clipped into [0, 1]."""
    if not take.clipped:
        return "clipped into [0, 1]: none"
    cells = ", ".join(f"{name} {count}" for name, count in take.clipped.items())
    return f"clipped into [0, 1]: {take.clipped_cells} cells ({cells})"


def _record_summary(stats: RecordStats) -> str:
    """One line on what a recording kept, dropped, clipped and never saw."""
    reasons = ", ".join(f"{k} {v}" for k, v in stats.reasons.items()) or "none"
    clipped = ", ".join(f"{k} {v}" for k, v in stats.clipped.items()) or "none"
    return (f"kept {stats.frames} frames of {stats.datagrams} datagrams; dropped {stats.dropped} ({reasons}); "
            f"{stats.clipped_frames} frames with weights clipped into [0, 1] ({clipped}); "
            f"~{stats.missing_frames} frames never arrived (kernel or network drops, from frame-number gaps)")
