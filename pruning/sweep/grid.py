"""The grid (``SweepConfig``, ``PRESETS``) and ``run_sweep``, which runs it on either engine.

Every cell goes through ``build_variant``, so finished variants come from the cache and an interrupted
sweep resumes where it stopped. ``local`` builds the cells one after another in this process; ``ray``
hands them to ``ray_engine`` and gets back the names of the variants it cached. Rows are made here for
both, from the variant and its record, and timed on this machine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from tqdm.auto import tqdm

from ..cache import VariantCache
from ..config import DATASETS, FinetuneConfig, PruneConfig, _Config
from ..pipeline import Variant, build_variant
from ..strategies import STRATEGIES

if TYPE_CHECKING:
    from .ray_engine import RayConfig

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "assets" / "sweep"
PRUNE_STRATEGIES = [s for s in STRATEGIES if s != "custom"]
ENGINES = ("local", "ray")
# The offline family's fine-tuning recipe (chosen on validation in session 1): the offline-shc sweep, the
# pretraining ladder and the bundled variants all use it, so their numbers describe the same runs.
OFFLINE_RECIPE: dict = {"epochs": 4, "learning_rate": 3e-4, "batch_size": 32}

PRESETS: dict[str, dict] = {
    # The paper's finding at mini scale: the offline teacher full and pruned to 6 and 2 layers with
    # every strategy, against the 6- and 2-layer models pretrained from scratch on the same budget.
    "offline-shc": {
        "bases": ["offline-teacher"],
        "strategies": PRUNE_STRATEGIES,
        "keeps": [6, 2],
        # offline-teacher-random: the teacher's shape untrained, fine-tuned the same way (what pretraining buys)
        "scratch": ["offline-small", "offline-smaller", "offline-teacher-random"],
        "datasets": ["SHC"],
        "seeds": [0, 1, 2],
        "finetune": dict(OFFLINE_RECIPE),
    },
    # A few minutes on 2 CPU cores, to check an engine or a cluster end to end: the teacher full and cut to
    # 6 layers two ways, and the 6-layer scratch model, on 512 SHC headlines, one seed (4 fine-tunes).
    "smoke": {
        "bases": ["offline-teacher"],
        "strategies": ["top", "middle"],
        "keeps": [6],
        "scratch": ["offline-small"],
        "datasets": ["SHC"],
        "seeds": [0],
        "finetune": {
            "epochs": 2,
            "learning_rate": 3e-4,
            "batch_size": 32,
            "max_train_samples": 512,
            "max_eval_samples": 256,
        },
    },
}
# Presets whose results are not the project's reference numbers write under the cache root, not assets/.
PRESET_OUTPUT = {"smoke": "sweeps/smoke"}


class SweepInterrupted(KeyboardInterrupt):
    """The sweep stopped before every cell finished. Finished variants are cached: a rerun resumes."""


@dataclass
class SweepConfig(_Config):
    """The grid.

    Args:
        bases (list[str]): pretrained models to prune (catalog names, hub ids or folders).
        strategies (list[str], defaults to all but custom): pruning strategies.
        keeps (list[int], defaults to [6, 2]): layer counts to keep; each base also runs unpruned.
        scratch (list[str], defaults to []): models fine-tuned at their own depth, for comparison: small
            models pretrained from scratch, and random-init controls.
        datasets (list[str], defaults to ["SHC"]): MahaNews datasets.
        seeds (list[int], defaults to [0, 1, 2]): fine-tuning seeds; results report mean and spread.
        finetune (dict, defaults to {}): FinetuneConfig fields shared by every run.
        latency (bool, defaults to True): time each variant at batch 1 / sequence 64 on this machine.
    """

    bases: list[str] = field(default_factory=list)
    strategies: list[str] = field(default_factory=lambda: list(PRUNE_STRATEGIES))
    keeps: list[int] = field(default_factory=lambda: [6, 2])
    scratch: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=lambda: ["SHC"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    finetune: dict = field(default_factory=dict)
    latency: bool = True

    def __post_init__(self) -> None:
        if not self.bases and not self.scratch:
            raise ValueError("a sweep needs at least one base or scratch model")
        bad = [s for s in self.strategies if s not in PRUNE_STRATEGIES]
        if bad:
            raise ValueError(f"unknown sweep strategies {bad}; valid: {', '.join(PRUNE_STRATEGIES)}")
        if any(k < 1 for k in self.keeps):
            raise ValueError(f"layers kept must be >= 1, got {self.keeps}")
        self.datasets = [d.upper() for d in self.datasets]
        if any(d not in DATASETS for d in self.datasets):
            raise ValueError(f"datasets must be among {DATASETS}, got {self.datasets}")
        FinetuneConfig(**self.finetune)  # validates the shared fields early

    def cells(self) -> list[tuple[str, PruneConfig | None, str, int]]:
        """(model, prune config or None for unpruned, dataset, seed) for every run, in order."""
        runs = []
        for dataset in self.datasets:
            for seed in self.seeds:
                for base in self.bases:
                    runs.append((base, None, dataset, seed))
                    runs += [(base, PruneConfig(s, keep=k), dataset, seed) for k in self.keeps for s in self.strategies]
                runs += [(model, None, dataset, seed) for model in self.scratch]
        return runs


def _row(variant, model_name: str, role: str, prune: PruneConfig | None) -> dict:
    record = variant.record
    plan = record["plan"]
    return {
        "model": model_name,
        "role": role if role in ("scratch", "control") else ("full" if prune is None else "pruned"),
        "strategy": "full" if prune is None else prune.strategy,
        "layers": plan["keep"],
        "kept_layers": " ".join(map(str, plan["kept"])),
        "dataset": record["finetune_config"]["dataset"],
        "seed": record["finetune_config"]["seed"],
        "test_accuracy": record["test_metrics"]["accuracy"],
        "test_macro_f1": record["test_metrics"]["macro_f1"],
        "dev_accuracy": record["dev_metrics"]["accuracy"],
        "majority_baseline": record["majority_baseline_test"],
        "params": record["num_parameters"],
        "train_seconds": record["train_seconds"],
        "train_device": record["device"],
        "variant": record["name"],
        "from_cache": variant.from_cache,
    }


def _latency_ms(model, tokenizer, repeats: int = 20) -> tuple[float, str]:
    """Median single-request latency (batch 1, sequence 64) and the device it was timed on."""
    from ..speed import benchmark_torch

    row = benchmark_torch(model, weights="fine-tuned", batch_sizes=[1], seq_lengths=[64], warmup=3, repeats=repeats)[0]
    return round(row["p50_ms"], 2), row["device_name"]


def run_sweep(
    config: SweepConfig,
    cache: VariantCache | None = None,
    data_dir: str | None = None,
    *,
    engine: str = "local",
    ray_config: RayConfig | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> pd.DataFrame:
    """Run (or resume) every cell of the grid; returns one row per fine-tuned variant.

    Args:
        config: the grid.
        cache: the variant cache both engines read first and write to.
        data_dir: MahaNews folder (else $MAHANEWS_DIR, download, sibling shared/).
        engine: "local" (cells one after another in this process) or "ray" (a Ray Tune trial per cell).
        ray_config: where and with what resources Ray trials run (engine "ray" only).
        should_stop: polled between cells (local) or by the Ray driver; True stops the sweep.

    Raises:
        SweepInterrupted: ``should_stop`` (or Ctrl+C under Ray) stopped it; finished variants are cached.
        ValueError: unknown engine, or a bad cell (unknown model, missing data, ...).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown sweep engine {engine!r}; valid engines: {', '.join(ENGINES)}")
    if ray_config is not None and engine != "ray":
        raise ValueError("ray_config is only used by engine 'ray'; pass engine='ray' or drop ray_config")
    cache = cache or VariantCache()
    cells = config.cells()
    jobs = [(model, prune, _train_config(config, dataset, seed)) for model, prune, dataset, seed in cells]
    if engine == "ray":
        from .ray_engine import run_on_ray

        outcomes = run_on_ray(jobs, cache, data_dir, ray_config, should_stop=should_stop)
        finished = sum(o is not None for o in outcomes)
        if finished < len(jobs):
            raise _interrupted(finished, len(jobs))
        variants = _from_cache(cache, outcomes)
    else:
        variants = _build_locally(jobs, cache, data_dir, should_stop)
    rows = [
        _cell_row(config, model, prune, variant) for (model, prune, _, _), variant in zip(cells, variants, strict=True)
    ]
    return pd.DataFrame(rows)


