"""Benchmark rows: every key present, honest statistics, the model given back as it came."""

from __future__ import annotations

import json

import pytest
import torch

from pruning.config import BenchConfig
from pruning.speed.measure import ROW_KEYS, benchmark_torch, make_row, measure_runner, model_meta
from pruning.speed.runners import TorchRunner
from pruning.speed.sizes import encoder_flops_per_token


def test_torch_rows_are_well_formed(tiny_bert, tokenizer, headlines):
    tiny_bert.train()  # the harness must time in eval mode and give the model back as it came
    threads_before = torch.get_num_threads()
    rows = benchmark_torch(
        tiny_bert,
        tokenizer,
        headlines,
        label="tiny",
        weights="random-weights",
        threads=1,
        batch_sizes=[1, 4],
        seq_lengths=[16, 32],
        warmup=1,
        repeats=5,
    )
    assert tiny_bert.training and torch.get_num_threads() == threads_before
    assert [(r["batch"], r["seq_len"]) for r in rows] == [(1, 16), (1, 32), (4, 16), (4, 32)]
    for row in rows:
        assert set(ROW_KEYS) <= set(row)
        assert 0 < row["min_ms"] <= row["p50_ms"] <= row["p90_ms"]
        assert row["mean_ms"] > 0 and row["throughput"] == pytest.approx(row["batch"] * 1000 / row["mean_ms"], rel=1e-3)
        assert row["threads"] == 1 and row["repeats"] == 5 and row["warmup"] == 1
        assert row["tokenize_ms_p50"] > 0 and row["tokenizer"]
        assert row["backend"] == "torch" and row["dtype"] == "float32" and row["weights"] == "random-weights"
        assert row["num_layers"] == 4 and row["kept_layers"] == [0, 1, 2, 3]
        assert row["device"] == "cpu" and row["device_name"]
        assert row["flops_per_token"] == encoder_flops_per_token(4, 64, 128, row["seq_len"])
        assert row["versions"]["torch"] == torch.__version__ and "onnxruntime" in row["versions"]
        assert row["export_check"] is None
    json.dumps(rows)  # JSON-serialisable as is


def test_bad_shapes_are_one_line_value_errors(tiny_bert):
    with pytest.raises(ValueError, match=r"max_position_embeddings \(128\), got \[129\]"):
        benchmark_torch(tiny_bert, seq_lengths=[129])
    with pytest.raises(ValueError, match="unknown backend"):
        BenchConfig(backends=["tensorrt"])


def test_model_meta_rejects_an_unknown_weights_label(tiny_bert):
    with pytest.raises(ValueError, match="weights must be 'pretrained', 'fine-tuned' or 'random-weights'"):
        model_meta(tiny_bert, label="tiny", weights="trained")


def test_make_row_orders_row_keys_first_and_keeps_extras(tiny_bert):
    runner = TorchRunner(tiny_bert, threads=1)
    meta = model_meta(tiny_bert, label="tiny", weights="pretrained", variant="tiny-top-k4")
    feed = {"input_ids": torch.ones(2, 8, dtype=torch.long).numpy()}
    stats = measure_runner(runner, feed, warmup=0, repeats=2)
    assert stats["repeats"] == 2 and stats["throughput"] > 0
    row = make_row(meta, runner, 2, 8, stats, extra={"note": "x"})
    assert list(row)[: len(ROW_KEYS)] == list(ROW_KEYS) and row["note"] == "x"
    assert row["variant"] == "tiny-top-k4" and "_config" not in row
