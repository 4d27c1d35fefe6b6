"""Shared pieces of the speed tests: a briefly trained tiny BERT and its ONNX exports, built once.

Training and exporting take a few seconds, so they happen once per session into a folder that
tests only read; a test that rebuilds exports works on its own copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pruning.speed import ExportResult, export_variant
from tests.conftest import make_tiny_bert


@pytest.fixture(scope="session")
def trained(tokenizer, shc):
    """A 2-layer tiny BERT briefly trained on SHC headlines, so its logits are not near-uniform."""
    data, _ = shc
    model = make_tiny_bert(len(tokenizer), layers=2, seed=1)
    texts, labels = list(data["train"]["text"]), torch.tensor(data["train"]["label"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small ops: one thread is faster, and immune to a busy shared CPU
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            for idx in torch.randperm(len(texts), generator=generator).split(64):
                batch = tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True, max_length=32, return_tensors="pt"
                )
                model(**batch, labels=labels[idx]).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


@pytest.fixture(scope="session")
def test_texts(shc) -> list[str]:
    data, _ = shc
    return list(data["test"]["text"])


@pytest.fixture(scope="session")
def exported(trained, tokenizer, test_texts, tmp_path_factory) -> tuple[Path, ExportResult]:
    """(variant folder, result) of the fp32 and INT8 exports of `trained`; read-only for tests."""
    folder = tmp_path_factory.mktemp("variant")
    result = export_variant(trained, folder, tokenizer=tokenizer, texts=test_texts, weights="fine-tuned", threads=1)
    return folder, result
