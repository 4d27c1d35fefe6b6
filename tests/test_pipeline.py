"""The cached pipeline (prune -> fine-tune -> evaluate -> save) on real headlines."""

import pytest
import torch

from pruning import (
    FinetuneConfig,
    PruneConfig,
    VariantCache,
    build_variant,
)
from tests.conftest import MAHANEWS_DIR

FAST = {"epochs": 3, "learning_rate": 2e-3, "batch_size": 32, "seed": 0}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return VariantCache(tmp_path_factory.mktemp("variants"))


@pytest.fixture(scope="module")
def variant(tiny_base_dir, cache):
    events = []
    v = build_variant(
        str(tiny_base_dir),
        PruneConfig("middle", keep=2),
        FinetuneConfig(**FAST),
        cache=cache,
        data_dir=MAHANEWS_DIR,
        on_event=events.append,
        show_progress=False,
    )
    return v, events


def test_build_variant_finetune_beats_majority_baseline_on_held_back_headlines(variant):
    v, _ = variant
    record = v.record
    assert not v.from_cache
    assert record["test_metrics"]["num_examples"] == 716  # the held-back stratified 30% test split
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
    again = build_variant(
        str(tiny_base_dir),
        PruneConfig("middle", keep=2),
        FinetuneConfig(**FAST),
        cache=cache,
        data_dir=MAHANEWS_DIR,
        show_progress=False,
    )
    assert again.from_cache and again.record["name"] == v.record["name"]
    assert again.model.config.num_hidden_layers == 2
    assert again.model.config.pruning["kept_layers"] == [0, 3]
    for a, b in zip(again.model.state_dict().values(), v.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_build_variant_with_vocab_corpus_cuts_the_vocabulary_and_is_cached_by_corpus_content(
    tiny_base_dir, tmp_path, corpus_lines
):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(corpus_lines[:200]), encoding="utf-8")
    cache = VariantCache(tmp_path / "variants")
    train = FinetuneConfig(**{**FAST, "epochs": 1, "max_train_samples": 120, "max_eval_samples": 60})
    prune = PruneConfig("top", keep=2, vocab_corpus=str(corpus))
    v = build_variant(str(tiny_base_dir), prune, train, cache=cache, data_dir=MAHANEWS_DIR, show_progress=False)
    vocab = v.record["vocab"]
    assert vocab["tokens_before"] == 3000 > vocab["tokens_after"] == len(v.tokenizer) == v.model.config.vocab_size
    assert v.record["key"]["vocab"] == {"corpus_sha256": vocab["corpus_sha256"], "min_count": 1}
    assert "-vocab__" in v.record["name"] and v.record["num_parameters"] == vocab["params_after"]
    assert v.record["test_metrics"]["num_examples"] == 716

    moved = tmp_path / "elsewhere.txt"  # the key holds the content, not the path: a copy finds the variant
    moved.write_bytes(corpus.read_bytes())
    again = build_variant(
        str(tiny_base_dir),
        PruneConfig("top", keep=2, vocab_corpus=str(moved)),
        train,
        cache=cache,
        data_dir=MAHANEWS_DIR,
        show_progress=False,
    )
    assert again.from_cache and again.record["name"] == v.record["name"]
    assert again.tokenizer.get_vocab() == v.tokenizer.get_vocab()
