"""The plotly figures of the app: layer importance, the live training curve and the Compare tab's charts.

Every chart says what it shows in its title and hover text, and draws an explanatory empty figure
instead of failing when there is nothing to plot yet. Compare charts read the table built by
``compare`` and keep paper points visibly apart from local measurements.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from ..importance import LayerScores
from ..speed import latency_figure
from ..strategies import LayerPlan
from .wording import short_model_name

logger = logging.getLogger(__name__)

KEPT_FILL = "#1d4ed8"  # kept layers, in the stack picture and the importance bars
PAPER_COLOUR = "#f59e0b"


def empty_figure(title: str, message: str, height: int = 320) -> go.Figure:
    """A blank figure with `message` in the middle, for when there is nothing to plot yet."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 13})
    fig.update_layout(
        title=title,
        height=height,
        xaxis={"visible": False},
        yaxis={"visible": False},
        margin={"l": 30, "r": 20, "t": 50, "b": 30},
    )
    return fig


def importance_figure(scores: LayerScores | None, plan: LayerPlan | None, note: str = "") -> go.Figure:
    """Horizontal bars, layer 1 at the bottom like the stack: 1 − cos(input, output) of [CLS] per layer.

    ``note`` says where the calibration text came from when it is not the dev split (offline: the demo
    headlines) and replaces the default "On N dev headlines." subtitle.
    """
    title = "Layer importance"
    if scores is None:
        return empty_figure(title, note or "Importance scores are not available for this model.")
    n = len(scores.cls)
    kept = set(plan.kept) if plan else set(range(n))
    fig = go.Figure()
    for state, colour, pattern in (("kept", KEPT_FILL, ""), ("dropped", "#9ca3af", "/")):
        idx = [i for i in range(n) if (i in kept) == (state == "kept")]
        if not idx:
            continue
        fig.add_bar(
            y=[f"Layer {i + 1}" for i in idx],
            x=[1 - scores.cls[i] for i in idx],
            orientation="h",
            name=state,
            marker={"color": colour, "pattern": {"shape": pattern}},
            customdata=[[scores.cls[i], scores.mean[i]] for i in idx],
            hovertemplate="%{y}: change %{x:.3f}<br>cos(in, out) [CLS] %{customdata[0]:.3f}, "
            "mean-pooled %{customdata[1]:.3f}<extra>" + state + "</extra>",
        )
    fig.update_layout(
        title={
            "text": f"{title}<br><sup>1 − cosine(layer input, output) of [CLS]; higher = changes more.<br>"
            + (note or f"On {scores.num_texts} dev headlines.")
            + "</sup>"
        },
        height=max(320, 28 * n + 120),
        barmode="overlay",
        margin={"l": 80, "r": 20, "t": 90, "b": 40},
        yaxis={"categoryorder": "array", "categoryarray": [f"Layer {i + 1}" for i in range(n)]},
        xaxis={"title": "change (1 − cos)"},
        legend={"orientation": "h", "y": -0.12},
    )
    return fig


def training_figure(events: Sequence[Mapping]) -> go.Figure:
    """Live curve: training loss per step (left axis) and dev accuracy per evaluation (right axis)."""
    steps = [e for e in events if e.get("kind") == "step"]
    evals = [e for e in events if e.get("kind") == "eval"]
    if not steps:
        return empty_figure("Training curve", "The curve appears when training starts.", height=300)
    fig = go.Figure()
    fig.add_scatter(x=[e["step"] for e in steps], y=[e["loss"] for e in steps], name="training loss", mode="lines")
    fig.add_scatter(
        x=[e["step"] for e in evals],
        y=[100 * e["dev_accuracy"] for e in evals],
        name="dev accuracy %",
        mode="lines+markers",
        yaxis="y2",
        marker={"symbol": "diamond", "size": 9},
    )
    total = steps[-1].get("total_steps") or steps[-1]["step"]
    fig.update_layout(
        title=f"Training curve (step {steps[-1]['step']} of {total})",
        height=300,
        xaxis={"title": "step", "range": [0, total]},
        yaxis={"title": "loss"},
        yaxis2={"title": "dev accuracy %", "overlaying": "y", "side": "right", "range": [0, 100]},
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 50, "r": 50, "t": 40, "b": 40},
    )
    return fig


