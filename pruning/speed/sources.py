"""What the bench measures: a loaded model or a random-weight stand-in, and its pruned copies.

Why random weights are allowed here and nowhere else: latency and size depend on a model's
shapes, not on its weight values, so a catalog architecture built with random weights
(``--config mahabert-v2``) times exactly like the real model when the Hub cannot be reached.
Such rows say ``weights="random-weights"`` and no accuracy is ever read from them.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.catalog import bundled_dir
from models.store import slug

from ..strategies import select_layers
from ..surgery import num_layers, prune_layers

logger = logging.getLogger(__name__)


@dataclass
class BenchSource:
    """The model under test and where it came from.

    Args:
        model (nn.Module): the full-depth classifier.
        tokenizer (optional): its tokenizer; None when it is not available offline.
        label (str): model name in the rows.
        weights (str): "pretrained" | "fine-tuned" | "random-weights".
        folder (Path, optional): the saved model folder it was loaded from, if any.
    """

    model: nn.Module
    tokenizer: Any | None
    label: str
    weights: str
    folder: Path | None = None


def _optional_tokenizer(name: str) -> Any | None:
    """A catalog model's tokenizer if it is available offline (local folder or HF cache), else None."""
    from models.loading import load_tokenizer

    try:
        return load_tokenizer(name)
    except (OSError, ValueError, ConnectionError) as exc:
        logger.info("no tokenizer for %s (%s); timing random token ids", name, exc)
        return None


def _resolve_variant(name: str) -> str:
    """A cached fine-tuned variant's folder for its name (or unique prefix); other names unchanged."""
    from models.catalog import get_spec

    from ..cache import CacheEntryError, VariantCache

    if get_spec(name) is not None or Path(name).expanduser().exists():
        return name
    with contextlib.suppress(CacheEntryError, OSError):
        return str(VariantCache().find(name))
    return name


def load_source(
    model: str | nn.Module | None = None,
    *,
    config_name: str | None = None,
    tokenizer: str | Any | None = None,
    label: str | None = None,
    weights: str | None = None,
    seed: int = 0,
) -> BenchSource:
    """Resolve what to benchmark.

    Args:
        model: catalog name, hub id, model folder, cached variant name, or a loaded nn.Module.
        config_name: instead of `model`, a catalog architecture built with random weights.
        tokenizer: tokenizer object or name/path; by default the model's own (None if unavailable).
        label: display name for the rows.
        weights: override the weights label of an nn.Module ("pretrained" by default).
        seed: torch seed for random weights.

    Raises:
        ValueError: neither or both of model / config_name, or an unknown catalog name.
    """
    from models.catalog import CATALOG
    from models.loading import load_classifier, load_tokenizer, random_classifier

    if (model is None) == (config_name is None):
        raise ValueError(
            "give exactly one of --model (weights to load) or --config (catalog architecture, random weights)"
        )
    tok = load_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
    if config_name is not None:
        if config_name not in CATALOG:
            raise ValueError(f"unknown architecture {config_name!r}; catalog names: {', '.join(CATALOG)}")
        torch.manual_seed(seed)
        spec = CATALOG[config_name]
        built = random_classifier(spec)
        tok = tok if tokenizer is not None else _optional_tokenizer(config_name)
        return BenchSource(built, tok, label or spec.name, "random-weights")
    if isinstance(model, nn.Module):
        name = label or getattr(model.config, "_name_or_path", None) or type(model).__name__
        kind = weights or getattr(model.config, "weights", None) or "pretrained"
        return BenchSource(model, tok, name, kind)
    loaded = load_classifier(_resolve_variant(model))
    folder = Path(loaded.source) if Path(loaded.source).is_dir() else None
    name = label or (loaded.spec.name if loaded.spec else (folder.name if folder else loaded.source))
    return BenchSource(loaded.model, tok if tokenizer is not None else loaded.tokenizer, name, loaded.weights, folder)


def pruned_models(
    source: BenchSource, keeps: Sequence[int], strategy: str
) -> Iterator[tuple[int, list[int], nn.Module]]:
    """Yield (keep, kept layers, model) per requested depth; pruned ones are copies, freed after use."""
    depth = num_layers(source.model)
    for keep in keeps:
        plan = select_layers(strategy, depth, keep=keep)
        if keep == depth:
            yield keep, plan.kept, source.model
            continue
        pruned = prune_layers(copy.deepcopy(source.model), plan.kept, strategy=strategy, base_model=source.label)
        yield keep, plan.kept, pruned
        del pruned
        gc.collect()


def export_dir(source: BenchSource, keep: int, strategy: str, root: Path) -> Path:
    """Where a depth's ONNX files go: beside a cached variant (a folder with variant.json) when unpruned,
    else ``<root>/<model>__<weights>[__<folder hash>]/<full | strategy-kN>``.

    Bundled variants are read-only (they ship in the repository): their exports go under ``root`` too.
    """
    depth = num_layers(source.model)
    beside = source.folder is not None and keep == depth and (source.folder / "variant.json").is_file()
    if beside and not source.folder.resolve().is_relative_to(bundled_dir().resolve()):
        return source.folder
    tag = "full" if keep == depth else f"{strategy}-k{keep}"
    name = f"{slug(source.label)}__{source.weights}"
    if source.folder is not None:  # two folders both called "model" must not share (and thrash) one cache
        name += "__" + hashlib.sha1(str(source.folder.resolve()).encode()).hexdigest()[:8]
    return root / name / tag


def weights_files(source: BenchSource) -> list[Path]:
    """The weights files of a model loaded from a folder ([] otherwise): its real size on disk."""
    if source.folder is None:
        return []
    return sorted(source.folder.glob("*.safetensors")) + sorted(source.folder.glob("*.bin"))
