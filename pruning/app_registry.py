"""Models for the app, each loaded once, and classification with per-request latency.

A Gradio app serves many request threads at once. ``ModelRegistry`` loads every base model (with its
anatomy and importance scores) and every fine-tuned variant once, behind locks, so 20 concurrent
first requests cause one load, not 20. ``classify`` runs each chosen variant on one text and reports
the time that request took and where (this process's CPU and thread count).
"""

from __future__ import annotations

import html
import logging
import os
import re
import statistics
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from models import LoadedModel, load_classifier

from .app_format import LOAD_ERRORS, describe_variant, variant_kind
from .app_jobs import FinetuneJob, session_stop_file
from .app_stack import ModelAnatomy, anatomy_of
from .cache import VariantCache
from .config import FinetuneConfig, PruneConfig
from .data import load_mahanews, normalise_text
from .importance import LayerScores, compute_layer_scores
from .latency import device_name, time_single_request, torch_threads

logger = logging.getLogger(__name__)

CALIBRATION_TEXTS = 128  # dev headlines used for the importance chart
MAX_CHARS = 20_000  # longer input is cut before tokenising (the longest MahaNews documents are shorter)
MAX_LOADED_BASES = 2  # a full-size base model takes ~1 GB in fp32
MAX_LOADED_VARIANTS = 8
# torch's intra-op thread count is per Python thread. One thread per request keeps 20 concurrent requests
# (and a busy shared CPU) from fighting over cores; fine-tuning sets its own (app_jobs.TRAIN_THREADS).
INFER_THREADS = int(os.environ.get("MARATHI_PRUNE_INFER_THREADS", "1"))
NO_VARIANT = (
    "No fine-tuned model yet. Fine-tune one in the “Prune & fine-tune” tab first "
    "(a variant that is already cached loads instantly), then classify."
)
_DEVANAGARI = re.compile("[\u0900-\u097f]")


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


# ---------------------------------------------------------------------------------------------
# Registry: every model loaded once, thread-safe
# ---------------------------------------------------------------------------------------------


@dataclass
class LoadedVariant:
    """A fine-tuned variant ready for inference (eval mode, read-only)."""

    name: str
    model: torch.nn.Module
    tokenizer: Any
    record: dict
    max_length: int
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)  # fast tokenizers are not reentrant


