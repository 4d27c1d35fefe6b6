"""pruning.app.classify: labels and warm-run latency from each chosen variant and backend, and text checks."""

from __future__ import annotations

import pytest

from pruning import LABELS, VariantCache
from pruning.app import classify, wording
from pruning.app.registry import ModelRegistry
from tests.app.conftest import HEADLINE

FAST = classify.LiveTiming(warmup=1, repeats=3, budget_s=0.5, min_repeats=2)


def test_classify_returns_labels_and_latency_from_each_default_variant(registry):
    outcome = classify.classify_text(registry, [], HEADLINE, ["torch"], FAST)
    assert {p.kind for p in outcome.predictions} == {"full", "pruned"} and not outcome.notices
    for p in outcome.predictions:
        assert set(p.probabilities) == set(LABELS) and sum(p.probabilities.values()) == pytest.approx(1, abs=1e-4)
        assert len(p.top(5)) == 5 and p.device.startswith("cpu") and list(p.runs) == ["torch"]
        run = p.runs["torch"]
        assert 2 <= len(run.samples_ms) <= 3 and run.percentile(10) <= run.median_ms <= run.percentile(90)
    assert outcome.backends == ["torch"] and outcome.server_ms > 0


def test_classify_runs_every_cpu_backend_by_default_and_torch_and_onnx_fp32_agree(registry, headlines):
    """The app's own path (text in, label out) gives PyTorch's label on ONNX Runtime fp32, headline by headline."""
    names = [r["name"] for r in registry.records()]
    for text in [HEADLINE, *headlines[:5]]:
        outcome = classify.classify_text(registry, names, text, None, FAST)
        assert outcome.backends == ["torch", "onnx", "onnx-int8"] and not outcome.notices
        for p in outcome.predictions:
            assert list(p.runs) == ["torch", "onnx", "onnx-int8"]
            torch_probs, onnx_probs = p.runs["torch"].probabilities, p.runs["onnx"].probabilities
            assert p.labels["torch"] == p.labels["onnx"]
            assert max(abs(torch_probs[k] - onnx_probs[k]) for k in LABELS) < 1e-4
            assert p.labels["onnx-int8"] in LABELS


def test_classify_rejects_an_unknown_backend_naming_the_valid_ones(registry):
    with pytest.raises(ValueError, match="choose from torch, onnx, onnx-int8"):
        classify.classify_text(registry, [], HEADLINE, ["tensorflow"])


def test_classify_empty_text_gives_message_without_calling_a_model(registry, monkeypatch):
    monkeypatch.setattr(registry, "variant", lambda name: pytest.fail("no model call expected"))
    for text in ("", "   ", None, "\u200b"):
        with pytest.raises(ValueError, match="enter some Marathi text"):
            classify.classify_text(registry, [], text)


def test_classify_warns_on_text_without_devanagari_but_still_answers(registry):
    outcome = classify.classify_text(registry, [], "Cricket: India beat Australia", ["torch"], FAST)
    assert any("no Devanagari" in n for n in outcome.notices) and outcome.predictions


def test_classify_truncates_overlong_text_and_says_so(registry):
    outcome = classify.classify_text(registry, [], " ".join([HEADLINE] * 20), ["torch"], FAST)
    assert all(p.truncated and p.num_tokens > p.max_length == 64 for p in outcome.predictions)
    assert any("truncated" in n and "64" in n for n in outcome.notices)


def test_classify_without_fine_tuned_variants_asks_to_fine_tune_first(tmp_path):
    empty = ModelRegistry(VariantCache(tmp_path / "none"))
    with pytest.raises(ValueError, match="Fine-tune one"):
        classify.classify_text(empty, [], HEADLINE)


def test_classify_skips_variants_no_longer_in_the_cache(registry):
    kept = registry.records()[0]["name"]
    outcome = classify.classify_text(registry, ["gone-variant", kept], HEADLINE, ["torch"], FAST)
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


def test_default_variant_names_open_with_the_bundled_full_deepest_pruned_and_matching_scratch():
    def record(name, keep, role, bundled=True):
        return {"name": name, "bundled": bundled, "bundle": {"role": role}, "plan": {"keep": keep, "num_layers": 12}}

    own = {"name": "mine", "plan": {"keep": 3, "num_layers": 12}, "finetune_config": {"dataset": "SHC"}}
    records = [
        own,
        record("s2", 2, "scratch"),
        record("p2", 2, "pruned"),
        record("s6", 6, "scratch"),
        record("p6", 6, "pruned"),
        record("f12", 12, "full"),
    ]
    assert classify.default_variant_names(records) == ["f12", "p6", "s6"]
    assert classify.default_variant_names(records, prefer="mine") == ["f12", "mine", "s6"]  # a new fine-tune shows
    assert classify.default_variant_names([own, records[1]]) == ["mine", "s2"]  # kinds with no bundled one: the user's
