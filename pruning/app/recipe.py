"""Vocabulary pruning and distillation as the prune tab offers them: is the corpus here, what the cut saves, who teaches.

Why a module of its own: both features rest on server-side facts a visitor must neither choose nor see (the
corpus file's path, the cache's variants), and both are checked before a job is queued, so that a bad choice
is one sentence in the browser instead of a job that fails minutes later. Gradio-free, like ``panel``.

- Vocabulary: the corpus is the shared Marathi corpus beside the checkout (``CORPUS_FILE``); where it is
  absent (a fresh clone without ../shared, a Space) the option is offered disabled, with a reason and no path.
  ``VocabSizes`` gives the sizes before and after the cut; the first count per model is slow, so the tab
  computes it in an event of its own, and every later depth costs milliseconds.
- Distillation: the teachers offered are ``teacher_candidates`` (full variants of the same base and dataset)
  with the student's vocabulary; ``check_teacher`` refuses any other name with a reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.build_offline.config import DEFAULT_CORPUS
from models.loading import load_config

from ..cache import VariantCache
from ..data import DataNotFoundError
from ..distil import resolve_teacher, teacher_candidates
from ..pipeline import load_dataset
from ..vocab import classifier_params, corpus_sha256, size_preview
from ..vocab.prune import FP32_BYTES
from .wording import describe_variant, short_model_name

logger = logging.getLogger(__name__)

CORPUS_FILE = DEFAULT_CORPUS  # ../shared/data/marathi-corpus/corpus.txt; read at call time (tests point it elsewhere)
NO_TEACHER = "none"  # the teacher dropdown's value for "train on labels only"
LABELS_ONLY = ("none (labels only)", NO_TEACHER)
SMALL_SAVING = 0.05  # below this share of the layer-cut size, the tab says the cut saves little on this model
NO_CORPUS = (
    "Not available on this server: it needs the shared Marathi corpus, which is not installed here "
    "(run the app from a checkout beside ../shared)."
)
VOCAB_INFO = "Keep only the tokens Marathi text uses (a Marathi corpus plus the training split), before fine-tuning."
COMPUTING = (
    "⏳ Counting the tokens Marathi text uses, for the size after the vocabulary cut (the first time for a model "
    "takes 1–2 minutes on CPU; the rest of the panel works meanwhile)…"
)


def corpus_file() -> Path | None:
    """The corpus vocabulary pruning cuts to, or None where it is not on this server."""
    path = Path(CORPUS_FILE)
    return path if path.is_file() else None


@dataclass(frozen=True)
class VocabOffer:
    """Whether the prune tab offers vocabulary pruning, and the one line under its checkbox (never a path)."""

    available: bool
    note: str


def vocab_offer() -> VocabOffer:
    """The checkbox's state: enabled with what it does, or disabled with why."""
    return VocabOffer(True, VOCAB_INFO) if corpus_file() else VocabOffer(False, NO_CORPUS)


def vocab_corpus(ticked: bool | None) -> str | None:
    """``PruneConfig.vocab_corpus`` for the checkbox: the server's corpus when ticked, else None.

    Raises:
        ValueError: ticked where the corpus is absent (an API call can tick a disabled box).
    """
    if not ticked:
        return None
    path = corpus_file()
    if path is None:
        raise ValueError(f"Vocabulary pruning is {NO_CORPUS[0].lower()}{NO_CORPUS[1:]}")
    return str(path)


def vocab_key(corpus: str | None, min_count: int = 1) -> dict | None:
    """The ``vocab`` part of a variant key for this corpus (as ``build_variant`` makes it); None without a cut."""
    return {"corpus_sha256": corpus_sha256(corpus), "min_count": min_count} if corpus else None


