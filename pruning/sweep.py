"""`python -m pruning sweep`: base models x strategies x layers kept x datasets x seeds.

Every cell goes through ``build_variant``, so finished variants come from the cache and an
interrupted sweep resumes where it stopped. The results are one CSV row per run, a summary with
mean and spread over seeds (CSV and Markdown), and the figure the app's compare view shows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from .cache import VariantCache
from .config import DATASETS, FinetuneConfig, PruneConfig, _Config
from .pipeline import build_variant
from .strategies import STRATEGIES, parse_int_list

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "assets" / "sweep"
PRUNE_STRATEGIES = [s for s in STRATEGIES if s != "custom"]

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
        "finetune": {"epochs": 4, "learning_rate": 3e-4, "batch_size": 32},
    },
}


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
    from .speed import benchmark_torch

    row = benchmark_torch(model, weights="fine-tuned", batch_sizes=[1], seq_lengths=[64], warmup=3, repeats=repeats)[0]
    return round(row["p50_ms"], 2), row["device_name"]


def run_sweep(config: SweepConfig, cache: VariantCache | None = None, data_dir: str | None = None) -> pd.DataFrame:
    """Run (or resume) every cell of the grid; returns one row per fine-tuned variant."""
    from models import get_spec

    cache = cache or VariantCache()
    train_defaults = dict(config.finetune)
    rows = []
    cells = config.cells()
    for model_name, prune, dataset, seed in tqdm(cells, desc="sweep", unit="variant"):
        spec = get_spec(model_name)
        train = FinetuneConfig(**{**train_defaults, "dataset": dataset, "seed": seed})
        variant = build_variant(model_name, prune, train, cache=cache, data_dir=data_dir, show_progress=False)
        role = spec.role if spec and spec.role in ("scratch", "control") else "base"
        role = "scratch" if role == "base" and model_name in config.scratch else role
        row = _row(variant, model_name, role, prune)
        if config.latency:
            row["latency_ms"], row["latency_device"] = _latency_ms(variant.model, variant.tokenizer)
        rows.append(row)
        logger.info("%s: test accuracy %.3f%s", row["variant"], row["test_accuracy"], " (cached)" * row["from_cache"])
    return pd.DataFrame(rows)


def ci95(values) -> float:
    """Half-width of the 95% t-interval of the mean over seeds (0 for a single value).

    With 3 seeds the t factor is 4.30: the interval is wide, which is the honest answer to "how sure".
    It measures fine-tuning variation on one fixed test split, not test-set sampling.
    """
    from scipy import stats

    values = pd.Series(values, dtype=float).dropna()
    if len(values) < 2:
        return 0.0
    return float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / len(values) ** 0.5)


def welch_ci95(a, b) -> tuple[float, float]:
    """Difference of means ``mean(a) - mean(b)`` and its 95% Welch interval half-width."""
    from scipy import stats

    a, b = pd.Series(a, dtype=float).dropna(), pd.Series(b, dtype=float).dropna()
    diff = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return diff, 0.0
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return diff, 0.0
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return diff, float(stats.t.ppf(0.975, dof) * (va + vb) ** 0.5)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and 95% interval over seeds per (model, strategy, layers, dataset)."""
    keys = ["dataset", "model", "role", "strategy", "layers"]
    grouped = results.groupby(keys, sort=False)
    summary = grouped.agg(
        seeds=("seed", "count"),
        test_accuracy_mean=("test_accuracy", "mean"),
        test_accuracy_std=("test_accuracy", "std"),
        test_accuracy_ci95=("test_accuracy", ci95),
        dev_accuracy_mean=("dev_accuracy", "mean"),
        test_macro_f1_mean=("test_macro_f1", "mean"),
        params=("params", "first"),
        **({"latency_ms": ("latency_ms", "median")} if "latency_ms" in results else {}),
    ).reset_index()
    return summary.fillna({"test_accuracy_std": 0.0})


def to_markdown(summary: pd.DataFrame) -> str:
    lines = [
        "| dataset | model | role | strategy | layers | seeds | test accuracy (mean ± 95% CI) | macro-F1 | params (M) |"
        + (" latency ms |" if "latency_ms" in summary else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if "latency_ms" in summary else ""),
    ]
    for r in summary.itertuples():
        line = (
            f"| {r.dataset} | {r.model} | {r.role} | {r.strategy} | {r.layers} | {r.seeds} | "
            f"{100 * r.test_accuracy_mean:.1f} ± {100 * r.test_accuracy_ci95:.1f} | "
            f"{100 * r.test_macro_f1_mean:.1f} | {r.params / 1e6:.1f} |"
        )
        if "latency_ms" in summary:
            line += f" {r.latency_ms:.1f} |"
        lines.append(line)
    return "\n".join(lines)


