"""Classify a text with several variants side by side, on several backends, with measured latency.

``classify_text`` checks the text (empty, too long, not Marathi, longer than a model reads), then runs
each chosen variant on each backend (PyTorch eager, ONNX Runtime fp32 and INT8: ``backends``) through the
same path a request takes, text in and probabilities out, and times it the way the benchmark does: warm-up
runs first, then several timed runs, summarised as the median and the p10-p90 spread. A single cold call
would mostly measure allocator growth and kernel selection, not the model.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..cache import CacheEntryError
from ..data import normalise_text
from ..speed import time_callable
from .backends import BACKEND_LABELS, check_backends
from .registry import ModelRegistry, device_label
from .wording import NO_VARIANT, describe_variant, variant_kind

logger = logging.getLogger(__name__)

MAX_CHARS = 20_000  # longer input is cut before tokenising (the longest MahaNews documents are shorter)
MAX_NAME_CHARS = 120  # unknown variant names are echoed in a notice, cut to this
_DEVANAGARI = re.compile("[\u0900-\u097f]")
KINDS = ("full", "pruned", "scratch")


def _keep(record: Mapping) -> int:
    return int((record.get("plan") or {}).get("keep") or 0)


def _newest_of_each_kind(records: Sequence[Mapping]) -> dict[str, Mapping]:
    """The newest variant of each kind, preferring the newest variant's dataset."""
    if not records:
        return {}
    dataset = records[0].get("finetune_config", {}).get("dataset")
    same = [r for r in records if r.get("finetune_config", {}).get("dataset") == dataset]
    picked = {}
    for kind in KINDS:
        match = next((r for r in same if variant_kind(r) == kind), None)
        match = match or next((r for r in records if variant_kind(r) == kind), None)
        if match:
            picked[kind] = match
    return picked


def _bundled_of_each_kind(records: Sequence[Mapping]) -> dict[str, Mapping]:
    """The bundled full model, the deepest bundled pruned variant and the bundled scratch model of its depth."""
    bundled = [r for r in records if r.get("bundled")]
    picked = {}
    for kind in KINDS:
        mine = sorted((r for r in bundled if variant_kind(r) == kind), key=_keep, reverse=True)
        if kind == "scratch" and "pruned" in picked:  # the scratch model as deep as the pruned one: a fair pair
            mine.sort(key=lambda r: _keep(r) != _keep(picked["pruned"]))
        if mine:
            picked[kind] = mine[0]
    return picked


def default_variant_names(records: Sequence[Mapping], prefer: str = "") -> list[str]:
    """The variants Classify opens with: one full, one pruned and one scratch-trained model.

    Bundled variants come first (the full teacher, its deepest pruned variant and the scratch model of
    that depth), so every visitor sees the same comparison; a kind with no bundled variant takes the
    user's newest of that kind. `prefer` (say, a variant just fine-tuned) takes the place of its kind.
    """
    picked = {**_newest_of_each_kind([r for r in records if not r.get("bundled")]), **_bundled_of_each_kind(records)}
    chosen = next((r for r in records if r["name"] == prefer), None) if prefer else None
    names = [picked[k]["name"] for k in KINDS if k in picked and not (chosen and variant_kind(chosen) == k)]
    if chosen:
        kind = variant_kind(chosen)
        names.insert(KINDS.index(kind) if kind in KINDS else 0, chosen["name"])
    return names


@dataclass(frozen=True)
class LiveTiming:
    """How Classify times each variant on each backend.

    Args:
        warmup (int, defaults to 2): untimed runs first (allocator growth, kernel selection, caches).
        repeats (int, defaults to 10): timed runs at most.
        budget_s (float, defaults to 1.0): stop timing a variant-backend pair after this many seconds of runs.
        min_repeats (int, defaults to 3): timed runs at least, whatever the budget.
    """

    warmup: int = 2
    repeats: int = 10
    budget_s: float = 1.0
    min_repeats: int = 3

    def __post_init__(self) -> None:
        if self.warmup < 1 or self.min_repeats < 1 or self.repeats < self.min_repeats or self.budget_s <= 0:
            raise ValueError(f"need warmup >= 1, 1 <= min_repeats <= repeats and budget_s > 0; got {self}")


@dataclass
class BackendRun:
    """One variant on one backend: its class probabilities and the timed runs of the whole path."""

    backend: str
    probabilities: dict[str, float]
    samples_ms: list[float]  # text in -> probabilities out, warm runs only

    @property
    def label(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples_ms, q))

    @property
    def median_ms(self) -> float:
        return self.percentile(50)


