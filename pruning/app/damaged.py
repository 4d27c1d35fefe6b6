"""Damaged cache entries as the app shows them: listed apart, deleted or rebuilt with one click.

``VariantCache.list`` keeps a folder whose files do not match their manifest out of the records and
reports it as a problem, so every other variant keeps working. This module turns those problems (and
variants that failed to load although their sizes matched) into entries with a short reason and, when
the folder's ``variant.json`` still says how it was made, the settings to rebuild it.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..cache import RECORD_FILE, CacheEntryError, VariantCache, VariantKey
from ..config import FinetuneConfig, PruneConfig
from ..distil import resolve_teacher
from .bases import check_base_name
from .recipe import corpus_for_key
from .wording import scrub_paths

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rebuild:
    """How a damaged variant was made: what ``JobBoard.start`` needs to make it again."""

    base: str
    prune: PruneConfig | None
    train: FinetuneConfig


@dataclass(frozen=True)
class DamagedEntry:
    """One cache folder that cannot be used: its name, why, and whether it can be deleted or rebuilt."""

    name: str
    reason: str
    read_only: bool
    rebuild: Rebuild | None


def rebuild_settings(folder: Path) -> Rebuild | None:
    """The settings a variant folder was made with, when its record is readable and its base may be loaded.

    They come from the record's key, which is what names the variant: its fine-tuning (a teacher included)
    and its vocabulary cut, whose corpus must be on this server (the key holds the corpus's hash, not a path).
    """
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        key = VariantKey.from_dict(record["key"])
        return Rebuild(
            check_base_name(key.base_model), _prune_of(key, record), FinetuneConfig.from_dict(dict(key.finetune))
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:  # unreadable record or a base visitors may not load
        logger.info("cannot rebuild %s: %s", folder.name, exc)
        return None


def _prune_of(key: VariantKey, record: Mapping) -> PruneConfig | None:
    """The PruneConfig that makes `key` again: None for a full model, else the recorded one, with its corpus.

    Raises:
        ValueError: the key has a vocabulary cut whose corpus is not on this server.
    """
    recorded = record.get("prune_config") or {}
    vocab = dict(key.vocab) if key.vocab else None
    corpus = corpus_for_key(vocab, recorded.get("vocab_corpus"))
    if vocab and corpus is None:
        raise ValueError("its vocabulary was cut to a corpus that is not on this server")
    cut = {"vocab_corpus": corpus, "vocab_min_count": vocab["min_count"]} if vocab else {}
    if key.strategy == "full":
        return PruneConfig("top", keep=key.num_layers, **cut) if vocab else None
    plain = {"vocab_corpus": None, "vocab_min_count": 1}  # a recorded path stays out unless the key has a cut
    return dataclasses.replace(PruneConfig.from_dict(recorded), **(plain | cut))


def damaged_entries(cache: VariantCache, load_failures: Mapping[str, str] | None = None) -> list[DamagedEntry]:
    """Every damaged folder of `cache`, plus variants whose files looked whole but did not load.

    Args:
        load_failures: variant name -> reason, for variants that failed to load in this process.
    """
    entries = {}
    for problem in cache.list().problems:
        folder = Path(problem.path)
        entries[folder.name] = DamagedEntry(
            folder.name, scrub_paths(problem.reason), cache.is_bundled(folder), rebuild_settings(folder)
        )
    for name, reason in (load_failures or {}).items():
        if name in entries:
            continue
        try:
            folder = cache.find(name)
        except CacheEntryError:  # deleted meanwhile
            continue
        entries[name] = DamagedEntry(name, scrub_paths(reason), cache.is_bundled(folder), rebuild_settings(folder))
    return list(entries.values())


def damaged_markdown(entries: list[DamagedEntry]) -> str:
    """The Compare tab's note on damaged variants; '' when there are none."""
    if not entries:
        return ""
    lines = [
        f"⚠️ **{len(entries)} damaged variant{'s' if len(entries) > 1 else ''} in the cache.** Every other variant "
        "works as usual; pick one below to delete it or, where its settings are known, rebuild it."
    ]
    for e in entries:
        can = "read-only (ships with the app)" if e.read_only else "delete" + (" or rebuild" if e.rebuild else "")
        lines.append(f"- `{html.escape(e.name)}`: {html.escape(e.reason)} ({can})")
    return "\n".join(lines)


def delete_damaged(cache: VariantCache, name: str | None, load_failures: Mapping[str, str] | None = None) -> str:
    """Delete `name` if it is a damaged entry of `cache` (nothing else can be deleted from the app)."""
    entry = next((e for e in damaged_entries(cache, load_failures) if e.name == name), None)
    if entry is None:
        return "Pick a damaged variant first (only damaged variants can be deleted here)."
    if entry.read_only:
        return f"`{entry.name}` ships with the app and is read-only; it cannot be deleted here."
    cache.delete(entry.name)
    logger.info("deleted damaged variant %s", entry.name)
    return f"Deleted `{entry.name}`."


def rebuild_of(cache: VariantCache, name: str | None, load_failures: Mapping[str, str] | None = None) -> Rebuild:
    """How to make damaged entry `name` again.

    Raises:
        ValueError: `name` is not a damaged entry, its settings are unreadable or name a base visitors may not load,
            or the teacher it was distilled from is damaged or gone.
    """
    entry = next((e for e in damaged_entries(cache, load_failures) if e.name == name), None)
    if entry is None or entry.rebuild is None:
        raise ValueError("Only a damaged variant whose settings are still readable can be rebuilt; delete it instead.")
    teacher = entry.rebuild.train.distil_from
    if teacher:  # checked now: a job would otherwise fail after loading the model
        try:
            resolve_teacher(teacher, entry.rebuild.train.dataset, cache)
        except ValueError as exc:
            logger.info("cannot rebuild %s: its teacher %s: %s", name, teacher, exc)
            raise ValueError(
                f"It was distilled from {teacher}, which can no longer teach it (damaged or deleted): rebuild or "
                "fine-tune that full model first, then rebuild this one."
            ) from None
    return entry.rebuild