def corpus_for_key(vocab: Mapping | None, recorded: str | None = None) -> str | None:
    """A corpus file on this server whose content matches a variant key's ``vocab`` (to rebuild it), else None.

    The key holds the corpus's hash, not its path: the server's corpus is tried first, then the path the
    variant recorded (an operator may have built it from another file).
    """
    if not vocab:
        return None
    for path in (corpus_file(), Path(recorded) if recorded else None):
        try:
            if path is not None and path.is_file() and corpus_sha256(path) == vocab.get("corpus_sha256"):
                return str(path)
        except OSError as exc:
            logger.info("cannot read corpus %s: %s", path, exc)
    return None


# ------------------------------------------------------------------------------- sizes ----


def training_texts(dataset: str) -> list[str]:
    """The training split's texts (they join the corpus, as in ``build_variant``); [] where the data is absent."""
    try:
        data, _ = load_dataset(dataset)
    except DataNotFoundError:
        return []
    return list(data["train"]["text"])


class VocabSizes:
    """Sizes before and after vocabulary pruning, per base model and dataset, computed once.

    ``size_preview`` tokenizes the training split on every call, but the tokens kept do not depend on the
    depth: the first call per (base, dataset) is kept, and each other depth is counted from the model's
    config (``classifier_params``, meta device, milliseconds). Safe for concurrent requests: one count per key.

    Args:
        corpus: the corpus file, or None where it is absent (read at each call).
        texts: the training split of a dataset.
    """

    def __init__(
        self,
        corpus: Callable[[], Path | None] = corpus_file,
        texts: Callable[[str], Sequence[str]] = training_texts,
    ) -> None:
        self.corpus, self.texts = corpus, texts
        self._first: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}

    def ready(self, base: str, dataset: str) -> bool:
        """Whether the answer for `base` on `dataset` comes at once: the slow count was made, or there is no corpus."""
        return self.corpus() is None or (base, dataset) in self._first

    def sizes(self, base: str, dataset: str, keep: int) -> dict[str, Any]:
        """``size_preview``'s dict for `base` cut to `keep` layers and to the corpus plus `dataset`'s training split.

        Raises:
            ValueError: no corpus here, a bad `keep`; CorpusError; the model's load errors.
        """
        corpus = self.corpus()
        if corpus is None:
            raise ValueError(f"Vocabulary pruning is {NO_CORPUS[0].lower()}{NO_CORPUS[1:]}")
        key = (base, dataset)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._first:
                self._first[key] = size_preview(base, corpus, keep=keep, extra_texts=self.texts(dataset))
        first = self._first[key]
        if first["layers"]["after"] == keep:
            return first
        return _at_depth(first, base, keep)


def _at_depth(first: Mapping[str, Any], base: str, keep: int) -> dict[str, Any]:
    """`first` (a ``size_preview`` result) for another depth, with the same tokens kept."""
    depth, tokens = first["layers"]["before"], first["tokens"]["after"]
    if not 1 <= keep <= depth:
        raise ValueError(f"layers to keep must be between 1 and {depth}, got {keep}")
    config = load_config(base)
    params = {
        "full": first["params"]["full"],
        "layers": classifier_params(config, num_layers=keep),
        "layers_and_vocab": classifier_params(config, num_layers=keep, vocab_size=tokens),
    }
    return {
        "layers": {"before": depth, "after": keep},
        "tokens": dict(first["tokens"]),
        "params": params,
        "bytes_fp32": {k: v * FP32_BYTES for k, v in params.items()},
    }


