"""The "latency vs layers kept" figure, shared by the benchmark report and the app.

One picture answers the question pruning asks: how much faster does each removed layer make
the model, on each backend. Lines are one model family pruned to several depths; models
trained small from scratch (MahaBERT-Small / -Smaller) are markers beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # plotly is imported when a figure is drawn, not when the package loads
    import plotly.graph_objects as go

# One colour per backend, the same in every panel, so a backend is recognised at a glance.
BACKEND_COLORS = {
    "torch": "#d62728",
    "torch-bf16": "#ff7f0e",
    "torch-fp16": "#bcbd22",
    "onnx": "#1f77b4",
    "onnx-int8": "#2ca02c",
    "onnx-cuda-fp16": "#9467bd",
}


def latency_figure(rows: Sequence[dict[str, Any]], *, family: str | None = None) -> go.Figure:
    """Plotly figure "latency vs layers kept": one line per backend, one panel per (batch, seq_len).

    Args:
        rows: benchmark rows (``run_bench`` output or ``benchmark.json``'s rows).
        family: the model whose pruned variants make the lines (default: the label with the most
            distinct depths); other models (e.g. MahaBERT-Small/-Smaller) are drawn as markers.

    Returns:
        A ``plotly.graph_objects.Figure``; error bars reach from p50 up to p90.

    Raises:
        ValueError: no rows.
    """
    from plotly.subplots import make_subplots

    if not rows:
        raise ValueError("no benchmark rows to plot")
    if family is None:
        depths: dict[str, set] = {}
        for r in rows:
            depths.setdefault(r["model"], set()).add(r["num_layers"])
        family = max(depths, key=lambda m: len(depths[m]))
    shapes = sorted({(r["batch"], r["seq_len"]) for r in rows})
    fig = make_subplots(rows=1, cols=len(shapes), subplot_titles=[f"batch {b}, seq {s}" for b, s in shapes])
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["model"], r["backend"]), []).append(r)
    for (model, backend), members in sorted(groups.items(), key=lambda kv: (kv[0][0] != family, kv[0])):
        for col, shape in enumerate(shapes, start=1):
            pts = sorted((r for r in members if (r["batch"], r["seq_len"]) == shape), key=lambda r: r["num_layers"])
            if pts:
                fig.add_trace(_trace(model, backend, pts, model == family, col == 1), row=1, col=col)
        fig.update_xaxes(title_text="encoder layers kept", dtick=2)
    fig.update_yaxes(title_text="p50 latency (ms)", rangemode="tozero")
    weights = {r["weights"] for r in rows}
    note = " — random weights (latency only)" if weights == {"random-weights"} else ""
    threads = sorted({r["threads"] for r in rows})
    fig.update_layout(
        title=f"Latency vs layers kept ({family}, {threads} thread(s)){note}",
        template="plotly_white",
        legend_title_text="model · backend",
        height=460,
        width=max(640, 520 * len(shapes)),
    )
    return fig


def _trace(model: str, backend: str, pts: list[dict], is_family: bool, legend: bool) -> go.Scatter:
    """One model-backend series of one panel: a line for the pruned family, markers otherwise."""
    import plotly.graph_objects as go

    color = BACKEND_COLORS.get(backend, "#7f7f7f")
    return go.Scatter(
        x=[r["num_layers"] for r in pts],
        y=[r["p50_ms"] for r in pts],
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [r["p90_ms"] - r["p50_ms"] for r in pts],
            "arrayminus": [0] * len(pts),
        },
        mode="lines+markers" if is_family else "markers",
        marker={"color": color, "size": 9 if is_family else 12, "symbol": "circle" if is_family else "diamond-open"},
        line={"color": color},
        name=f"{model} · {backend}",
        legendgroup=f"{model}-{backend}",
        showlegend=legend,
        customdata=[[r["p90_ms"], r["throughput"], r["disk_mb"], r["variant"]] for r in pts],
        hovertemplate="%{customdata[3]}<br>p50 %{y:.2f} ms, p90 %{customdata[0]:.2f} ms<br>"
        "%{customdata[1]:.1f} seq/s, %{customdata[2]:.0f} MB<extra>" + backend + "</extra>",
    )
