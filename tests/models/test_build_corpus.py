"""Corpus, packing, batching and masking: deterministic, resumable by position, pinned per run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from build_helpers import TINY

from models.build_offline.config import PretrainConfig
from models.build_offline.corpus import (
    RUN_DATA_NAME,
    batch_rows,
    mask_tokens,
    pack_lines,
    prepare_data,
    read_corpus,
    split_heldout,
)


def test_pack_lines_adds_cls_and_sep_and_drops_the_tail() -> None:
    rows = pack_lines([[10, 11, 12], [], [13, 14]], seq_len=4, cls_id=2, sep_id=3)
    assert rows.tolist() == [[2, 10, 11, 12], [2, 3, 13, 14]]  # the trailing [SEP] of the last line is dropped
    assert pack_lines([[10]], seq_len=4, cls_id=2, sep_id=3).tolist() == [[2, 10, 3, 3]]  # a single short row


def test_split_heldout_is_fixed_disjoint_and_order_preserving() -> None:
    lines = [f"line {i}" for i in range(200)]
    train, held = split_heldout(lines, 0.05, seed=0)
    assert len(held) == 10 and len(train) == 190 and not set(train) & set(held)
    assert (train, held) == split_heldout(lines, 0.05, seed=0)
    assert train == sorted(train, key=lines.index) and held == sorted(held, key=lines.index)


def test_read_corpus_normalises_nfc_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("\u0958\n\n  x  \n", encoding="utf-8")  # QA: NFC decomposes it to KA + NUKTA
    assert read_corpus(path) == ["\u0915\u093c", "x"]
    with pytest.raises(FileNotFoundError, match="--corpus"):
        read_corpus(tmp_path / "missing.txt")


def test_batch_rows_walks_epochs_by_position_only() -> None:
    data = torch.arange(10).unsqueeze(1)
    first_epoch = torch.cat([batch_rows(data, start, 5, seed=3) for start in (0, 5)]).flatten().tolist()
    assert sorted(first_epoch) == list(range(10))  # each row once per epoch
    assert batch_rows(data, 8, 4, seed=3).flatten().tolist()[:2] == first_epoch[8:]  # wraps into epoch 1
    assert torch.equal(batch_rows(data, 7, 6, seed=3), batch_rows(data, 7, 6, seed=3))


def test_mask_tokens_is_seeded_and_never_masks_specials() -> None:
    ids = torch.randint(5, 100, (4, 16), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = 2  # [CLS]
    never = torch.tensor([0, 2, 3, 4])

    def run() -> tuple[torch.Tensor, ...]:
        return mask_tokens(ids, 0.3, 4, 100, never, torch.Generator().manual_seed(5))

    (inputs, selected, targets), again = run(), run()
    assert all(torch.equal(a, b) for a, b in zip((inputs, selected, targets), again, strict=True))
    assert not selected[:, 0].any() and torch.equal(targets, ids[selected])
    assert (inputs[selected] == 4).float().mean() > 0.5  # mostly [MASK]


def test_prepare_data_mixes_news_and_pins_the_run(tiny_corpus: Path, tmp_path: Path) -> None:
    cfg = PretrainConfig.from_dict({**TINY, "corpus": str(tiny_corpus), "budget_tokens": 16 * 32 * 60})
    news = ["मुंबईत आज जोरदार पाऊस पडला", " ", "शेतकऱ्यांना मदत जाहीर"]
    data = prepare_data(cfg, tmp_path / "tokenizer", cache_dir=tmp_path / "cache", news=news)
    assert data.info["news_texts"] == 2 and data.info["news_sha256"]
    assert json.loads((tmp_path / "cache" / RUN_DATA_NAME).read_text()) == data.info
    plain = prepare_data(cfg, tmp_path / "tokenizer")  # no cache: computed again, here without news
    assert plain.info["news_texts"] == 0 and plain.train.shape[0] < data.train.shape[0]
    # A pinned run keeps its data even when the corpus is gone and no news is passed (a moved run).
    moved = PretrainConfig.from_dict({**cfg.to_dict(), "corpus": str(tmp_path / "missing.txt")})
    again = prepare_data(moved, tmp_path / "tokenizer", cache_dir=tmp_path / "cache")
    assert torch.equal(again.train, data.train) and torch.equal(again.heldout, data.heldout)
    assert torch.allclose(again.unigram_logprob, data.unigram_logprob) and again.info == data.info
    shutil.rmtree(tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="--corpus"):  # without pinned data a run needs its corpus
        prepare_data(moved, tmp_path / "tokenizer", cache_dir=tmp_path / "cache")
