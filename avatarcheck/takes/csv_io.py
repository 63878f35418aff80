"""Live Link Face CSV (the app's take export): read by column name, write the app's exact header.

Reading is strict: every problem raises ``InputError`` naming the file, the line, the column and
what was expected (long cells are shortened in messages). Numbers are plain ASCII decimals:
``float()``'s extras (``0.0_5``, Arabic-Indic or full-width digits) are refused. Weights within
``take.WEIGHT_BAND`` ([-0.1, 1.25], the overshoot of real trackers) are clipped to [0, 1] and
counted per channel in ``Take.clipped``; anything further out is rejected. Files are read with a
size bound (``limits.MAX_TAKE_BYTES``) and cells up to ``MAX_CELL_CHARS``.

Writing prints ``%.10f`` as the app does, except for the rare value that would not read back as
the same float32, which gets its exact shortest form: a written take reads back bit-identical.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from avatarcheck.arkit import ARKIT_NAMES
from avatarcheck.checks import checked_number
from avatarcheck.errors import InputError
from avatarcheck.io.atomic import write_text_atomic
from avatarcheck.io.inputs import read_bytes_checked
from avatarcheck.takes import timecode as tc
from avatarcheck.takes.limits import MAX_TAKE_BYTES
from avatarcheck.takes.livelink import CSV_HEADER, CSV_TO_CANONICAL, ROTATION_COLUMNS, VALUE_COUNT, app_name
from avatarcheck.takes.take import FPS_RANGE, ROTATION_LIMIT, Take, clip_weights

#: Longest cell read (the csv module's default field limit); real cells are under 20 characters.
MAX_CELL_CHARS = 131_072
#: How much of a bad cell an error message quotes.
SHOWN_CHARS = 60

_HEADER_HINT = "the Live Link Face header Timecode,BlendShapeCount,<52 blendshapes>,<9 head/eye rotations>"
# Value columns in our internal order: 52 blendshapes (canonical) then the 9 rotations.
_VALUE_NAMES: tuple[str, ...] = tuple(app_name(n) for n in ARKIT_NAMES) + ROTATION_COLUMNS


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """``repr(text)``, shortened to about ``limit`` characters with the full length noted."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _parse_floats(cells: list[str], plain: bool = False) -> np.ndarray:
    """Cells -> float64 (ValueError on a non-number). Writer and reader share it, so the writer's
    round-trip check sees exactly what the reader will. ``plain``: the caller has checked that the
    whole file is ASCII without underscores, so ``float`` alone is exact and a third faster."""
    parse = float if plain else _float
    return np.array([parse(c) for c in cells], dtype=np.float64)


def _float(cell: str) -> float:
    """``float()`` limited to ASCII without underscores: ``float`` also reads ``0.0_5`` as 0.05 and
    Arabic-Indic or full-width digits, which no tracker writes and which hide typos."""
    if not cell.isascii() or "_" in cell:
        raise ValueError(f"not a plain decimal number: {cell!r}")
    return float(cell)


