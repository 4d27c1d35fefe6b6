"""pruning.app.classify_view: result columns, latency chart and JSON, from synthetic outcomes."""

from __future__ import annotations

import json

import pytest

from pruning.app import classify_view
from pruning.app.classify import BackendRun, ClassifyOutcome, LiveTiming, Prediction


def _prediction(name: str, labels: dict[str, str], kind: str = "pruned") -> Prediction:
    runs = {
        backend: BackendRun(backend, {label: 0.7, "Other": 0.3}, [1.0, 2.0, 3.0, 4.0, 5.0])
        for backend, label in labels.items()
    }
    return Prediction(name, "offline-teacher · middle 6/12 · SHC · seed 0", kind, runs, "cpu", 12, 64, 6, 0.7, True)


def test_slot_markdown_lists_each_backend_and_flags_disagreement():
    same = classify_view.slot_markdown(_prediction("a", {"torch": "Sports", "onnx": "Sports", "onnx-int8": "Sports"}))
    assert "✓ all 3 backends agree" in same and "**ORT INT8**: Sports 0.70 · **3.0 ms** (1.4–4.6)" in same
    differ = classify_view.slot_markdown(_prediction("b", {"torch": "Sports", "onnx-int8": "Tech"}))
    assert "✗ backends disagree: PyTorch Sports, ORT INT8 Tech" in differ and "*bundled*" in differ


def test_latency_chart_draws_median_bars_with_p10_p90_whiskers_per_backend():
    preds = [_prediction("a", {"torch": "S", "onnx": "S"}), _prediction("b", {"torch": "S", "onnx": "S"})]
    fig = classify_view.latency_chart(ClassifyOutcome(preds, [], ["torch", "onnx"], LiveTiming()))
    assert [t.name for t in fig.data] == ["PyTorch eager", "ONNX Runtime fp32"]
    torch_bars = fig.data[0]
    assert list(torch_bars.y) == [3.0, 3.0] and list(torch_bars.error_y.array) == pytest.approx([1.6, 1.6])
    assert list(torch_bars.error_y.arrayminus) == pytest.approx([1.6, 1.6])
    assert len(set(torch_bars.x)) == 2  # same kind and depth: numbered, not drawn on top of each other
    assert "median of 5 warm runs after 2 warm-up runs" in fig.layout.title.text


def test_outcome_json_is_plain_data_per_variant_and_backend():
    outcome = ClassifyOutcome([_prediction("a", {"torch": "S", "onnx-int8": "T"})], ["note"], ["torch", "onnx-int8"])
    data = json.loads(json.dumps(classify_view.outcome_json(outcome)))
    first = data["predictions"][0]
    assert first["variant"] == "a" and first["labels_agree"] is False and first["results"]["onnx-int8"]["label"] == "T"
    assert first["results"]["torch"] == {
        "label": "S",
        "confidence": 0.7,
        "top5": {"S": 0.7, "Other": 0.3},
        "median_ms": 3.0,
        "p10_ms": 1.4,
        "p90_ms": 4.6,
        "runs": 5,
    }
    assert data["notices"] == ["note"] and data["backends"] == ["torch", "onnx-int8"]


def test_variant_summaries_describe_each_variant_for_the_api():
    record = {
        "name": "v",
        "bundled": True,
        "bundle": {"role": "pruned"},
        "base_model": "offline-teacher",
        "plan": {"strategy": "middle", "keep": 2, "num_layers": 4, "kept": [0, 3]},
        "num_parameters": 1000,
        "finetune_config": {"dataset": "SHC", "seed": 0},
        "test_metrics": {"accuracy": 0.5},
        "dev_metrics": {"accuracy": 0.6},
    }
    (summary,) = classify_view.variant_summaries([record], ["torch", "onnx"])
    assert summary["role"] == "pruned" and summary["layers"] == 2 and summary["kept_layers"] == [0, 3]
    assert summary["base"] == "offline-teacher" and summary["backends"] == ["torch", "onnx"]
    assert classify_view.variant_options([record])[0] == (
        "pruned · offline-teacher · middle 2/4 · SHC · seed 0 · test acc 50.0% · bundled",
        "v",
    )
