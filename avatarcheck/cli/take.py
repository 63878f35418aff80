"""``avatarcheck take ...``: inspect, convert, synthesise, record and send ARKit takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from avatarcheck.cli.common import console
from avatarcheck.cli.common import fail as _fail
from avatarcheck.errors import InputError

take_app = typer.Typer(no_args_is_help=True,
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
    """Print a take's gate moments (eye wide, full blink, half blink looking down)."""
    from avatarcheck.takes.files import load_take
    from avatarcheck.takes.moments import select_moments

    try:
        take = load_take(file, fps)
        moments = select_moments(take, gate=gate, eye=eye)
        if plot is not None:
            from avatarcheck.takes.plot import plot_timeline

            plot_timeline(take, moments, plot, eye=eye)
    except _ERRORS as err:
        _fail(err)
    console.print(f"{take.source}: {take.num_frames} frames at {take.fps:g} fps ({take.duration_s:.2f} s), eye: {eye}",
                  soft_wrap=True)
    table = Table(title=f"{gate} moments")
    table.add_column("moment", no_wrap=True)
    table.add_column("frame", justify="right", no_wrap=True)
    table.add_column("t (s)", justify="right", no_wrap=True)
    sides = ("Left", "Right") if eye == "both" else (eye.capitalize(),)
    bases = {"eyeBlink": "blink", "eyeWide": "wide", "eyeLookDown": "look down"}
    for label in bases.values():
        table.add_column(label + (" L/R" if eye == "both" else f" {sides[0][0]}"), justify="right", no_wrap=True)
    for m in moments.values():
        cells = ["/".join(f"{m.values[base + s]:.3f}" for s in sides) for base in bases]
        table.add_row(m.name, str(m.frame), f"{take.timestamps[m.frame] - take.timestamps[0]:.2f}", *cells)
    console.print(table)
    for m in moments.values():
        console.print(f"{m.name}: {m.reason}", soft_wrap=True)
    if plot is not None:
        console.print(f"wrote {plot}")


@take_app.command("convert")
def take_convert(
    source: Path = typer.Argument(..., help="input take (.csv or .npz)"),
    out: Path = typer.Argument(..., help="output take (.csv or .npz)"),
    fps: Optional[float] = typer.Option(None, help="CSV timecode rate (default: inferred, else 60)"),
) -> None:
    """Convert a take between Live Link Face CSV and .npz."""
    from avatarcheck.takes.files import load_take, save_take

    try:
        take = load_take(source, fps)
        save_take(out, take)
    except _ERRORS as err:
        _fail(err)
    console.print(f"wrote {out} ({take.num_frames} frames at {take.fps:g} fps)")


@take_app.command("synth")
def take_synth(
    seed: int = typer.Option(..., help="random seed (numpy default_rng)"),
    frames: int = typer.Option(720, min=1, help="number of frames"),
    fps: float = typer.Option(60.0, help="frame rate"),
    out: Path = typer.Option(..., help="output take (.csv or .npz)"),
) -> None:
    """Write a synthetic take (blinks, an eye-wide peak, a half blink looking down, saccades)."""
    from avatarcheck.takes.files import save_take
    from avatarcheck.takes.synthetic import synthetic_take

    try:
        take = synthetic_take(seed, frames, fps)
        save_take(out, take)
    except _ERRORS as err:
        _fail(err)
    console.print(f"wrote {out} ({take.num_frames} frames at {take.fps:g} fps, seed {seed})")


@take_app.command("record")
def take_record(
    udp: int = typer.Option(11111, "--udp", min=0, max=65535, help="UDP port to listen on (Live Link Face: 11111)"),
    frames: int = typer.Option(600, min=1, help="stop after this many valid frames"),
    timeout: float = typer.Option(30.0, min=0.001, help="stop after this many seconds in all"),
    host: str = typer.Option("127.0.0.1", help="address to bind (0.0.0.0 to hear a phone on the network)"),
    out: Path = typer.Option(..., help="output take (.csv or .npz)"),
) -> None:
    """Record Live Link Face UDP packets into a take; bad datagrams are counted and dropped."""
    from avatarcheck.takes.files import save_take
    from avatarcheck.takes.udp import UdpReceiver

    try:
        _check_suffix(out)
        with UdpReceiver(udp, host) as receiver:
            console.print(f"listening on {host}:{receiver.port} for up to {frames} frames / {timeout:g} s")
            take, stats = receiver.record(frames, timeout)
        save_take(out, take)
    except (*_ERRORS, OSError) as err:
        _fail(err)
    console.print(json.dumps(stats.to_dict()))
    console.print(f"wrote {out} ({take.num_frames} frames at {take.fps:g} fps)")


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
    console.print(f"sent {sent} packets to {host}:{port}")


def _check_suffix(path: Path) -> None:
    """Fail before recording, not after, when the output suffix is not one we can write."""
    from avatarcheck.takes.files import SUFFIXES

    if path.suffix.lower() not in SUFFIXES:
        raise InputError(path, "suffix", "a .csv (Live Link Face) or .npz take", repr(path.suffix or "none"))
