"""Classify a text with several fine-tuned variants side by side, with each request's latency.

``classify_text`` checks the text (empty, too long, not Marathi, longer than a model reads), runs each
chosen variant once through the registry and reports the time that request took and where: the
latency a user sees, not a benchmark.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..data import normalise_text
from .registry import ModelRegistry, device_label
from .wording import NO_VARIANT, describe_variant, variant_kind

MAX_CHARS = 20_000  # longer input is cut before tokenising (the longest MahaNews documents are shorter)
_DEVANAGARI = re.compile("[\u0900-\u097f]")


def default_variant_names(records: Sequence[Mapping]) -> list[str]:
    """The newest full, pruned and scratch variants, preferring the newest variant's dataset."""
    if not records:
        return []
    dataset = records[0].get("finetune_config", {}).get("dataset")
    same = [r for r in records if r.get("finetune_config", {}).get("dataset") == dataset]
    picked = []
    for kind in ("full", "pruned", "scratch"):
        match = next((r for r in same if variant_kind(r) == kind), None)
        match = match or next((r for r in records if variant_kind(r) == kind), None)
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
        notices.append(
            "The text has no Devanagari (Marathi) letters; the models were trained on Marathi, "
            "so expect a meaningless answer."
        )
    return text, notices


def classify_text(registry: ModelRegistry, names: Sequence[str] | None, text: str | None) -> ClassifyOutcome:
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
        probabilities, t = variant.predict(text)
        record = variant.record
        predictions.append(
            Prediction(
                name=name,
                description=describe_variant(record),
                kind=variant_kind(record),
                probabilities=probabilities,
                forward_ms=t["forward_ms"],
                tokenize_ms=t["tokenize_ms"],
                device=device_label(),
                num_tokens=t["num_tokens"],
                max_length=variant.max_length,
                test_accuracy=record["test_metrics"].get("accuracy"),
            )
        )
    for limit in sorted({p.max_length for p in predictions if p.truncated}):
        longest = max(p.num_tokens for p in predictions if p.max_length == limit)
        notices.append(
            f"The text is {longest} tokens long but a model fine-tuned with a {limit}-token limit reads "
            f"only the first {limit}: the rest was ignored (truncated)."
        )
    if not predictions:
        raise ValueError(NO_VARIANT)
    return ClassifyOutcome(predictions, notices)
