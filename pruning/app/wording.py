"""How the app words things: counts, sizes, layer ranges, model and variant names, and its messages.

Every tab names the same thing the same way because they all format through here: the prune panel,
the classify results and the compare table. ``LOAD_ERRORS`` lives here too: these are the failures
the app turns into a sentence for the user instead of an error page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from models import HubUnreachableError, get_spec
from models.loading import ModelNotFoundError

from ..data import DataNotFoundError

LOAD_ERRORS = (HubUnreachableError, ModelNotFoundError, DataNotFoundError, OSError, ValueError)

NO_VARIANT = (
    "No fine-tuned model yet. Fine-tune one in the “Prune & fine-tune” tab first "
    "(a variant that is already cached loads instantly), then classify."
)
PICK_A_BASE = "Pick a base model above (or type a Hugging Face id or a local folder)."


def format_count(n: float | None) -> str:
    """1234567 -> '1.23 M'; 12345 -> '12.3 k'."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    if abs(n) >= 1e9:
        return f"{n / 1e9:.2f} B"
    if abs(n) >= 1e6:
        return f"{n / 1e6:.2f} M"
    if abs(n) >= 1e3:
        return f"{n / 1e3:.1f} k"
    return str(int(n))


def size_mb(num_params: int, bytes_per_param: int = 4) -> float:
    """Weight size in MB (10^6 bytes); fp32 by default."""
    return num_params * bytes_per_param / 1e6


def format_layers(indices: Sequence[int]) -> str:
    """0-based indices -> 1-based ranges as people read them: [0, 1, 2, 9] -> '1–3, 10'."""
    if not indices:
        return "none"
    nums = sorted(i + 1 for i in indices)
    runs, start, prev = [], nums[0], nums[0]
    for n in nums[1:] + [None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        runs.append(f"{start}" if start == prev else f"{start}, {prev}" if prev == start + 1 else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(runs)


def short_model_name(name_or_path: str) -> str:
    """Catalog name, or the last part of a hub id / folder."""
    spec = get_spec(name_or_path)
    return spec.name if spec else str(name_or_path).rstrip("/").split("/")[-1]


def variant_kind(record: Mapping) -> str:
    """'scratch' (small model pretrained at its depth), 'control' (random init), 'pruned' or 'full'."""
    if record.get("base_role") in ("scratch", "control"):
        return record["base_role"]
    plan = record.get("plan") or {}
    return "pruned" if plan.get("keep", 0) < plan.get("num_layers", 0) else "full"


def describe_variant(record: Mapping) -> str:
    """'offline-teacher · middle 6/12 · SHC · seed 42'."""
    plan, ft = record.get("plan", {}), record.get("finetune_config", {})
    if variant_kind(record) == "pruned":
        how = f"{plan.get('strategy')} {plan.get('keep')}/{plan.get('num_layers')}"
    else:
        how = f"{plan.get('num_layers')} layers"
    return (
        f"{short_model_name(record.get('base_model', '?'))} · {how} · {ft.get('dataset', '?')} · seed {ft.get('seed')}"
    )


def variant_label(record: Mapping) -> str:
    """One line for the variant picker: kind, description, test accuracy."""
    acc = record.get("test_metrics", {}).get("accuracy")
    return f"{variant_kind(record)} · {describe_variant(record)} · test acc {100 * (acc or 0):.1f}%"


def finetune_result(record: Mapping, from_cache: bool, seconds: float) -> str:
    """The status line of a finished fine-tune: test accuracy, baseline and where the variant is saved."""
    test = record["test_metrics"]
    if from_cache:
        head = "**Loaded from cache** (this exact variant was fine-tuned before; no training)"
    else:
        head = f"**Done** in {seconds:.0f} s on {record.get('device', '?')}"
    return (
        f"{head}: test accuracy **{100 * test['accuracy']:.1f}%**, macro-F1 {100 * test['macro_f1']:.1f}% on "
        f"{test.get('num_examples', '?')} held-out texts (majority-class baseline "
        f"{100 * record.get('majority_baseline_test', 0):.1f}%). Saved as `{record['name']}`; "
        "it is now selectable in Classify and listed in Compare."
    )
