"""Models for the app, each loaded once: base models (with their anatomy and importance scores) and variants.

A Gradio app serves many request threads at once. ``ModelRegistry`` loads every base model and every
fine-tuned variant once, behind locks, so 20 concurrent first requests cause one load, not 20. It knows
nothing of fine-tune jobs: a job that built a variant says so through ``mark_built`` (app.py wires the
two), which is how Compare tells "this run" from "cache".
"""

from __future__ import annotations

import logging
import os
import statistics
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from models import LoadedModel, load_classifier

from ..cache import VariantCache
from ..config import FinetuneConfig
from ..data import load_mahanews
from ..importance import LayerScores, compute_layer_scores
from ..speed import device_name, time_single_request, torch_threads
from ..surgery import encoder_layers
from .wording import LOAD_ERRORS

logger = logging.getLogger(__name__)

CALIBRATION_TEXTS = 128  # dev headlines used for the importance chart
MAX_LOADED_BASES = 2  # a full-size base model takes ~1 GB in fp32
MAX_LOADED_VARIANTS = 8
# torch's intra-op thread count is per Python thread. One thread per request keeps 20 concurrent requests
# (and a busy shared CPU) from fighting over cores; fine-tuning sets its own (jobs.TRAIN_THREADS).
INFER_THREADS = int(os.environ.get("MARATHI_PRUNE_INFER_THREADS", "1"))


@dataclass(frozen=True)
class ModelAnatomy:
    """Parameter counts of a model, split so the size after pruning can be computed exactly."""

    num_layers: int
    total_params: int
    layer_params: tuple[int, ...]  # one entry per encoder layer, bottom first

    @property
    def other_params(self) -> int:
        """Embeddings, pooler and classifier: untouched by layer pruning."""
        return self.total_params - sum(self.layer_params)

    def params_after(self, kept: Sequence[int]) -> int:
        """Parameter count once only the layers in `kept` remain."""
        return self.other_params + sum(self.layer_params[i] for i in kept)


def anatomy_of(model: torch.nn.Module) -> ModelAnatomy:
    """Count `model`'s parameters per encoder layer and in total (shared weights counted once)."""
    layers = encoder_layers(model)
    per_layer = tuple(sum(p.numel() for p in layer.parameters()) for layer in layers)
    total = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    return ModelAnatomy(len(layers), total, per_layer)


@dataclass(frozen=True)
class BaseSummary:
    """What the prune panel needs to know about a base model, resolved once per event.

    Args:
        name (str): the name as entered (catalog name, hub id or folder), stripped.
        anatomy (ModelAnatomy): its parameter counts, layer by layer.
        scores (LayerScores, optional): importance scores on dev headlines; None when they could not be computed.
        scores_note (str, defaults to ""): why `scores` is None, for the chart.
    """

    name: str
    anatomy: ModelAnatomy
    scores: LayerScores | None = None
    scores_note: str = ""


_device_cache: list[str] = []


def device_label() -> str:
    """Where this process runs inference: the CPU (model and threads); variants always run on CPU here."""
    if not _device_cache:
        name = "cpu"
        try:
            name = f"cpu ({device_name('cpu').split(' (')[0]})"
        except Exception:  # noqa: BLE001 - a name is nice to have, never worth a failed request
            pass
        _device_cache.append(name)
    return f"{_device_cache[0]}, {INFER_THREADS} thread{'s' if INFER_THREADS > 1 else ''}"


@dataclass
class LoadedVariant:
    """A fine-tuned variant ready for inference (eval mode, read-only)."""

    name: str
    model: torch.nn.Module
    tokenizer: Any
    record: dict
    max_length: int
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)  # fast tokenizers are not reentrant

    def predict(self, text: str) -> tuple[dict[str, float], dict]:
        """Class probabilities for one text and its timings: tokenising and model forward in ms, token count."""
        with self.tokenizer_lock:
            start = time.perf_counter()
            batch = self.tokenizer(text, return_tensors="pt", verbose=False)
            num_tokens = batch["input_ids"].shape[1]
            if num_tokens > self.max_length:  # only overlong text pays for a second, truncating pass
                batch = self.tokenizer(text, truncation=True, max_length=self.max_length, return_tensors="pt")
            tokenize_ms = (time.perf_counter() - start) * 1000
        with torch_threads(INFER_THREADS), torch.inference_mode():
            logits, forward_ms = time_single_request(lambda: self.model(**batch).logits[0])
        probs = torch.softmax(logits.float(), dim=-1).tolist()
        id2label = self.model.config.id2label
        timings = {"forward_ms": forward_ms, "tokenize_ms": tokenize_ms, "num_tokens": num_tokens}
        return {id2label[i]: p for i, p in enumerate(probs)}, timings


