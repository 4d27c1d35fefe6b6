"""Opening an export: the classifier the app serves, session guards, install hints."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from pruning.speed.onnx_session import OnnxClassifier, make_session


def test_classifier_from_variant_classifies(exported, trained, tokenizer, test_texts):
    folder, _ = exported
    classifier = OnnxClassifier.from_variant(folder, "onnx-int8", tokenizer=tokenizer, id2label=trained.config.id2label)
    proba = classifier.predict_proba(test_texts[:40])
    assert proba.shape == (40, 12) and np.allclose(proba.sum(-1), 1, atol=1e-5)
    labels = classifier.predict(test_texts[:5])
    assert all(label in trained.config.id2label.values() for label in labels)


def test_from_variant_errors_say_how_to_fix(tmp_path):
    with pytest.raises(ValueError, match="unknown ONNX backend 'tensorrt'"):
        OnnxClassifier.from_variant(tmp_path, "tensorrt")
    with pytest.raises(FileNotFoundError, match="python -m pruning bench --model"):
        OnnxClassifier.from_variant(tmp_path, "onnx")


def test_feed_casts_and_fills_token_type_ids(exported):
    _, result = exported
    classifier = OnnxClassifier(result.paths["onnx"], threads=1)
    feed = classifier.feed({"input_ids": np.ones((2, 5), dtype=np.int32), "attention_mask": np.ones((2, 5))})
    assert set(feed) == set(classifier.input_names) and all(v.dtype == np.int64 for v in feed.values())
    assert not feed["token_type_ids"].any()
    with pytest.raises(ValueError, match=r"inputs \['attention_mask'\] are missing"):
        classifier.feed({"input_ids": np.ones((1, 3))})
    with pytest.raises(ValueError, match="needs a tokenizer"):
        classifier.predict_logits(["मराठी"])


def test_install_hint_without_onnxruntime(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install onnxruntime"):
        make_session("model.onnx")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the guards of a machine without CUDA")
def test_cuda_session_needs_onnxruntime_gpu(tmp_path):
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(ValueError, match="onnxruntime-gpu"):
            make_session(tmp_path / "model.onnx", device="cuda")