class ModelRegistry:
    """Base models, their anatomy and importance scores, and fine-tuned variants: each loaded once.

    Safe to call from many request threads: a global lock guards the dictionaries and a per-key lock
    makes concurrent first requests for the same model wait for one load instead of loading twice.
    """

    def __init__(self, cache: VariantCache | None = None, max_bases: int = MAX_LOADED_BASES,
                 max_variants: int = MAX_LOADED_VARIANTS) -> None:  # fmt: skip
        self.cache = cache or VariantCache()
        self.max_bases, self.max_variants = max_bases, max_variants
        self.built_this_run: set[str] = set()
        self._bases: OrderedDict[str, LoadedModel] = OrderedDict()
        self._variants: OrderedDict[str, LoadedVariant] = OrderedDict()
        self._anatomy: dict[str, ModelAnatomy] = {}
        self._scores: dict[str, LayerScores | str] = {}
        self._latency: dict[str, dict] = {}
        self._jobs: dict[str, FinetuneJob] = {}
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

    def scores(self, name: str, show_progress: bool = True) -> LayerScores | None:
        """Importance scores on ~128 dev headlines, computed once per model; None when impossible."""
        name = (name or "").strip()

        def compute() -> LayerScores | str:
            try:
                loaded = self.base(name)
                with torch_threads(INFER_THREADS):
                    return compute_layer_scores(loaded.model, loaded.tokenizer, calibration_texts(), max_length=64,
                                            show_progress=show_progress)  # fmt: skip
            except LOAD_ERRORS as exc:
                logger.warning("no importance scores for %s: %s", name, exc)
                return f"{exc}"

        value = self._once(self._scores, name, compute)
        return value if isinstance(value, LayerScores) else None

    def scores_error(self, name: str) -> str | None:
        """Why `scores(name)` returned None, if it did."""
        value = self._scores.get((name or "").strip())
        return value if isinstance(value, str) else None

    def records(self) -> list[dict]:
        """Readable cached variants, newest first."""
        return self.cache.list().records

    def variant(self, name: str) -> LoadedVariant:
        """A cached variant by folder name, loaded once (CPU, eval mode)."""

        def load() -> LoadedVariant:
            model, tokenizer, record = self.cache.load(name)
            model.eval().requires_grad_(False)
            train = FinetuneConfig.from_dict(record["finetune_config"])
            limit = train.max_length_for(model)
            return LoadedVariant(record["name"], model, tokenizer, record, limit)

        return self._once(self._variants, name, load, self.max_variants)

    def latency(self, name: str, text: str, repeats: int = 7) -> dict:
        """Median forward latency of a variant at batch 1 on `text`, measured once per process."""

        def measure() -> dict:
            variant = self.variant(name)
            samples = [predict(variant, text)[1]["forward_ms"] for _ in range(repeats + 2)][2:]
            return {"median_ms": statistics.median(samples), "device": device_label(), "repeats": repeats}

        return self._once(self._latency, name, measure)

    # fine-tune jobs, one per browser session
    def start_job(self, session: str, base: str, prune: PruneConfig | None, train: FinetuneConfig) -> FinetuneJob:
        """Start a fine-tune for `session` in the background; it waits while another one runs."""
        job = FinetuneJob(self, base, prune, train, stop_file=session_stop_file(session)).start()
        with self._lock:
            self._jobs[session] = job
        return job

    def cancel_job(self, session: str) -> str:
        """Ask the session's fine-tune to stop after its current step; returns what happened."""
        session_stop_file(session).touch()  # seen even by a job running in another process (ZeroGPU)
        with self._lock:
            job = self._jobs.get(session)
        if job is not None and job.finished:
            return "No fine-tune is running in this session."
        if job is not None:
            job.cancel()
        return "Cancelling: a running fine-tune stops after its current training step; nothing is saved."


_calibration_lock = threading.Lock()
_calibration: list[str] = []


def calibration_texts(n: int = CALIBRATION_TEXTS) -> list[str]:
    """The first `n` validation headlines of SHC (never test text), loaded once."""
    with _calibration_lock:
        if not _calibration:
            data, _ = load_mahanews("SHC")
            _calibration.extend(list(data["validation"]["text"])[:n])
        return list(_calibration[:n])


# ---------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------


def default_variant_names(records: Sequence[Mapping]) -> list[str]:
    """The newest full, pruned and scratch variants, preferring the newest variant's dataset."""
    if not records:
        return []
    dataset = records[0].get("finetune_config", {}).get("dataset")
    same = [r for r in records if r.get("finetune_config", {}).get("dataset") == dataset]
    picked = []
    for kind in ("full", "pruned", "scratch"):
        match = next((r for r in same if variant_kind(r) == kind), None) or next(
            (r for r in records if variant_kind(r) == kind), None)  # fmt: skip
        if match:
            picked.append(match["name"])
    return picked


@dataclass
class Prediction:
    """One variant's answer to one request, with the time it took."""

    name: str
    description: str  # describe_variant of its record
    kind: str
    probabilities: dict[str, float]
    forward_ms: float
    tokenize_ms: float
    device: str
    num_tokens: int
    max_length: int
    test_accuracy: float | None

    @property
    def truncated(self) -> bool:
        """True when the model read only the first `max_length` tokens of the text."""
        return self.num_tokens > self.max_length

    def top(self, k: int = 5) -> dict[str, float]:
        """The `k` most likely labels with their probabilities, best first."""
        return dict(sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k])

    def summary_markdown(self) -> str:
        """The line under the labels: kind, variant, this request's latency, accuracy, truncation."""
        lines = [
            f"**{self.kind}** · {html.escape(self.description)}",
            f"Latency **{self.forward_ms:.1f} ms** model + {self.tokenize_ms:.1f} ms tokenising "
            f"(this request, {self.device})",
        ]
        if self.test_accuracy is not None:
            lines.append(f"Test accuracy {100 * self.test_accuracy:.1f}% (offline split)")
        if self.truncated:
            lines.append(f"Read only the first {self.max_length} of {self.num_tokens} tokens")
        return "\n\n".join(lines)