def vocab_markdown(sizes: Mapping[str, Any], dataset: str) -> str:
    """The prune panel's line on the vocabulary cut: tokens, and fp32 MB full / layers cut / layers + vocabulary cut."""
    tokens, mb = sizes["tokens"], {k: v / 1e6 for k, v in sizes["bytes_fp32"].items()}
    layers = sizes["layers"]
    saved = mb["layers"] - mb["layers_and_vocab"]
    line = (
        f"**Vocabulary cut to Marathi text** (the shared Marathi corpus + the {dataset} training split): "
        f"{tokens['before']:,} → **{tokens['after']:,} tokens**. Size in fp32: full model {mb['full']:.1f} MB → "
        f"{layers['after']} of {layers['before']} layers {mb['layers']:.1f} MB → layers + vocabulary "
        f"**{mb['layers_and_vocab']:.1f} MB** (the vocabulary cut saves {saved:.1f} MB more, "
        f"{100 * saved / mb['layers']:.0f}%)."
    )
    if saved < SMALL_SAVING * mb["layers"]:
        line += (
            " This model's vocabulary is already small and nearly all of it is Marathi, so the cut saves little; "
            "on MuRIL and MahaBERT-v2 (197k tokens, many of them for other languages) the word embeddings are "
            "most of the model."
        )
    return line


# ----------------------------------------------------------------------------- teachers ----


def teacher_choices(cache: VariantCache, base: str, dataset: str, vocab: Mapping | None) -> list[tuple[str, str]]:
    """The "Distil from" dropdown: labels only first, then full variants of `base` on `dataset` with `vocab`."""
    found = [r for r in teacher_candidates(base, dataset, cache) if r["key"].get("vocab") == vocab]
    return [LABELS_ONLY] + [(teacher_label(r), r["name"]) for r in found]


def teacher_label(record: Mapping) -> str:
    """'offline-teacher · 12 layers · SHC · seed 42 · test acc 74.1%' (bundled ones say so)."""
    acc = (record.get("test_metrics") or {}).get("accuracy")
    tail = f" · test acc {100 * acc:.1f}%" if acc is not None else ""
    return f"{describe_variant(record)}{tail}" + (" · bundled" if record.get("bundled") else "")


def teacher_note(choices: Sequence[tuple[str, str]], dataset: str, vocab_cut: bool) -> str:
    """The dropdown's info line: where teachers come from, and why there are none yet."""
    same = " with the same vocabulary cut" if vocab_cut else ""
    if len(choices) > 1:
        return f"A full fine-tuned variant of this base on {dataset}{same}; its logits guide the pruned model."
    return (
        f"No teacher yet: a teacher is a full (every layer kept) fine-tuned variant of this base on {dataset}{same}. "
        "Fine-tune one first, then pick it here."
    )


def check_teacher(cache: VariantCache, name: str | None, base: str, dataset: str, vocab: Mapping | None) -> str | None:
    """The teacher's full variant name for ``FinetuneConfig.distil_from``; None for labels only.

    Distillation compares the teacher's and the student's logits on the same token ids for the same task, so
    the teacher must be a full variant of the same base, trained on the same dataset's labels (not distilled
    itself), with the same vocabulary.

    Raises:
        ValueError: an unknown variant, or one that cannot teach this model, saying why and what to pick.
    """
    if not name or name == NO_TEACHER:
        return None
    teacher = resolve_teacher(name, dataset, cache)  # unknown, other dataset, other labels
    key, pick = teacher.record["key"], "pick one of the teachers listed under “Distil from”"
    if key["base_model"] != base:
        raise ValueError(
            f"teacher {teacher.name} was fine-tuned from {short_model_name(key['base_model'])}, not from "
            f"{short_model_name(base)}; {pick}"
        )
    if key["strategy"] != "full":
        raise ValueError(f"teacher {teacher.name} is pruned itself; a teacher keeps every layer; {pick}")
    if key["finetune"].get("distil_from"):
        raise ValueError(f"teacher {teacher.name} was distilled itself; a teacher is trained on labels; {pick}")
    if key.get("vocab") != vocab:
        theirs = "a vocabulary cut to another text" if key.get("vocab") else "its full vocabulary"
        ours = "is cut to Marathi text" if vocab else "is not cut"
        raise ValueError(
            f"teacher {teacher.name} has {theirs} but this model's vocabulary {ours}: distillation compares "
            f"logits on the same token ids; {pick}"
        )
    return teacher.name
