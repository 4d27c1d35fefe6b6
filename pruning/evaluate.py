"""Predictions and classification metrics for a (pruned) model on a MahaNews split."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from torch import nn
from tqdm.auto import tqdm


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> Iterator[np.ndarray]:
    """Index batches of `texts` in order of length, so each padded batch wastes little.

    Callers write each batch's outputs back at these indices to restore the original order.
    """
    order = np.argsort([len(t) for t in texts], kind="stable")
    for start in range(0, len(texts), batch_size):
        yield order[start : start + batch_size]


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    tokenizer,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = 128,
    show_progress: bool = False,
) -> np.ndarray:
    """Logits for `texts` in their original order, shape (N, num_labels).

    Texts are batched in order of length so padding stays small, then put back in order.
    """
    texts = list(texts)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    batches = length_sorted_batches(texts, batch_size)
    try:
        for idx in tqdm(batches, total=-(-len(texts) // batch_size), desc="predicting", disable=not show_progress):
            batch = tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            ).to(device)
            out[idx] = model(**batch).logits.float().cpu().numpy()
    finally:
        model.train(was_training)
    return out


def classification_metrics(labels: Sequence[int], predictions: Sequence[int], label_names: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class F1 and the confusion matrix (rows = true labels)."""
    label_ids = list(range(len(label_names)))
    per_class = f1_score(labels, predictions, labels=label_ids, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, labels=label_ids, average="macro", zero_division=0)),
        "per_class_f1": {name: float(f) for name, f in zip(label_names, per_class, strict=True)},
        "confusion_matrix": confusion_matrix(labels, predictions, labels=label_ids).tolist(),
        "num_examples": len(labels),
    }


def evaluate_model(model: nn.Module, tokenizer, dataset, *, max_length: int = 128, batch_size: int = 64) -> dict:
    """Metrics of `model` on a `datasets.Dataset` with columns text and label (a ClassLabel)."""
    if len(dataset) == 0:
        raise ValueError("cannot evaluate on an empty split")
    logits = predict_logits(model, tokenizer, list(dataset["text"]), batch_size=batch_size, max_length=max_length)
    names = dataset.features["label"].names
    return classification_metrics(list(dataset["label"]), logits.argmax(-1).tolist(), names)


def majority_baseline(train_labels: Sequence[int], eval_labels: Sequence[int]) -> float:
    """Accuracy of always answering the most frequent training label."""
    majority = np.bincount(np.asarray(train_labels)).argmax()
    return float(np.mean(np.asarray(eval_labels) == majority))