def read_livelink_csv(path: str | os.PathLike, fps: float | None = None) -> Take:
    """Read a Live Link Face CSV into a ``Take`` (weights reordered to canonical by name).

    ``fps`` is the timecode rate that ``FF`` counts at; ``None`` infers it from the timecodes
    (exact when the take crosses a second boundary, else the app's default 60). The take's ``fps``
    is the rate of the rows, e.g. 30 for a take whose rows are 2 frames apart on a 60 fps timecode.
    """
    path = Path(path)
    src = str(path)
    if fps is not None:
        fps = checked_number(fps, src, "fps (timecode rate)", *FPS_RANGE)
    raw = read_bytes_checked(path, MAX_TAKE_BYTES, "a Live Link Face CSV")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise InputError(src, f"line {line}", "UTF-8 text", f"byte {raw[err.start]:#04x}") from None
    plain = text.isascii() and "_" not in text
    rows = [(n, row) for n, row in _numbered_rows(src, text) if any(cell.strip() for cell in row)]
    if not rows:
        raise InputError(src, "line 1, column Timecode", _HEADER_HINT, "an empty file")
    header_line, header = rows[0]
    names = [c.strip() for c in header]
    columns = _map_header(src, header_line, names)
    data = rows[1:]
    if not data:
        raise InputError(src, f"line {header_line + 1}, column Timecode", "at least one frame after the header",
                         "no data rows")

    ncols = len(names)
    t = len(data)
    values = np.empty((t, VALUE_COUNT), np.float64)
    seconds = np.empty(t, np.int64)
    frames = np.empty(t, np.float64)
    lines = np.empty(t, np.int64)
    value_idx = [columns[n.lower()] for n in _VALUE_NAMES]
    tc_idx, count_idx = columns["timecode"], columns["blendshapecount"]
    for i, (line, row) in enumerate(data):
        lines[i] = line
        if len(row) < ncols:
            raise InputError(src, f"line {line}, column {names[len(row)]}", f"{ncols} cells like the header",
                             f"{len(row)} cells (truncated row)")
        if len(row) > ncols:
            raise InputError(src, f"line {line}, column {ncols + 1} (after {names[-1]})",
                             f"{ncols} cells like the header", f"{len(row)} cells")
        cell = row[tc_idx]
        try:
            seconds[i], frames[i] = tc.parse_timecode(cell)
        except ValueError as err:
            raise InputError(src, f"line {line}, column {names[tc_idx]}", "a timecode HH:MM:SS:FF.fff",
                             f"{shown(cell)} ({err})") from None
        cell = row[count_idx].strip()
        if cell != str(VALUE_COUNT):
            raise InputError(src, f"line {line}, column {names[count_idx]}", f"{VALUE_COUNT} (52 blendshapes + 9 rotations)",
                             shown(row[count_idx]))
        cells = [row[j] for j in value_idx]
        try:
            values[i] = _parse_floats(cells, plain)
        except ValueError:
            k = next(k for k, c in enumerate(cells) if not _is_float(c))
            raise InputError(src, f"line {line}, column {names[value_idx[k]]}", "a plain decimal number",
                             shown(cells[k])) from None

    def locate(r: int, k: int) -> str:
        return f"line {lines[r]}, column {names[value_idx[k]]}"

    weights, clipped = clip_weights(values[:, :52], src, locate)
    rot = values[:, 52:]
    bad = np.argwhere(~np.isfinite(rot) | (np.abs(rot) > ROTATION_LIMIT))
    if len(bad):
        r, k = (int(i) for i in bad[0])
        expected = f"a finite angle in radians within +-{ROTATION_LIMIT:.4g}"
        raise InputError(src, locate(r, 52 + k), expected, shown(data[r][1][value_idx[52 + k]]))

    timestamps, rate = _timestamps(src, names[tc_idx], seconds, frames, lines, [row[tc_idx] for _, row in data], fps)
    rot = rot.astype(np.float32)
    return Take(weights.astype(np.float32), rot[:, 0:3], rot[:, 3:6], rot[:, 6:9],
                timestamps, tc.row_rate(timestamps, rate), src, clipped)


def write_livelink_csv(path: str | os.PathLike, take: Take, *, timecode_rate: int | None = None,
                       raw_weights: np.ndarray | None = None) -> None:
    """Write ``take`` as a Live Link Face CSV (atomically): the app's header and column order,
    timecodes at ``timecode_rate`` (default ``timecode.default_timecode_rate``: 60 for 60, 30, 20,
    15 ... fps, as the app writes them, else the take's rate rounded) with sub-frames carrying the rest.

    ``raw_weights``: (T, 52) canonical weights to write instead of ``take.weights``, as a tracker
    would (within ``WEIGHT_BAND``, e.g. eyeLookIn 1.05); they must clip to the take's weights.
    """
    rate = tc.default_timecode_rate(take.fps) if timecode_rate is None else int(
        checked_number(timecode_rate, take.source, "timecode_rate", 1, FPS_RANGE[1]))
    if take.timestamps[0] < 0:
        raise InputError(take.source, "timestamps[0]", "a time >= 0 (a timecode is a time of day)",
                         repr(float(take.timestamps[0])))
    weights = take.weights
    if raw_weights is not None:
        raw = np.asarray(raw_weights, np.float32)
        if raw.shape != weights.shape:
            raise InputError(take.source, "raw_weights", f"shape {weights.shape}", str(raw.shape))
        clipped, _ = clip_weights(raw, take.source)
        if not np.array_equal(clipped.astype(np.float32), weights):
            raise InputError(take.source, "raw_weights", "weights that clip to the take's own", "other values")
        weights = raw
    codes = tc.format_timecodes(take.timestamps, rate)
    values = np.concatenate([weights[:, list(CSV_TO_CANONICAL)], take.head_rotation, take.eye_left,
                             take.eye_right], axis=1).astype(np.float32)
    cells = _format_float32(values)
    buf = io.StringIO()
    buf.write(",".join(CSV_HEADER) + "\n")
    count = str(VALUE_COUNT)
    for code, row in zip(codes, cells):
        buf.write(f"{code},{count},{','.join(row)}\n")
    write_text_atomic(path, buf.getvalue())


