"""Vocabulary pruning keeps tokens and logits on covered text, and says clearly when it cannot run."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer, PreTrainedTokenizerFast

from pruning import prune_layers
from pruning.vocab import kept_ids, prune_vocabulary, save_pruned, token_counts, unchanged_share
from tests.conftest import make_tiny_bert


@pytest.fixture(scope="module")
def corpus(corpus_lines) -> list[str]:
    return corpus_lines[:300]


def _logits(model, tokenizer, texts):
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        return model(**batch).logits


def test_prune_vocabulary_same_tokens_and_logits_on_covered_text(tokenizer, corpus):
    model = make_tiny_bert(len(tokenizer), layers=2)
    texts = corpus[:24]  # in the corpus, so every token they need is kept
    before = _logits(model, tokenizer, texts)
    new, report = prune_vocabulary(model, tokenizer, corpus)
    assert 5 < report.tokens_after < report.tokens_before == len(tokenizer)
    assert model.get_input_embeddings().num_embeddings == model.config.vocab_size == report.tokens_after
    assert report.params_before - report.params_after == (report.tokens_before - report.tokens_after) * 64
    assert report.coverage == 1.0 and report.corpus_texts == 300
    for text in texts:
        assert new.tokenize(text) == tokenizer.tokenize(text) and "[UNK]" not in new.tokenize(text)
    torch.testing.assert_close(_logits(model, new, texts), before, rtol=0, atol=1e-6)
    assert unchanged_share(tokenizer, new, texts) == 1.0


def test_prune_vocabulary_after_layer_pruning_keeps_logits(tokenizer, corpus):
    model = prune_layers(make_tiny_bert(len(tokenizer), layers=4), [0, 3])
    before = _logits(model, tokenizer, corpus[:8])
    new, _ = prune_vocabulary(model, tokenizer, corpus)
    torch.testing.assert_close(_logits(model, new, corpus[:8]), before, rtol=0, atol=1e-6)
    assert model.config.num_hidden_layers == 2 and model.config.pruning["kept_layers"] == [0, 3]


def test_prune_vocabulary_slices_mlm_decoder_and_keeps_tying(tiny_mlm, tokenizer, corpus, tmp_path):
    texts = corpus[:8]
    before = _logits(tiny_mlm, tokenizer, texts)  # (batch, seq, vocab)
    new, report = prune_vocabulary(tiny_mlm, tokenizer, corpus)
    decoder = tiny_mlm.get_output_embeddings()
    assert decoder.weight is tiny_mlm.get_input_embeddings().weight
    assert decoder.bias is tiny_mlm.cls.predictions.bias and decoder.bias.shape == (report.tokens_after,)
    after = _logits(tiny_mlm, new, texts)
    torch.testing.assert_close(after, before[..., report.kept_ids], rtol=0, atol=1e-5)

    save_pruned(tmp_path / "mlm", tiny_mlm, new, {"kept": report.tokens_after})
    reloaded = AutoModelForMaskedLM.from_pretrained(tmp_path / "mlm").eval()
    tokenizer2 = AutoTokenizer.from_pretrained(tmp_path / "mlm")
    assert reloaded.get_output_embeddings().weight is reloaded.get_input_embeddings().weight
    torch.testing.assert_close(_logits(reloaded, tokenizer2, texts), after, rtol=0, atol=1e-5)
    assert json.loads((tmp_path / "mlm" / "vocab.json").read_text())["kept"] == report.tokens_after


def test_min_count_keeps_only_frequent_tokens(tokenizer, corpus):
    counts = token_counts(tokenizer, corpus)
    all_seen = prune_vocabulary(make_tiny_bert(len(tokenizer), layers=1), tokenizer, corpus)[1]
    _, frequent = prune_vocabulary(make_tiny_bert(len(tokenizer), layers=1), tokenizer, corpus, min_count=5)
    assert frequent.tokens_after < all_seen.tokens_after and frequent.min_count == 5
    special = set(tokenizer.all_special_ids)
    assert all(counts[i] >= 5 for i in frequent.kept_ids if i not in special)
    rare = [i for i in all_seen.kept_ids if i not in special and counts[i] < 5]
    assert rare and not set(rare) & set(frequent.kept_ids)
    assert 0.5 < frequent.coverage < 1.0  # frequent tokens carry most occurrences, rare ones the rest


def test_special_tokens_are_kept_and_renumbered(tokenizer, corpus):
    model = make_tiny_bert(len(tokenizer), layers=1)
    new, report = prune_vocabulary(model, tokenizer, corpus[:50])
    for name in ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token"):
        token = getattr(tokenizer, name)
        assert getattr(new, name) == token
        assert report.kept_tokens[getattr(new, f"{name}_id")] == token
    ids = new(corpus[0])["input_ids"]
    assert ids[0] == new.cls_token_id and ids[-1] == new.sep_token_id
    assert model.config.pad_token_id == new.pad_token_id
    assert model.get_input_embeddings().padding_idx == new.pad_token_id
    assert new.tokenize("hello") == ["[UNK]"]  # the unknown token still catches what is not in the vocabulary


def test_held_out_text_changes_only_where_it_needs_a_dropped_token(tokenizer, corpus, corpus_lines):
    new, _ = prune_vocabulary(make_tiny_bert(len(tokenizer), layers=1), tokenizer, corpus[:20])
    kept = set(new.get_vocab())
    held_out = corpus_lines[3000:3200]  # not in the corpus
    # New texts made only of kept tokens: the held-out lines without the words that need a dropped token.
    covered = [" ".join(w for w in t.split() if set(tokenizer.tokenize(w)) <= kept) for t in held_out]
    covered = [t for t in covered if t and t not in corpus[:20]]
    changed = [t for t in held_out if new.tokenize(t) != tokenizer.tokenize(t)]
    assert len(covered) > 50 and changed
    assert all(new.tokenize(t) == tokenizer.tokenize(t) for t in covered)  # WordPiece's greedy split is kept
    assert all(not set(tokenizer.tokenize(t)) <= kept for t in changed)
    assert any("[UNK]" in new.tokenize(t) for t in changed)  # a word with no kept split is one [UNK]
    assert unchanged_share(tokenizer, new, held_out) == pytest.approx(1 - len(changed) / len(held_out))


def test_prune_vocabulary_rejects_a_non_wordpiece_tokenizer(corpus):
    from tokenizers import Tokenizer, models, pre_tokenizers

    backend = Tokenizer(models.WordLevel({"[UNK]": 0, "नमस्कार": 1}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    word_level = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    with pytest.raises(ValueError, match="supports WordPiece tokenizers.*got a WordLevel"):
        prune_vocabulary(make_tiny_bert(2, layers=1), word_level, corpus)


@pytest.mark.parametrize(
    "texts,match",
    [
        ([], "corpus is empty"),
        (["   ", ""], "corpus is empty"),
        (["hello world", "the quick brown fox"], "covers no token beyond the special ones"),
    ],
)
def test_prune_vocabulary_rejects_a_corpus_that_covers_nothing(tokenizer, texts, match):
    assert all(set(tokenizer.tokenize(t)) <= {"[UNK]"} for t in texts)  # Latin text is all [UNK] here
    model = make_tiny_bert(len(tokenizer), layers=1)
    with pytest.raises(ValueError, match=match):
        prune_vocabulary(model, tokenizer, texts)
    assert model.config.vocab_size == len(tokenizer)  # nothing was cut


def test_kept_ids_rejects_a_bad_min_count(tokenizer, corpus):
    with pytest.raises(ValueError, match="min_count must be a positive integer, got 0"):
        kept_ids(tokenizer, token_counts(tokenizer, corpus[:5]), min_count=0)