@dataclass
class Prediction:
    """One variant's answers to one text, one per backend, with the time each took."""

    name: str
    description: str  # describe_variant of its record
    kind: str
    runs: dict[str, BackendRun]  # by backend, in display order; the first is the reference
    device: str
    num_tokens: int
    max_length: int
    layers: int
    test_accuracy: float | None
    bundled: bool = False

    @property
    def reference(self) -> BackendRun:
        return next(iter(self.runs.values()))

    @property
    def probabilities(self) -> dict[str, float]:
        """The reference backend's probabilities (PyTorch eager when it ran)."""
        return self.reference.probabilities

    @property
    def labels(self) -> dict[str, str]:
        """The top label from each backend."""
        return {b: r.label for b, r in self.runs.items()}

    @property
    def agree(self) -> bool:
        """True when every backend gave the same top label."""
        return len(set(self.labels.values())) == 1

    @property
    def truncated(self) -> bool:
        """True when the model read only the first `max_length` tokens of the text."""
        return self.num_tokens > self.max_length

    def top(self, k: int = 5) -> dict[str, float]:
        """The `k` most likely labels with their probabilities (reference backend), best first."""
        return dict(sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k])


@dataclass
class ClassifyOutcome:
    """Every chosen variant's prediction, notices about the text and the variants, and the request's time."""

    predictions: list[Prediction]
    notices: list[str]
    backends: list[str] = field(default_factory=list)
    timing: LiveTiming = field(default_factory=LiveTiming)
    server_ms: float = 0.0  # the whole classify_text call: every variant, backend and timed run


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
        notices.append(
            "The text has no Devanagari (Marathi) letters; the models were trained on Marathi, "
            "so expect a meaningless answer."
        )
    return text, notices


def _run_variant(
    registry: ModelRegistry, record: Mapping, text: str, backends: Sequence[str], timing: LiveTiming, notices: list
) -> Prediction | None:
    """One variant on every backend, each timed on `text`; None (and a notice) when it cannot be loaded."""
    name, runs, variant = record["name"], {}, None
    for backend in backends:
        try:
            variant, logits = registry.backend(name, backend)
        except CacheEntryError as exc:
            logger.warning("variant %s does not load: %s", name, exc)
            notices.append(f"{name} could not be loaded (its files are damaged or incomplete); skipped.")
            return None
        except Exception as exc:  # noqa: BLE001 - an export or a session that failed (onnx raises its own types)
            logger.warning("backend %s of %s unavailable: %s", backend, name, exc, exc_info=True)
            notices.append(f"{BACKEND_LABELS[backend]} could not be prepared for {name}; its other backends ran.")
            continue

        def once(variant=variant, logits=logits) -> np.ndarray:
            return variant.probabilities(text, logits)

        samples = time_callable(
            once,
            warmup=timing.warmup,
            repeats=timing.repeats,
            time_budget_s=timing.budget_s,
            min_repeats=timing.min_repeats,
        )
        runs[backend] = BackendRun(backend, dict(zip(variant.label_names(), once().tolist(), strict=True)), samples)
    if variant is None or not runs:
        return None
    return Prediction(
        name=name,
        description=describe_variant(record),
        kind=variant_kind(record),
        runs=runs,
        device=device_label(),
        num_tokens=variant.encode(text)[1],
        max_length=variant.max_length,
        layers=_keep(record),
        test_accuracy=(record.get("test_metrics") or {}).get("accuracy"),
        bundled=bool(record.get("bundled")),
    )


def classify_text(
    registry: ModelRegistry,
    names: Sequence[str] | None,
    text: str | None,
    backends: Sequence[str] | str | None = None,
    timing: LiveTiming | None = None,
) -> ClassifyOutcome:
    """Classify `text` with each named variant (default: ``default_variant_names``) on each backend.

    Args:
        registry: where variants are loaded and their backends opened, once.
        names: variant names (cache or bundled); unknown ones are skipped with a notice.
        text: the text to classify.
        backends: any of ``backends.available_backends()``; none means every CPU backend here.
        timing: warm-up and timed runs per variant and backend.

    Raises:
        ValueError: empty text, an unknown backend, or no variant to classify with.
    """
    started = time.perf_counter()
    timing = timing or LiveTiming()
    text, notices = check_text(text)
    backends = check_backends(backends)
    records = {r["name"]: r for r in registry.records()}
    if not records:
        raise ValueError(NO_VARIANT)
    names = list(dict.fromkeys(n for n in (names or []) if n)) or default_variant_names(list(records.values()))
    gone = [html.escape(n[:MAX_NAME_CHARS]) for n in names if n not in records]
    if gone:
        notices.append(f"Not a ready variant, skipped: {', '.join(gone)}.")
    predictions = []
    for name in (n for n in names if n in records):
        prediction = _run_variant(registry, records[name], text, backends, timing, notices)
        if prediction is not None:
            predictions.append(prediction)
    for limit in sorted({p.max_length for p in predictions if p.truncated}):
        longest = max(p.num_tokens for p in predictions if p.max_length == limit)
        notices.append(
            f"The text is {longest} tokens long but a model fine-tuned with a {limit}-token limit reads "
            f"only the first {limit}: the rest was ignored (truncated)."
        )
    if not predictions:
        raise ValueError(NO_VARIANT)
    server_ms = (time.perf_counter() - started) * 1000
    return ClassifyOutcome(predictions, notices, backends, timing, server_ms)
