"""ARKit-52 takes: one in-memory ``Take``, Live Link Face CSV / UDP, ``.npz`` and synthetic takes.
The named moments a gate renders live in ``avatarcheck.moments``.

Submodules have one job each: ``take`` (the data class), ``livelink`` (the app's names and column
orders), ``timecode``, ``csv_io``, ``udp``, ``npz_io``, ``files`` (load/save by suffix),
``synthetic``, ``plot``; the commands are in ``avatarcheck.cli.take``.
"""

from avatarcheck.takes.files import load_take, save_take
from avatarcheck.takes.synthetic import synthetic_take
from avatarcheck.takes.take import Take

__all__ = ["Take", "load_take", "save_take", "synthetic_take"]
