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


def _teacher_grid(**overrides) -> dict:
    """The offline teacher full and pruned to 6 and 2 layers with every strategy, 3 seeds, SHC, the offline recipe.

    One definition for the offline presets: their common cells then have the same cache keys, so a variant
    one preset built is a cache hit in the other (offline-distil's plain cells are offline-shc's).
    """
    return {
        "bases": ["offline-teacher"],
        "strategies": list(PRUNE_STRATEGIES),
        "keeps": [6, 2],
        "datasets": ["SHC"],
        "seeds": [0, 1, 2],
        "finetune": dict(OFFLINE_RECIPE),
        **overrides,
    }


PRESETS: dict[str, dict] = {
    # The paper's finding at mini scale: the offline teacher full and pruned to 6 and 2 layers with
    # every strategy, against the 6- and 2-layer models pretrained from scratch on the same budget.
    # offline-teacher-random: the teacher's shape untrained, fine-tuned the same way (what pretraining buys)
    "offline-shc": _teacher_grid(scratch=["offline-small", "offline-smaller", "offline-teacher-random"]),
    # Does distillation win back what pruning loses? The best cut per depth (those of the bundled variants,
    # chosen on validation by `make variants`: middle at 6 layers, top at 2), 3 seeds, plain and taught by the
    # full teacher of seed 0 (the bundled one): 13 fine-tunes, ~1 h on 2 CPU cores.
    "offline-distil": _teacher_grid(distil=True, cuts=[[6, "middle"], [2, "top"]], teacher_seed=0),
    # The same for every strategy, each cut taught by the full teacher of its own seed (75 fine-tunes: hours on
    # 2 CPU cores, minutes on a GPU).
    "offline-distil-grid": _teacher_grid(distil=True),
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
# Reference presets with a results folder of their own in assets/ (the others write to DEFAULT_OUTPUT).
PRESET_ASSETS = {
    "offline-distil": DEFAULT_OUTPUT.parent / "distil",
    "offline-distil-grid": DEFAULT_OUTPUT.parent / "distil-grid",
}


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
        finetune (dict, defaults to {}): FinetuneConfig fields shared by every run (``distil_alpha`` and
            ``distil_temperature`` apply to the distilled twins only).
        latency (bool, defaults to True): time each variant at batch 1 / sequence 64 on this machine.
        distil (bool, defaults to False): also fine-tune a distilled twin of every pruned cell, taught by the full
            variant of the same base, dataset and seed, which the sweep builds first (``distilled_cells``).
        cuts (list[[int, str]], optional): the pruned cells as (layers kept, strategy) pairs, e.g. the best cut
            per depth chosen on validation elsewhere, instead of every ``keeps`` x ``strategies`` pair.
        teacher_seed (int, optional): with ``distil``, every twin is taught by the full variant of this seed, and
            only that full variant is fine-tuned: one teacher for all student seeds is a fair test of
            distillation and costs one 12-layer fine-tune instead of one per seed (a CPU-bound budget).
    """

    bases: list[str] = field(default_factory=list)
    strategies: list[str] = field(default_factory=lambda: list(PRUNE_STRATEGIES))
    keeps: list[int] = field(default_factory=lambda: [6, 2])
    scratch: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=lambda: ["SHC"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    finetune: dict = field(default_factory=dict)
    latency: bool = True
    distil: bool = False
    cuts: list[list] | None = None
    teacher_seed: int | None = None

    def __post_init__(self) -> None:
        if not self.bases and not self.scratch:
            raise ValueError("a sweep needs at least one base or scratch model")
        bad = [s for s in self.strategies if s not in PRUNE_STRATEGIES]
        if bad:
            raise ValueError(f"unknown sweep strategies {bad}; valid: {', '.join(PRUNE_STRATEGIES)}")
        if any(k < 1 for k in self.keeps):
            raise ValueError(f"layers kept must be >= 1, got {self.keeps}")
        if self.cuts is not None:
            self.cuts = [[int(k), str(s)] for k, s in self.cuts]
            bad_cuts = [c for c in self.cuts if c[0] < 1 or c[1] not in PRUNE_STRATEGIES]
            if bad_cuts or not self.cuts:
                raise ValueError(f"cuts must be [layers kept >= 1, strategy] pairs, got {bad_cuts or self.cuts}")
        if self.teacher_seed is not None and (not self.distil or self.teacher_seed not in self.seeds):
            raise ValueError(f"teacher_seed {self.teacher_seed} needs distil and must be one of the seeds {self.seeds}")
        self.datasets = [d.upper() for d in self.datasets]
        if any(d not in DATASETS for d in self.datasets):
            raise ValueError(f"datasets must be among {DATASETS}, got {self.datasets}")
        FinetuneConfig(**self.finetune)  # validates the shared fields early
        if self.finetune.get("distil_from"):
            raise ValueError(
                "a sweep picks each distilled cell's teacher itself (the full model of its base, dataset and "
                "seed): drop distil_from from finetune and set distil (--distil)"
            )

    def cells(self) -> list[tuple[str, PruneConfig | None, str, int]]:
        """(model, prune config or None for unpruned, dataset, seed) for every run trained on labels, in order.

        The distilled twins (``distil``) are listed by ``distilled_cells``: they run after these, because their
        teachers are among these.
        """
        runs = []
        for dataset in self.datasets:
            for seed in self.seeds:
                for base in self.bases:
                    if self.teacher_seed is None or seed == self.teacher_seed:
                        runs.append((base, None, dataset, seed))
                    runs += [(base, PruneConfig(s, keep=k), dataset, seed) for k, s in self.pruned_cuts()]
                runs += [(model, None, dataset, seed) for model in self.scratch]
        return runs

    def pruned_cuts(self) -> list[tuple[int, str]]:
        """(layers kept, strategy) of every pruned cell: ``cuts`` if given, else ``keeps`` x ``strategies``."""
        if self.cuts is not None:
            return [(k, s) for k, s in self.cuts]
        return [(k, s) for k in self.keeps for s in self.strategies]

    def teacher_of(self, seed: int) -> int:
        """The seed of the full variant that teaches a distilled twin of ``seed``."""
        return seed if self.teacher_seed is None else self.teacher_seed

    def distilled_cells(self) -> list[tuple[str, PruneConfig, str, int]]:
        """With ``distil``: (base, prune config, dataset, seed) of every pruned cell, to be distilled; else []."""
        return [cell for cell in self.cells() if cell[1] is not None] if self.distil else []


def describe_cells(config: SweepConfig) -> list[dict]:
    """What ``run_sweep`` would build, in its order, without building anything (``sweep --dry-run``)."""
    described = []
    for distilled, cells in ((False, config.cells()), (True, config.distilled_cells())):
        for model, prune, dataset, seed in cells:
            described.append(
                {
                    "model": model,
                    "strategy": "full" if prune is None else prune.strategy,
                    "layers": None if prune is None else prune.keep,
                    "dataset": dataset,
                    "seed": seed,
                    "teacher": f"{model} full, {dataset}, seed {config.teacher_of(seed)}" if distilled else None,
                }
            )
    return described


def _row(variant, model_name: str, role: str, prune: PruneConfig | None) -> dict:
    record = variant.record
    plan = record["plan"]
    taught = record.get("distillation") or {}
    return {
        "model": model_name,
        "role": role if role in ("scratch", "control") else _trained_role(prune, taught),
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
        "teacher": taught.get("teacher", ""),
        "from_cache": variant.from_cache,
    }


def _trained_role(prune: PruneConfig | None, taught: dict) -> str:
    if prune is None:
        return "full"
    return "distilled" if taught else "pruned"


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

    With ``config.distil`` the cells run in two batches, on either engine: first every cell trained on labels,
    then the distilled twins, each taught by the full variant the first batch built (or found) for its base,
    dataset and seed. Rows come in that order too.

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
    cells, twins = config.cells(), config.distilled_cells()
    total = len(cells) + len(twins)

    def run(batch: list, jobs: list, done: int) -> list[dict]:
        return _run_cells(config, batch, jobs, cache, data_dir, engine, ray_config, should_stop, (done, total))

    rows = run(cells, [(m, p, _train_config(config, d, s)) for m, p, d, s in cells], 0)
    if twins:  # second batch: every teacher (the full variant of a twin's base, dataset and seed) now exists
        teachers = {(m, d, s): row["variant"] for (m, p, d, s), row in zip(cells, rows, strict=True) if p is None}
        jobs = [(m, p, _train_config(config, d, s, teachers[(m, d, config.teacher_of(s))])) for m, p, d, s in twins]
        rows += run(twins, jobs, len(cells))
    return pd.DataFrame(rows)


def _run_cells(
    config: SweepConfig,
    cells: list,
    jobs: list,
    cache: VariantCache,
    data_dir: str | None,
    engine: str,
    ray_config: RayConfig | None,
    should_stop: Callable[[], bool] | None,
    progress: tuple[int, int],
) -> list[dict]:
    """Build (or fetch) one batch of cells on ``engine``; their rows, in order.

    ``progress`` is (cells of the sweep that ran before this batch, cells in the whole sweep), for the message
    of an interrupted sweep.
    """
    done, total = progress
    if engine == "ray":
        from .ray_engine import run_on_ray

        outcomes = run_on_ray(jobs, cache, data_dir, ray_config, should_stop=should_stop)
        finished = sum(o is not None for o in outcomes)
        if finished < len(jobs):
            raise _interrupted(done + finished, total)
        variants = _from_cache(cache, outcomes)
    else:
        variants = _build_locally(jobs, cache, data_dir, should_stop, done, total)
    return [
        _cell_row(config, model, prune, variant) for (model, prune, _, _), variant in zip(cells, variants, strict=True)
    ]


def _train_config(config: SweepConfig, dataset: str, seed: int, teacher: str | None = None) -> FinetuneConfig:
    return FinetuneConfig(**{**config.finetune, "dataset": dataset, "seed": seed, "distil_from": teacher})


def _interrupted(finished: int, total: int) -> SweepInterrupted:
    return SweepInterrupted(
        f"sweep stopped with {finished} of {total} variants finished; they are cached, so running the same "
        "command again (with either engine) resumes it"
    )


def _build_locally(
    jobs: list, cache: VariantCache, data_dir: str | None, should_stop, done: int, total: int
) -> Iterator[Variant]:
    for i, (model, prune, train) in enumerate(tqdm(jobs, desc="sweep", unit="variant")):
        if should_stop and should_stop():
            raise _interrupted(done + i, total)
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
