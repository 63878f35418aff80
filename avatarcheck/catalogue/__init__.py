"""Gate a whole catalogue: every avatar x edit x take, resumable, on one machine or a Dask cluster.

==================  =====================================================================================
module              job
==================  =====================================================================================
``manifest``        a manifest ``.toml`` listing avatars, edits and takes
``discover``        ``PATH...`` (zips, avatar folders, folders of them, globs, manifests) -> avatars
``keys``            content hashes: avatar bytes, edit, take, gate -> the item's key
``plan``            items and their per-edit gate, grouped by avatar (a worker reads each avatar once)
``rows``            one JSON-ready summary row per item (from a gate result or an error)
``store``           ``OUT/items/<key>/``: complete or absent (built under a temp name, renamed)
``worker``          ``run_group``: one avatar's items, never raising for a bad avatar
``engines``         this process, a local process pool, or Dask (``--cluster``; imported only then)
``summary``         ``summary.json`` and ``index.html`` (sortable table, worst-leak histogram)
``run``             ``run_catalogue``: plan, skip what is done, dispatch, summarise
==================  =====================================================================================
"""

from avatarcheck.catalogue.discover import Discovered, discover
from avatarcheck.catalogue.plan import Settings
from avatarcheck.catalogue.run import Engine, Observer, Outcome, run_catalogue

__all__ = ["Discovered", "Engine", "Observer", "Outcome", "Settings", "discover", "run_catalogue"]
