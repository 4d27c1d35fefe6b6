"""Models for the app, each loaded once: base models (with their anatomy and importance scores) and variants.

A Gradio app serves many request threads at once. ``ModelRegistry`` loads every base model and every
fine-tuned variant once, behind locks, so 20 concurrent first requests cause one load, not 20; the same
holds for each variant's ONNX Runtime sessions (``backends``). The variants are the user's cache and the
read-only bundled ones that ship with the project (``VariantCache(bundled=...)``). It knows nothing of
fine-tune jobs: a job that built a variant says so through ``mark_built`` (app.py wires the two), which is
how Compare tells "this run" from "cache".
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

import numpy as np
import torch

from models import LoadedModel, load_classifier

from ..cache import VariantCache
from ..config import FinetuneConfig
from ..data import load_mahanews
from ..importance import LayerScores, compute_layer_scores
from ..speed import available_cpus, device_name, time_single_request, torch_threads
from ..surgery import encoder_layers
from .backends import Logits, open_backend
from .startup import load_examples
from .wording import LOAD_ERRORS, NO_DATA_SCORES, user_message

logger = logging.getLogger(__name__)

CALIBRATION_TEXTS = 128  # dev headlines used for the importance chart and the ONNX parity checks
MAX_LOADED_BASES = 2  # a full-size base model takes ~1 GB in fp32
MAX_LOADED_VARIANTS = 8
# torch's intra-op thread count is per Python thread. One thread per request keeps 20 concurrent requests
# (and a busy shared CPU) from fighting over cores; fine-tuning sets its own (training.TRAIN_THREADS).
INFER_THREADS = int(os.environ.get("MARATHI_PRUNE_INFER_THREADS", "1"))
# Classify requests run at once, one per core: more would time each other's runs, not the models.
CLASSIFY_CONCURRENCY = max(1, available_cpus() // INFER_THREADS)


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
        scores_note (str, defaults to ""): for the chart: why `scores` is None, or, when they were computed on
            the bundled demo headlines because no MahaNews data is at hand, a sentence saying so.
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
    """A fine-tuned variant ready for inference (eval mode, read-only), and its backends opened so far."""

    name: str
    model: torch.nn.Module
    tokenizer: Any
    record: dict
    max_length: int
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)  # fast tokenizers are not reentrant
    backends: dict[str, Logits] = field(default_factory=dict)
    backend_locks: dict[str, threading.Lock] = field(default_factory=dict)  # one export / session per backend
    lock: threading.Lock = field(default_factory=threading.Lock)  # guards backend_locks

    def encode(self, text: str) -> tuple[dict[str, np.ndarray], int]:
        """One text as a numpy batch of one, cut to `max_length` tokens, and its length before the cut."""
        with self.tokenizer_lock:
            batch = self.tokenizer(text, return_tensors="np", verbose=False)
            num_tokens = batch["input_ids"].shape[1]
            if num_tokens > self.max_length:  # only overlong text pays for a second, truncating pass
                batch = self.tokenizer(text, truncation=True, max_length=self.max_length, return_tensors="np")
        return dict(batch), num_tokens

    def backend(self, backend: str, check_texts: Callable[[], Sequence[str]] = list) -> Logits:
        """The variant on `backend` (see ``backends.open_backend``), opened (and exported) on first use."""
        with self.lock:
            if backend in self.backends:
                return self.backends[backend]
            # ONNX backends share one lock: they share a folder, and INT8 is made from the fp32 file
            lock = self.backend_locks.setdefault("onnx" if backend.startswith("onnx") else backend, threading.Lock())
        with lock:  # an ONNX export does not hold up PyTorch requests
            if backend not in self.backends:
                self.backends[backend] = open_backend(
                    self.model, self.tokenizer, self.record, backend, threads=INFER_THREADS, check_texts=check_texts()
                )
        return self.backends[backend]

    def probabilities(self, text: str, logits: Logits) -> np.ndarray:
        """The app's classify path, text in, class probabilities out: tokenise, forward, softmax."""
        arrays, _ = self.encode(text)
        row = logits(arrays)[0].astype(np.float64)
        exp = np.exp(row - row.max())
        return exp / exp.sum()

    def label_names(self) -> list[str]:
        """Class names in logit order."""
        id2label = self.model.config.id2label
        return [id2label[i] for i in range(len(id2label))]

    def predict(self, text: str) -> tuple[dict[str, float], dict]:
        """Class probabilities for one text and its timings: tokenising and model forward in ms, token count."""
        start = time.perf_counter()
        arrays, num_tokens = self.encode(text)
        tokenize_ms = (time.perf_counter() - start) * 1000
        batch = {k: torch.from_numpy(v) for k, v in arrays.items()}
        with torch_threads(INFER_THREADS), torch.inference_mode():
            logits, forward_ms = time_single_request(lambda: self.model(**batch).logits[0])
        probs = torch.softmax(logits.float(), dim=-1).tolist()
        timings = {"forward_ms": forward_ms, "tokenize_ms": tokenize_ms, "num_tokens": num_tokens}
        return dict(zip(self.label_names(), probs, strict=True)), timings


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
        self._scores: dict[str, tuple[LayerScores | None, str]] = {}
        self._latency: dict[str, dict] = {}
        self._misc: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.warm_up_thread: threading.Thread | None = None  # start-up loading, joinable by tests

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

    def calibration(self) -> Calibration:
        """The texts behind importance scores and ONNX parity checks (see ``calibration``), read once."""
        return self._once(self._misc, "calibration", calibration)

    def _scores_or_reason(self, name: str) -> tuple[LayerScores | None, str]:
        """Importance scores on ~128 dev headlines (or the demo headlines), computed once per model, and a note."""

        def compute() -> tuple[LayerScores | None, str]:
            try:
                loaded = self.base(name)
                texts = self.calibration()
                with torch_threads(INFER_THREADS):
                    scores = compute_layer_scores(loaded.model, loaded.tokenizer, texts.texts, max_length=64)
                return scores, texts.note
            except LOAD_ERRORS as exc:
                logger.warning("no importance scores for %s: %s", name, exc)
                return None, user_message(exc)  # shown on the chart: no paths

        return self._once(self._scores, name, compute)

    def base_summary(self, name: str) -> BaseSummary:
        """Anatomy and importance scores of a base model, for the prune panel (loads it once).

        Raises:
            HubUnreachableError, ModelNotFoundError, ValueError: the model does not load.
        """
        name = (name or "").strip()
        anatomy = self.anatomy(name)
        scores, note = self._scores_or_reason(name)
        return BaseSummary(name, anatomy, scores, note)

    def records(self) -> list[dict]:
        """Readable cached variants, newest first."""
        return self.cache.list().records

    def variant(self, name: str) -> LoadedVariant:
        """A cached or bundled variant by folder name, loaded once (CPU, eval mode)."""

        def load() -> LoadedVariant:
            model, tokenizer, record = self.cache.load(name)
            model.eval().requires_grad_(False)
            limit = FinetuneConfig.from_dict(record["finetune_config"]).max_length_for(model)
            return LoadedVariant(record["name"], model, tokenizer, record, limit)

        return self._once(self._variants, name, load, self.max_variants)

    def backend(self, name: str, backend: str) -> tuple[LoadedVariant, Logits]:
        """A variant and its `backend` (ONNX files exported on first use), each opened once.

        Raises:
            CacheEntryError, ImportError, RuntimeError, OSError, ValueError: see ``backends.open_backend``.
        """
        variant = self.variant(name)
        return variant, variant.backend(backend, lambda: self.calibration().texts)

    def warm_up(self, names: Sequence[str], backends: Sequence[str], *, background: bool = False) -> None:
        """Load `names` and open their `backends` (exports included) now, so that the first visitor does not wait.

        With `background`, in a thread (start-up goes on); a failure is logged and left for the request that
        needs it to report. Not a daemon thread: one killed mid-export at interpreter exit aborts the process.
        """
        if background:
            self.warm_up_thread = threading.Thread(target=self.warm_up, args=(names, backends), name="warm-up")
            self.warm_up_thread.start()
            return
        for name in names:
            for backend in backends:
                try:
                    self.backend(name, backend)
                except Exception as exc:  # noqa: BLE001 - the request that needs it will say what is wrong
                    logger.warning("warm-up of %s on %s failed: %s", name, backend, exc)

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


@dataclass(frozen=True)
class Calibration:
    """Texts to score layers and check exports on, and a note for the chart when they are not MahaNews dev text."""

    texts: list[str]
    note: str = ""


def calibration(n: int = CALIBRATION_TEXTS) -> Calibration:
    """The first `n` validation headlines of SHC (never test text); without MahaNews, the demo headlines.

    The demo headlines (assets/examples.json, written for the app) keep the importance chart working on a
    fresh clone with no data and no internet; the note says so, since 8 headlines are a rough sample.
    """
    try:
        data, _ = load_mahanews("SHC")
        return Calibration(list(data["validation"]["text"])[:n])
    except LOAD_ERRORS as exc:
        logger.info("no MahaNews SHC validation text (%s); using the demo headlines", exc)
    examples = load_examples()[:n]
    return Calibration(examples, NO_DATA_SCORES.format(n=len(examples)))


def calibration_texts(n: int = CALIBRATION_TEXTS) -> list[str]:
    """The texts of ``calibration(n)``."""
    return calibration(n).texts
