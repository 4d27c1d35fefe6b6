"""What the app tidies when it starts: leftovers of killed writers, old Compare CSVs, stale stop files.

Only things older than an hour go, so another process of the app that is still writing keeps its files.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from ..cache import VariantCache
from .compare import csv_folder
from .jobs import sweep_stop_files

logger = logging.getLogger(__name__)

STALE_S = 3600


def sweep_leftovers(cache: VariantCache, older_than_s: float = STALE_S) -> dict[str, int]:
    """Remove temp folders in the variant cache, Compare's temporary CSV files and stop files older than an hour.

    Returns:
        How many entries went, per kind.
    """
    removed = {
        "cache temp folders": cache.sweep_temp(older_than_s),
        "compare CSV files": _sweep_folder(csv_folder(), older_than_s),
        "stop files": sweep_stop_files(older_than_s),
    }
    if any(removed.values()):
        logger.info("removed leftovers: %s", ", ".join(f"{n} {kind}" for kind, n in removed.items() if n))
    return removed


def _sweep_folder(folder: Path, older_than_s: float) -> int:
    """Remove every entry of `folder` (a folder only the app writes to) older than `older_than_s`."""
    removed, now = 0, time.time()
    for path in folder.iterdir() if folder.is_dir() else []:
        try:
            if now - path.stat().st_mtime <= older_than_s:
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            removed += 1
        except OSError:
            continue
    return removed
