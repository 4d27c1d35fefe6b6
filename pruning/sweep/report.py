"""What a sweep's rows say: mean and 95% interval over seeds, the Markdown table, the figure, the files.

Shared by both engines and by the ladder, so a grid's summary reads the same wherever it was run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd


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

    from ..speed import device_name

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
