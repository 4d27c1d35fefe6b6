"""Parity of an exported model with PyTorch: the check that makes an ONNX speed-up worth quoting.

A faster file is only useful if it classifies like the model it came from. fp32 graphs must give
the same logits (up to float rounding); INT8 and fp16 graphs are different models, so they are
judged by how many predicted labels stay unchanged on real MahaNews headlines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch import nn

from ..config import ExportConfig
from .feeds import INPUT_NAMES, build_feed
from .onnx_session import OnnxClassifier
from .runners import TorchRunner

logger = logging.getLogger(__name__)

CHECK_BATCH = 32  # texts per check batch: small enough for a 197k-vocabulary model on a laptop


def _check_batches(
    tokenizer: Any | None, texts: Sequence[str], config: ExportConfig, vocab_size: int
) -> Iterator[dict[str, np.ndarray]]:
    """Tokenized check batches of real texts, or seeded random ids when there is no tokenizer."""
    if tokenizer is not None and texts:
        texts = list(texts)[: config.check_texts]
        for start in range(0, len(texts), CHECK_BATCH):
            enc = tokenizer(
                texts[start : start + CHECK_BATCH],
                padding=True,
                truncation=True,
                max_length=config.check_max_length,
                return_tensors="np",
            )
            yield {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in INPUT_NAMES}
        return
    seq_len = min(CHECK_BATCH, config.check_max_length)
    for i in range(max(1, config.check_texts // CHECK_BATCH)):
        yield build_feed(None, None, CHECK_BATCH, seq_len, vocab_size=vocab_size, seed=i)


def check_export(
    model: nn.Module,
    classifier: OnnxClassifier,
    backend: str,
    *,
    tokenizer: Any | None = None,
    texts: Sequence[str] | None = None,
    weights: str = "pretrained",
    config: ExportConfig | None = None,
) -> dict[str, Any]:
    """Compare an ONNX model with the fp32 PyTorch model on the same inputs.

    fp32 passes when max |logit difference| <= ``config.fp32_tolerance``; INT8 and fp16 pass
    when at least ``config.int8_min_agreement`` of the predicted labels are unchanged. On random
    weights the logits are nearly uniform, so label agreement is reported but says little.

    Args:
        model: the fp32 PyTorch classifier the file was exported from.
        classifier: the opened ONNX file.
        backend: "onnx", "onnx-int8" or "onnx-cuda-fp16" (decides the criterion).
        tokenizer, texts: real texts to classify; seeded random token ids without them.
        weights: "pretrained" | "fine-tuned" | "random-weights", recorded with the result.
        config: tolerances and how many texts to use.

    Returns:
        A JSON-serialisable dict that travels with the benchmark rows.
    """
    config = config or ExportConfig()
    reference = TorchRunner(model, threads=classifier.threads)
    diffs, agree, total = [], 0, 0
    for batch in _check_batches(tokenizer, texts or [], config, model.config.vocab_size):
        ref = reference.logits(batch)
        out = classifier.logits(batch)
        diffs.append(np.abs(out - ref).max(axis=-1))
        agree += int((out.argmax(-1) == ref.argmax(-1)).sum())
        total += len(ref)
    diff = np.concatenate(diffs)
    result: dict[str, Any] = {
        "backend": backend,
        "file": classifier.path.name,
        "reference": "torch float32 (cpu)",
        "inputs": "MahaNews SHC headlines" if tokenizer is not None and texts else "random token ids",
        "n": total,
        "weights": weights,
        "max_abs_logit_diff": float(diff.max()),
        "mean_abs_logit_diff": float(diff.mean()),
        "label_agreement": agree / total,
    }
    if backend == "onnx":
        result["criterion"] = f"max_abs_logit_diff <= {config.fp32_tolerance}"
        result["passed"] = bool(diff.max() <= config.fp32_tolerance)
    else:
        result["criterion"] = f"label_agreement >= {config.int8_min_agreement}"
        result["passed"] = bool(agree / total >= config.int8_min_agreement)
    if weights == "random-weights":
        result["note"] = (
            "random weights: near-uniform logits make label agreement a weak signal; check a fine-tuned model"
        )
    level = logging.INFO if result["passed"] or weights == "random-weights" else logging.WARNING
    verdict = "passed" if result["passed"] else "FAILED"
    logger.log(level, "%s check: max|dlogit| %.2e, agreement %.4f (%s)", backend, diff.max(), agree / total, verdict)
    return result
