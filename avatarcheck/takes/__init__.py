"""ARKit-52 takes: one in-memory ``Take``, Live Link Face CSV / UDP, ``.npz``, synthetic takes and
the named moments (eye wide, full blink, half blink on a downward gaze) a gate renders.

Submodules have one job each: ``take`` (the data class), ``livelink`` (the app's names and column
orders), ``timecode``, ``csv_io``, ``udp``, ``npz_io``, ``files`` (load/save by suffix),
``synthetic``, ``moments``, ``plot``, ``cli``.
"""

from avatarcheck.takes.files import load_take, save_take
from avatarcheck.takes.moments import MOMENT_NAMES, Moment, select_moments
from avatarcheck.takes.synthetic import synthetic_take
from avatarcheck.takes.take import Take

__all__ = ["MOMENT_NAMES", "Moment", "Take", "load_take", "save_take", "select_moments", "synthetic_take"]
