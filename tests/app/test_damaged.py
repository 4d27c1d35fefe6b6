"""pruning.app.damaged and housekeeping: damaged entries listed apart, deleted or rebuilt; stale leftovers swept."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from pruning import FinetuneConfig, PruneConfig, VariantCache, build_variant
from pruning.app import damaged, housekeeping, jobs, recipe
from pruning.app.bases import DEFAULT_MODEL_ENV
from tests.conftest import MAHANEWS_DIR


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


def test_a_rebuild_keeps_the_vocabulary_cut_and_the_teacher(recipe_cache, tmp_path, tiny_base_dir, monkeypatch):
    """A full-depth vocabulary-cut variant used to be rebuilt with no prune config, losing its cut."""
    monkeypatch.setenv(DEFAULT_MODEL_ENV, str(tiny_base_dir))
    records = recipe_cache.list().records
    full, student = (next(r for r in records if r["key"].get("vocab") and test(r["key"])) for test in (_full, _pruned))
    recorded = full["prune_config"]["vocab_corpus"]
    server = tmp_path / "server-corpus.txt"  # the server's corpus: the same text at another path
    shutil.copyfile(recorded, server)
    monkeypatch.setattr(recipe, "CORPUS_FILE", server)
    cache = _copy(recipe_cache, tmp_path)
    for record in (full, student):
        weights = cache.root / record["name"] / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    entries = {e.name: e.rebuild for e in damaged.damaged_entries(cache)}
    assert entries[full["name"]].prune == PruneConfig("top", keep=4, vocab_corpus=str(server))
    assert entries[full["name"]].train.distil_from is None
    assert entries[student["name"]].prune == PruneConfig("middle", keep=2, vocab_corpus=str(server))
    assert entries[student["name"]].train.distil_from == full["name"]
    assert entries[student["name"]].train == FinetuneConfig.from_dict(student["finetune_config"])
    for record in (full, student):  # the settings name the very same variant: the intact cache has it
        how = entries[record["name"]]
        again = build_variant(
            how.base, how.prune, how.train, cache=recipe_cache, data_dir=MAHANEWS_DIR, show_progress=False
        )
        assert again.from_cache and again.record["name"] == record["name"]
    assert damaged.rebuild_of(cache, full["name"]) == entries[full["name"]]
    with pytest.raises(ValueError, match=f"distilled from {full['name']}, which can no longer teach it"):
        damaged.rebuild_of(cache, student["name"])  # its teacher is damaged too: that one first
    monkeypatch.setattr(recipe, "CORPUS_FILE", tmp_path / "absent.txt")  # the recorded path still holds it
    assert damaged.rebuild_settings(cache.root / student["name"]).prune.vocab_corpus == recorded
    record_file = cache.root / student["name"] / "variant.json"
    record = json.loads(record_file.read_text())
    record["prune_config"]["vocab_corpus"] = str(tmp_path / "moved-away.txt")
    record_file.write_text(json.dumps(record))
    assert damaged.rebuild_settings(cache.root / student["name"]) is None  # no such corpus here: delete only


def _full(key: dict) -> bool:
    return key["strategy"] == "full"


def _pruned(key: dict) -> bool:
    return key["strategy"] != "full"


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
