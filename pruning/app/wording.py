"""How the app words things: counts, sizes, layer ranges, model and variant names, and its messages.

Every tab names the same thing the same way because they all format through here: the prune panel,
the classify results and the compare table. ``LOAD_ERRORS`` lives here too: these are the failures
the app turns into a sentence for the user instead of an error page.

``user_message`` is the one way an exception reaches the browser: short, saying what to do, with no
server paths and no traceback (those go to the server log).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence

from models import CATALOG, HubUnreachableError, get_spec, hub_reachable
from models.loading import ModelNotFoundError

from ..cache import CacheEntryError, VariantNotFoundError
from ..data import DataNotFoundError
from ..finetune import FinetuneCancelled
from .bases import BaseNotAllowedError, HubOnlyError

logger = logging.getLogger(__name__)

LOAD_ERRORS = (HubUnreachableError, ModelNotFoundError, DataNotFoundError, OSError, ValueError)
MAX_MESSAGE_CHARS = 300
# An absolute path (/x/y, ~/x, C:\x) that does not continue a word, a URL or a Hub id.
_PATH = re.compile(r"(?<![\w.:/\\-])(?:~|[A-Za-z]:)?[/\\][^\s'\"`,;()<>\[\]{}]*")
_OFFLINE = ", ".join(n for n, s in CATALOG.items() if s.kind == "offline")
HUB_DOWN = (
    "The Hugging Face Hub can't be reached from this server, so this model can't be downloaded. "
    f"Use one of the offline models ({_OFFLINE})."
)
HUB_MISS = (
    "That model could not be loaded. Check the name: a catalog name, or a Hugging Face id (owner/name) of a "
    "public BERT-style model."
)
DAMAGED = "This variant's files are damaged. Delete or rebuild it under “Damaged variants” in the Compare tab."
SERVER_FAULT = "Something went wrong on the server ({kind}); the details are in its log. Try again or change a setting."

# The page's opening text, above the tabs.
INTRO = """
# ✂️ Layer pruning for Marathi BERT
A BERT encoder is a stack of identical Transformer layers (12 in MahaBERT-v2 and MuRIL). **Layer pruning** deletes
some of them *before* fine-tuning: the model gets smaller and faster with no new pretraining. Shirke et al. (2025,
[arXiv 2501.00733](https://arxiv.org/abs/2501.00733)) pruned MahaBERT-v2 and MuRIL and fine-tuned them on the
L3Cube-MahaNews topic tasks (SHC headlines, LPC paragraphs, LDC documents): pruned models stayed **comparable to the
full ones** and **consistently beat models of the same size pretrained from scratch** (MahaBERT-Small/-Smaller);
dropping **middle** layers worked best overall, though no strategy won everywhere.

**Try it:** ① pick a base model and a strategy and watch which layers go, then fine-tune ·
② classify your own Marathi text with the full, pruned and scratch models side by side, with measured latency ·
③ compare accuracy, latency and size, next to the published numbers.

**Offline models:** `offline-teacher` (12 layers), `offline-small` (6) and `offline-smaller` (2) are this project's own
mini Marathi BERTs (256 wide), pretrained offline with the same data and token budget so that "pruned teacher vs
scratch model of the same depth" is a fair test. They are far smaller than MahaBERT, so expect lower accuracy.
"""
NO_VARIANT = (
    "No fine-tuned model yet. Fine-tune one in the “Prune & fine-tune” tab first "
    "(a variant that is already cached loads instantly), then classify."
)
LADDER_TITLE = "Does pruning beat training from scratch? (pretraining ladder)"
LADDER_INTRO = (
    "The paper's pruned MahaBERT-v2 had far more pretraining behind it than the small models it beat. The ladder "
    "repeats the test on this project's offline family: the 12-layer teacher pretrained for 1×, 2×, 4×… the scratch "
    "models' token budget, pruned to 6 and 2 layers (best strategy chosen on validation), against the scratch "
    "models of that depth; 95% intervals over seeds."
)
NO_LADDER = (
    "The new offline family's ladder has not been measured yet. Run `make ladder` (fine-tunes every teacher rung "
    "against the scratch models; hours on CPU) and its result appears here."
)
PICK_A_BASE = "Pick a base model above (or type a Hugging Face id such as owner/name)."
NO_DATA_SCORES = "On the {n} demo headlines: no MahaNews data here (MAHANEWS_DIR gives 128 dev headlines)."


def no_data_message(dataset: str) -> str:
    """One sentence for a fine-tune that finds no MahaNews files and no internet: where to put them, what works."""
    return (
        f"No MahaNews {dataset} files here and no internet to download them: set MAHANEWS_DIR to a folder "
        f"holding {dataset}_Train.csv, {dataset}_Valid.csv and {dataset}_Test.csv (or copy them into the app's "
        f"data folder, mahanews/{dataset} under the cache root), or classify now with the ready-made bundled "
        "variants in the Classify tab."
    )


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
    if (record.get("bundle") or {}).get("role"):  # bundled variants say what they stand for
        return record["bundle"]["role"]
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
        + variant_recipe(record)
    )


def variant_recipe(record: Mapping) -> str:
    """' · distilled · vocabulary 8,000 → 7,650' for what a variant had beyond plain pruning; '' otherwise.

    Two variants of the same cut differ by these alone, so every picker and table line names them.
    """
    vocab = record.get("vocab") or {}
    parts = [" · distilled"] if record.get("distillation") else []
    if vocab.get("tokens_after"):
        parts.append(f" · vocabulary {vocab.get('tokens_before', 0):,} → {vocab['tokens_after']:,}")
    return "".join(parts)


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
        f"{100 * record.get('majority_baseline_test', 0):.1f}%).{_recipe_result(record)} Saved as `{record['name']}`; "
        "it is now selectable in Classify and listed in Compare."
    )


def _recipe_result(record: Mapping) -> str:
    """What a finished fine-tune's vocabulary cut saved and who taught it, as sentences ('' for neither)."""
    out, vocab, taught = "", record.get("vocab") or {}, record.get("distillation") or {}
    if vocab.get("tokens_after"):
        out += (
            f" Vocabulary cut from {vocab.get('tokens_before', 0):,} to {vocab['tokens_after']:,} tokens: "
            f"{vocab.get('bytes_fp32_before', 0) / 1e6:.1f} → {vocab.get('bytes_fp32_after', 0) / 1e6:.1f} MB in fp32."
        )
    if taught.get("teacher"):
        acc = taught.get("teacher_test_accuracy")
        out += (
            f" Distilled from `{taught['teacher']}`"
            + (f" (test accuracy {100 * acc:.1f}%)" if acc is not None else "")
            + f", α {taught.get('alpha')}, T {taught.get('temperature')}."
        )
    return out


def scrub_paths(text: str) -> str:
    """`text` with every absolute server path replaced by '…' (URLs and Hub ids are kept)."""
    return _PATH.sub("…", str(text))


def _short(text: str) -> str:
    """First line, paths scrubbed, at most MAX_MESSAGE_CHARS."""
    line = scrub_paths(str(text).strip().splitlines()[0] if str(text).strip() else "")
    return line if len(line) <= MAX_MESSAGE_CHARS else line[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"


def _data_message(exc: DataNotFoundError) -> str:
    found = re.search(r"\b(SHC|LPC|LDC)\b", str(exc))
    return no_data_message(found.group(1) if found else "MahaNews")


def _model_missing(exc: ModelNotFoundError) -> str:
    offline = re.search(r"offline model '([\w-]+)'", str(exc))
    if offline:
        return f"The offline model {offline.group(1)} is not built on this server (python -m models.build_offline)."
    return "There is no saved model (config.json and weights) by that name in the app's model folders."


def user_message(exc: BaseException) -> str:
    """What the browser shows for `exc`: short, says what to do, no paths, no traceback.

    The full error goes to the server log: a traceback for anything unexpected, one line otherwise.
    """
    if isinstance(exc, BaseNotAllowedError | FinetuneCancelled):
        message = str(exc)
    elif isinstance(exc, HubUnreachableError):
        message = HUB_DOWN
    elif isinstance(exc, HubOnlyError):  # worded exactly like a Hub id that does not load
        message = HUB_MISS if hub_reachable() else HUB_DOWN
    elif isinstance(exc, DataNotFoundError):
        message = _data_message(exc)
    elif isinstance(exc, ModelNotFoundError):
        message = _model_missing(exc)
    elif isinstance(exc, VariantNotFoundError):
        message = "That variant is no longer in the cache; refresh the list."
    elif isinstance(exc, CacheEntryError):
        message = DAMAGED
    elif isinstance(exc, ValueError):
        message = _short(exc) or "That setting is not valid."
    elif isinstance(exc, OSError):
        message = HUB_MISS
    else:
        logger.error("unexpected error shown to a visitor as a generic message", exc_info=exc)
        return SERVER_FAULT.format(kind=type(exc).__name__)
    logger.info("told a visitor: %s (%s: %s)", message, type(exc).__name__, exc)
    return message


def format_duration(seconds: float) -> str:
    """45 -> '45 s'; 200 -> '3 min'; 4000 -> '1 h 07 min'."""
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