def accuracy_figure(summary: pd.DataFrame):
    """Accuracy vs layers kept, a line per strategy, scratch models as separate markers (95% intervals)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    pruned = summary[summary.role.isin(["pruned", "full"])]
    full = summary[summary.role == "full"]
    for strategy in [s for s in pruned.strategy.unique() if s != "full"]:
        part = pd.concat([full, pruned[pruned.strategy == strategy]]).sort_values("layers")
        fig.add_trace(
            go.Scatter(
                x=part.layers,
                y=100 * part.test_accuracy_mean,
                mode="lines+markers",
                name=f"pruned: {strategy}",
                error_y={"type": "data", "array": 100 * part.test_accuracy_ci95},
            )
        )
    scratch = summary[summary.role == "scratch"]
    fig.add_trace(
        go.Scatter(
            x=scratch.layers,
            y=100 * scratch.test_accuracy_mean,
            mode="markers+text",
            name="scratch",
            text=scratch.model,
            textposition="bottom center",
            marker={"size": 12, "symbol": "diamond"},
            error_y={"type": "data", "array": 100 * scratch.test_accuracy_ci95},
        )
    )
    fig.update_layout(
        xaxis_title="encoder layers kept",
        yaxis_title="test accuracy (%)",
        legend_title="source: sweep",
        template="plotly_white",
    )
    return fig


def write_outputs(results: pd.DataFrame, output: Path, command: str) -> dict[str, Path]:
    """results.csv, summary.csv, summary.md (with command and machine) and accuracy.html/json."""
    output.mkdir(parents=True, exist_ok=True)
    summary = summarise(results)
    paths = {
        name: output / name for name in ("results.csv", "summary.csv", "summary.md", "accuracy.json", "accuracy.html")
    }
    results.to_csv(paths["results.csv"], index=False)
    summary.to_csv(paths["summary.csv"], index=False)
    import torch

    from .speed import device_name

    header = [
        f"Command: `{command}`",
        f"Machine: {device_name('cpu')}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, trained on {', '.join(sorted(set(results.train_device)))}",
        f"Date: {time.strftime('%Y-%m-%d')}",
        "",
    ]
    paths["summary.md"].write_text("\n".join(header) + to_markdown(summary) + "\n", encoding="utf-8")
    figure = accuracy_figure(summary)
    paths["accuracy.json"].write_text(figure.to_json(), encoding="utf-8")
    figure.write_html(paths["accuracy.html"], include_plotlyjs="cdn")
    return paths


def add_sweep_parser(sub) -> None:
    p = sub.add_parser("sweep", help="grid of base x strategy x layers x dataset x seed; resumable")
    p.add_argument("--preset", choices=list(PRESETS), help="a named grid (flags below override it)")
    p.add_argument("--config", help="JSON file with SweepConfig fields")
    p.add_argument("--bases", help="comma-separated base models")
    p.add_argument("--strategies", help="comma-separated strategies")
    p.add_argument("--keeps", help="comma-separated layer counts")
    p.add_argument("--scratch", help="comma-separated scratch models")
    p.add_argument("--datasets", help="comma-separated datasets")
    p.add_argument("--seeds", help="comma-separated seeds")
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--no-latency", action="store_true")
    p.add_argument("--data-dir")
    p.add_argument("--cache-dir")
    p.add_argument("--output", default=str(DEFAULT_OUTPUT), help="folder for results.csv, summary.md, figures")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    values: dict = dict(PRESETS[args.preset]) if args.preset else {}
    if args.config:
        values.update(json.loads(Path(args.config).read_text(encoding="utf-8")))
    for name in ("bases", "strategies", "scratch", "datasets"):
        if getattr(args, name):
            values[name] = [x.strip() for x in getattr(args, name).split(",") if x.strip()]
    for name in ("keeps", "seeds"):
        if getattr(args, name):
            values[name] = parse_int_list(getattr(args, name), f"--{name}")
    values["finetune"] = {
        **values.get("finetune", {}),
        **{k: v for k, v in (("epochs", args.epochs), ("learning_rate", args.lr)) if v is not None},
    }
    if args.no_latency:
        values["latency"] = False
    config = SweepConfig.from_dict(values)
    results = run_sweep(config, VariantCache(args.cache_dir), data_dir=args.data_dir)
    command = "python -m pruning " + " ".join(shlex.quote(a) for a in args.argv)
    paths = write_outputs(results, Path(args.output), command)
    print(
        json.dumps(
            {
                "runs": len(results),
                "cached": int(results.from_cache.sum()),
                "outputs": {k: str(v) for k, v in paths.items()},
            },
            indent=1,
        )
    )
    return 0
