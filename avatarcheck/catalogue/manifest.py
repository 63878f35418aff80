"""A catalogue manifest: one TOML file listing avatars, edits and takes.

```toml
avatars = ["avatars/*.zip", "alice/", "synthetic:lam-trained"]   # paths (globs), relative to this file
takes = ["synthetic:1", "recordings/take_04.csv"]                # default: the gate's take
edits = ["pear", { name = "pear3", kind = "chibi", preset = "pear", strength = 3.0 }]
```

``edits`` entries are names of the gate's ``[[edits]]``, or tables declaring an edit exactly as a gate file
does (checked by the gate's own parser); default: every edit of the gate. Paths are relative to the
manifest's folder.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from avatarcheck.errors import InputError
from avatarcheck.gate.schema import Table

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = {"avatars", "edits", "takes"}
SYNTHETIC = "synthetic"
MAX_MANIFEST_BYTES = 16 << 20


@dataclasses.dataclass(frozen=True)
class Manifest:
    """``avatars`` and ``takes`` with relative paths resolved against the manifest's folder; ``edits``: names
    (str) or edit tables (dict); an empty tuple means the default (every gate edit, the gate's take)."""

    source: str
    avatars: tuple[str, ...]
    edits: tuple[str | dict[str, Any], ...]
    takes: tuple[str, ...]


def is_spec_not_path(text: str) -> bool:
    """``synthetic`` / ``synthetic:...`` avatars and takes are generated, not files."""
    return text == SYNTHETIC or text.startswith(SYNTHETIC + ":")


def _resolved(text: str, folder: Path) -> str:
    if is_spec_not_path(text) or os.path.isabs(text):
        return text
    return str(folder / text)


def read_manifest(path: str | os.PathLike) -> Manifest:
    """The manifest at ``path``; every problem is an ``InputError`` naming the file and the key."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise InputError(path, "file", f"a manifest of at most {MAX_MANIFEST_BYTES >> 20} MiB", "a larger file")
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as err:
        raise InputError(path, "file", "a readable manifest .toml", f"{type(err).__name__}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise InputError(path, "encoding", "UTF-8 TOML", f"undecodable bytes at byte {err.start}") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(path, "toml", "valid TOML", str(err)) from None
    t = Table(data, str(path), "", KEYS)
    avatars = t.strings("avatars")
    if not avatars:
        raise InputError(path, "avatars", "at least one avatar path, glob or synthetic[:flavour]", "[]")
    edits = tuple(t.get("edits", list, []))
    for i, e in enumerate(edits):
        if not isinstance(e, (str, dict)):
            raise InputError(path, f"edits[{i}]", "a gate edit's name or an edit table (name, kind, parameters)",
                             repr(e))
    folder = path.parent
    return Manifest(str(path), tuple(_resolved(a, folder) for a in avatars), edits,
                    tuple(_resolved(x, folder) for x in t.strings("takes", [])))
