"""The prune panel: the encoder-stack picture and what a pruning plan costs and saves.

Given a base model and the panel's strategy settings, this draws the encoder as an inline SVG (kept
and dropped layers readable without colour) and writes the plan's parameter count, fp32 size and
speed-up, with the speed-up labelled as an estimate unless assets/benchmark.json measured it.
Impossible settings and models that do not load become messages in the panel, never exceptions.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import plotly.graph_objects as go
import torch

from .app_figures import KEPT_FILL, empty_figure, importance_figure
from .app_format import LOAD_ERRORS, format_count, format_layers, short_model_name, size_mb
from .importance import LayerScores
from .strategies import LayerPlan, select_layers
from .surgery import encoder_layers

if TYPE_CHECKING:
    from .app_registry import ModelRegistry

DROPPED_FILL, EDGE_FILL = "#f3f4f6", "#e5e7eb"


@dataclass(frozen=True)
class ModelAnatomy:
    """Parameter counts of a model, split so the size after pruning can be computed exactly."""

    num_layers: int
    total_params: int
    layer_params: tuple[int, ...]  # one entry per encoder layer, bottom first

    @property
    def other_params(self) -> int:
        """Embeddings, pooler and classifier: untouched by layer pruning."""
        return self.total_params - sum(self.layer_params)

    def params_after(self, kept: Sequence[int]) -> int:
        """Parameter count once only the layers in `kept` remain."""
        return self.other_params + sum(self.layer_params[i] for i in kept)


def anatomy_of(model: torch.nn.Module) -> ModelAnatomy:
    """Count `model`'s parameters per encoder layer and in total (shared weights counted once)."""
    layers = encoder_layers(model)
    per_layer = tuple(sum(p.numel() for p in layer.parameters()) for layer in layers)
    total = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    return ModelAnatomy(len(layers), total, per_layer)


def estimated_speedup(num_layers: int, keep: int) -> float:
    """Encoder time scales with depth, so L/k is the estimate (an upper bound for the whole model)."""
    return num_layers / keep


def measured_speedup(rows: Sequence[dict], model: str, num_layers: int, keep: int) -> dict | None:
    """Measured latency ratio full/keep for `model` from benchmark rows, same backend/device/shape."""
    name = short_model_name(model)
    mine = [r for r in rows if short_model_name(r["model"]) == name and r["backend"] == "torch"]
    for full in (r for r in mine if r["num_layers"] == num_layers):
        for part in mine:
            same = all(part[k] == full[k] for k in ("device", "batch", "seq_len", "backend"))
            if same and part["num_layers"] == keep and part["latency_ms"] > 0:
                return {"ratio": full["latency_ms"] / part["latency_ms"], "device": full["device"],
                        "batch": full["batch"], "seq_len": full["seq_len"], "weights": full["weights"]}  # fmt: skip
    return None


@dataclass
class PlanPreview:
    """What the prune panel shows for one setting; `error` is set instead when the setting is impossible."""

    plan: LayerPlan | None
    stack_html: str
    stats_markdown: str
    error: str | None = None


def make_plan(strategy: str, num_layers: int, keep: int | float | None, layers: Sequence[int] | None,
              scores: LayerScores | None) -> LayerPlan:  # fmt: skip
    """select_layers with UI values (floats from sliders, None for unticked custom)."""
    if strategy == "contribution" and scores is None:
        raise ValueError(
            "the contribution strategy needs layer importance scores, which are not available for this model"
        )
    keep_int = int(round(keep)) if keep is not None else None
    if strategy == "custom":
        return select_layers("custom", num_layers, layers=[int(i) for i in (layers or [])])
    return select_layers(strategy, num_layers, keep=keep_int, scores=scores.cls if scores else None)


def _error_box(message: str) -> str:
    """The panel's warning box, shown where the stack picture would be."""
    return f'<div class="stack-error" role="alert">⚠️ {html.escape(message)}</div>'


def plan_preview(anatomy: ModelAnatomy, model: str, strategy: str, keep: float | None, layers: Sequence[int] | None,
                 scores: LayerScores | None, bench_rows: Sequence[dict] = ()) -> PlanPreview:  # fmt: skip
    """Stack picture and size/speed numbers for a strategy setting; never raises for bad settings."""
    try:
        plan = make_plan(strategy, anatomy.num_layers, keep, layers, scores)
    except ValueError as exc:
        message = f"Can't build this plan: {exc}."
        return PlanPreview(None, _error_box(message), f"**{html.escape(message)}**", error=message)
    return PlanPreview(plan, stack_svg(plan), plan_stats(anatomy, plan, model, bench_rows))


def plan_stats(anatomy: ModelAnatomy, plan: LayerPlan, model: str, bench_rows: Sequence[dict] = ()) -> str:
    """Markdown: parameters, fp32 size and expected speed-up of a plan, each saying what it is."""
    before, after = anatomy.total_params, anatomy.params_after(plan.kept)
    cut = 100 * (1 - after / before)
    speed = estimated_speedup(plan.num_layers, plan.keep)
    lines = [
        f"**Keeping {plan.keep} of {plan.num_layers} layers** ({plan.strategy}). "
        f"Parameters {format_count(before)} → **{format_count(after)}** (−{cut:.0f}%), "
        f"size {size_mb(before):.1f} → **{size_mb(after):.1f} MB** in fp32 (counted from the loaded model; "
        f"embeddings and classifier are {format_count(anatomy.other_params)} of it and are never pruned).",
        f"**Expected speed-up ≈ {speed:.1f}×**: an *estimate* from the layer count ({plan.num_layers}/{plan.keep}); "
        "embeddings, the classifier head and tokenisation don't shrink, so the real gain is smaller.",
    ]
    measured = measured_speedup(bench_rows, model, plan.num_layers, plan.keep)
    if measured:
        lines.append(
            f"**Measured: {measured['ratio']:.1f}×** for this depth on {measured['device']} "
            f"(batch {measured['batch']}, {measured['seq_len']} tokens; assets/benchmark.json, {measured['weights']})."
        )
    return "\n\n".join(lines)


