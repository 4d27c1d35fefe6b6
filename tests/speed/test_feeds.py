"""Input feeds: padded to the asked shape, random ids without a tokenizer, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from pruning.speed.feeds import build_feed, check_shapes, load_headlines, time_tokenization


def test_check_shapes_rejects_bad_batch_and_length(tiny_bert):
    with pytest.raises(ValueError, match=r"batch sizes must be integers >= 1, got \[0\]"):
        check_shapes(tiny_bert.config, [0], [16])
    with pytest.raises(ValueError, match=r"max_position_embeddings \(128\), got \[129\]"):
        check_shapes(tiny_bert.config, [1], [129])
    check_shapes(tiny_bert.config, [1, 32], [1, 128])


def test_build_feed_pads_real_texts_to_the_shape(tokenizer, headlines):
    feed = build_feed(tokenizer, headlines[:3], 5, 24, vocab_size=len(tokenizer))
    assert set(feed) == {"input_ids", "attention_mask", "token_type_ids"}
    assert all(v.shape == (5, 24) and v.dtype == np.int64 for v in feed.values())
    assert (feed["input_ids"][3] == feed["input_ids"][0]).all()  # texts are cycled


def test_build_feed_random_ids_without_a_tokenizer():
    feed = build_feed(None, None, 2, 8, vocab_size=3000, seed=1)
    assert feed["input_ids"].shape == (2, 8) and feed["input_ids"].max() < 3000
    assert feed["attention_mask"].all() and not feed["token_type_ids"].any()
    assert (build_feed(None, None, 2, 8, vocab_size=3000, seed=1)["input_ids"] == feed["input_ids"]).all()
    with pytest.raises(ValueError, match="vocab_size"):
        build_feed(None, None, 2, 8)


def test_build_feed_errors_name_the_problem(tokenizer, headlines):
    with pytest.raises(ValueError, match="at least one text"):
        build_feed(tokenizer, [], 1, 8)
    with pytest.raises(ValueError, match="use the model's own tokenizer"):
        build_feed(tokenizer, headlines, 4, 32, vocab_size=10)


def test_time_tokenization_returns_samples(tokenizer, headlines):
    samples = time_tokenization(tokenizer, headlines, 4, 32, warmup=0, repeats=3)
    assert len(samples) == 3 and min(samples) > 0


def test_load_headlines_samples_the_test_split_or_returns_empty(tmp_path):
    texts = load_headlines(20)
    assert len(texts) == 20 and all(isinstance(t, str) and t for t in texts)
    assert load_headlines(5, tmp_path / "no-data") == []  # nothing local: no download, random ids instead
