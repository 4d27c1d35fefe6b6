"""Fixtures for vocabulary pruning: a small real-Marathi corpus file and a tiny masked LM."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory, corpus_lines) -> Path:
    """300 lines of the real corpus: a vocabulary of a few hundred of the tiny tokenizer's 3,000 tokens."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(corpus_lines[:300]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def tiny_mlm(tokenizer):
    """A 2-layer BertForMaskedLM whose decoder shares the word embedding (as MuRIL's does)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    model = BertForMaskedLM(config).eval()
    with torch.no_grad():  # a non-zero MLM bias, so that slicing it wrongly would show in the logits
        model.cls.predictions.bias.normal_()
    return model
