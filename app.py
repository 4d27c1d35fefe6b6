"""Gradio app: prune a Marathi BERT, fine-tune it on MahaNews, classify with it, compare the results.

Layout and wiring only: start-up makes one ``AppContext`` (model registry, fine-tune board, what was
found), each tab is a ``gr.Blocks`` of its own in ``pruning.app.tabs`` (layout, events, handlers), and
this file renders them and wires what crosses tabs. Run ``python app.py`` (honours GRADIO_SERVER_NAME /
GRADIO_SERVER_PORT). Tests import ``demo`` and launch it with ``LAUNCH_KWARGS``; ``ctx`` is the state.
"""

from __future__ import annotations

import logging

import gradio as gr

from pruning.app import INTRO, STACK_CSS, scrub_paths, startup_banner
from pruning.app.tabs import WATCH, AppContext, ClassifyTab, CompareTab, PruneTab

CSS = (
    STACK_CSS
    + """
.marathi textarea { font-size: 17px; font-family: "Lohit Marathi", "Noto Sans Devanagari", sans-serif; }
"""
)
LAUNCH_KWARGS = {"theme": gr.themes.Soft(), "css": CSS, "footer_links": ["api", "gradio", "settings"]}

ctx = AppContext.start()  # registry, job board (ZeroGPU-decorated training), default model, first variants warmed
prune, classify, compare = PruneTab(ctx), ClassifyTab(ctx), CompareTab(ctx)

with gr.Blocks(title="Marathi BERT layer pruning", delete_cache=(3600, 3600)) as demo:  # served files: 1 h
    gr.Markdown(INTRO)
    banner = startup_banner(ctx.hub_ok, ctx.default_model, [scrub_paths(p) for p in ctx.load_problems])
    gr.Markdown(f"⚠️ {banner}" if banner else "", visible=bool(banner), elem_id="offline-banner")
    with gr.Tabs():
        with gr.Tab("① Prune & fine-tune"):
            prune.blocks.render()
        with gr.Tab("② Classify"):
            classify.blocks.render()
        with gr.Tab("③ Compare") as compare_tab:
            compare.blocks.render()
    # cross-tab: a new variant refreshes the picker; opening Compare rebuilds it
    prune.new_variant.change(classify.variant_choices, prune.new_variant, classify.variants, api_visibility="private")
    compare_tab.select(compare.compare, compare.dataset, compare.outputs, api_visibility="private")
    # a rebuild is a fine-tune like any other: tab ① streams it
    compare.rebuild_btn.click(
        compare.rebuild_broken,
        [*compare.rebuild_inputs, prune.client_id],
        compare.damaged_status,
        api_name="rebuild_damaged",
    ).success(prune.follow_job, prune.client_id, prune.job_outputs, api_visibility="private", **WATCH)
    demo.queue(default_concurrency_limit=4, max_size=64)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    demo.launch(**LAUNCH_KWARGS)  # host/port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
