"""Where a catalogue run keeps its results: one folder per item, complete or absent.

```
OUT/summary.json, OUT/index.html        the summary (rewritten by every run)
OUT/items/<key>/item.json               the item's row
OUT/items/<key>/report/index.html       its normal gate report (result.json, PNGs)
```

An item folder is built under a temp name and renamed when complete (``io.atomic.atomic_dir``): a worker
killed mid-item leaves a hidden temp folder, never ``items/<key>``, and the next run on that host removes it.
So an item is done exactly when ``items/<key>/item.json`` reads back with its key.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from avatarcheck.catalogue.plan import Item
from avatarcheck.catalogue.rows import VERDICTS
from avatarcheck.io.atomic import remove_stale_temps

ITEMS = "items"
ITEM_JSON = "item.json"
REPORT = "report"


def item_dir(out: str | Path, key: str) -> Path:
    return Path(out) / ITEMS / key


def report_link(key: str) -> str:
    """The item's report, relative to the output folder (the summary's link)."""
    return f"{ITEMS}/{key}/{REPORT}/index.html"


def done_row(out: str | Path, item: Item) -> dict[str, Any] | None:
    """The stored row of a finished item, marked ``resumed``; None when the item is not done (or its row is
    unreadable: then it is gated again). Its names are ``item``'s: another avatar file with the same bytes
    (or a copied take) has the same key and shares the result, under its own name."""
    try:
        row = json.loads((item_dir(out, item.key) / ITEM_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(row, dict) or row.get("key") != item.key or row.get("verdict") not in VERDICTS:
        return None
    return {**row, "avatar": item.label, "avatar_spec": item.avatar, "edit": item.edit.name, "take": item.take,
            "resumed": True}


def forget(out: str | Path, key: str) -> None:
    """Remove an item's stored result (``--rerun``, or an unreadable one), so it can be written anew."""
    shutil.rmtree(item_dir(out, key), ignore_errors=True)


def sweep_stale(out: str | Path) -> list[Path]:
    """Remove this host's temp item folders whose builder is gone (a killed worker's)."""
    return remove_stale_temps(Path(out) / ITEMS)
