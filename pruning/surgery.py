"""Physically remove encoder layers from a BERT-family model.

This is the only module that knows where a transformer keeps its layer stack. Everything else
works with 0-based layer indices and lets this module find and cut the list.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import nn

logger = logging.getLogger(__name__)

# Attribute paths (relative to `model.base_model`) of the encoder layer list, per architecture:
# BERT / MuRIL / MahaBERT / RoBERTa / XLM-R / ELECTRA keep it at `encoder.layer`; DistilBERT at
# `transformer.layer`. The first path that resolves to an nn.ModuleList wins.
LAYER_LIST_PATHS: tuple[str, ...] = ("encoder.layer", "transformer.layer")
# Config attributes holding the depth, in the same order of preference.
DEPTH_CONFIG_KEYS: tuple[str, ...] = ("num_hidden_layers", "n_layers")
# Per-layer attributes that carry the layer's position (used by the KV cache in transformers 5).
LAYER_INDEX_ATTRS: tuple[str, ...] = ("layer_idx", "layer_index")
# Where the provenance of a pruned model lives in its config (and so in config.json).
PROVENANCE_KEY = "pruning"


class UnsupportedModelError(ValueError):
    """The model has no encoder layer stack this module knows how to cut."""


def _resolve(root: nn.Module, path: str) -> nn.Module | None:
    obj: object = root
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, nn.Module) else None


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """Return the model's encoder layer list, or raise naming what was found instead."""
    base = getattr(model, "base_model", model)
    for path in LAYER_LIST_PATHS:
        layers = _resolve(base, path)
        if isinstance(layers, nn.ModuleList) and len(layers) > 0:
            return layers
    children = ", ".join(f"{name}: {type(child).__name__}" for name, child in base.named_children()) or "none"
    raise UnsupportedModelError(
        f"{type(model).__name__} has no encoder layer stack at any of {list(LAYER_LIST_PATHS)} "
        f"(found children {children}); layer pruning supports BERT-style encoders "
        "(BERT, MuRIL, MahaBERT, RoBERTa, XLM-R, DistilBERT)"
    )


def num_layers(model: nn.Module) -> int:
    """Depth of the model's encoder."""
    return len(encoder_layers(model))


def prune_layers(
    model: nn.Module,
    kept: Sequence[int],
    *,
    strategy: str = "custom",
    base_model: str | None = None,
    check: bool = True,
) -> nn.Module:
    """Keep only the encoder layers `kept` (0-based, bottom first); cut the rest out.

    The model is changed in place and returned. Its config records the new depth and, under
    ``config.pruning``, where it came from, so a saved variant explains itself.

    Args:
        model: a transformers model with a BERT-style encoder.
        kept: 0-based indices to keep, each once.
        strategy: name recorded in the provenance.
        base_model: hub id or path of the unpruned model, recorded in the provenance.
        check: run a dummy forward pass afterwards to prove the model still works.

    Raises:
        UnsupportedModelError: no recognisable encoder stack.
        ValueError: an empty, duplicated or out-of-range `kept`.
    """
    layers = encoder_layers(model)
    depth = len(layers)
    kept = [int(i) for i in kept]
    if not kept:
        raise ValueError("cannot prune to zero layers: keep at least one")
    if len(set(kept)) != len(kept) or any(not 0 <= i < depth for i in kept):
        raise ValueError(f"kept layers {kept} must be distinct indices in 0..{depth - 1}")
    kept = sorted(kept)

    # Rebuild the ModuleList in place (same parent attribute), so hooks on the parent and
    # `model.named_parameters()` see only the survivors; dropped layers are freed.
    survivors = [layers[i] for i in kept]
    for new_index, layer in enumerate(survivors):
        for module in layer.modules():  # renumber per-layer indices used by caches
            for attr in LAYER_INDEX_ATTRS:
                if isinstance(getattr(module, attr, None), int):
                    setattr(module, attr, new_index)
    layers_parent_list = layers
    while len(layers_parent_list):
        del layers_parent_list[0]
    layers_parent_list.extend(survivors)

    config = model.config
    for key in DEPTH_CONFIG_KEYS:
        if hasattr(config, key):
            setattr(config, key, len(kept))
            break
    if getattr(config, "layer_types", None):  # per-layer lists must shrink with the stack
        config.layer_types = [config.layer_types[i] for i in kept]

    # Provenance composes: pruning an already pruned model maps back to the original indices.
    previous = getattr(config, PROVENANCE_KEY, None) or {}
    original_kept = previous.get("kept_layers")
    config_kept = [original_kept[i] for i in kept] if original_kept else kept
    setattr(
        config,
        PROVENANCE_KEY,
        {
            "base_model": previous.get("base_model") or base_model or getattr(config, "_name_or_path", None),
            "strategy": strategy if not previous else f"{previous.get('strategy')}+{strategy}",
            "kept_layers": config_kept,
            "original_num_layers": previous.get("original_num_layers", depth),
        },
    )
    logger.info("pruned %s: kept %d of %d layers %s", type(model).__name__, len(kept), depth, kept)
    if check:
        _check_forward(model)
    return model


@torch.inference_mode()
def _check_forward(model: nn.Module) -> None:
    """A dummy batch must still go through and give hidden states of the model's width."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        ids = torch.ones(2, 8, dtype=torch.long, device=device)  # (batch=2, seq=8)
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
        hidden = out.hidden_states
        expected = num_layers(model) + 1  # embeddings output + one per layer
        if len(hidden) != expected or hidden[-1].shape[:2] != (2, 8):
            raise RuntimeError(f"pruned model forward gave {len(hidden)} hidden states, expected {expected}")
    finally:
        model.train(was_training)


def provenance(model_or_config: object) -> dict | None:
    """The pruning record of a model or config, or None for an unpruned one."""
    config = getattr(model_or_config, "config", model_or_config)
    return getattr(config, PROVENANCE_KEY, None)
