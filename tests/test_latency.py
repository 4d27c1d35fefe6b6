"""The latency harness and `python -m pruning bench`: well-formed rows, honest sizes, clear errors."""

from __future__ import annotations

import json
import time

import pytest
import torch

from pruning.config import BenchConfig
from pruning.latency import (
    ROW_KEYS,
    TorchRunner,
    benchmark_torch,
    check_shapes,
    count_parameters,
    disk_size_mb,
    encoder_flops_per_token,
    estimated_size_mb,
    summarize,
    time_callable,
    time_single_request,
)
from pruning.surgery import prune_layers


def test_torch_rows_are_well_formed(tiny_bert, tokenizer, headlines):
    tiny_bert.train()  # the harness must time in eval mode and give the model back as it came
    threads_before = torch.get_num_threads()
    rows = benchmark_torch(
        tiny_bert, tokenizer, headlines, label="tiny", weights="random-weights", threads=1,
        batch_sizes=[1, 4], seq_lengths=[16, 32], warmup=1, repeats=5,
    )  # fmt: skip
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


def test_bf16_rows_and_fp16_on_cpu_is_refused(tiny_bert):
    rows = benchmark_torch(tiny_bert, backend="torch-bf16", threads=1, seq_lengths=[16], warmup=0, repeats=2)
    assert rows[0]["dtype"] == "bfloat16" and rows[0]["tokenize_ms_p50"] is None  # no tokenizer: random ids
    assert next(tiny_bert.parameters()).dtype == torch.float32  # timed on a copy
    with pytest.raises(ValueError, match="torch-fp16 needs --device cuda"):
        TorchRunner(tiny_bert, backend="torch-fp16")


def test_parameter_split_follows_pruning(tiny_bert):
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


def test_flops_formula_for_bert_base():
    h, ffn, seq = 768, 3072, 128
    per_layer = 2 * (4 * h * h + 2 * h * ffn) + 2 * 2 * seq * h
    assert encoder_flops_per_token(12, h, ffn, seq) == 12 * per_layer
    assert encoder_flops_per_token(6, h, ffn, seq) * 2 == encoder_flops_per_token(12, h, ffn, seq)
    assert 165e6 < encoder_flops_per_token(12, h, ffn, seq, include_attention=False) < 175e6  # ~170 MFLOP/token


def test_timing_primitives():
    calls = []
    samples = time_callable(lambda: calls.append(time.sleep(0.002)), warmup=2, repeats=4)
    assert len(calls) == 6 and len(samples) == 4 and min(samples) >= 2.0
    stats = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert stats["p50_ms"] == 3.0 and stats["min_ms"] == 1.0 and stats["p50_ms"] <= stats["p90_ms"] <= 100
    cut = time_callable(lambda: time.sleep(0.02), warmup=0, repeats=50, time_budget_s=0.05)
    assert 3 <= len(cut) < 10
    result, ms = time_single_request(lambda x: x * 2, 21)
    assert result == 42 and ms >= 0
    with pytest.raises(ValueError):
        summarize([])


def test_bad_shapes_are_one_line_value_errors(tiny_bert):
    with pytest.raises(ValueError, match=r"batch sizes must be integers >= 1, got \[0\]"):
        check_shapes(tiny_bert.config, [0], [16])
    with pytest.raises(ValueError, match=r"max_position_embeddings \(128\), got \[129\]"):
        benchmark_torch(tiny_bert, seq_lengths=[129])
    with pytest.raises(ValueError, match="unknown backend"):
        BenchConfig(backends=["tensorrt"])


# ---------------------------------------------------------------------------------------------
# The CLI (through the lead's `python -m pruning` entry point)
# ---------------------------------------------------------------------------------------------


def _cli(*argv: str) -> int:
    from pruning.cli import main

    return main(list(argv))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--batch", "0"], "batch sizes must be >= 1"),
        (["--seq", "129"], "max_position_embeddings (128)"),
        (["--backend", "torch,tensorrt"], "unknown backend(s) ['tensorrt']"),
        (["--batch", "one"], "--batch expects comma-separated integers"),
        (["--keep", "9"], "keep must be between 1 and 4"),
        (["--output", "rows.txt"], "--output must end in .json or .csv"),
    ],
)
def test_cli_rejects_bad_input(tiny_base_dir, capsys, flags, message):
    code = _cli("bench", "--model", str(tiny_base_dir), "--backend", "torch", *flags)
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err


