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
    full = summary[summary.role == "full"]
    for role, line in (("pruned", None), ("distilled", {"dash": "dash"})):  # distilled twins: dashed
        rows = summary[summary.role == role]
        for strategy in rows.strategy.unique():
            part = pd.concat([full, rows[rows.strategy == strategy]]).sort_values("layers")
            fig.add_trace(
                go.Scatter(
                    x=part.layers,
                    y=100 * part.test_accuracy_mean,
                    mode="lines+markers",
                    name=f"{role}: {strategy}",
                    line=line,
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


def distil_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """Every pruned cell beside its distilled twin: mean test accuracy over seeds, and the gain distillation brings.

    The gain's interval is over per-seed differences (a paired t-interval): a twin shares its plain cell's
    seed, hence its head initialisation and batch order, so the pairs differ by the teacher alone. ``full``
    is the teachers' mean accuracy, the ceiling both aim at. Empty when the sweep distilled nothing.
    """
    if "role" not in results or not (results.role == "distilled").any():
        return pd.DataFrame()
    keys = ["dataset", "model", "strategy", "layers"]
    plain = results[results.role == "pruned"]
    rows = []
    for (dataset, model, strategy, layers), twins in results[results.role == "distilled"].groupby(keys, sort=False):
        same = plain[(plain.dataset == dataset) & (plain.model == model)]
        same = same[(same.strategy == strategy) & (same.layers == layers)]
        full = results[(results.role == "full") & (results.dataset == dataset) & (results.model == model)]
        pairs = twins.merge(same, on="seed", suffixes=("_distilled", "_plain"))
        gains = pairs.test_accuracy_distilled - pairs.test_accuracy_plain
        rows.append(
            {
                "dataset": dataset,
                "model": model,
                "strategy": strategy,
                "layers": layers,
                "seeds": len(pairs),
                "full_mean": full.test_accuracy.mean(),
                "plain_mean": same.test_accuracy.mean(),
                "plain_ci95": ci95(same.test_accuracy),
                "distilled_mean": twins.test_accuracy.mean(),
                "distilled_ci95": ci95(twins.test_accuracy),
                "gain_mean": gains.mean(),
                "gain_ci95": ci95(gains),
            }
        )
    return pd.DataFrame(rows)


def distil_markdown(table: pd.DataFrame) -> str:
    """The ``distil_comparison`` table in Markdown, in accuracy points (mean ± 95% CI)."""
    lines = [
        "| dataset | model | strategy | layers | seeds | full (teacher) | plain | distilled | gain (points) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.dataset} | {r.model} | {r.strategy} | {r.layers} | {r.seeds} | {100 * r.full_mean:.1f} | "
            f"{100 * r.plain_mean:.1f} ± {100 * r.plain_ci95:.1f} | "
            f"{100 * r.distilled_mean:.1f} ± {100 * r.distilled_ci95:.1f} | "
            f"{100 * r.gain_mean:+.1f} ± {100 * r.gain_ci95:.1f} |"
        )
    return "\n".join(lines)


def write_outputs(results: pd.DataFrame, output: Path, command: str) -> dict[str, Path]:
    """results.csv, summary.csv, summary.md (with command and machine) and accuracy.html/json.

    A sweep with distilled twins also writes distil.csv, and summary.md gets the plain-vs-distilled table.
    """
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
    markdown = "\n".join(header) + to_markdown(summary) + "\n"
    distil = distil_comparison(results)
    if not distil.empty:
        paths["distil.csv"] = output / "distil.csv"
        distil.to_csv(paths["distil.csv"], index=False)
        markdown += (
            "\n## Distilled vs plain fine-tuning of the pruned models\n\n"
            "Test accuracy (%), mean ± 95% CI over seeds; the gain's interval is over per-seed differences.\n\n"
            + distil_markdown(distil)
            + "\n"
        )
    paths["summary.md"].write_text(markdown, encoding="utf-8")
    figure = accuracy_figure(summary)
    paths["accuracy.json"].write_text(figure.to_json(), encoding="utf-8")
    figure.write_html(paths["accuracy.html"], include_plotlyjs="cdn")
    return paths
