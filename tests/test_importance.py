"""Layer importance (Poor Man's BERT contribution scores) on real headlines."""

import pytest

from pruning import compute_layer_scores, select_layers


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
    assert 1 in select_layers("contribution", 4, 3, scores=scores.cls).dropped


def test_compute_layer_scores_default_cache_is_under_the_cache_root(
    tiny_bert, tokenizer, headlines, tmp_path, monkeypatch
):
    monkeypatch.setenv("MARATHI_PRUNE_HOME", str(tmp_path))
    compute_layer_scores(tiny_bert, tokenizer, headlines[:4], show_progress=False)
    assert len(list((tmp_path / "scores").glob("*.json"))) == 1


def test_compute_layer_scores_unreadable_cache_is_recomputed(tiny_bert, tokenizer, headlines, tmp_path):
    first = compute_layer_scores(tiny_bert, tokenizer, headlines[:4], cache_dir=tmp_path, show_progress=False)
    (cached,) = tmp_path.glob("*.json")
    cached.write_text("{not json")
    assert compute_layer_scores(tiny_bert, tokenizer, headlines[:4], cache_dir=tmp_path, show_progress=False) == first


def test_compute_layer_scores_rejects_empty_texts(tiny_bert, tokenizer):
    with pytest.raises(ValueError, match="non-empty calibration text"):
        compute_layer_scores(tiny_bert, tokenizer, ["", "  "], cache_dir=None, show_progress=False)


def test_layer_scores_by_rejects_unknown_pooling(tiny_bert, tokenizer, headlines):
    scores = compute_layer_scores(tiny_bert, tokenizer, headlines[:2], cache_dir=None, show_progress=False)
    assert scores.by("mean") == scores.mean
    with pytest.raises(ValueError, match="'cls' or 'mean'"):
        scores.by("max")
