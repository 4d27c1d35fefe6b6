"""pruning.app.damaged and housekeeping: damaged entries listed apart, deleted or rebuilt; stale leftovers swept."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from pruning import FinetuneConfig, PruneConfig, VariantCache
from pruning.app import damaged, housekeeping, jobs
from pruning.app.bases import DEFAULT_MODEL_ENV


def _copy(variant_cache, tmp_path) -> VariantCache:
    shutil.copytree(variant_cache.root, tmp_path / "variants")
    return VariantCache(tmp_path / "variants")


def test_damaged_entries_say_why_and_how_to_rebuild_and_only_they_can_be_deleted(
    variant_cache, tmp_path, tiny_base_dir, monkeypatch
):
    monkeypatch.setenv(DEFAULT_MODEL_ENV, str(tiny_base_dir))
    cache = _copy(variant_cache, tmp_path)
    names = [p.name for p in cache.root.iterdir()]
    pruned, full = (next(n for n in names if f"__{kind}-" in n) for kind in ("middle", "full"))
    weights = cache.root / pruned / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    (cache.root / "broken-record").mkdir()
    (cache.root / "broken-record" / "config.json").write_text("{}")
    entries = {e.name: e for e in damaged.damaged_entries(cache)}
    assert set(entries) == {pruned, "broken-record"} and str(tmp_path) not in entries[pruned].reason
    rebuild = entries[pruned].rebuild
    assert rebuild.base == str(tiny_base_dir) and rebuild.prune == PruneConfig("middle", keep=2)
    assert rebuild.train == FinetuneConfig.from_dict(cache.list().records[0]["finetune_config"])
    assert entries["broken-record"].rebuild is None  # no readable record: delete only
    note = damaged.damaged_markdown(list(entries.values()))
    assert "2 damaged variants" in note and "(delete or rebuild)" in note and "(delete)" in note
    assert damaged.rebuild_of(cache, pruned) == rebuild
    with pytest.raises(ValueError, match="delete it instead"):
        damaged.rebuild_of(cache, "broken-record")
    assert damaged.delete_damaged(cache, full).startswith("Pick a damaged variant")
    assert damaged.delete_damaged(cache, pruned) == f"Deleted `{pruned}`."
    assert not (cache.root / pruned).exists() and (cache.root / full).exists()
    monkeypatch.delenv(DEFAULT_MODEL_ENV)
    assert damaged.rebuild_settings(cache.root / full) is None  # its base is a folder visitors may not name


def test_sweep_leftovers_removes_what_is_older_than_an_hour(tmp_path):
    cache = VariantCache(tmp_path / "variants")
    old, new = cache.root / ".tmp-killed", cache.root / ".tmp-writing"
    old.mkdir(parents=True)
    new.mkdir()
    stop = jobs.session_stop_file("test-sweep-leftovers")
    stop.touch()
    for path in (old, stop):
        os.utime(path, (time.time() - 7200,) * 2)
    removed = housekeeping.sweep_leftovers(cache)
    assert removed["cache temp folders"] == 1 and removed["stop files"] >= 1
    assert not old.exists() and new.exists() and not stop.exists()
