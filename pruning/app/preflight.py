"""What is known about a fine-tune before it starts: its size, its estimated time, and warnings.

The estimate comes from the measured steps per second of earlier fine-tunes of the same base on this
device (their records are in the cache), scaled by the layers kept; with no such run the job says so and
its own measured steps give the time left once it runs. Fewer than ``FEW_EXAMPLES`` training texts get
a warning: such a model is rough, and Compare keeps it in a series of its own.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from ..config import FinetuneConfig, PruneConfig
from ..pipeline import load_dataset
from .wording import format_duration

FEW_EXAMPLES = 1000  # below this many training texts the model is rough; the app says so


def train_device() -> str:
    """The device name fine-tunes record (``FinetuneResult.device``): 'cpu' or the GPU's name."""
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def seconds_per_step(record: Mapping) -> float | None:
    """Wall seconds per training step of a finished fine-tune (dev evaluations included)."""
    steps = max((h.get("step", 0) for h in record.get("history") or [] if h.get("kind") == "step"), default=0)
    seconds = record.get("train_seconds")
    return seconds / steps if steps and seconds else None


def estimate_seconds(
    records: Sequence[Mapping], base: str, train: FinetuneConfig, keep: int | None, steps: int, device: str
) -> tuple[float, int] | None:
    """(seconds, runs it rests on) for `steps` steps, from earlier fine-tunes of `base` on `device`.

    Only runs with the same dataset, batch size and token limit count; their time per step is scaled
    by the layers kept (encoder time grows with depth). `keep` None means every layer. None when there
    is no such run.
    """
    rates, evals = [], []
    for r in records:
        ft, plan = r.get("finetune_config") or {}, r.get("plan") or {}
        same = (ft.get("dataset"), ft.get("batch_size"), ft.get("max_length")) == (
            train.dataset,
            train.batch_size,
            train.max_length,
        )
        sps = seconds_per_step(r)
        if r.get("base_model") != base or r.get("device") != device or not same or not sps or not plan.get("keep"):
            continue
        rates.append(sps * (keep or plan.get("num_layers", plan["keep"])) / plan["keep"])
        evals.append(float(r.get("eval_seconds") or 0))
    if not rates:
        return None
    return steps * statistics.median(rates) + statistics.median(evals), len(rates)


@dataclass
class Preflight:
    """What is known about a fine-tune before it starts: its size, its estimated time, warnings."""

    train_texts: int
    steps: int
    estimate_s: float | None
    estimate_note: str
    notices: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One paragraph for the status line: size, estimated time and any warning."""
        warnings = "".join(f" ⚠️ {n}" for n in self.notices)
        return f"{self.train_texts:,} training texts, {self.steps:,} steps. {self.estimate_note}{warnings}"


def preflight(
    base: str, prune: PruneConfig | None, train: FinetuneConfig, records: Sequence[Mapping], device: str = ""
) -> Preflight:
    """Count the training texts and steps of a fine-tune and estimate its time, before it starts.

    Raises:
        DataNotFoundError, ValueError: the dataset is missing or unreadable (so the job would fail).
    """
    data, _ = load_dataset(train.dataset)  # parsed once per process; build_variant reuses it
    available = len(data["train"])
    texts = min(available, train.max_train_samples) if train.max_train_samples else available
    steps = max(1, math.ceil(math.ceil(texts / train.batch_size) * train.epochs))
    keep = (prune.keep or len(prune.layers or [])) if prune else None
    device = device or train_device()
    found = estimate_seconds(records, base, train, keep, steps, device)
    if found:
        note = (
            f"Estimated time: about {format_duration(found[0])} on {device} (from the measured speed of "
            f"{found[1]} earlier fine-tune{'s' if found[1] > 1 else ''} of this model)."
        )
    else:
        note = "No earlier fine-tune of this model here to estimate from: the time left appears after a few steps."
    notices = []
    if texts < FEW_EXAMPLES:
        notices.append(
            f"Only {texts:,} training texts (fewer than {FEW_EXAMPLES:,}): expect a rough model that may score "
            "below the majority-class baseline. Compare shows reduced-data results as their own series."
        )
    return Preflight(texts, steps, found[0] if found else None, note, notices)
