"""Shared fixtures: real data from ../shared, a tokenizer trained on the real corpus, tiny BERTs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("MARATHI_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MAHANEWS_DIR = SHARED / "data" / "mahanews"
CORPUS = SHARED / "data" / "marathi-corpus" / "corpus.txt"

# Keep every test offline and its caches out of the user's home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_configure(config):
    if not MAHANEWS_DIR.is_dir() or not CORPUS.is_file():
        raise pytest.UsageError(f"tests need the shared data at {SHARED} (set MARATHI_SHARED)")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Per-test cache locations so tests never read each other's (or the user's) variants."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MARATHI_PRUNE_HOME", str(home))
    monkeypatch.setenv("MARATHI_PRUNE_BUNDLED", str(home / "no-bundled-variants"))  # tests opt in to bundles
    monkeypatch.setenv("MAHANEWS_DIR", str(MAHANEWS_DIR))
    yield


@pytest.fixture(autouse=True)
def _background_loads_finish():
    """An app imported by a test warms up (loads models) in a thread; let it end before the next test.

    transformers' model construction is not thread-safe (see models.loading.MODEL_INIT_LOCK): a warm-up
    still loading would change the models the next test builds.
    """
    yield
    for thread in threading.enumerate():
        if thread.name == "warm-up" and thread.is_alive():
            thread.join(timeout=600)


@pytest.fixture(scope="session")
def corpus_lines() -> list[str]:
    with CORPUS.open(encoding="utf-8") as handle:
        return [next(handle).strip() for _ in range(4000)]


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory, corpus_lines) -> Path:
    """A 3k WordPiece vocabulary trained on real Marathi corpus lines, saved as a BertTokenizerFast."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    wordpiece = BertWordPieceTokenizer(lowercase=False, strip_accents=False, clean_text=True)
    wordpiece.train_from_iterator(corpus_lines, vocab_size=3000, min_frequency=2)
    out = tmp_path_factory.mktemp("tokenizer")
    vocab_file = wordpiece.save_model(str(out))[0]
    BertTokenizerFast(
        vocab_file, do_lower_case=False, strip_accents=False, tokenize_chinese_chars=False, model_max_length=128
    ).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)


def make_tiny_bert(vocab_size: int, layers: int = 4, seed: int = 0):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from pruning import LABELS

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
    )
    return BertForSequenceClassification(config).eval()


@pytest.fixture
def tiny_bert(tokenizer):
    return make_tiny_bert(len(tokenizer), layers=4)


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory, tokenizer) -> Path:
    """A saved 4-layer random-init base model folder, usable wherever a model name is accepted."""
    out = tmp_path_factory.mktemp("tiny-base")
    make_tiny_bert(len(tokenizer), layers=4).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def shc():
    from pruning import load_mahanews

    return load_mahanews("SHC", MAHANEWS_DIR)


@pytest.fixture(scope="session")
def headlines(shc) -> list[str]:
    data, _ = shc
    return list(data["test"]["text"][:16])
