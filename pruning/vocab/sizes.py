"""Sizes before and after layer + vocabulary pruning, from a config and a token count, without weights.

Why: the app shows what a cut will weigh while the user is still choosing it. Loading MahaBERT-v2 for that
would take a gigabyte and seconds per click; its config, its tokenizer and the corpus's cached token counts
give the exact parameter count in milliseconds (the model is built on PyTorch's meta device: shapes only).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from typing import Any

import torch

from models.loading import MODEL_INIT_LOCK, load_config, load_tokenizer

from .corpus import corpus_token_counts, token_counts
from .prune import FP32_BYTES, kept_ids


def classifier_params(config, *, num_layers: int | None = None, vocab_size: int | None = None, num_labels=12) -> int:
    """Parameters of a sequence classifier of ``config``'s shape, at another depth or vocabulary size."""
    changes = {"num_labels": num_labels}
    if num_layers is not None:
        changes["num_hidden_layers"] = num_layers
    if vocab_size is not None:
        changes["vocab_size"] = vocab_size
    # num_labels alone sets the head; a label map left from the checkpoint would override it.
    shape = {k: v for k, v in config.to_dict().items() if k not in ("id2label", "label2id")} | changes
    return _meta_params(type(config), json.dumps(shape, sort_keys=True, default=str))


@functools.lru_cache(maxsize=64)
def _meta_params(config_class, shape: str) -> int:
    """Parameters of a classifier built on the meta device (a slider asks again for the same shapes)."""
    from transformers import AutoModelForSequenceClassification

    config = config_class.from_dict(json.loads(shape))
    with MODEL_INIT_LOCK, torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    return model.num_parameters()


def size_preview(
    base: str,
    corpus: str | os.PathLike,
    *,
    keep: int | None = None,
    min_count: int = 1,
    extra_texts: Sequence[str] = (),
) -> dict[str, Any]:
    """What a classifier of ``base`` weighs in full, cut to ``keep`` layers, and also cut to ``corpus``'s tokens.

    Args:
        base: catalog name, Hub id or folder (its config and tokenizer are read, not its weights).
        corpus: the corpus file; its token counts are cached per process and file content.
        keep: layers kept (None: all of them).
        min_count: keep tokens seen at least this often.
        extra_texts: more texts for the vocabulary, e.g. the training split (counted on every call).

    Returns:
        {"layers": {"before", "after"}, "tokens": {"before", "after"}, "params": {"full", "layers",
        "layers_and_vocab"}, "bytes_fp32": {same keys}}.

    Raises:
        CorpusError: a corpus file that cannot be read; ValueError: one that covers nothing, or a bad ``keep``.
    """
    config = load_config(base)
    tokenizer = load_tokenizer(base)
    depth = config.num_hidden_layers
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= depth):
        raise ValueError(f"keep must be between 1 and {depth} (the model's depth), got {keep!r}")
    counts = corpus_token_counts(tokenizer, base, corpus)
    if extra_texts:
        counts += token_counts(tokenizer, list(extra_texts))
    tokens = len(kept_ids(tokenizer, counts, min_count))
    params = {
        "full": classifier_params(config),
        "layers": classifier_params(config, num_layers=keep),
        "layers_and_vocab": classifier_params(config, num_layers=keep, vocab_size=tokens),
    }
    return {
        "layers": {"before": depth, "after": keep or depth},
        "tokens": {"before": config.vocab_size, "after": tokens},
        "params": params,
        "bytes_fp32": {k: v * FP32_BYTES for k, v in params.items()},
    }
