"""Base model -> layer plan -> surgery -> fine-tune -> test metrics -> cache: one call.

The app, the CLI and the sweep all build variants through ``build_variant`` so a variant made
in one is found by the others.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from models import load_classifier

from .cache import VariantCache, VariantKey
from .config import FinetuneConfig, PruneConfig
from .data import LABELS, load_mahanews
from .distil import resolve_teacher
from .evaluate import evaluate_model, majority_baseline
from .finetune import TrainEvent, finetune
from .importance import LayerScores, compute_layer_scores
from .strategies import LayerPlan, select_layers
from .surgery import num_layers, prune_layers
from .vocab import corpus_sha256, prune_vocabulary, read_corpus

logger = logging.getLogger(__name__)


@dataclass
class Variant:
    """A fine-tuned (possibly pruned) model with its record, fresh or from the cache."""

    model: object
    tokenizer: object
    record: dict
    from_cache: bool

    @property
    def test_accuracy(self) -> float:
        return self.record["test_metrics"]["accuracy"]


@functools.lru_cache(maxsize=4)
def _cached_data(name: str, data_dir: str | None, env_dir: str | None):
    """Parse and clean each dataset once per process (a sweep builds dozens of variants from it).

    Loaded first, so a missing file fails before a slow model load.
    """
    return load_mahanews(name, data_dir)


def load_dataset(name: str, data_dir: str | os.PathLike | None = None):
    """(DatasetDict, CleaningReport) of a MahaNews dataset, parsed once per process and folder."""
    return _cached_data(name, str(data_dir) if data_dir else None, os.environ.get("MAHANEWS_DIR"))


def plan_for(model, prune: PruneConfig, scores: LayerScores | None = None) -> LayerPlan:
    """The layer plan of `prune` for `model`, using importance scores when the strategy wants them."""
    return select_layers(
        prune.strategy,
        num_layers(model),
        keep=prune.keep if prune.strategy != "custom" else None,
        scores=scores.by(prune.score_pooling) if scores else None,
        layers=prune.layers,
    )


def build_variant(
    base: str,
    prune: PruneConfig | None,
    train: FinetuneConfig,
    *,
    cache: VariantCache | None = None,
    data_dir: str | os.PathLike | None = None,
    force: bool = False,
    on_event: Callable[[TrainEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    show_progress: bool = True,
    splits: tuple | None = None,
) -> Variant:
    """Make (or fetch from the cache) the variant of `base` pruned by `prune` and fine-tuned by `train`.

    Args:
        base: catalog name, hub id or local folder of the pretrained model.
        prune: how to cut it: layers, and with ``vocab_corpus`` the vocabulary too (to that corpus plus the
            training split, after the layers and before fine-tuning); None keeps every layer and token.
        train: fine-tuning settings, including dataset and seed; with ``distil_from``, the cached variant that
            teaches it (checked before anything is loaded; the key and record carry its full name).
        cache: where variants live; the default cache when None.
        data_dir: MahaNews folder (else $MAHANEWS_DIR, download, sibling shared/).
        force: retrain even when the variant is cached.
        on_event, should_stop, show_progress: passed to ``finetune``.
        splits: (DatasetDict, CleaningReport) of ``train.dataset`` already loaded, used instead of reading
            ``data_dir`` (the Ray sweep ships the driver's cleaned splits to workers that have no data files).

    Returns:
        The Variant; ``from_cache`` tells whether training was skipped.
    """
    cache = cache or VariantCache()
    teacher = resolve_teacher(train.distil_from, train.dataset, cache) if train.distil_from else None
    if teacher is not None:  # a prefix becomes the full name: the key then says exactly which weights taught it
        train = dataclasses.replace(train, distil_from=teacher.name)
    vocab = None
    if prune is not None and prune.vocab_corpus:
        # The key holds the corpus's content hash (once per file version), taken before the slow model load so
        # that a missing corpus fails at once.
        vocab = {"corpus_sha256": corpus_sha256(prune.vocab_corpus), "min_count": prune.vocab_min_count}
    data, report = splits if splits is not None else load_dataset(train.dataset, data_dir)
    with torch.random.fork_rng(devices=[]):
        # The new classifier head and pooler are drawn from the fine-tuning seed, not from whatever this process
        # ran before: a variant is then a function of its key, so a resumed sweep, another cell order or a Ray
        # worker builds the same weights.
        torch.manual_seed(train.seed)
        loaded = load_classifier(base, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)))
    model = loaded.model

    scores = None
    if prune is not None and prune.strategy == "contribution":
        # Poor Man's BERT averages over dev text: use the validation split, never the test split.
        scores = compute_layer_scores(
            model, loaded.tokenizer, list(data["validation"]["text"]), show_progress=show_progress
        )
    depth = num_layers(model)
    prune = prune or PruneConfig(strategy="top", keep=depth)
    plan = plan_for(model, prune, scores)
    strategy = "full" if plan.keep == depth else plan.strategy
    if teacher is not None and vocab is None:  # with vocabulary pruning, checked against the pruned tokenizer
        teacher.check_student(loaded.tokenizer, train.max_length_for(model))
    key = VariantKey.create(base, loaded.revision, strategy, plan.kept, depth, train.to_dict(), vocab)

    if not force and cache.contains(key):
        model, tokenizer, record = cache.load(key)
        logger.info("loaded cached variant %s", record["name"])
        return Variant(model, tokenizer, record, from_cache=True)

    if plan.keep < depth:
        prune_layers(model, plan.kept, strategy=plan.strategy, base_model=base)
    tokenizer, vocab_report = loaded.tokenizer, None
    if vocab is not None:  # the training split joins the corpus: no training token becomes [UNK]
        texts = read_corpus(prune.vocab_corpus) + list(data["train"]["text"])
        tokenizer, vocab_report = prune_vocabulary(model, tokenizer, texts, min_count=prune.vocab_min_count)
        if teacher is not None:
            teacher.check_student(tokenizer, train.max_length_for(model))
    result = finetune(
        model,
        tokenizer,
        data,
        train,
        on_event=on_event,
        should_stop=should_stop,
        show_progress=show_progress,
        teacher=teacher.load(cache) if teacher is not None else None,
    )
    model = result.model
    max_length = train.max_length_for(model)
    started = time.perf_counter()
    test_metrics = evaluate_model(model, tokenizer, data["test"], max_length=max_length)
    model.config.finetuned_on = train.dataset  # marks the saved config as a fine-tuned classifier
    record = {
        "base_model": base,
        "base_kind": loaded.spec.kind if loaded.spec else "custom",
        "base_role": loaded.spec.role if loaded.spec else "base",
        "revision": loaded.revision,
        "plan": plan.to_dict(),
        "prune_config": prune.to_dict(),
        "finetune_config": train.to_dict(),
        "importance_scores": scores.to_dict() if scores else None,
        "dev_metrics": result.dev_metrics,
        "test_metrics": test_metrics,
        "majority_baseline_test": majority_baseline(list(data["train"]["label"]), list(data["test"]["label"])),
        "history": result.history,
        "best_step": result.best_step,
        "train_seconds": round(result.train_seconds, 2),
        "eval_seconds": round(time.perf_counter() - started, 2),
        "device": result.device,
        "precision": result.precision,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "data_report": report.to_dict(),
        **({"distillation": teacher.provenance(train)} if teacher is not None else {}),
        **({"vocab": {**vocab, "corpus": prune.vocab_corpus, **vocab_report.summary()}} if vocab_report else {}),
    }
    path = cache.save(key, model, tokenizer, record, force=force)
    return Variant(model, tokenizer, cache.read_record(path), from_cache=False)
