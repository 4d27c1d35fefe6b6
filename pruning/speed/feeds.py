"""What is fed to a model while it is timed or checked: padded numpy batches of real headlines.

Why numpy: one feed serves every backend (a runner converts it once, outside the timed region).
Why padded to a fixed length: latency then depends on the shape asked for, not on how long the
sampled headlines happen to be. Tokenization is timed on its own here so that a pruned encoder
is not hidden behind a constant tokenizer cost.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .timing import time_callable

logger = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")  # what a BERT classifier takes, in order


def check_shapes(config: Any, batch_sizes: Sequence[int], seq_lengths: Sequence[int]) -> None:
    """Reject batch sizes < 1 and sequences the model cannot embed, with a one-line reason.

    Raises:
        ValueError: naming the bad value and the allowed range.
    """
    bad_batch = [b for b in batch_sizes if isinstance(b, bool) or not isinstance(b, int) or b < 1]
    if bad_batch or not batch_sizes:
        raise ValueError(f"batch sizes must be integers >= 1, got {list(batch_sizes)}")
    limit = getattr(config, "max_position_embeddings", None)
    too_long = [s for s in seq_lengths if limit is not None and s > limit]
    if too_long or not seq_lengths or any(s < 1 for s in seq_lengths):
        raise ValueError(
            f"sequence lengths must be between 1 and the model's max_position_embeddings ({limit}), "
            f"got {list(seq_lengths)}"
        )


def build_feed(
    tokenizer: Any | None,
    texts: Sequence[str] | None,
    batch_size: int,
    seq_len: int,
    *,
    vocab_size: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """A (batch_size, seq_len) int64 feed: real texts padded / truncated to `seq_len`, or random ids.

    Texts are cycled if there are fewer than `batch_size`. Without a tokenizer (random-weight
    stand-ins whose tokenizer is not available offline) token ids are drawn uniformly from the
    vocabulary with a full attention mask; the model's latency does not depend on the ids.

    Returns:
        {"input_ids", "attention_mask", "token_type_ids"} as int64 numpy arrays.

    Raises:
        ValueError: no texts for a tokenizer, or token ids outside the model's vocabulary.
    """
    if tokenizer is None:
        if not vocab_size:
            raise ValueError("random token ids need the model's vocab_size")
        rng = np.random.default_rng(seed)
        ids = rng.integers(min(1000, vocab_size - 1), vocab_size, size=(batch_size, seq_len), dtype=np.int64)
        return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    if not texts:
        raise ValueError("tokenized inputs need at least one text")
    batch = [texts[i % len(texts)] for i in range(batch_size)]
    enc = tokenizer(batch, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np")
    feed = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in INPUT_NAMES}
    feed.setdefault("token_type_ids", np.zeros_like(feed["input_ids"]))
    if vocab_size is not None and int(feed["input_ids"].max()) >= vocab_size:
        raise ValueError(
            f"the tokenizer produced id {int(feed['input_ids'].max())} but the model's vocabulary has only "
            f"{vocab_size} entries; use the model's own tokenizer"
        )
    return feed


def time_tokenization(
    tokenizer: Any, texts: Sequence[str], batch_size: int, seq_len: int, *, warmup: int = 2, repeats: int = 10
) -> list[float]:
    """ms per call of the tokenizer on one batch of `batch_size` texts padded to `seq_len`."""
    batch = [texts[i % len(texts)] for i in range(batch_size)]
    return time_callable(
        lambda: tokenizer(batch, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np"),
        warmup=warmup,
        repeats=repeats,
    )


def load_headlines(
    n: int = 256, data_dir: str | os.PathLike | None = None, *, split: str = "test", seed: int = 0
) -> list[str]:
    """Real MahaNews SHC headlines (cleaned by ``pruning.data``) for tokenization timing and export checks.

    A seeded sample of `n` texts, spread over all labels. The test split is used because
    fine-tuned variants never saw it. Returns [] (and logs why) when the data is not available
    locally; nothing is downloaded.
    """
    from ..data import DataNotFoundError, load_mahanews

    try:
        data, _ = load_mahanews("SHC", data_dir, download=False)
    except (DataNotFoundError, OSError, ValueError) as exc:
        logger.warning("no MahaNews headlines available (%s); falling back to random token ids", exc)
        return []
    texts = list(data[split]["text"])
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))[:n]
    return [texts[i] for i in sorted(order)]
