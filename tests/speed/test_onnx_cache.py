"""A variant's exports: reused while valid, rebuilt when weights or settings change."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from models.loading import weights_hash
from pruning.config import ExportConfig
from pruning.speed.onnx_cache import export_variant
from pruning.speed.onnx_session import MANIFEST


def test_export_cache_reused_until_weights_change(exported, trained, tokenizer, test_texts, tmp_path):
    folder = tmp_path / "variant"
    shutil.copytree(exported[0], folder)  # the shared export stays as it is for other tests
    stamp = (folder / "onnx" / "model.int8.onnx").stat().st_mtime_ns
    again = export_variant(trained, folder, tokenizer=tokenizer, texts=test_texts, weights="fine-tuned", threads=1)
    assert again.from_cache and again.built == []
    assert again.paths["onnx-int8"].stat().st_mtime_ns == stamp

    changed = json.loads(json.dumps(trained.config.to_dict()))  # same architecture, new weights
    from transformers import BertConfig, BertForSequenceClassification

    other = BertForSequenceClassification(BertConfig(**changed)).eval()
    other.load_state_dict(trained.state_dict())
    with torch.no_grad():
        other.classifier.bias += 0.5
    assert weights_hash(other) != weights_hash(trained)
    redone = export_variant(other, folder, tokenizer=tokenizer, texts=test_texts[:32], weights="fine-tuned", threads=1)
    assert not redone.from_cache and redone.built == ["onnx", "onnx-int8"]
    assert json.loads((folder / "onnx" / MANIFEST).read_text())["source_hash"] == weights_hash(other)
    assert redone.checks["onnx"]["passed"]  # checked against the *new* weights
    settings = export_variant(
        other,
        folder,
        backends=["onnx"],
        texts=test_texts[:32],
        tokenizer=tokenizer,
        config=ExportConfig(check_texts=16),
        threads=1,
    )
    assert not settings.from_cache and settings.checks["onnx"]["n"] == 16  # new export settings: redone too


def test_export_config_validation():
    with pytest.raises(ValueError, match="unknown exporter 'tflite'"):
        ExportConfig(exporter="tflite")
    with pytest.raises(ValueError, match="opset"):
        ExportConfig(opset=7)
    with pytest.raises(ValueError, match="int8_min_agreement"):
        ExportConfig(int8_min_agreement=1.5)


def test_export_variant_rejects_unknown_and_gpu_backends(trained, tmp_path):
    with pytest.raises(ValueError, match=r"unknown ONNX backend\(s\) \['tensorrt'\]"):
        export_variant(trained, tmp_path, backends=["tensorrt"])
    with pytest.raises(ValueError, match="needs --device cuda"):
        export_variant(trained, tmp_path, backends=["onnx-cuda-fp16"])
    assert not (tmp_path / "onnx").exists()  # nothing written before the arguments are checked
