"""Size bounds shared by the take readers (``csv_io``, ``npz_io``) and ``files``.

A leaf module: the readers import their bound from here rather than from ``files``, which imports
the readers (that was an import cycle).
"""

from __future__ import annotations

#: Largest take file read: a one-hour 60 fps Live Link Face CSV is about 150 MB. Reading a CSV
#: holds about 11 times its size in memory (measured: 32 MB peak for a 3 MB take), so ~3 GB here.
MAX_TAKE_BYTES = 256 << 20