def test_cli_bench_keeps_several_depths(tiny_base_dir, tmp_path, capsys):
    out = tmp_path / "rows.csv"
    args = ["--backend", "torch", "--batch", "1,2", "--seq", "16", "--threads", "1", "--repeats", "2", "--warmup", "0"]
    assert _cli("bench", "--model", str(tiny_base_dir), "--keep", "4,2", *args, "--output", str(out)) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 4
    import pandas as pd

    table = pd.read_csv(out)
    assert table["num_layers"].tolist() == [4, 4, 2, 2]
    assert table["weights"].unique().tolist() == ["pretrained"]
    assert json.loads(table["kept_layers"].iloc[-1]) == [0, 1]  # strategy top
    pruned, full = table[table.num_layers == 2], table[table.num_layers == 4]
    assert (
        pruned["params"].map(lambda p: json.loads(p)["encoder"]).iloc[0] * 2
        == json.loads(full["params"].iloc[0])["encoder"]
    )
    assert (
        _cli("bench", "--model", str(tiny_base_dir), *args[:2], "--seq", "16", "--repeats", "1", "--warmup", "0") == 0
    )
    printed = json.loads(capsys.readouterr().out)  # without --output: JSON rows on stdout
    assert len(printed) == 1 and printed[0]["backend"] == "torch"


# ---------------------------------------------------------------------------------------------
# Ratios, figure and report (synthetic rows: no timing involved)
# ---------------------------------------------------------------------------------------------


def _row(model, layers, backend, p50, batch=1, seq=64, disk=100.0, check=None):
    return {
        "model": model, "variant": model if model != "base" or layers == 12 else f"base-top-k{layers}",
        "weights": "random-weights", "num_layers": layers, "backend": backend, "batch": batch, "seq_len": seq,
        "device": "cpu", "device_name": "cpu", "threads": 2, "p50_ms": p50, "p90_ms": p50 * 1.1, "throughput": 1000 / p50,
        "disk_mb": disk, "export_check": check, "cpu_load_1m": 1.0,
    }  # fmt: skip


def _rows():
    check = {"backend": "onnx-int8", "weights": "random-weights", "passed": False, "max_abs_logit_diff": 0.02,
             "label_agreement": 0.97, "n": 10, "inputs": "random token ids"}  # fmt: skip
    return [
        _row("base", 12, "torch", 100.0, disk=900), _row("base", 6, "torch", 55.0, disk=700),
        _row("base", 6, "onnx", 25.0, disk=700), _row("base", 6, "onnx-int8", 10.0, disk=180, check=check),
        _row("small", 6, "torch", 50.0, disk=300), _row("base", 12, "torch", 3000.0, batch=32, seq=128),
    ]  # fmt: skip


def test_speedups_against_baseline_and_own_torch():
    from pruning.bench import add_speedups

    rows = {(r["variant"], r["backend"], r["batch"]): r for r in add_speedups(_rows())}
    onnx = rows[("base-top-k6", "onnx", 1)]
    assert onnx["speedup_vs_baseline"] == 4.0 and onnx["speedup_vs_torch"] == 2.2
    assert rows[("small", "torch", 1)]["speedup_vs_baseline"] == 2.0  # scratch models compare with 12-layer base
    assert rows[("base", "torch", 32)]["speedup_vs_baseline"] == 1.0  # same shape only


def test_latency_figure_and_markdown_report():
    import importlib.util
    from pathlib import Path

    from pruning.bench import add_speedups, latency_figure

    rows = add_speedups(_rows())
    fig = latency_figure(rows)
    names = {t.name for t in fig.data}
    assert {"base · torch", "base · onnx", "base · onnx-int8", "small · torch"} <= names
    assert "random weights" in fig.layout.title.text and len(fig.layout.annotations) == 2  # one panel per shape
    line = next(t for t in fig.data if t.name == "base · torch" and len(t.x) == 2)
    assert list(line.x) == [6, 12] and list(line.y) == [55.0, 100.0]

    path = Path(__file__).resolve().parents[1] / "scripts" / "benchmark_report.py"
    spec = importlib.util.spec_from_file_location("benchmark_report", path)
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    report.BASE = "base"
    targets = report.target_checks(rows)
    assert {"target": "torch 6-layer <= (6/12 + 0.08) x 12-layer latency (b1/s64)", "measured": "0.550 x (bound 0.580)",
            "met": True} in targets  # fmt: skip
    assert any(t["target"].startswith("onnx-int8 >= 2.5x") and t["met"] for t in targets)
    assert any(t["target"].startswith("INT8 file <= 30%") and t["measured"].endswith("26%") for t in targets)
    meta = {"machine": {"platform": "linux"}, "versions": {k: "1" for k in ("torch", "transformers", "onnxruntime", "onnx", "python")},
            "created": "now", "command": "python -m scripts.benchmark_report --quick", "device_name": "cpu", "threads": 2,
            "spinning": True, "method": "m", "cpu_load_1m": [1.0], "notes": ["n"], "targets": targets}  # fmt: skip
    text = report.markdown_report(rows, [], meta)
    assert "python -m scripts.benchmark_report --quick" in text and "--agreement-model" in text
    table_lines = [line for line in text.splitlines() if line.startswith("| base |")]
    assert table_lines and all(line.count("|") == 11 for line in table_lines)  # no '|' leaking into cells
    assert "indicative (random weights)" in text