def _format_float32(values: np.ndarray) -> list[list[str]]:
    """(T, N) float32 -> cells that read back (via ``_parse_floats``) as the same float32."""
    cells = np.char.mod("%.10f", values.astype(np.float64)).astype(object)
    back = _parse_floats(cells.ravel().tolist()).astype(np.float32).reshape(values.shape)
    for r, k in np.argwhere(back != values):
        # float64 holds every float32 exactly; its shortest repr reads back to that exact value.
        cells[r, k] = np.format_float_positional(np.float64(values[r, k]), unique=True)
    return cells.tolist()


def _numbered_rows(src: str, text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) per CSV record; a csv-module error (a cell over ``MAX_CELL_CHARS``)
    becomes an ``InputError`` at its line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            line = reader.line_num or 1
            raise InputError(src, f"line {line}", f"CSV cells of at most {MAX_CELL_CHARS} characters",
                             shown(str(err))) from None
        yield reader.line_num, row


def _is_float(cell: str) -> bool:
    try:
        _float(cell)
    except ValueError:
        return False
    return True


def _map_header(src: str, line: int, names: list[str]) -> dict[str, int]:
    """Lower-cased column name -> position; every Live Link Face column exactly once, nothing else."""
    wanted = {n.lower(): n for n in CSV_HEADER}
    wanted["blendshapecount"] = "BlendShapeCount"  # older exports spell it BlendshapeCount: same when lowered
    positions: dict[str, int] = {}
    for i, name in enumerate(names):
        key = name.lower()
        if key not in wanted:
            raise InputError(src, f"line {line}, column {i + 1}", "only Live Link Face columns (" + _HEADER_HINT + ")",
                             f"an unknown column {shown(name)}")
        if key in positions:
            raise InputError(src, f"line {line}, column {name}", "each column once",
                             f"a repeat (columns {positions[key] + 1} and {i + 1})")
        positions[key] = i
    for key, name in wanted.items():
        if key not in positions:
            raise InputError(src, f"line {line}, column {name}", f"a column named {name} (any capitalisation)",
                             f"a header of {len(names)} columns without it")
    return positions


def _timestamps(src: str, column: str, seconds: np.ndarray, frames: np.ndarray, lines: np.ndarray,
                cells: list[str], fps: float | None) -> tuple[np.ndarray, float]:
    if fps is not None:
        rate: float = float(fps)
    else:
        try:
            rate = tc.infer_rate(seconds, frames)
        except ValueError as err:
            r = int(np.argmax(frames))
            raise InputError(src, f"line {lines[r]}, column {column}", "a frame number below a standard rate",
                             f"{shown(cells[r])} ({err})") from None
    over = np.flatnonzero(np.floor(frames) >= rate)
    if len(over):
        r = int(over[0])
        hint = ""
        if fps is not None:  # a 30 fps take on the app's 60 fps timecode is the usual cause
            hint = f"; the timecodes count to {int(frames.max())}: fps is the timecode rate, omit it to infer"
        raise InputError(src, f"line {lines[r]}, column {column}", f"a frame number below the timecode rate {rate:g}",
                         shown(cells[r]) + hint)
    timestamps = tc.timestamps_from(seconds, frames, rate)
    back = np.flatnonzero(np.diff(timestamps) <= 0)
    if len(back):
        r = int(back[0]) + 1
        raise InputError(src, f"line {lines[r]}, column {column}", f"a time after the previous row's {shown(cells[r - 1])}",
                         shown(cells[r]))
    return timestamps, rate
