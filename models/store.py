"""Where the project keeps its files, and how it writes them.

Why one module: the cache root, atomic writes and folder-name slugs are facts that every layer needs
(the offline build, the variant cache, score caches, ONNX exports, the app). It lives at the bottom of
the dependency graph (``models/``) so that everything above can call it and it calls nothing back.

* One root: ``$MARATHI_PRUNE_HOME``; else ``/data/marathi-prune`` when a Space's persistent storage is
  mounted at ``/data`` and writable (so fine-tuned variants survive restarts); else
  ``~/.cache/marathi-prune``. Read at call time so tests and operators can point it elsewhere.
  Sub-folders: ``variants/``, ``scores/``, ``exports/``, ``mahanews/``, ``pretrain/``.
* Atomic writes: write into a temporary sibling, then ``os.replace``. A reader sees the old file or
  the new one, never a torn one, and a killed writer leaves only a ``.tmp`` name that is swept later.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HOME_ENV = "MARATHI_PRUNE_HOME"
TMP_PREFIX = ".tmp-"
# Where Hugging Face Spaces mount persistent storage (when the Space has it); everything else is wiped
# on restart.
SPACE_DATA = Path("/data")


def persistent_storage() -> Path | None:
    """A Space's persistent storage (``/data``) when it is mounted and writable, else None."""
    data = SPACE_DATA
    if os.path.ismount(data) and os.access(data, os.W_OK | os.X_OK):
        return data
    return None


def home() -> Path:
    """The project's cache root: ``$MARATHI_PRUNE_HOME``, else ``/data/marathi-prune`` on a Space with
    persistent storage, else ``~/.cache/marathi-prune``."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    data = persistent_storage()
    if data is not None:
        return data / "marathi-prune"
    return Path.home() / ".cache" / "marathi-prune"


def cache_dir(name: str) -> Path:
    """A named sub-folder of the cache root (not created)."""
    return home() / name


def slug(text: str, max_len: int = 60) -> str:
    """A readable, filesystem-safe name: ``google/muril-base-cased`` -> ``google-muril-base-cased``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip("/")).strip("-")[:max_len] or "model"


def _temp_sibling(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}.")
    os.close(fd)
    return Path(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary sibling, then rename)."""
    path = Path(path)
    tmp = _temp_sibling(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON (UTF-8, non-ASCII kept, unknown types via ``str``) atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=str) + "\n")


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` atomically (a checkpoint is never half-written)."""
    import torch

    path = Path(path)
    tmp = _temp_sibling(path)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Build a folder in a temporary sibling and move it to ``final`` only if the block succeeds.

    An existing ``final`` is replaced (moved aside first, then removed), so readers see the old folder
    or the complete new one. On error the temporary folder is removed and ``final`` is untouched.

    Yields:
        The temporary folder to fill.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f"{TMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            trash = final.parent / f"{TMP_PREFIX}old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.replace(final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def sweep_temp(root: str | os.PathLike, older_than_s: float = 3600) -> int:
    """Remove ``.tmp-*`` leftovers of killed writers directly under ``root``; returns how many.

    Only entries older than ``older_than_s`` go, so a writer that is still running keeps its folder.
    """
    root = Path(root)
    removed = 0
    if not root.is_dir():
        return 0
    now = time.time()
    for path in root.glob(f"{TMP_PREFIX}*"):
        try:
            if now - path.stat().st_mtime <= older_than_s:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        except OSError:
            continue
    return removed