class ModelRegistry:
    """Base models, their anatomy and importance scores, and fine-tuned variants: each loaded once.

    Safe to call from many request threads: a global lock guards the dictionaries and a per-key lock
    makes concurrent first requests for the same model wait for one load instead of loading twice.
    """

    def __init__(
        self,
        cache: VariantCache | None = None,
        max_bases: int = MAX_LOADED_BASES,
        max_variants: int = MAX_LOADED_VARIANTS,
    ) -> None:
        self.cache = cache or VariantCache()
        self.max_bases, self.max_variants = max_bases, max_variants
        self.built_this_run: set[str] = set()  # variants this process trained (not loaded from the cache)
        self._bases: OrderedDict[str, LoadedModel] = OrderedDict()
        self._variants: OrderedDict[str, LoadedVariant] = OrderedDict()
        self._anatomy: dict[str, ModelAnatomy] = {}
        self._scores: dict[str, LayerScores | str] = {}
        self._latency: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def _once(self, store: dict, key: str, loader: Callable[[], Any], limit: int | None = None) -> Any:
        with self._lock:
            if key in store:
                if isinstance(store, OrderedDict):
                    store.move_to_end(key)
                return store[key]
            key_lock = self._key_locks.setdefault(f"{id(store)}:{key}", threading.Lock())
        with key_lock:
            with self._lock:
                if key in store:
                    return store[key]
            value = loader()
            with self._lock:
                store[key] = value
                while limit is not None and len(store) > limit:
                    store.popitem(last=False)
        return value

    def base(self, name: str) -> LoadedModel:
        """The pretrained base model (catalog name, hub id or folder), loaded once.

        Raises:
            HubUnreachableError, ModelNotFoundError, ValueError: with a message saying what to do.
        """
        name = (name or "").strip()
        return self._once(self._bases, name, lambda: load_classifier(name), self.max_bases)

    def anatomy(self, name: str) -> ModelAnatomy:
        """Parameter counts of the base model, layer by layer (loads it once)."""
        name = (name or "").strip()
        return self._once(self._anatomy, name, lambda: anatomy_of(self.base(name).model))

    def _scores_or_reason(self, name: str) -> LayerScores | str:
        """Importance scores on ~128 dev headlines, computed once per model, or why they could not be."""

        def compute() -> LayerScores | str:
            try:
                loaded = self.base(name)
                with torch_threads(INFER_THREADS):
                    return compute_layer_scores(loaded.model, loaded.tokenizer, calibration_texts(), max_length=64)
            except LOAD_ERRORS as exc:
                logger.warning("no importance scores for %s: %s", name, exc)
                return f"{exc}"

        return self._once(self._scores, name, compute)

    def base_summary(self, name: str) -> BaseSummary:
        """Anatomy and importance scores of a base model, for the prune panel (loads it once).

        Raises:
            HubUnreachableError, ModelNotFoundError, ValueError: the model does not load.
        """
        name = (name or "").strip()
        anatomy = self.anatomy(name)
        value = self._scores_or_reason(name)
        if isinstance(value, LayerScores):
            return BaseSummary(name, anatomy, value)
        return BaseSummary(name, anatomy, None, value)

    def records(self) -> list[dict]:
        """Readable cached variants, newest first."""
        return self.cache.list().records

    def variant(self, name: str) -> LoadedVariant:
        """A cached variant by folder name, loaded once (CPU, eval mode)."""

        def load() -> LoadedVariant:
            model, tokenizer, record = self.cache.load(name)
            model.eval().requires_grad_(False)
            limit = FinetuneConfig.from_dict(record["finetune_config"]).max_length_for(model)
            return LoadedVariant(record["name"], model, tokenizer, record, limit)

        return self._once(self._variants, name, load, self.max_variants)

    def latency(self, name: str, text: str, repeats: int = 7) -> dict:
        """Median forward latency of a variant at batch 1 on `text`, measured once per process."""

        def measure() -> dict:
            variant = self.variant(name)
            samples = [variant.predict(text)[1]["forward_ms"] for _ in range(repeats + 2)][2:]
            return {"median_ms": statistics.median(samples), "device": device_label(), "repeats": repeats}

        return self._once(self._latency, name, measure)

    def mark_built(self, name: str) -> None:
        """Record that this process trained variant `name` (Compare labels it "this run")."""
        with self._lock:
            self.built_this_run.add(name)


_calibration_lock = threading.Lock()
_calibration: list[str] = []


def calibration_texts(n: int = CALIBRATION_TEXTS) -> list[str]:
    """The first `n` validation headlines of SHC (never test text), loaded once."""
    with _calibration_lock:
        if not _calibration:
            data, _ = load_mahanews("SHC")
            _calibration.extend(list(data["validation"]["text"])[:n])
        return list(_calibration[:n])
