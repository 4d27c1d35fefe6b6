"""The run folder: config resolution, data identity, and resuming checkpoints of the pre-package format.

``data/legacy-run`` was written by the single-file ``models/build_offline.py`` that ran before this
package (a 2-layer, hidden-32 model stopped at step 5 of 12; ``golden.json`` holds that code's own
continuation to step 12, its batches/masks and its data description). The new code must resume it
unchanged and follow the same trajectory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from build_helpers import train

from models.build_offline.checkpoint import (
    CHECKPOINT_NAME,
    STATE_NAME,
    check_same_data,
    model_dir,
    read_checkpoint,
    resolve_config,
)
from models.build_offline.config import PretrainConfig
from models.build_offline.corpus import batch_rows, mask_tokens, prepare_data
from models.build_offline.pretrain import lr_multiplier, train_model
from models.build_offline.tokenizer import load_tokenizer, special_ids

LEGACY = Path(__file__).parent / "data" / "legacy-run"


def test_resolve_config_keeps_run_and_allows_only_extension(tmp_path: Path) -> None:
    resolve_config(tmp_path, {"budget_tokens": 10_000, "hidden_size": 128})
    assert resolve_config(tmp_path, {}).hidden_size == 128  # saved config wins over defaults
    assert resolve_config(tmp_path, {"budget_tokens": 20_000}).budget_tokens == 20_000
    with pytest.raises(ValueError, match="hidden_size"):
        resolve_config(tmp_path, {"hidden_size": 64})
    # A lower family budget is allowed (the ladder's scratch stage after a teacher rung); each model's
    # checkpoint keeps its own larger budget (test_build_pretrain).
    assert resolve_config(tmp_path, {"budget_tokens": 10_000}).budget_tokens == 10_000


def test_check_same_data_refuses_other_data(tmp_path: Path) -> None:
    saved = {"corpus_sha256": "a", "news_sha256": None, "train_rows": 5}
    check_same_data(saved, {"corpus_sha256": "a", "news_sha256": None, "train_rows": 5, "extra": 1}, tmp_path)
    check_same_data(None, {"corpus_sha256": "b"}, tmp_path)  # very old checkpoints: nothing to compare
    with pytest.raises(ValueError, match="news_sha256.*--news-dir"):
        check_same_data(saved, {"corpus_sha256": "a", "news_sha256": "x", "train_rows": 5}, tmp_path)


def test_resume_refuses_a_checkpoint_trained_on_other_data(tiny_setup, tmp_path: Path) -> None:
    cfg, data, tok_dir = tiny_setup
    short = PretrainConfig.from_dict({**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 4})
    train(short, data, tok_dir, tmp_path / "run", max_steps_this_call=1)
    other = type(data)(data.train, data.heldout, data.unigram_logprob, {**data.info, "news_sha256": "other"})
    with pytest.raises(ValueError, match="other data"):
        train(short, other, tok_dir, tmp_path / "run")


@pytest.fixture
def legacy_root(tmp_path: Path) -> tuple[Path, Path, dict]:
    root, corpus = tmp_path / "root", tmp_path / "corpus.txt"
    shutil.copytree(LEGACY / "root", root)
    shutil.copy(LEGACY / "corpus.txt", corpus)
    return root, corpus, json.loads((LEGACY / "golden.json").read_text(encoding="utf-8"))


def test_legacy_checkpoint_has_the_old_format(legacy_root) -> None:
    root, _, _ = legacy_root
    blob = read_checkpoint(model_dir(root, "smaller") / CHECKPOINT_NAME)
    assert set(blob) == {"model", "optimizer", "scheduler", "rng", "state", "config"}
    assert blob["state"]["step"] == 5 and "sessions" not in blob["state"]
    assert not (model_dir(root, "smaller") / STATE_NAME).exists()


def test_legacy_run_resumes_on_the_same_data_and_trajectory(legacy_root) -> None:
    root, corpus, golden = legacy_root
    torch.set_num_threads(1)
    cfg = resolve_config(root, {"corpus": str(corpus)})  # the run moved: only its corpus path changes
    packed_before = sorted(p.name for p in (root / "cache").glob("packed-*.pt"))
    data = prepare_data(cfg, root / "tokenizer", cache_dir=root / "cache")
    assert sorted(p.name for p in (root / "cache").glob("packed-*.pt")) == packed_before  # same cache key
    assert {k: v for k, v in data.info.items() if k != "corpus"} == {
        k: v for k, v in golden["data_info"].items() if k != "corpus"
    }
    tok = load_tokenizer(root / "tokenizer")
    never = torch.tensor(special_ids(tok))
    for step, digest in enumerate(golden["batch_mask_digests"]):  # same rows and masks at every step
        ids = batch_rows(data.train, step * cfg.batch_size, cfg.batch_size, cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        inputs, selected, targets = mask_tokens(ids, cfg.mask_prob, tok.mask_token_id, cfg.vocab_size, never, gen)
        h = hashlib.sha256()
        for t in (ids, inputs, selected.to(torch.uint8), targets):
            h.update(t.contiguous().numpy().tobytes())
        assert h.hexdigest()[:16] == digest, step
    assert [lr_multiplier(s, cfg.total_steps, cfg) for s in range(12)] == pytest.approx(golden["lr"])
    state = train_model(
        "smaller", cfg, data, tok, model_dir(root, "smaller"), device=torch.device("cpu"), progress=False
    )
    assert state["done"] and state["step"] == 12 and state["sequences_seen"] == golden["sequences_seen"]
    hist = read_checkpoint(model_dir(root, "smaller") / CHECKPOINT_NAME)["state"]["history"]
    assert [s for s, _ in hist] == list(range(1, 13))
    assert hist[:5] == golden["resumed_history"][:5]  # the legacy part is kept as it was
    assert [loss for _, loss in hist] == pytest.approx([loss for _, loss in golden["resumed_history"]], abs=2e-3)
    assert [e["step"] for e in state["evals"]] == [e["step"] for e in golden["resumed_evals"]] == [0, 6, 12]
    losses = [e["mlm_loss"] for e in golden["resumed_evals"]]
    assert [e["mlm_loss"] for e in state["evals"]] == pytest.approx(losses, abs=2e-3)