@dataclass
class ClassifyOutcome:
    """Every chosen variant's prediction, and notices about the text (cut, not Marathi, truncated)."""

    predictions: list[Prediction]
    notices: list[str]


def check_text(text: str | None) -> tuple[str, list[str]]:
    """Normalised text and notices about it; ValueError when there is nothing to classify."""
    text = normalise_text(text or "")
    if not text:
        raise ValueError("Please enter some Marathi text (a news headline works best).")
    notices = []
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
        notices.append(f"The text was cut to its first {MAX_CHARS:,} characters.")
    if not _DEVANAGARI.search(text):
        notices.append("The text has no Devanagari (Marathi) letters; the models were trained on Marathi, "
                       "so expect a meaningless answer.")  # fmt: skip
    return text, notices


def predict(variant: LoadedVariant, text: str) -> tuple[dict[str, float], dict]:
    """Class probabilities for one text and its timings (tokenising and model forward, in ms)."""
    with variant.tokenizer_lock:
        start = time.perf_counter()
        batch = variant.tokenizer(text, return_tensors="pt", verbose=False)
        num_tokens = batch["input_ids"].shape[1]
        if num_tokens > variant.max_length:  # only overlong text pays for a second, truncating pass
            batch = variant.tokenizer(text, truncation=True, max_length=variant.max_length, return_tensors="pt")
        tokenize_ms = (time.perf_counter() - start) * 1000
    with torch_threads(INFER_THREADS), torch.inference_mode():
        logits, forward_ms = time_single_request(lambda: variant.model(**batch).logits[0])
    probs = torch.softmax(logits.float(), dim=-1).tolist()
    id2label = variant.model.config.id2label
    return {id2label[i]: p for i, p in enumerate(probs)}, {
        "forward_ms": forward_ms, "tokenize_ms": tokenize_ms, "num_tokens": num_tokens}  # fmt: skip


def classify(registry: ModelRegistry, names: Sequence[str] | None, text: str | None) -> ClassifyOutcome:
    """Classify `text` with each named cached variant (default: newest full / pruned / scratch).

    Raises:
        ValueError: empty text, or no fine-tuned variant exists yet.
    """
    text, notices = check_text(text)
    records = {r["name"]: r for r in registry.records()}
    if not records:
        raise ValueError(NO_VARIANT)
    names = [n for n in (names or []) if n] or default_variant_names(list(records.values()))
    gone = [n for n in names if n not in records]
    if gone:
        notices.append(f"No longer in the cache, skipped: {', '.join(gone)}.")
    predictions = []
    for name in (n for n in names if n in records):
        variant = registry.variant(name)
        probabilities, t = predict(variant, text)
        predictions.append(Prediction(name, describe_variant(variant.record), variant_kind(variant.record), probabilities,
                                      t["forward_ms"], t["tokenize_ms"], device_label(), t["num_tokens"],
                                      variant.max_length, variant.record["test_metrics"].get("accuracy")))  # fmt: skip
    for limit in sorted({p.max_length for p in predictions if p.truncated}):
        longest = max(p.num_tokens for p in predictions if p.max_length == limit)
        notices.append(f"The text is {longest} tokens long but a model fine-tuned with a {limit}-token limit reads "
                       f"only the first {limit}: the rest was ignored (truncated).")  # fmt: skip
    if not predictions:
        raise ValueError(NO_VARIANT)
    return ClassifyOutcome(predictions, notices)
