"""How big a model is, counted three ways: parameters by block, bytes on disk, encoder FLOPs.

Why three: for MahaBERT and MuRIL most parameters sit in the 197k-word embedding, which layer
pruning never touches, while most compute sits in the encoder, which it does. A parameter total
alone would hide the speed-up; FLOPs alone would hide that the file barely shrinks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

MB = 1_000_000  # sizes are reported in decimal megabytes (10^6 bytes), as file managers show them


def _unique_params(module: nn.Module) -> dict[int, nn.Parameter]:
    return {id(p): p for p in module.parameters()}


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameters split into embedding / encoder / head.

    ``embedding`` is the base model's embedding block (word, position, token-type embeddings *and*
    their LayerNorm), ``encoder`` the transformer layers, ``head`` everything else (pooler and
    classifier). Tied weights are counted once. ``model.num_parameters(exclude_embeddings=True)``
    would count the embedding LayerNorm as non-embedding, so only the total comes from transformers.

    Args:
        model: a transformers model (bare or with a task head).

    Returns:
        {"embedding": n, "encoder": n, "total": n, "word_embedding": n, "head": n}.
    """
    base = getattr(model, "base_model", model)
    embeddings = getattr(base, "embeddings", None)
    emb = _unique_params(embeddings) if isinstance(embeddings, nn.Module) else {}
    encoder = getattr(base, "encoder", None) or getattr(base, "transformer", None)
    enc = {k: v for k, v in _unique_params(encoder).items() if k not in emb} if isinstance(encoder, nn.Module) else {}
    word = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    total = model.num_parameters() if hasattr(model, "num_parameters") else sum(p.numel() for p in model.parameters())
    counts = {
        "embedding": sum(p.numel() for p in emb.values()),
        "encoder": sum(p.numel() for p in enc.values()),
        "total": total,
        "word_embedding": word.weight.numel() if isinstance(word, nn.Embedding) else 0,
    }
    counts["head"] = counts["total"] - counts["embedding"] - counts["encoder"]
    return counts


def disk_size_mb(path: str | os.PathLike) -> float:
    """Size on disk of a file, or of all files under a folder, in MB (10^6 bytes).

    Raises:
        FileNotFoundError: nothing at `path`.
    """
    path = Path(path)
    if path.is_file():
        return path.stat().st_size / MB
    if not path.is_dir():
        raise FileNotFoundError(f"no file or folder at {path}")
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / MB


def estimated_size_mb(model: nn.Module, dtype: torch.dtype | None = None) -> float:
    """Bytes the weights would take in a safetensors file, from parameter and buffer dtypes.

    ``PreTrainedModel.get_memory_footprint()`` counts the same tensors but cannot answer the
    what-if of another storage dtype, which the fp16 / bf16 rows need.

    Args:
        model: the model.
        dtype: pretend floating-point tensors are stored in this dtype (e.g. float16).
    """
    total = 0
    seen: set[int] = set()
    for tensor in list(model.parameters()) + list(model.buffers()):
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        size = tensor.element_size()
        if dtype is not None and tensor.is_floating_point():
            size = torch.empty((), dtype=dtype).element_size()
        total += tensor.numel() * size
    return total / MB


def encoder_flops_per_token(
    num_layers: int, hidden_size: int, intermediate_size: int, seq_len: int, *, include_attention: bool = True
) -> int:
    """Analytic forward FLOPs of the encoder per token (1 multiply-add = 2 FLOPs).

    Per layer and token: the Q, K, V and output projections are 4·h² multiply-adds, the
    feed-forward block 2·h·ffn, and attention itself (scores QKᵀ and the weighted sum of V)
    2·seq·h. So ``flops = L · (2·(4h² + 2·h·ffn) + 2·2·seq·h)``. Softmax, LayerNorm, GELU,
    biases and the embedding lookup are ignored (< 1 % for BERT-base); padding tokens count,
    since a padded batch computes them too.

    Args:
        num_layers: encoder layers L.
        hidden_size: h.
        intermediate_size: ffn (3072 for BERT-base).
        seq_len: padded sequence length.
        include_attention: add the seq-dependent attention term.

    Returns:
        FLOPs per token.
    """
    dense = 2 * (4 * hidden_size * hidden_size + 2 * hidden_size * intermediate_size)
    attention = 2 * 2 * seq_len * hidden_size if include_attention else 0
    return int(num_layers * (dense + attention))


def flops_per_token(config: Any, seq_len: int) -> int:
    """``encoder_flops_per_token`` from a transformers config."""
    hidden = config.hidden_size
    ffn = getattr(config, "intermediate_size", None) or 4 * hidden
    return encoder_flops_per_token(config.num_hidden_layers, hidden, ffn, seq_len)
