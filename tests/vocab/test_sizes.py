"""Size previews equal the sizes of the models they describe, without building those models."""

from __future__ import annotations

import pytest

from models import load_classifier
from pruning import prune_layers, prune_vocabulary, read_corpus, size_preview
from pruning.vocab import classifier_params
from tests.conftest import make_tiny_bert


def test_classifier_params_matches_a_built_model(tokenizer):
    config = make_tiny_bert(len(tokenizer), layers=4).config
    assert classifier_params(config) == make_tiny_bert(len(tokenizer), layers=4).num_parameters()
    smaller = make_tiny_bert(500, layers=2).num_parameters()
    assert classifier_params(config, num_layers=2, vocab_size=500) == smaller
    assert config.num_hidden_layers == 4 and config.vocab_size == len(tokenizer)  # the caller's config is untouched


def test_size_preview_equals_the_real_cut(tiny_base_dir, corpus_file, shc):
    train = list(shc[0]["train"]["text"])
    preview = size_preview(str(tiny_base_dir), corpus_file, keep=2, extra_texts=train)
    loaded = load_classifier(str(tiny_base_dir))
    full = loaded.model.num_parameters()
    prune_layers(loaded.model, [0, 1])
    layers = loaded.model.num_parameters()
    _, report = prune_vocabulary(loaded.model, loaded.tokenizer, read_corpus(corpus_file) + train)
    assert preview["layers"] == {"before": 4, "after": 2}
    assert preview["tokens"] == {"before": report.tokens_before, "after": report.tokens_after}
    assert preview["params"] == {"full": full, "layers": layers, "layers_and_vocab": report.params_after}
    assert preview["bytes_fp32"]["layers_and_vocab"] == report.bytes_fp32_after


def test_size_preview_without_training_text_keeps_fewer_tokens(tiny_base_dir, corpus_file, shc):
    alone = size_preview(str(tiny_base_dir), corpus_file)
    with_train = size_preview(str(tiny_base_dir), corpus_file, extra_texts=list(shc[0]["train"]["text"]))
    assert alone["tokens"]["after"] < with_train["tokens"]["after"]
    assert alone["params"]["full"] == alone["params"]["layers"]  # no keep: every layer stays


def test_size_preview_rejects_a_bad_keep(tiny_base_dir, corpus_file):
    with pytest.raises(ValueError, match="keep must be between 1 and 4"):
        size_preview(str(tiny_base_dir), corpus_file, keep=5)
