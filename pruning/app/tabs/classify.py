"""Tab ②: several variants on one Marathi text, on PyTorch and ONNX Runtime, side by side.

Up to ``MAX_SLOTS`` result columns (top-5 labels and a per-backend latency table each), a latency
chart and the same answer as JSON. The picker lists the variants known at start-up (the API schema
names them) and picks up later ones on page load; ``app.py`` refreshes it when tab ① built one.
``/variants`` (the ready variants as the API returns them) is declared here, next to the picker.
"""

from __future__ import annotations

import gradio as gr

from ..backends import available_backends
from ..classify import Prediction, classify_text, default_variant_names
from ..classify_view import (
    latency_chart,
    notices_markdown,
    outcome_json,
    slot_markdown,
    variant_options,
    variant_summaries,
)
from ..registry import CLASSIFY_CONCURRENCY
from .context import MAX_SLOTS, AppContext, gr_error


class ClassifyTab:
    """The Classify tab as a ``gr.Blocks`` (``blocks``); ``variants`` is the picker app.py refreshes."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        examples = ctx.examples
        with gr.Blocks() as self.blocks:
            gr.Markdown(
                "### ② Classify Marathi text with several variants side by side\n"
                "Each variant runs on PyTorch eager and on ONNX Runtime (fp32 and INT8); latency is the median of "
                "several warm runs of the whole request path (tokenise, model, softmax) on *this* text."
            )
            text = gr.Textbox(
                examples[0] if examples else "",
                lines=3,
                label="Marathi text",
                placeholder="एक मराठी बातमीचे शीर्षक लिहा…",
                elem_id="classify-text",
                elem_classes="marathi",
            )
            gr.Examples(
                [[e] for e in examples], inputs=text, label="Headlines written for this demo (not from MahaNews)"
            )
            with gr.Row():
                self.variants = gr.Dropdown(
                    variant_options(ctx.variants),
                    value=ctx.first_variants,
                    multiselect=True,
                    max_choices=MAX_SLOTS,
                    allow_custom_value=True,  # a variant fine-tuned after start-up is accepted by name through the API
                    label="Variants to compare",
                    info="Default: the bundled full, pruned and scratch models (bundled = ships with the demo, "
                    "read-only)",
                    scale=3,
                )
                backends = gr.CheckboxGroup(
                    ctx.backend_choices,
                    value=ctx.first_backends,
                    label="Backends",
                    info="ONNX files are exported on first use",
                    scale=2,
                )
            classify_btn = gr.Button("Classify", variant="primary")
            notices = gr.Markdown(elem_id="classify-notices")
            slot_outputs = []
            with gr.Row(equal_height=False):
                for i in range(MAX_SLOTS):
                    with gr.Column(min_width=240):
                        slot_outputs += [
                            gr.Label(num_top_classes=5, visible=False, elem_id=f"label-{i}"),
                            gr.Markdown(visible=False, elem_id=f"latency-{i}"),
                        ]
            latency_plot = gr.Plot(
                label="Latency per variant and backend", show_label=False, elem_id="classify-latency"
            )
            with gr.Accordion("The same result as the API returns it (JSON)", open=False):
                result_json = gr.JSON(elem_id="classify-json")
            self.blocks.load(self.refresh_choices, None, self.variants, api_visibility="private")
            gr.on(
                [classify_btn.click, text.submit, self.blocks.load],  # on load: the example headline, classified
                self.classify,
                [text, self.variants, backends],
                [*slot_outputs, notices, latency_plot, result_json],
                api_name="classify",
                concurrency_limit=CLASSIFY_CONCURRENCY,
                concurrency_id="classify",
            )
            gr.api(self.list_variants, api_name="variants")

    # ------------------------------------------------------------------------------ handlers ----

    def variant_choices(self, prefer: str = ""):
        """Ready variants (the cache and the bundled ones) for the picker; a just fine-tuned one is selected."""
        records = self.ctx.registry.records()
        return gr.Dropdown(choices=variant_options(records), value=default_variant_names(records, prefer)[:MAX_SLOTS])

    def refresh_choices(self):
        """On page load: variants added since start-up (by any session) join the picker; the selection stays."""
        return gr.Dropdown(choices=variant_options(self.ctx.registry.records()))

    def classify(self, text: str, names: list[str], backends: list[str]):
        """Each chosen variant on each backend: labels, agreement, and the latency of warm runs on this text."""
        try:
            outcome = classify_text(self.ctx.registry, names, text, backends)
        except ValueError as exc:
            raise gr_error(exc) from exc
        for notice in outcome.notices:
            gr.Warning(notice)
        shown = outcome.predictions[:MAX_SLOTS] + [None] * MAX_SLOTS
        slots = [out for p in shown[:MAX_SLOTS] for out in _slot(p)]
        return [*slots, notices_markdown(outcome.notices), latency_chart(outcome), outcome_json(outcome)]

    def list_variants(self) -> list[dict]:
        """The ready variants: name, base, role (full/pruned/scratch), layers kept, parameters, test accuracy, backends."""
        return variant_summaries(self.ctx.registry.records(), available_backends())


def _slot(prediction: Prediction | None) -> tuple[gr.Label, gr.Markdown]:
    """One result column: top-5 labels and the per-backend table, or hidden."""
    if prediction is None:
        return gr.Label(None, visible=False), gr.Markdown("", visible=False)
    label = gr.Label(prediction.top(5), label=f"{prediction.kind} · {prediction.layers} layers", visible=True)
    return label, gr.Markdown(slot_markdown(prediction), visible=True)
