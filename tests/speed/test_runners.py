"""Runners: PyTorch in fp32 / bf16 on a copy, ONNX Runtime through a session, one interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pruning.speed.feeds import build_feed
from pruning.speed.measure import benchmark_torch
from pruning.speed.onnx_session import OnnxClassifier
from pruning.speed.runners import OnnxRunner, TorchRunner


def test_bf16_rows_and_fp16_on_cpu_is_refused(tiny_bert):
    rows = benchmark_torch(tiny_bert, backend="torch-bf16", threads=1, seq_lengths=[16], warmup=0, repeats=2)
    assert rows[0]["dtype"] == "bfloat16" and rows[0]["tokenize_ms_p50"] is None  # no tokenizer: random ids
    assert next(tiny_bert.parameters()).dtype == torch.float32  # timed on a copy
    with pytest.raises(ValueError, match="torch-fp16 needs --device cuda"):
        TorchRunner(tiny_bert, backend="torch-fp16")
    with pytest.raises(ValueError, match="unknown torch backend 'torch-int4'"):
        TorchRunner(tiny_bert, backend="torch-int4")


def test_torch_runner_restores_training_mode(tiny_bert):
    runner = TorchRunner(tiny_bert, threads=1)
    assert runner.model is tiny_bert and runner.disk_mb > 0  # fp32 on CPU: no copy
    tiny_bert.train()
    logits = runner.logits(build_feed(None, None, 2, 8, vocab_size=tiny_bert.config.vocab_size))
    assert logits.shape == (2, tiny_bert.config.num_labels) and logits.dtype == np.float32
    assert tiny_bert.training


def test_onnx_runner_runs_the_exported_file(exported, trained):
    _, result = exported
    runner = OnnxRunner(OnnxClassifier(result.paths["onnx-int8"], threads=1), "onnx-int8")
    assert (runner.backend, runner.dtype, runner.device, runner.threads) == ("onnx-int8", "int8", "cpu", 1)
    assert runner.disk_mb_source == "file model.int8.onnx" and runner.disk_mb > 0
    feed = build_feed(None, None, 3, 16, vocab_size=trained.config.vocab_size)
    with runner.scope():
        out = runner(runner.prepare(feed))
    runner.synchronize()
    assert out[0].shape == (3, trained.config.num_labels)
