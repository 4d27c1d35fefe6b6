"""The ready-made variants that ship with the demo, rebuilt reproducibly by ``make variants``.

Why: on a fresh clone or a CPU Space the app would otherwise have nothing to classify with until a
20-minute fine-tune. These are fine-tuned with the project's own pipeline on MahaNews SHC from the
offline family: the full teacher, its best pruned variant at each depth (the strategy with the best
*validation* accuracy among all six, never chosen on test) and the scratch models at those depths.

Each is stored fp16 (half the bytes; loaded back as fp32) in the variant-cache format under
``models/variants/``, so ``VariantCache(bundled=...)`` lists and loads them read-only. The record of
each carries its provenance: base, strategy, layers, data, seed, command, project version, and
validation and test accuracy re-measured on the stored fp16 weights.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from models.catalog import BUNDLED_DIR
from models.loading import MODEL_INIT_LOCK
from models.store import atomic_dir, atomic_write_json

from .cache import RECORD_FILE, VariantCache, file_manifest
from .config import FinetuneConfig, PruneConfig
from .evaluate import evaluate_model
from .pipeline import Variant, build_variant, load_dataset
from .sweep import OFFLINE_RECIPE, PRUNE_STRATEGIES

logger = logging.getLogger(__name__)

# The recipe of the offline sweep and ladder, so bundled variants are the same runs the tables report.
FINETUNE = {"dataset": "SHC", **OFFLINE_RECIPE}
DATA_LICENSE = (
    "Fine-tuned on L3Cube-MahaNews (CC BY-NC-SA 4.0) from models pretrained on CC BY-NC-SA 4.0 Marathi text: "
    "non-commercial research use, share alike."
)


def build_bundle(
    out_dir: str | os.PathLike = BUNDLED_DIR,
    *,
    teacher: str = "offline-teacher",
    scratch: dict[int, str] | None = None,
    keeps: tuple[int, ...] = (6, 2),
    seed: int = 0,
    finetune: dict | None = None,
    cache: VariantCache | None = None,
    data_dir: str | None = None,
    command: str = "",
    strategies: dict[int, tuple[str, dict[str, float]]] | None = None,
    note: str = "",
) -> list[dict]:
    """Fine-tune (or reuse from the cache) and write the bundled variants; returns their records.

    Args:
        out_dir: the bundled folder (replaced variant by variant, atomically).
        teacher: the base to keep full and to prune.
        scratch: depth -> model pretrained at that depth (default: the offline small and smaller).
        keeps: depths of the pruned variants.
        seed: fine-tuning seed of every bundled variant.
        finetune: overrides of ``FINETUNE`` (tests use tiny budgets).
        cache: the variant cache used for the runs (default: the user's, so ladder runs are reused).
        data_dir: MahaNews folder.
        command: the command line recorded in each record.
        strategies: depth -> (strategy, validation accuracy per candidate) chosen beforehand on validation
            (``strategies_from_sweep``); None searches all six strategies here with ``seed``.
        note: a caveat recorded with every variant (e.g. how its base was pretrained).
    """
    from . import __version__

    scratch = {6: "offline-small", 2: "offline-smaller"} if scratch is None else scratch
    train = FinetuneConfig(**{**FINETUNE, **(finetune or {}), "seed": seed})
    cache = cache or VariantCache()

    def run(base: str, prune: PruneConfig | None) -> Variant:
        return build_variant(base, prune, train, cache=cache, data_dir=data_dir, show_progress=False)

    chosen: list[tuple[str, Variant, dict]] = [("full", run(teacher, None), {})]
    for keep in keeps:
        if strategies and keep in strategies:
            best, dev = strategies[keep]
            selection = {"chosen_by": "mean validation accuracy of an earlier sweep", "candidates_dev": dev}
            chosen.append(("pruned", run(teacher, PruneConfig(best, keep=keep)), selection))
        else:
            candidates = {s: run(teacher, PruneConfig(s, keep=keep)) for s in PRUNE_STRATEGIES}
            dev = {s: v.record["dev_metrics"]["accuracy"] for s, v in candidates.items()}
            best = max(dev, key=lambda s: (dev[s], -PRUNE_STRATEGIES.index(s)))  # ties: the earlier strategy
            chosen.append(("pruned", candidates[best], {"chosen_by": "validation accuracy", "candidates_dev": dev}))
        if keep in scratch:
            chosen.append(("scratch", run(scratch[keep], None), {}))

    data, _ = load_dataset(train.dataset, data_dir)
    out = Path(out_dir)
    records = []
    for role, variant, selection in chosen:
        provenance = {
            "role": role,
            "seed": seed,
            "command": command,
            "project_version": __version__,
            "license": DATA_LICENSE,
            **({"note": note} if note else {}),
            **selection,
        }
        records.append(_write(variant, out, provenance, data, train))
    return records


def strategies_from_sweep(results_csv: str | os.PathLike, teacher: str = "offline-teacher") -> dict:
    """Depth -> (strategy with the best mean validation accuracy, all candidates' means) from a sweep's results.

    Lets ``build_bundle`` reuse a multi-seed sweep's choice instead of re-running every strategy.
    """
    import pandas as pd

    results = pd.read_csv(results_csv)
    pruned = results[(results.role == "pruned") & (results.model == teacher)]
    if pruned.empty:
        raise ValueError(f"{results_csv} has no pruned rows of {teacher!r}")
    chosen = {}
    for keep, part in pruned.groupby("layers"):
        dev = part.groupby("strategy").dev_accuracy.mean().round(4).to_dict()
        chosen[int(keep)] = (max(dev, key=lambda s: (dev[s], -PRUNE_STRATEGIES.index(s))), dev)
    return chosen


def _write(variant: Variant, out: Path, provenance: dict, data, train: FinetuneConfig) -> dict:
    """Store one variant fp16 under ``out`` and re-measure it as stored."""
    source = Path(variant.record["path"])
    model = variant.model.half()
    with atomic_dir(out / source.name) as tmp:
        model.save_pretrained(tmp)
        for file in source.iterdir():
            if file.name.startswith("tokenizer") or file.name in ("special_tokens_map.json", "vocab.txt"):
                shutil.copy2(file, tmp / file.name)
        record = {k: v for k, v in variant.record.items() if k not in ("path", "bundled", "history", "files")}
        record["bundle"] = provenance
        record["weights_dtype"] = "float16"
        atomic_write_json(tmp / RECORD_FILE, record)
        # Measure what ships: the fp16 weights loaded back as fp32, as the app will use them.
        with MODEL_INIT_LOCK:
            reloaded = AutoModelForSequenceClassification.from_pretrained(tmp, dtype=torch.float32).eval()
            tokenizer = AutoTokenizer.from_pretrained(tmp)
        max_length = train.max_length_for(reloaded)
        for split, field in (("validation", "dev_metrics"), ("test", "test_metrics")):
            record[field] = evaluate_model(reloaded, tokenizer, data[split], max_length=max_length)
        record["files"] = file_manifest(tmp)
        atomic_write_json(tmp / RECORD_FILE, record)
    variant.model.float()
    logger.info(
        "bundled %s (%s): test accuracy %.3f", source.name, provenance["role"], record["test_metrics"]["accuracy"]
    )
    return record
