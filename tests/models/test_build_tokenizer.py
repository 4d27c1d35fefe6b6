"""The family tokenizer keeps Devanagari marks and normalises to NFC."""

from __future__ import annotations

from models.build_offline.tokenizer import load_tokenizer, special_ids


def test_tokenizer_keeps_devanagari_marks_and_normalises_nfc(tiny_setup) -> None:
    _, _, tok_dir = tiny_setup
    tok = load_tokenizer(tok_dir)
    text = "मंत्र्यांनी शाळेत"
    decoded = tok.decode(tok(text)["input_ids"], skip_special_tokens=True)
    assert "ं" in decoded and "ी" in decoded  # anusvara (Mn) and vowel signs survive: no accent stripping
    precomposed, decomposed = "\u0958", "\u0915\u093c"  # QA vs KA + NUKTA: NFC maps the first to the second
    assert tok(precomposed)["input_ids"] == tok(decomposed)["input_ids"]


def test_tokenizer_special_ids_are_the_never_masked_tokens(tiny_setup) -> None:
    _, _, tok_dir = tiny_setup
    tok = load_tokenizer(tok_dir)
    assert special_ids(tok) == [tok.pad_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id]