def _hover(frame: pd.DataFrame) -> list[str]:
    return [
        f"{r['model']} · {r['role']} · {r['strategy'] or ''} {r['layers kept']}/{r['of layers']} layers<br>"
        f"accuracy {r['test accuracy %']}% · source: {r['source']}<br>latency timed on: {r['latency timed on']}"
        f"<br>trained on: {r['trained on']}<br>{r['variant'] or r['notes'] or ''}"
        + (f"<br>vocabulary cut: {r[VOCAB]} tokens" if r.get("_vocab") else "")
        for r in frame.to_dict("records")
    ]


_SYMBOLS = {"full": "square", "pruned": "circle", "scratch": "diamond", "control": "x"}
_ROLE_NAMES = {"control": "random init (control)"}
_LOCAL = ("this run", "cache", "sweep")
DISTILLED = "pruned + distilled"  # a distilled variant's role: a series of its own, never averaged with plain ones
VOCAB = "vocabulary (tokens)"  # compare.VOCAB_COLUMN: set for vocabulary-pruned variants
VOCAB_CUT = " · vocabulary cut"


def _symbol(role: str) -> str | None:
    """The marker of a role; "pruned + distilled" is drawn as pruned, its name and line tell it apart."""
    return _SYMBOLS.get(role.split(" + ")[0])


def _with_vocab(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with a "_vocab" flag (vocabulary pruned), so those variants form series of their own."""
    cells = frame[VOCAB] if VOCAB in frame else pd.Series(None, index=frame.index, dtype=object)
    return frame.assign(_vocab=cells.notna() & (cells.astype(str) != ""))


def _with_training(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with 'training texts' filled ('all' where unknown), so full- and reduced-data runs group apart."""
    texts = frame["training texts"] if "training texts" in frame else pd.Series("all", index=frame.index)
    return frame.assign(**{"training texts": texts.fillna("all").replace("", "all").astype(str)})


def _data_suffix(texts: str) -> str:
    """'' for full-data results; ' · 64 training texts' for a reduced-data series."""
    return "" if texts == "all" else f" · {texts} training texts"


def accuracy_layers_figure(frame: pd.DataFrame, dataset: str) -> go.Figure:
    """Test accuracy vs layers kept: one line per (model, strategy), scratch models and paper points apart."""
    title = f"{dataset}: test accuracy vs encoder layers kept"
    local = frame[frame["source"].isin(_LOCAL) & frame["test accuracy %"].notna()]
    paper = frame[(frame["source"] == "paper") & frame["test accuracy %"].notna()]
    if local.empty and paper.empty:
        return empty_figure(title, "No results for this dataset yet: fine-tune a variant or run the sweep.")
    fig = go.Figure()
    local = _with_vocab(_with_training(local))
    pruned = local[local["role"].isin(["pruned", DISTILLED])]
    keys = ["model", "strategy", "role", "training texts", "_vocab"]
    for (model, strategy, role, texts, vocab), group in pruned.groupby(keys):
        # a plain line ends at its full model (every layer kept); a distilled one has no full point of its own
        same = (local["model"] == model) & (local["training texts"] == texts) & (local["_vocab"] == vocab)
        full = local[same & (local["role"] == "full")] if role == "pruned" else local.iloc[:0]
        g = pd.concat([group, full]).groupby("layers kept")["test accuracy %"].mean().reset_index()
        taught = " · pruned + distilled" if role == DISTILLED else ""
        name = f"{model} · {strategy}{taught}{VOCAB_CUT if vocab else ''}{_data_suffix(texts)}"
        fig.add_scatter(
            x=g["layers kept"],
            y=g["test accuracy %"],
            mode="lines+markers",
            name=name,
            line={"dash": "dot" if texts != "all" else "dash" if taught else "solid"},
            marker={"symbol": "diamond-wide" if taught else "circle"},
            hovertext=[
                f"{name} · {k} layers: mean {a:.1f}% over seeds/sources"
                for k, a in zip(g["layers kept"], g["test accuracy %"], strict=True)
            ],
            hoverinfo="text",
        )
    for (role, texts, vocab), part in local.groupby(["role", "training texts", "_vocab"]):
        if role in ("full", "scratch", "control"):
            fig.add_scatter(
                x=part["layers kept"],
                y=part["test accuracy %"],
                mode="markers",
                name=f"{_ROLE_NAMES.get(role, role)} (local){VOCAB_CUT if vocab else ''}{_data_suffix(texts)}",
                marker={"symbol": _SYMBOLS[role], "size": 11, "line": {"width": 1, "color": "#111"}},
                hovertext=_hover(part),
                hoverinfo="text",
            )
    if not paper.empty:
        fig.add_scatter(
            x=paper["layers kept"],
            y=paper["test accuracy %"],
            mode="markers+text",
            name="paper",
            text=[f"{m} (paper)" for m in paper["model"]],
            textposition="bottom left",
            marker={"symbol": "star", "size": 16, "color": PAPER_COLOUR, "line": {"width": 1, "color": "#111"}},
            hovertext=[
                f"{m}: {a}% — {n}"
                for m, a, n in zip(paper["model"], paper["test accuracy %"], paper["notes"], strict=True)
            ],
            hoverinfo="text",
        )
    fig.update_layout(
        title=title,
        xaxis={"title": "encoder layers kept", "dtick": 1},
        yaxis={"title": "test accuracy %"},
        height=420,
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 50, "b": 40},
    )
    return fig


