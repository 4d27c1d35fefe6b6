"""Per-layer importance: how much does each encoder layer change the representation?

Poor Man's BERT's contribution-based strategy: run calibration text through the model, compare
each layer's input and output with cosine similarity, average over texts. A layer whose output is
nearly its input (similarity close to 1) contributes little and is dropped first. We compute it
for the [CLS] vector (as in the paper) and for the mean-pooled tokens (more stable for models
whose [CLS] is not trained by a next-sentence objective).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from models.loading import weights_hash
from models.store import atomic_write_json
from models.store import cache_dir as models_cache_dir

logger = logging.getLogger(__name__)


@dataclass
class LayerScores:
    """Mean input/output cosine similarity per layer (index 0 = bottom layer)."""

    cls: list[float]
    mean: list[float]
    num_texts: int
    model_fingerprint: str
    texts_fingerprint: str

    def by(self, pooling: str) -> list[float]:
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        return self.cls if pooling == "cls" else self.mean

    def to_dict(self) -> dict:
        return asdict(self)


def texts_fingerprint(texts: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(texts).encode()).hexdigest()[:16]


@torch.inference_mode()
def compute_layer_scores(
    model: nn.Module,
    tokenizer,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 128,
    cache_dir: str | os.PathLike | None | object = ...,
    show_progress: bool = True,
) -> LayerScores:
    """Score every encoder layer on `texts`; cached per (weights, texts, max_length).

    Args:
        model: any transformers encoder (or a model with one) that returns hidden states.
        tokenizer: its tokenizer.
        texts: calibration texts, e.g. the dev split (Poor Man's BERT) or corpus sentences.
        batch_size: texts per forward pass.
        max_length: truncation length in tokens.
        cache_dir: where scores are kept as JSON (default ``<cache root>/scores``, read at call time); None
            disables it.
        show_progress: tqdm bar over batches (picked up by gr.Progress(track_tqdm=True)).

    Returns:
        LayerScores with one cls and one mean similarity per layer.
    """
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise ValueError("need at least one non-empty calibration text to score layers")
    folder = models_cache_dir("scores") if cache_dir is ... else cache_dir
    fp_model, fp_texts = weights_hash(model), texts_fingerprint(texts)
    cache_file = Path(folder) / f"{fp_model}-{fp_texts}-{max_length}.json" if folder else None
    if cache_file and cache_file.is_file():
        try:
            return LayerScores(**json.loads(cache_file.read_text()))
        except (ValueError, TypeError) as exc:
            logger.warning("ignoring unreadable score cache %s: %s", cache_file, exc)

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    cls_sum = mean_sum = None
    try:
        for start in tqdm(range(0, len(texts), batch_size), desc="scoring layers", disable=not show_progress):
            chunk = list(texts[start : start + batch_size])
            batch = tokenizer(chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            batch = batch.to(device)
            hidden = model(**batch, output_hidden_states=True).hidden_states  # L+1 tensors of (B, T, H)
            stack = torch.stack([h.float() for h in hidden])  # (L+1, B, T, H)
            before, after = stack[:-1], stack[1:]  # layer i maps hidden[i] -> hidden[i+1]
            cls = F.cosine_similarity(before[:, :, 0], after[:, :, 0], dim=-1)  # (L, B)
            mask = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
            pooled_before = (before * mask).sum(2) / mask.sum(1)  # (L, B, H)
            pooled_after = (after * mask).sum(2) / mask.sum(1)
            mean = F.cosine_similarity(pooled_before, pooled_after, dim=-1)  # (L, B)
            cls_sum = cls.sum(1) if cls_sum is None else cls_sum + cls.sum(1)
            mean_sum = mean.sum(1) if mean_sum is None else mean_sum + mean.sum(1)
    finally:
        model.train(was_training)
    n = len(texts)
    scores = LayerScores(
        cls=[round(float(x) / n, 6) for x in cls_sum],
        mean=[round(float(x) / n, 6) for x in mean_sum],
        num_texts=n,
        model_fingerprint=fp_model,
        texts_fingerprint=fp_texts,
    )
    if cache_file:
        atomic_write_json(cache_file, scores.to_dict(), indent=None)
    return scores
