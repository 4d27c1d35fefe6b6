"""What Classify and its API show: the variant picker, each result column, the latency chart and the JSON.

The browser and a ``gradio_client`` script see the same outcome: the columns and the chart are drawn
from ``ClassifyOutcome`` here, and ``outcome_json`` is the same facts as plain data (the ``/classify``
endpoint's last output). ``variant_summaries`` is what ``/variants`` returns.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from ..speed.figures import BACKEND_COLORS
from .backends import BACKEND_LABELS, SHORT_LABELS
from .classify import ClassifyOutcome, Prediction
from .wording import short_model_name, variant_kind, variant_label


def variant_options(records: Sequence[Mapping]) -> list[tuple[str, str]]:
    """(label, name) choices for the variant picker, bundled variants marked."""
    return [(variant_label(r) + (" · bundled" if r.get("bundled") else ""), r["name"]) for r in records]


def variant_summaries(records: Sequence[Mapping], backends: Sequence[str]) -> list[dict[str, Any]]:
    """The ready variants as plain data (``/variants``): what each is, how good, and where it can run.

    Args:
        records: cache and bundled records (``ModelRegistry.records``).
        backends: the backends this machine runs (``backends.available_backends``); ONNX files are
            exported on a variant's first use, so every variant can use each of them.
    """
    out = []
    for r in records:
        plan, ft = r.get("plan") or {}, r.get("finetune_config") or {}
        out.append(
            {
                "name": r["name"],
                "base": short_model_name(r.get("base_model", "?")),
                "role": variant_kind(r),
                "strategy": plan.get("strategy"),
                "layers": plan.get("keep"),
                "base_layers": plan.get("num_layers"),
                "kept_layers": plan.get("kept"),  # 0-based from the bottom, as in the README
                "parameters": r.get("num_parameters"),
                "dataset": ft.get("dataset"),
                "seed": ft.get("seed"),
                "test_accuracy": (r.get("test_metrics") or {}).get("accuracy"),
                "dev_accuracy": (r.get("dev_metrics") or {}).get("accuracy"),
                "bundled": bool(r.get("bundled")),
                "backends": list(backends),
            }
        )
    return out


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def slot_markdown(p: Prediction) -> str:
    """The text under one variant's labels: what it is, each backend's label and latency, agreement.

    A list rather than a table: four result columns share the page width.
    """
    head = f"**{p.kind}** · {html.escape(p.description)}" + (" · *bundled*" if p.bundled else "")
    rows = []
    for backend, run in p.runs.items():
        spread = f"{_ms(run.percentile(10))}–{_ms(run.percentile(90))}"
        rows.append(
            f"- **{SHORT_LABELS.get(backend, backend)}**: {run.label} {run.probabilities[run.label]:.2f} · "
            f"**{_ms(run.median_ms)} ms** ({spread})"
        )
    lines = [head, "\n".join(rows)]
    if len(p.runs) > 1:
        disagree = ", ".join(f"{SHORT_LABELS.get(b, b)} {label}" for b, label in p.labels.items())
        lines.append(f"✓ all {len(p.runs)} backends agree" if p.agree else f"✗ backends disagree: {disagree}")
    lines.append("ms: median (p10–p90) of warm runs, text in → label out")
    if p.test_accuracy is not None:
        lines.append(f"Test accuracy {100 * p.test_accuracy:.1f}% (offline split)")
    if p.truncated:
        lines.append(f"Read only the first {p.max_length} of {p.num_tokens} tokens")
    return "\n\n".join(lines)


def notices_markdown(notices: Sequence[str]) -> str:
    return "\n\n".join(f"⚠️ {n}" for n in notices)


def _x_label(p: Prediction) -> str:
    """'pruned · 6L' over the variant's base and strategy, e.g. 'offline-teacher · middle 6/12'."""
    return f"{p.kind} · {p.layers}L<br>{' · '.join(p.description.split(' · ')[:2])}"


def latency_chart(outcome: ClassifyOutcome) -> go.Figure:
    """Grouped bars: per variant and backend, the median latency of the warm runs, whiskers p10 to p90."""
    fig = go.Figure()
    preds = outcome.predictions
    x = {}
    for p in preds:  # two variants of the same kind and depth get numbered, not stacked on one another
        label = _x_label(p)
        x[p.name] = (
            label if label not in x.values() else f"{label} ({sum(v.startswith(label) for v in x.values()) + 1})"
        )
    for backend in outcome.backends:
        shown = [p for p in preds if backend in p.runs]
        if not shown:
            continue
        runs = [p.runs[backend] for p in shown]
        med = [r.median_ms for r in runs]
        fig.add_bar(
            x=[x[p.name] for p in shown],
            y=med,
            name=BACKEND_LABELS.get(backend, backend),
            marker_color=BACKEND_COLORS.get(backend, "#7f7f7f"),
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [r.percentile(90) - m for r, m in zip(runs, med, strict=True)],
                "arrayminus": [m - r.percentile(10) for r, m in zip(runs, med, strict=True)],
            },
            customdata=[[r.label, len(r.samples_ms), r.percentile(10), r.percentile(90)] for r in runs],
            hovertemplate="%{x}<br>median %{y:.2f} ms (p10 %{customdata[2]:.2f}, p90 %{customdata[3]:.2f}) over "
            "%{customdata[1]} warm runs<br>label %{customdata[0]}<extra>" + backend + "</extra>",
        )
    runs = sorted({len(r.samples_ms) for p in preds for r in p.runs.values()})
    n = f"{runs[0]}" if len(runs) == 1 else f"{runs[0]}–{runs[-1]}"
    device = preds[0].device if preds else "cpu"
    fig.update_layout(
        title={
            "text": "Latency on this text: text in → label out"
            f"<br><sup>median of {n} warm runs after {outcome.timing.warmup} warm-up runs, "
            f"whiskers p10–p90 · {html.escape(device)}</sup>"
        },
        barmode="group",
        height=380,
        template="plotly_white",
        yaxis={"title": "ms per request", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 70, "b": 40},
    )
    return fig


def outcome_json(outcome: ClassifyOutcome) -> dict[str, Any]:
    """The outcome as plain data: per variant and backend the label, confidences and latency."""
    predictions = []
    for p in outcome.predictions:
        results = {}
        for backend, run in p.runs.items():
            results[backend] = {
                "label": run.label,
                "confidence": round(run.probabilities[run.label], 6),
                "top5": {k: round(v, 6) for k, v in sorted(run.probabilities.items(), key=lambda kv: -kv[1])[:5]},
                "median_ms": round(run.median_ms, 4),
                "p10_ms": round(run.percentile(10), 4),
                "p90_ms": round(run.percentile(90), 4),
                "runs": len(run.samples_ms),
            }
        predictions.append(
            {
                "variant": p.name,
                "role": p.kind,
                "description": p.description,
                "layers": p.layers,
                "bundled": p.bundled,
                "test_accuracy": p.test_accuracy,
                "labels_agree": p.agree,
                "num_tokens": p.num_tokens,
                "truncated": p.truncated,
                "results": results,
            }
        )
    return {
        "backends": list(outcome.backends),
        "device": outcome.predictions[0].device if outcome.predictions else None,
        "timing": {"warmup": outcome.timing.warmup, "max_runs": outcome.timing.repeats},
        "predictions": predictions,
        "notices": list(outcome.notices),
        "server_ms": round(outcome.server_ms, 2),
    }
