"""PNG writing (atomic)."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from avatarcheck.io.atomic import write_bytes_atomic


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """image (H, W, 3|4) uint8, or float in [0, 1] -> PNG at ``path`` (temp file, then rename)."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    write_bytes_atomic(path, buf.getvalue())
