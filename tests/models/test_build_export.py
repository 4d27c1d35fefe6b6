"""Export: fp16 safetensors that load for classification, with build_info.json and a model card."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import torch
from build_helpers import train

from models.build_offline.config import FAMILY, PretrainConfig
from models.build_offline.export import export_model


def test_export_writes_fp16_safetensors_that_load_for_classification(tiny_setup, tmp_path: Path) -> None:
    from safetensors import safe_open
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    cfg, data, tok_dir = tiny_setup
    short = PretrainConfig.from_dict({**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 4})
    train(short, data, tok_dir, tmp_path / "ckpt", max_steps_this_call=2)  # an intermediate checkpoint
    out = export_model("smaller", tmp_path / "ckpt", tok_dir, tmp_path / "offline", data.info)
    assert out.name == FAMILY["smaller"][0]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"):
        assert (out / name).is_file(), name
    with safe_open(out / "model.safetensors", "pt") as handle:
        dtypes = {handle.get_tensor(k).dtype for k in handle.keys()}
    assert dtypes == {torch.float16}
    info = json.loads((out / "build_info.json").read_text())
    assert info["steps"] == 2 and info["status"].startswith("partial") and info["seed"] == cfg.seed
    assert info["data"]["corpus_sha256"] and info["commands"] == ["pytest"]
    model = AutoModelForSequenceClassification.from_pretrained(out, num_labels=12)
    tok = AutoTokenizer.from_pretrained(out)
    assert next(model.parameters()).dtype == torch.float32
    assert model.config.num_hidden_layers == 2 and model.config.vocab_size == cfg.vocab_size
    logits = model(**tok(["आज पाऊस पडला", "मुंबई"], padding=True, return_tensors="pt")).logits
    assert logits.shape == (2, 12) and torch.isfinite(logits).all()


def test_export_records_device_speed_and_replaces_the_folder(tiny_setup, tmp_path: Path) -> None:
    cfg, data, tok_dir = tiny_setup
    short = PretrainConfig.from_dict({**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 3})
    train(short, data, tok_dir, tmp_path / "ckpt")
    (tmp_path / "offline" / FAMILY["smaller"][0]).mkdir(parents=True)
    (tmp_path / "offline" / FAMILY["smaller"][0] / "stale.bin").write_text("old")
    out = export_model("smaller", tmp_path / "ckpt", tok_dir, tmp_path / "offline")
    assert not (out / "stale.bin").exists()  # the export is swapped in whole
    assert stat.S_IMODE((out / "build_info.json").stat().st_mode) == 0o644
    info = json.loads((out / "build_info.json").read_text())
    assert info["status"] == "complete" and info["tokens_per_second"] > 0 and "threads" in info["device"]
    assert [s["end_step"] for s in info["sessions"]] == [3]
    card = (out / "README.md").read_text()
    assert "tokens/s" in card and info["device"] in card and "held-out MLM loss" in card
    assert not list((tmp_path / "offline").glob(".tmp-*"))


def test_export_without_checkpoint_says_train_first(tiny_setup, tmp_path: Path) -> None:
    _, _, tok_dir = tiny_setup
    with pytest.raises(FileNotFoundError, match="train the model first"):
        export_model("smaller", tmp_path / "none", tok_dir, tmp_path / "offline")
