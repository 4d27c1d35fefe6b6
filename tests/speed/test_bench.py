"""`python -m pruning bench`: rows per depth and backend, export checks attached, clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from pruning.config import BenchConfig
from pruning.speed.bench import run_bench, write_rows


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
    table = pd.read_csv(out)
    assert table["num_layers"].tolist() == [4, 4, 2, 2]
    assert table["weights"].unique().tolist() == ["pretrained"]
    assert json.loads(table["kept_layers"].iloc[-1]) == [0, 1]  # strategy top
    pruned, full = table[table.num_layers == 2], table[table.num_layers == 4]
    assert (
        pruned["params"].map(lambda p: json.loads(p)["encoder"]).iloc[0] * 2
        == json.loads(full["params"].iloc[0])["encoder"]
    )
    assert full["disk_mb_source"].iloc[0] == "file model.safetensors"  # the real file, not an estimate
    assert pruned["disk_mb_source"].iloc[0].startswith("estimate")
    assert (
        _cli("bench", "--model", str(tiny_base_dir), *args[:2], "--seq", "16", "--repeats", "1", "--warmup", "0") == 0
    )
    printed = json.loads(capsys.readouterr().out)  # without --output: JSON rows on stdout
    assert len(printed) == 1 and printed[0]["backend"] == "torch"


def test_bench_rows_carry_export_checks(trained, tokenizer, test_texts, tmp_path):
    bench = BenchConfig(
        backends=["torch", "onnx", "onnx-int8"], batch_sizes=[2], seq_lengths=[32], warmup=1, repeats=3, threads=1
    )
    rows = run_bench(
        trained,
        keep=[2, 1],
        bench=bench,
        tokenizer=tokenizer,
        texts=test_texts[:64],
        export_root=tmp_path,
        label="tiny",
        weights="fine-tuned",
    )
    assert [(r["num_layers"], r["backend"]) for r in rows] == [
        (2, "torch"),
        (2, "onnx"),
        (2, "onnx-int8"),
        (1, "torch"),
        (1, "onnx"),
        (1, "onnx-int8"),
    ]
    by = {(r["num_layers"], r["backend"]): r for r in rows}
    assert by[(2, "torch")]["export_check"] is None
    assert by[(1, "onnx")]["export_check"]["passed"] and by[(1, "onnx")]["dtype"] == "float32"
    assert by[(1, "onnx-int8")]["export_check"]["backend"] == "onnx-int8"
    assert by[(1, "onnx-int8")]["disk_mb"] < by[(1, "onnx")]["disk_mb"]
    assert by[(1, "onnx")]["disk_mb"] < by[(2, "onnx")]["disk_mb"]
    assert by[(1, "torch")]["variant"] == "tiny-top-k1" and by[(1, "torch")]["kept_layers"] == [0]
    assert all(r["threads"] == 1 and r["weights"] == "fine-tuned" for r in rows)
    assert by[(1, "onnx")]["export_dir"] == str(tmp_path / "tiny__fine-tuned" / "top-k1" / "onnx")
    json.dumps(rows)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the guards of a machine without CUDA")
def test_gpu_paths_are_guarded_on_cpu(trained):
    with pytest.raises(ValueError, match="cuda"):
        run_bench(trained, bench=BenchConfig(device="cuda"))
    with pytest.raises(ValueError, match="onnx-cuda-fp16 runs on the GPU only"):
        run_bench(trained, bench=BenchConfig(backends=["onnx-cuda-fp16"]))
    with pytest.raises(ValueError, match="torch-fp16 needs --device cuda"):
        run_bench(trained, bench=BenchConfig(backends=["torch-fp16"]))


def test_write_rows_json_csv_and_bad_extension(tmp_path):
    rows = [{"model": "m", "params": {"total": 3}, "kept_layers": [0, 1], "p50_ms": 1.5}]
    assert json.loads(write_rows(rows, tmp_path / "r.json").read_text()) == rows
    table = pd.read_csv(write_rows(rows, tmp_path / "r.csv"))
    assert json.loads(table["params"][0]) == {"total": 3} and table["p50_ms"][0] == 1.5
    with pytest.raises(ValueError, match="--output must end in .json or .csv"):
        write_rows(rows, tmp_path / "r.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.json"]  # atomic: no temp files left
