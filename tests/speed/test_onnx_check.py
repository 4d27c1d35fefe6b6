"""Parity checks: the verdict, criterion and caveats that travel with every ONNX row."""

from __future__ import annotations

from pruning.config import ExportConfig
from pruning.speed.onnx_check import check_export
from pruning.speed.onnx_session import OnnxClassifier


def test_check_on_random_ids_passes_fp32_and_warns_about_random_weights(exported, trained):
    _, result = exported
    classifier = OnnxClassifier(result.paths["onnx"], threads=1)
    check = check_export(trained, classifier, "onnx", weights="random-weights", config=ExportConfig(check_texts=64))
    assert check["inputs"] == "random token ids" and check["n"] == 64 and check["file"] == "model.opt.onnx"
    assert check["passed"] and check["criterion"] == "max_abs_logit_diff <= 0.001"
    assert check["mean_abs_logit_diff"] <= check["max_abs_logit_diff"] <= 1e-3
    assert "weak signal" in check["note"]


def test_int8_is_judged_by_label_agreement(exported, trained, tokenizer, test_texts):
    _, result = exported
    classifier = OnnxClassifier(result.paths["onnx-int8"], tokenizer, threads=1)
    strict = ExportConfig(check_texts=32, int8_min_agreement=1.0)
    check = check_export(trained, classifier, "onnx-int8", tokenizer=tokenizer, texts=test_texts, config=strict)
    assert check["criterion"] == "label_agreement >= 1.0" and check["n"] == 32
    assert check["passed"] == (check["label_agreement"] == 1.0) and "note" not in check
