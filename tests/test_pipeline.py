"""Fine-tuning, evaluation, importance scores and the cached pipeline on real headlines."""

import pytest
import torch

from pruning import (
    FinetuneCancelled,
    FinetuneConfig,
    PruneConfig,
    VariantCache,
    build_variant,
    compute_layer_scores,
    finetune,
    select_layers,
)
from tests.conftest import MAHANEWS_DIR

FAST = {"epochs": 3, "learning_rate": 2e-3, "batch_size": 32, "seed": 0}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return VariantCache(tmp_path_factory.mktemp("variants"))


@pytest.fixture(scope="module")
def variant(tiny_base_dir, cache):
    events = []
    v = build_variant(str(tiny_base_dir), PruneConfig("middle", keep=2), FinetuneConfig(**FAST), cache=cache,
                      data_dir=MAHANEWS_DIR, on_event=events.append, show_progress=False)  # fmt: skip
    return v, events


def test_build_variant_finetune_beats_majority_baseline_on_held_back_headlines(variant):
    v, _ = variant
    record = v.record
    assert not v.from_cache
    assert record["test_metrics"]["num_examples"] == 239  # the held-back stratified test split
    assert record["majority_baseline_test"] == pytest.approx(0.1213, abs=1e-3)
    assert record["test_metrics"]["accuracy"] > record["majority_baseline_test"] + 0.08
    assert set(record["test_metrics"]["per_class_f1"]) == set(v.model.config.id2label.values())
    assert len(record["test_metrics"]["confusion_matrix"]) == 12


def test_build_variant_reports_progress_and_keeps_best_dev_checkpoint(variant):
    v, events = variant
    steps = [e for e in events if e.kind == "step"]
    evals = [e for e in events if e.kind == "eval"]
    assert steps[-1].step == steps[-1].total_steps and len(evals) == 3
    assert steps[-1].loss < steps[0].loss
    assert v.record["dev_metrics"]["accuracy"] == max(e.dev_accuracy for e in evals)


def test_build_variant_second_call_loads_from_cache(variant, tiny_base_dir, cache):
    v, _ = variant
    again = build_variant(str(tiny_base_dir), PruneConfig("middle", keep=2), FinetuneConfig(**FAST), cache=cache,
                          data_dir=MAHANEWS_DIR, show_progress=False)  # fmt: skip
    assert again.from_cache and again.record["name"] == v.record["name"]
    assert again.model.config.num_hidden_layers == 2
    assert again.model.config.pruning["kept_layers"] == [0, 3]
    for a, b in zip(again.model.state_dict().values(), v.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_finetune_cancel_raises_and_writes_nothing(tiny_bert, tokenizer, shc):
    data, _ = shc
    calls = iter(range(100))
    with pytest.raises(FinetuneCancelled, match="cancelled at step 3"):
        finetune(tiny_bert, tokenizer, data, FinetuneConfig(max_train_samples=200, **{**FAST, "epochs": 1}),
                 should_stop=lambda: next(calls) >= 3, show_progress=False)  # fmt: skip


def test_compute_layer_scores_are_cosines_and_cached(tiny_bert, tokenizer, headlines, tmp_path):
    scores = compute_layer_scores(
        tiny_bert, tokenizer, headlines, batch_size=5, cache_dir=tmp_path, show_progress=False
    )
    assert len(scores.cls) == len(scores.mean) == 4 and scores.num_texts == len(headlines)
    assert all(-1 <= s <= 1 for s in scores.cls + scores.mean)
    assert len(list(tmp_path.iterdir())) == 1
    again = compute_layer_scores(
        tiny_bert, tokenizer, headlines, batch_size=16, cache_dir=tmp_path, show_progress=False
    )
    assert again == scores
    plan = select_layers("contribution", 4, 2, scores=scores.cls)
    most_similar = sorted(range(4), key=lambda i: scores.cls[i])[-2:]
    assert sorted(plan.dropped) == sorted(most_similar)


def test_compute_layer_scores_identity_layer_scores_one(tiny_bert, tokenizer, headlines):
    layer = tiny_bert.bert.encoder.layer[1]
    layer.forward = lambda hidden_states, *args, **kwargs: hidden_states  # a layer that changes nothing
    scores = compute_layer_scores(tiny_bert, tokenizer, headlines, cache_dir=None, show_progress=False)
    assert scores.cls[1] == pytest.approx(1.0, abs=1e-5) and scores.mean[1] == pytest.approx(1.0, abs=1e-5)
    assert max(scores.cls[0], scores.cls[2], scores.cls[3]) < 0.9999
