"""pruning.app.registry: every model loaded once, safely from many request threads."""

from __future__ import annotations

import threading

from pruning.app.classify import classify_text
from pruning.app.registry import ModelRegistry
from pruning.app.startup import load_examples
from tests.app.conftest import HEADLINE


def test_classify_is_thread_safe_and_loads_each_variant_once(variant_cache):
    registry = ModelRegistry(variant_cache)
    loads = []
    original = registry.cache.load
    registry.cache.load = lambda name: loads.append(name) or original(name)
    results, errors = [], []

    def call():
        try:
            results.append(classify_text(registry, [], HEADLINE))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 20 and len(loads) == 2
    tops = {tuple(next(iter(p.top(1))) for p in r.predictions) for r in results}
    assert len(tops) == 1  # same answer whatever the interleaving


def test_base_summary_resolves_a_name_to_anatomy_and_scores(variant_cache, tiny_base_dir):
    registry = ModelRegistry(variant_cache)
    summary = registry.base_summary(f"  {tiny_base_dir}  ")
    assert summary.name == str(tiny_base_dir) and summary.anatomy.num_layers == 4
    assert summary.scores is not None and len(summary.scores.cls) == 4 and summary.scores_note == ""
    assert registry.base_summary(str(tiny_base_dir)).anatomy is summary.anatomy  # loaded once


def test_mark_built_is_what_compare_calls_this_run(variant_cache):
    registry = ModelRegistry(variant_cache)
    registry.mark_built("v1")
    assert registry.built_this_run == {"v1"}


def test_calibration_uses_dev_headlines_when_mahanews_is_at_hand(variant_cache):
    texts = ModelRegistry(variant_cache).calibration()
    assert len(texts.texts) == 128 and texts.note == ""


def test_base_summary_scores_on_the_demo_headlines_without_data_and_says_so(
    variant_cache, tiny_base_dir, monkeypatch, tmp_path
):
    from pruning import data

    monkeypatch.delenv("MAHANEWS_DIR")
    monkeypatch.setattr(data, "SIBLING_DIR", tmp_path / "nothing")
    monkeypatch.setattr(data, "_download", lambda name, split: None)
    summary = ModelRegistry(variant_cache).base_summary(str(tiny_base_dir))
    examples = load_examples()
    assert summary.scores is not None and summary.scores.num_texts == len(examples) == 8
    assert "8 demo headlines" in summary.scores_note and "MAHANEWS_DIR" in summary.scores_note
    assert str(tmp_path) not in summary.scores_note