def _train_config(config: SweepConfig, dataset: str, seed: int) -> FinetuneConfig:
    return FinetuneConfig(**{**config.finetune, "dataset": dataset, "seed": seed})


def _interrupted(finished: int, total: int) -> SweepInterrupted:
    return SweepInterrupted(
        f"sweep stopped with {finished} of {total} variants finished; they are cached, so running the same "
        "command again (with either engine) resumes it"
    )


def _build_locally(jobs: list, cache: VariantCache, data_dir: str | None, should_stop) -> Iterator[Variant]:
    for i, (model, prune, train) in enumerate(tqdm(jobs, desc="sweep", unit="variant")):
        if should_stop and should_stop():
            raise _interrupted(i, len(jobs))
        yield build_variant(model, prune, train, cache=cache, data_dir=data_dir, show_progress=False)


def _from_cache(cache: VariantCache, outcomes: list[dict]) -> Iterator[Variant]:
    """The variants Ray trials built or found, loaded on the driver (rows and latency are made here)."""
    for outcome in tqdm(outcomes, desc="collect", unit="variant"):
        model, tokenizer, record = cache.load(outcome["variant"])
        yield Variant(model, tokenizer, record, from_cache=outcome["from_cache"])


def _cell_row(config: SweepConfig, model_name: str, prune: PruneConfig | None, variant: Variant) -> dict:
    """One results row, whichever engine built the variant: the same columns, timed on this machine."""
    from models import get_spec

    spec = get_spec(model_name)
    role = spec.role if spec and spec.role in ("scratch", "control") else "base"
    role = "scratch" if role == "base" and model_name in config.scratch else role
    row = _row(variant, model_name, role, prune)
    if config.latency:
        row["latency_ms"], row["latency_device"] = _latency_ms(variant.model, variant.tokenizer)
    logger.info("%s: test accuracy %.3f%s", row["variant"], row["test_accuracy"], " (cached)" * row["from_cache"])
    return row
