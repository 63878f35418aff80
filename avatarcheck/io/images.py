"""PNG writing (atomic)."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from avatarcheck.io.atomic import write_bytes_atomic


def write_png(path: str | os.PathLike, image: np.ndarray, compress_level: int = 6) -> None:
    """image (H, W, 3|4) uint8, or float in [0, 1] -> PNG at ``path`` (temp file, then rename).

    compress_level: zlib's 0-9 (Pillow's default 6). Pixels are the same at every level; 1 encodes
    a 256 px report image ~4x faster than 6 for ~15 % more bytes (what report images use: a gate
    writes ~90 of them, and at 6 their encoding was ~8 % of the default gate's wall time).
    """
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=compress_level)
    write_bytes_atomic(path, buf.getvalue())
