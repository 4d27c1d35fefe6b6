"""The app's three tabs, one module each, built from one shared ``AppContext``.

Each tab is a class whose constructor lays out its ``gr.Blocks`` (``blocks``, rendered by ``app.py``
inside ``gr.Tabs``) and registers its own events; its handlers are its methods, each a few lines over
the functions of ``pruning.app``. What crosses tabs (a new variant joining Classify's picker, a rebuild
from Compare streaming in tab ①, Compare redrawn when opened) is wired in ``app.py``, from the
components each tab exposes as attributes.

- ``context``: ``AppContext`` (registry, job board, what start-up found) and the helpers tabs share.
- ``prune``: ① the prune panel and the fine-tune with its live curve.
- ``classify``: ② several variants on one text, on several backends; ``/variants``.
- ``compare``: ③ every known result, and damaged variants apart.
"""

from .classify import ClassifyTab
from .compare import CompareTab
from .context import MAX_SLOTS, TRACK_TQDM, WATCH, AppContext, gr_error
from .prune import PruneTab

__all__ = ["MAX_SLOTS", "TRACK_TQDM", "WATCH", "AppContext", "ClassifyTab", "CompareTab", "PruneTab", "gr_error"]
