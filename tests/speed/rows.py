"""Synthetic benchmark rows (no timing involved) for the figure and report tests."""

from __future__ import annotations


def row(model, layers, backend, p50, batch=1, seq=64, disk=100.0, check=None) -> dict:
    return {
        "model": model,
        "variant": model if model != "base" or layers == 12 else f"base-top-k{layers}",
        "weights": "random-weights",
        "num_layers": layers,
        "backend": backend,
        "batch": batch,
        "seq_len": seq,
        "device": "cpu",
        "device_name": "cpu",
        "threads": 2,
        "p50_ms": p50,
        "p90_ms": p50 * 1.1,
        "throughput": 1000 / p50,
        "disk_mb": disk,
        "export_check": check,
        "cpu_load_1m": 1.0,
    }


def rows() -> list[dict]:
    check = {
        "backend": "onnx-int8",
        "weights": "random-weights",
        "passed": False,
        "max_abs_logit_diff": 0.02,
        "label_agreement": 0.97,
        "n": 10,
        "inputs": "random token ids",
    }
    return [
        row("base", 12, "torch", 100.0, disk=900),
        row("base", 6, "torch", 55.0, disk=700),
        row("base", 6, "onnx", 25.0, disk=700),
        row("base", 6, "onnx-int8", 10.0, disk=180, check=check),
        row("small", 6, "torch", 50.0, disk=300),
        row("base", 12, "torch", 3000.0, batch=32, seq=128),
    ]