def panel_view(registry: ModelRegistry, name: str | None, strategy: str, keep: float | None,
               layers: Sequence[int] | None, bench_rows: Sequence[dict] = ()) -> tuple[PlanPreview, go.Figure]:  # fmt: skip
    """Everything the prune panel shows for one setting; model or plan problems become messages, never errors."""
    if not (name or "").strip():
        message = "Pick a base model above (or type a Hugging Face id or a local folder)."
        return PlanPreview(None, f'<div class="stack-error">{message}</div>', message, error=message), empty_figure(
            "Layer importance", message)  # fmt: skip
    try:
        anatomy = registry.anatomy(name)
    except LOAD_ERRORS as exc:
        message = f"Could not load {name}: {exc}"
        return PlanPreview(None, _error_box(message), html.escape(message), error=message), empty_figure(
            "Layer importance", "–")  # fmt: skip
    scores = registry.scores(name)
    view = plan_preview(anatomy, name, strategy, keep, layers, scores, bench_rows)
    return view, importance_figure(scores, view.plan, note=registry.scores_error(name) or "")


def stack_svg(plan: LayerPlan) -> str:
    """HTML with an inline SVG of the encoder: one box per layer, bottom layer at the bottom.

    Kept layers are solid blue and labelled "kept"; dropped ones are pale, hatched, dashed and
    labelled "dropped", so the picture reads without colour. Boxes carry ``data-state`` for tests.
    """
    n, kept = plan.num_layers, set(plan.kept)
    box_h = max(14, min(26, 330 // n))
    gap, width, x0 = 4, 300, 8
    font = max(9, min(13, box_h - 9))
    height = (n + 2) * (box_h + gap) + gap

    def box(row: int, fill: str, text_left: str, text_right: str, *, state: str = "", colour: str = "#111827",
            dashed: bool = False, layer: int | None = None) -> str:  # fmt: skip
        y = gap + row * (box_h + gap)
        attrs = f' class="layer {state}" data-state="{state}" data-layer="{layer}"' if state else ""
        stroke = ' stroke-dasharray="4 3"' if dashed else ""
        hatch = (f'<rect x="{x0}" y="{y}" width="{width - 2 * x0}" height="{box_h}" rx="4" fill="url(#hatch)"/>'
                 if state == "dropped" else "")  # fmt: skip
        ty = y + box_h / 2 + font / 2.8
        return (
            f"<g{attrs}><rect x='{x0}' y='{y}' width='{width - 2 * x0}' height='{box_h}' rx='4' fill='{fill}' "
            f"stroke='#6b7280' stroke-width='1'{stroke}/>{hatch}"
            f"<text x='{x0 + 10}' y='{ty:.1f}' font-size='{font}' fill='{colour}'>{html.escape(text_left)}</text>"
            f"<text x='{width - x0 - 10}' y='{ty:.1f}' font-size='{font}' fill='{colour}' text-anchor='end'>"
            f"{html.escape(text_right)}</text></g>"
        )

    parts = [box(0, EDGE_FILL, "classifier head (12 topics)", "always kept")]
    for i in reversed(range(n)):
        row = n - i
        if i in kept:
            parts.append(box(row, KEPT_FILL, f"Layer {i + 1}", "✓ kept", state="kept", colour="#ffffff", layer=i + 1))
        else:
            parts.append(box(row, DROPPED_FILL, f"Layer {i + 1}", "✕ dropped", state="dropped", colour="#4b5563",
                             dashed=True, layer=i + 1))  # fmt: skip
    parts.append(box(n + 1, EDGE_FILL, "embeddings (input tokens)", "always kept"))
    summary = (f"Encoder stack: {plan.keep} of {n} layers kept (layers {format_layers(plan.kept)}), "
               f"{len(plan.dropped)} dropped (layers {format_layers(plan.dropped)})")  # fmt: skip
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(summary)}" font-family="system-ui, sans-serif">'
        f"<title>{html.escape(summary)}</title>"
        '<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<line x1="0" y1="0" x2="0" y2="8" stroke="#9ca3af" stroke-width="2"/></pattern></defs>'
        + "".join(parts)
        + "</svg>"
    )
    legend = (
        f'<div class="stack-legend"><span class="swatch" style="background:{KEPT_FILL}"></span> '
        f"<b>kept ({plan.keep})</b>: layers {format_layers(plan.kept)}<br>"
        f'<span class="swatch swatch-dropped"></span> <b>dropped ({len(plan.dropped)})</b>: '
        f"{'layers ' + format_layers(plan.dropped) if plan.dropped else 'none'}<br>"
        "Layer 1 is the bottom (next to the embeddings); text flows bottom → top.</div>"
    )
    title = f'<div class="stack-title"><b>{html.escape(plan.strategy)}</b>: {plan.keep} of {n} layers kept</div>'
    return f'<div class="stack-picture" data-kept="{plan.keep}" data-dropped="{len(plan.dropped)}">{title}{svg}{legend}</div>'
