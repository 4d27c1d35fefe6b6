"""Size counted three ways: parameters by block, bytes on disk, encoder FLOPs."""

from __future__ import annotations

import pytest
import torch

from pruning.speed.sizes import count_parameters, disk_size_mb, encoder_flops_per_token, estimated_size_mb
from pruning.surgery import prune_layers


def test_count_parameters_split_follows_pruning(tiny_bert):
    full = count_parameters(tiny_bert)
    assert full["embedding"] + full["encoder"] + full["head"] == full["total"]
    assert full["total"] == sum(p.numel() for p in tiny_bert.parameters())
    assert full["word_embedding"] == tiny_bert.config.vocab_size * 64
    half = count_parameters(prune_layers(tiny_bert, [0, 1]))
    assert half["encoder"] * 2 == full["encoder"]
    assert (half["embedding"], half["head"]) == (full["embedding"], full["head"])


def test_sizes_on_disk_and_estimated(tiny_base_dir, tiny_bert):
    weights = disk_size_mb(tiny_base_dir / "model.safetensors")
    assert estimated_size_mb(tiny_bert) == pytest.approx(weights, rel=0.05)
    assert estimated_size_mb(tiny_bert, torch.float16) == pytest.approx(estimated_size_mb(tiny_bert) / 2, rel=0.02)
    assert disk_size_mb(tiny_base_dir) > weights
    with pytest.raises(FileNotFoundError):
        disk_size_mb(tiny_base_dir / "nope")


def test_encoder_flops_formula_for_bert_base():
    h, ffn, seq = 768, 3072, 128
    per_layer = 2 * (4 * h * h + 2 * h * ffn) + 2 * 2 * seq * h
    assert encoder_flops_per_token(12, h, ffn, seq) == 12 * per_layer
    assert encoder_flops_per_token(6, h, ffn, seq) * 2 == encoder_flops_per_token(12, h, ffn, seq)
    assert 165e6 < encoder_flops_per_token(12, h, ffn, seq, include_attention=False) < 175e6  # ~170 MFLOP/token
