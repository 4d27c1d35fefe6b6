"""Fixtures of the offline-build tests: a tiny corpus, a tiny config, and a trained tokenizer.

Tiny models (2 layers, hidden 64) on a few thousand corpus lines keep each test file well under 30 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from build_helpers import TINY, synthetic_lines

from models.build_offline.config import DEFAULT_CORPUS, PretrainConfig
from models.build_offline.corpus import PretrainData, prepare_data


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 lines of the shared corpus (or synthetic lines when it is absent)."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    if DEFAULT_CORPUS.is_file():
        with open(DEFAULT_CORPUS, encoding="utf-8") as handle:
            lines = [next(handle).strip() for _ in range(3000)]
    else:
        lines = synthetic_lines(3000)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_setup(
    tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PretrainConfig, PretrainData, Path]:
    """Config, packed data and tokenizer folder of a tiny run (tokenizer trained once per module)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("family")
    cfg = PretrainConfig.from_dict({**TINY, "corpus": str(tiny_corpus), "budget_tokens": 16 * 32 * 60})
    data = prepare_data(cfg, root / "tokenizer", cache_dir=root / "cache")
    return cfg, data, root / "tokenizer"
