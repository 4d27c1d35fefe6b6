"""The prune panel's picture of the encoder stack: which layers a plan keeps and which it drops.

Drawn as an inline SVG with one box per layer, bottom layer at the bottom as text flows. Kept and dropped
layers differ in fill, hatching, outline and wording, so the picture reads without colour. This module only
draws: it gets a finished ``LayerPlan`` (or a message) and never loads anything.
"""

from __future__ import annotations

import html

from ..strategies import LayerPlan
from .figures import KEPT_FILL
from .wording import format_layers

DROPPED_FILL, EDGE_FILL = "#f3f4f6", "#e5e7eb"
STACK_CSS = """
.stack-picture { font-size: 13px; line-height: 1.45; }
.stack-picture svg { display: block; margin: 6px 0; max-width: 100%; height: auto; }
.stack-title { font-size: 14px; margin-bottom: 2px; }
.stack-legend .swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #6b7280;
  vertical-align: -1px; border-radius: 2px; }
.stack-legend .swatch-dropped { background: repeating-linear-gradient(45deg, #f3f4f6 0 3px, #9ca3af 3px 5px); }
.stack-error { padding: 12px; border: 1px solid #f59e0b; border-radius: 6px; background: #fffbeb; color: #78350f; }
"""  # the classes stack_svg, error_box and notice_box emit
LOOKS = {  # state: fill, right-hand label, text colour, dashed outline
    "kept": (KEPT_FILL, "✓ kept", "#ffffff", False),
    "dropped": (DROPPED_FILL, "✕ dropped", "#4b5563", True),
}


def error_box(message: str) -> str:
    """The panel's warning box, shown where the stack picture would be."""
    return f'<div class="stack-error" role="alert">⚠️ {html.escape(message)}</div>'


def notice_box(message: str) -> str:
    """A quiet box where the stack picture would be, for a panel with nothing to draw yet."""
    return f'<div class="stack-error">{message}</div>'


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

    def box(
        row: int,
        fill: str,
        text_left: str,
        text_right: str,
        *,
        state: str = "",
        colour: str = "#111827",
        dashed: bool = False,
        layer: int | None = None,
    ) -> str:
        y = gap + row * (box_h + gap)
        attrs = f' class="layer {state}" data-state="{state}" data-layer="{layer}"' if state else ""
        stroke = ' stroke-dasharray="4 3"' if dashed else ""
        hatch = (
            f'<rect x="{x0}" y="{y}" width="{width - 2 * x0}" height="{box_h}" rx="4" fill="url(#hatch)"/>'
            if state == "dropped"
            else ""
        )
        ty = y + box_h / 2 + font / 2.8
        return (
            f"<g{attrs}><rect x='{x0}' y='{y}' width='{width - 2 * x0}' height='{box_h}' rx='4' fill='{fill}' "
            f"stroke='#6b7280' stroke-width='1'{stroke}/>{hatch}"
            f"<text x='{x0 + 10}' y='{ty:.1f}' font-size='{font}' fill='{colour}'>{html.escape(text_left)}</text>"
            f"<text x='{width - x0 - 10}' y='{ty:.1f}' font-size='{font}' fill='{colour}' text-anchor='end'>"
            f"{html.escape(text_right)}</text></g>"
        )

    parts = [box(0, EDGE_FILL, "classifier head (12 topics)", "always kept")]
    for i in reversed(range(n)):  # the top layer is the first row under the head
        state = "kept" if i in kept else "dropped"
        fill, mark, colour, dashed = LOOKS[state]
        parts.append(box(n - i, fill, f"Layer {i + 1}", mark, state=state, colour=colour, dashed=dashed, layer=i + 1))
    parts.append(box(n + 1, EDGE_FILL, "embeddings (input tokens)", "always kept"))
    summary = (
        f"Encoder stack: {plan.keep} of {n} layers kept (layers {format_layers(plan.kept)}), "
        f"{len(plan.dropped)} dropped (layers {format_layers(plan.dropped)})"
    )
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
    picture = f'<div class="stack-picture" data-kept="{plan.keep}" data-dropped="{len(plan.dropped)}">'
    return f"{picture}{title}{svg}{legend}</div>"
