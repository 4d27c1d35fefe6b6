"""pruning.app.classify: labels and per-request latency from each chosen variant, and text checks."""

from __future__ import annotations

import pytest

from pruning import LABELS, VariantCache
from pruning.app import classify, wording
from pruning.app.registry import ModelRegistry
from tests.app.conftest import HEADLINE


def test_classify_returns_labels_and_latency_from_each_default_variant(registry):
    outcome = classify.classify_text(registry, [], HEADLINE)
    assert {p.kind for p in outcome.predictions} == {"full", "pruned"} and not outcome.notices
    for p in outcome.predictions:
        assert set(p.probabilities) == set(LABELS) and sum(p.probabilities.values()) == pytest.approx(1, abs=1e-4)
        assert len(p.top(5)) == 5 and p.forward_ms > 0 and p.tokenize_ms > 0 and p.device.startswith("cpu")
        assert "ms" in p.summary_markdown() and "this request" in p.summary_markdown()


def test_classify_empty_text_gives_message_without_calling_a_model(registry, monkeypatch):
    monkeypatch.setattr(registry, "variant", lambda name: pytest.fail("no model call expected"))
    for text in ("", "   ", None, "\u200b"):
        with pytest.raises(ValueError, match="enter some Marathi text"):
            classify.classify_text(registry, [], text)


def test_classify_warns_on_text_without_devanagari_but_still_answers(registry):
    outcome = classify.classify_text(registry, [], "Cricket: India beat Australia")
    assert any("no Devanagari" in n for n in outcome.notices) and outcome.predictions


def test_classify_truncates_overlong_text_and_says_so(registry):
    outcome = classify.classify_text(registry, [], " ".join([HEADLINE] * 20))
    assert all(p.truncated and p.num_tokens > p.max_length == 64 for p in outcome.predictions)
    assert any("truncated" in n and "64" in n for n in outcome.notices)


def test_classify_without_fine_tuned_variants_asks_to_fine_tune_first(tmp_path):
    empty = ModelRegistry(VariantCache(tmp_path / "none"))
    with pytest.raises(ValueError, match="Fine-tune one"):
        classify.classify_text(empty, [], HEADLINE)


def test_classify_skips_variants_no_longer_in_the_cache(registry):
    kept = registry.records()[0]["name"]
    outcome = classify.classify_text(registry, ["gone-variant", kept], HEADLINE)
    assert any("gone-variant" in n for n in outcome.notices) and [p.name for p in outcome.predictions] == [kept]
    with pytest.raises(ValueError, match="Fine-tune one"):
        classify.classify_text(registry, ["gone-variant"], HEADLINE)


def test_default_variant_names_pick_newest_of_each_kind():
    def record(name, keep, role="base", dataset="SHC"):
        return {
            "name": name,
            "base_role": role,
            "plan": {"keep": keep, "num_layers": 4},
            "finetune_config": {"dataset": dataset},
        }

    records = [
        record("c1", 4, "control"),  # the random-init control is never the default "full" model
        record("p2", 2),
        record("f2", 4),
        record("s1", 2, "scratch"),
        record("p1", 3),
        record("x", 4, dataset="LPC"),
    ]
    assert classify.default_variant_names(records) == ["f2", "p2", "s1"]
    assert [wording.variant_kind(r) for r in records[:4]] == ["control", "pruned", "full", "scratch"]