def pareto_indices(latency: Sequence[float], accuracy: Sequence[float]) -> list[int]:
    """Indices of points no other point beats on both (lower latency, higher accuracy), fastest first."""
    order = sorted(range(len(latency)), key=lambda i: (latency[i], -accuracy[i]))
    front, best = [], -math.inf
    for i in order:
        if accuracy[i] > best:
            front.append(i)
            best = accuracy[i]
    return front


def pareto_figure(frame: pd.DataFrame, dataset: str) -> go.Figure:
    """Accuracy vs per-request latency for fine-tuned variants (pruned, full, scratch) with the Pareto front."""
    title = f"{dataset}: accuracy vs latency (batch 1)"
    local = frame[frame["source"].isin(_LOCAL) & frame["test accuracy %"].notna() & frame["latency ms"].notna()]
    local = local[local["latency ms"].astype(str) != ""]
    if local.empty:
        return empty_figure(
            title, "No timed variants yet: open this tab after a fine-tune (variants are timed here), or run the sweep."
        )
    fig = go.Figure()
    local = _with_vocab(_with_training(local))
    for (role, texts, vocab), part in local.groupby(["role", "training texts", "_vocab"]):
        if _symbol(role):
            fig.add_scatter(
                x=part["latency ms"],
                y=part["test accuracy %"],
                mode="markers",
                name=f"{_ROLE_NAMES.get(role, role)}{VOCAB_CUT if vocab else ''}{_data_suffix(texts)}",
                marker={"symbol": _symbol(role) + ("-open" if role == DISTILLED else ""), "size": 11},
                hovertext=_hover(part),
                hoverinfo="text",
            )
    lat, acc = list(local["latency ms"].astype(float)), list(local["test accuracy %"].astype(float))
    front = pareto_indices(lat, acc)
    fig.add_scatter(
        x=[lat[i] for i in front],
        y=[acc[i] for i in front],
        mode="lines",
        name="Pareto front",
        line={"dash": "dot", "color": "#6b7280", "shape": "hv"},
        hoverinfo="skip",
    )
    paper = frame[(frame["source"] == "paper") & frame["test accuracy %"].notna()]
    for r in paper.to_dict("records"):
        fig.add_scatter(
            x=[min(lat), max(lat)],
            y=[r["test accuracy %"]] * 2,
            mode="lines+markers",
            name="paper",
            line={"dash": "dash", "color": PAPER_COLOUR},
            marker={"symbol": "star", "size": 12},
            hovertext=f"{r['model']} {r['test accuracy %']}% (paper; no latency reported) — {r['notes']}",
            hoverinfo="text",
        )
    devices = sorted(set(local["latency timed on"].astype(str)))
    fig.update_layout(
        title={"text": f"{title}<br><sup>timed on: {'; '.join(devices)[:120]}</sup>"},
        xaxis={"title": "latency per request, ms (lower is better)"},
        yaxis={"title": "test accuracy %"},
        height=420,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def size_figure(frame: pd.DataFrame) -> go.Figure:
    """Parameters (millions, log scale) vs layers for local variants, scratch models and the paper's model."""
    title = "Model size: parameters vs layers"
    rows = frame[frame["params (M)"].notna() & (frame["params (M)"].astype(str) != "")]
    rows = rows[rows["source"] != "benchmark"]
    if rows.empty:
        return empty_figure(title, "No model sizes yet.")
    fig = go.Figure()
    for (source, vocab), group in _with_vocab(rows).groupby(["source", "_vocab"]):
        paper = source == "paper"
        cut = f"{VOCAB_CUT} (vocabulary pruned to Marathi text)" if vocab else ""
        fig.add_scatter(
            x=group["layers kept"],
            y=group["params (M)"].astype(float),
            mode="markers",
            name="paper" if paper else f"{source}{cut}",
            hovertext=[
                f"{r['model']} · {r['role']} · {r['layers kept']} layers: {r['params (M)']} M params, "
                f"{r['size MB (fp32)']} MB fp32 ({source})" + (f"<br>vocabulary {r[VOCAB]} tokens" if vocab else "")
                for r in group.to_dict("records")
            ],
            hoverinfo="text",
            marker=(
                {"symbol": "star", "size": 15, "color": PAPER_COLOUR}
                if paper
                else {"symbol": "triangle-down", "size": 11}
                if vocab
                else {"size": 10}
            ),
        )
    fig.update_layout(
        title={"text": f"{title}<br><sup>fp32 size in MB = 4 × parameters in millions</sup>"},
        xaxis={"title": "encoder layers", "dtick": 1},
        yaxis={"title": "parameters (millions)", "type": "log", "dtick": 1},
        height=380,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def latency_layers_figure(bench_rows: Sequence[Mapping]) -> go.Figure | None:
    """Measured latency vs layers from assets/benchmark.json; None when there are no rows.

    Uses the benchmark's own figure (``pruning.speed.latency_figure``) when every row has random weights
    (its title then says "random weights (latency only)"); otherwise labels each line itself.
    """
    if not bench_rows:
        return None
    if all(r["weights"] == "random-weights" and r.get("_raw") for r in bench_rows):
        try:
            fig = latency_figure([r["_raw"] for r in bench_rows])
            fig.update_layout(width=None, autosize=True)
            return fig
        except (KeyError, TypeError, ValueError) as exc:
            logger.info("benchmark figure unavailable (%s); drawing a simple one", exc)
    fig = go.Figure()
    groups: dict[tuple, list[Mapping]] = {}
    for r in bench_rows:
        groups.setdefault(
            (short_model_name(r["model"]), r["device"], r["backend"], r["batch"], r["seq_len"], r["weights"]), []
        ).append(r)
    for (model, device, backend, batch, seq, weights), rows in groups.items():
        rows = sorted(rows, key=lambda r: r["num_layers"])
        tag = "random weights (latency only)" if weights in ("random-weights", "random") else weights
        fig.add_scatter(
            x=[r["num_layers"] for r in rows],
            y=[r["latency_ms"] for r in rows],
            mode="lines+markers",
            name=f"{model} · {backend} · {device} · b{batch}×{seq} · {tag}",
        )
    fig.update_layout(
        title="Measured latency vs layers (assets/benchmark.json)",
        height=380,
        xaxis={"title": "encoder layers", "dtick": 1},
        yaxis={"title": "p50 latency, ms"},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig
