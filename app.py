"""Gradio app: prune a Marathi BERT, fine-tune it on MahaNews, classify with it, compare the results.

Layout and wiring only: every handler turns widget values into one call to ``pruning.app`` and formats
the answer. Run ``python app.py`` (honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT). Tests import
``demo`` and launch it with ``LAUNCH_KWARGS``.
"""

from __future__ import annotations

import logging

import gradio as gr

from models import CATALOG, hub_reachable
from pruning import DATASETS, STRATEGIES, VariantCache
from pruning.app import (
    DISPLAY_WIDTHS,
    LOAD_ERRORS,
    PAPER_CAVEAT,
    JobBoard,
    ModelRegistry,
    Prediction,
    build_comparison,
    classify_text,
    comparison_rows,
    default_variant_names,
    finetune_config,
    load_benchmark_rows,
    load_examples,
    load_reference,
    panel_view,
    pick_default_model,
    read_panel,
    startup_banner,
    training_figure,
    variant_label,
)

try:  # ZeroGPU on Spaces: the fine-tune gets a GPU for its duration
    import spaces

    gpu = spaces.GPU(duration=240)
except ImportError:

    def gpu(fn):
        return fn


registry = ModelRegistry(VariantCache())
jobs = JobBoard(registry.cache, on_built=registry.mark_built)  # Compare labels what this process trained
HUB_OK = hub_reachable()
DEFAULT_MODEL, LOAD_PROBLEMS = pick_default_model(registry.base)
DEPTH = registry.anatomy(DEFAULT_MODEL).num_layers if DEFAULT_MODEL else 12
BENCH = load_benchmark_rows()
REFERENCE = load_reference()
EXAMPLES = load_examples()
TIMING_TEXT = EXAMPLES[0] if EXAMPLES else "मराठी बातमी"  # Compare times every cached variant on this text
MAX_SLOTS = 4
TRACK_TQDM = gr.Progress(track_tqdm=True)  # gradio builds a fresh tracker per call from this default
LEARNING_RATES = [("1e-5", 1e-5), ("2e-5", 2e-5), ("3e-5", 3e-5), ("5e-5", 5e-5), ("1e-4", 1e-4), ("2e-4", 2e-4)]

INTRO = """
# ✂️ Layer pruning for Marathi BERT
A BERT encoder is a stack of identical Transformer layers (12 in MahaBERT-v2 and MuRIL). **Layer pruning** deletes
some of them *before* fine-tuning: the model gets smaller and faster with no new pretraining. Shirke et al. (2025,
[arXiv 2501.00733](https://arxiv.org/abs/2501.00733)) pruned MahaBERT-v2 and MuRIL and fine-tuned them on the
L3Cube-MahaNews topic tasks (SHC headlines, LPC paragraphs, LDC documents): pruned models stayed **comparable to the
full ones** and **consistently beat models of the same size pretrained from scratch** (MahaBERT-Small/-Smaller);
dropping **middle** layers worked best overall, though no strategy won everywhere.

**Try it:** ① pick a base model and a strategy and watch which layers go, then fine-tune ·
② classify your own Marathi text with the full, pruned and scratch models side by side, with measured latency ·
③ compare accuracy, latency and size, next to the published numbers.

**Offline models:** `offline-teacher` (12 layers), `offline-small` (6) and `offline-smaller` (2) are this project's own
mini Marathi BERTs (256 wide), pretrained offline with the same data and token budget so that "pruned teacher vs
scratch model of the same depth" is a fair test. They are far smaller than MahaBERT, so expect lower accuracy.
"""
CSS = """
.stack-picture { font-size: 13px; line-height: 1.45; }
.stack-picture svg { display: block; margin: 6px 0; max-width: 100%; height: auto; }
.stack-title { font-size: 14px; margin-bottom: 2px; }
.stack-legend .swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #6b7280;
  vertical-align: -1px; border-radius: 2px; }
.stack-legend .swatch-dropped { background: repeating-linear-gradient(45deg, #f3f4f6 0 3px, #9ca3af 3px 5px); }
.stack-error { padding: 12px; border: 1px solid #f59e0b; border-radius: 6px; background: #fffbeb; color: #78350f; }
.marathi textarea { font-size: 17px; font-family: "Lohit Marathi", "Noto Sans Devanagari", sans-serif; }
"""
LAUNCH_KWARGS = {"theme": gr.themes.Soft(), "css": CSS, "footer_links": ["api", "gradio", "settings"]}


def _gr_error(exc: Exception) -> gr.Error:
    return gr.Error(str(exc), print_exception=False)


# ------------------------------------------------------------------ 1. prune & fine-tune ----


def load_base(name: str, progress=TRACK_TQDM):
    """Load the base model once and size the slider and layer toggles to its depth."""
    try:
        depth = registry.anatomy(name).num_layers
    except LOAD_ERRORS as exc:  # a notice, not gr.Error: the panel below explains and stays usable
        gr.Warning(str(exc))
        return gr.skip(), gr.skip()
    choices = [(f"Layer {i + 1}", i) for i in range(depth)]
    return gr.Slider(maximum=depth, value=max(1, depth // 2)), gr.CheckboxGroup(choices=choices)


def preview(name: str, strategy: str, keep: float, layers: list[int], progress=TRACK_TQDM):
    """Stack picture, importance chart and size/speed numbers for the current setting."""
    view, figure = panel_view(registry.base_summary, name, strategy, keep, layers, BENCH)
    return view.stack_html, figure, view.stats_markdown, (view.plan.kept if view.plan else gr.skip())


def on_strategy(strategy: str, kept: list[int]):
    """Custom shows the layer toggles, pre-ticked with the layers the last plan kept."""
    custom = strategy == "custom"
    toggles = gr.CheckboxGroup(visible=custom, value=kept) if custom else gr.CheckboxGroup(visible=False)
    return toggles, gr.Slider(interactive=not custom)


@gpu
def finetune(base, strategy, keep, layers, dataset, epochs, lr, samples, request: gr.Request, progress=TRACK_TQDM):
    """Fine-tune (or load from the cache) the panel's variant, streaming status and the training curve."""
    try:
        prune = read_panel(strategy, keep, layers, registry.anatomy(base).num_layers).prune_config()
        job = jobs.start(request.session_hash, base, prune, finetune_config(dataset, epochs, lr, samples))
    except LOAD_ERRORS as exc:
        raise _gr_error(exc) from exc
    try:
        for snap in job.stream():
            yield snap.message, training_figure(snap.events), (snap.record or {}).get("name", "")
    finally:
        job.cancel()  # closed early (Cancel button, page closed): stop the worker thread too
    if snap.state == "failed":
        raise gr.Error(snap.message, print_exception=False)


def cancel(request: gr.Request) -> str:
    """Stop this session's fine-tune after its current step."""
    message = jobs.cancel(request.session_hash)
    gr.Info(message)
    return message


with gr.Blocks() as prune_tab:
    gr.Markdown("### ① Choose a base model and which layers to keep")
    with gr.Row():
        base = gr.Dropdown(
            list(dict.fromkeys([*CATALOG, DEFAULT_MODEL or "offline-teacher"])),
            value=DEFAULT_MODEL,
            allow_custom_value=True,
            label="Base model",
            info="Catalog name, Hugging Face id or local folder",
        )
        strategy = gr.Dropdown(
            list(STRATEGIES),
            value="middle",
            label="Strategy",
            info="middle = the paper's best overall; contribution = drop layers that change least",
        )
        keep = gr.Slider(1, DEPTH, value=max(1, DEPTH // 2), step=1, label="Layers to keep", elem_id="keep-slider")
    layers = gr.CheckboxGroup(
        [(f"Layer {i + 1}", i) for i in range(DEPTH)],
        value=list(range(DEPTH)),
        visible=False,
        label="Layers to keep (custom): layer 1 is the bottom",
    )
    kept_state = gr.State(list(range(DEPTH)))
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            stack = gr.HTML(elem_id="stack-picture")
        with gr.Column(scale=3):
            importance = gr.Plot(label="Layer importance", show_label=False, elem_id="importance-plot")
    stats = gr.Markdown(elem_id="plan-stats")

    gr.Markdown("### Fine-tune the pruned model (or load it if it was trained before)")
    with gr.Row():
        dataset = gr.Radio(
            list(DATASETS), value="SHC", label="MahaNews dataset", info="SHC headlines · LPC paragraphs · LDC documents"
        )
        epochs = gr.Slider(1, 10, value=3, step=1, label="Epochs")
        lr = gr.Dropdown(LEARNING_RATES, value=5e-5, label="Learning rate")
        samples = gr.Number(
            0,
            precision=0,
            minimum=0,
            label="Training samples (0 = all)",
            info="A few hundred gives a quick, rough model on CPU",
        )
    with gr.Row():
        run_btn = gr.Button("Fine-tune", variant="primary")
        cancel_btn = gr.Button("Cancel", variant="stop")
    status = gr.Markdown(elem_id="finetune-status")
    curve = gr.Plot(training_figure([]), label="Training curve", show_label=False)
    new_variant = gr.State("")

    panel_inputs, panel_outputs = [base, strategy, keep, layers], [stack, importance, stats, kept_state]
    base.change(load_base, base, [keep, layers], api_name="load_base").then(
        preview, panel_inputs, panel_outputs, api_name="panel_after_load", api_visibility="private"
    )
    gr.on(
        [keep.change, layers.change],
        preview,
        panel_inputs,
        panel_outputs,
        api_name="preview",
        trigger_mode="always_last",
    )
    # on_strategy reads the last plan (server-side state) before the new preview overwrites it
    strategy.change(on_strategy, [strategy, kept_state], [layers, keep], api_visibility="private").then(
        preview, panel_inputs, panel_outputs, api_name="panel_after_strategy", api_visibility="private"
    )
    prune_tab.load(preview, panel_inputs, panel_outputs, api_name="panel_on_load", api_visibility="private")
    ft_event = run_btn.click(
        finetune,
        [base, strategy, keep, layers, dataset, epochs, lr, samples],
        [status, curve, new_variant],
        api_name="finetune",
        concurrency_limit=1,
        concurrency_id="finetune",
    )
    cancel_btn.click(cancel, None, status, cancels=[ft_event], api_name="cancel")


# ------------------------------------------------------------------------- 2. classify ------


def variant_choices():
    """Cached variants for the picker, defaulting to the newest full / pruned / scratch ones."""
    records = registry.records()
    choices = [(variant_label(r), r["name"]) for r in records]
    return gr.Dropdown(choices=choices, value=default_variant_names(records)[:MAX_SLOTS])


def _slot(prediction: Prediction | None) -> tuple[gr.Label, gr.Markdown]:
    """One result column: top-5 labels and the latency line, or hidden."""
    if prediction is None:
        return gr.Label(None, visible=False), gr.Markdown("", visible=False)
    label = gr.Label(prediction.top(5), label=prediction.kind, visible=True)
    return label, gr.Markdown(prediction.summary_markdown(), visible=True)


def classify(text: str, names: list[str]):
    """Top labels and this request's latency from each chosen variant."""
    try:
        outcome = classify_text(registry, names, text)
    except ValueError as exc:
        raise _gr_error(exc) from exc
    for notice in outcome.notices:
        gr.Warning(notice)
    shown = outcome.predictions[:MAX_SLOTS] + [None] * MAX_SLOTS
    return [*(out for p in shown[:MAX_SLOTS] for out in _slot(p)), "\n\n".join(f"⚠️ {n}" for n in outcome.notices)]


with gr.Blocks() as classify_tab:
    gr.Markdown("### ② Classify Marathi text with several variants side by side")
    text = gr.Textbox(
        lines=3,
        label="Marathi text",
        placeholder="एक मराठी बातमीचे शीर्षक लिहा…",
        elem_id="classify-text",
        elem_classes="marathi",
    )
    gr.Examples([[e] for e in EXAMPLES], inputs=text, label="Headlines written for this demo (not from MahaNews)")
    variants = gr.Dropdown(
        multiselect=True,
        max_choices=MAX_SLOTS,
        label="Variants to compare",
        info="Default: the newest full, pruned and scratch-trained variants in the cache",
    )
    classify_btn = gr.Button("Classify", variant="primary")
    notices = gr.Markdown(elem_id="classify-notices")
    slot_outputs = []
    with gr.Row(equal_height=False):
        for i in range(MAX_SLOTS):
            with gr.Column(min_width=220):
                slot_outputs += [
                    gr.Label(num_top_classes=5, visible=False, elem_id=f"label-{i}"),
                    gr.Markdown(visible=False, elem_id=f"latency-{i}"),
                ]
    classify_tab.load(variant_choices, None, variants, api_visibility="private")
    gr.on(
        [classify_btn.click, text.submit],
        classify,
        [text, variants],
        [*slot_outputs, notices],
        api_name="classify",
        concurrency_limit=8,
        concurrency_id="classify",
    )


# -------------------------------------------------------------------------- 3. compare ------


def compare(dataset_name: str, progress=TRACK_TQDM):
    """Figures and table for one dataset; cached variants are timed here on first view."""
    rows = comparison_rows(registry, REFERENCE, BENCH, TIMING_TEXT)
    view = build_comparison(rows, BENCH, dataset_name)
    latency = gr.Plot(view.latency, visible=view.latency is not None)
    return view.accuracy, view.pareto, view.size, latency, view.table, view.csv_path


with gr.Blocks() as compare_tab:
    gr.Markdown("### ③ Compare accuracy, latency and size")
    gr.Markdown(
        f"ℹ️ {PAPER_CAVEAT} Every row and point says where it came from (*this run*, *cache*, "
        "*sweep*, *benchmark*, *paper*) and on which device it was timed."
    )
    with gr.Row():
        cmp_dataset = gr.Radio(list(DATASETS), value="SHC", label="Dataset")
        refresh_btn = gr.Button("Refresh", scale=0)
    with gr.Row():
        acc_plot = gr.Plot(label="Accuracy vs layers kept")
        pareto_plot = gr.Plot(label="Accuracy vs latency")
    with gr.Row():
        size_plot = gr.Plot(label="Size")
        latency_plot = gr.Plot(label="Measured latency (benchmark)", visible=False)
    table = gr.Dataframe(
        label="Results (this dataset; the CSV holds every dataset)",
        wrap=True,
        max_height=420,
        interactive=False,
        column_widths=DISPLAY_WIDTHS,
        elem_id="compare-table",
    )
    csv_btn = gr.DownloadButton("Download CSV")
    compare_outputs = [acc_plot, pareto_plot, size_plot, latency_plot, table, csv_btn]
    gr.on([refresh_btn.click, cmp_dataset.change], compare, cmp_dataset, compare_outputs, api_name="compare")


# ------------------------------------------------------------------------------ page --------

with gr.Blocks(title="Marathi BERT layer pruning") as demo:
    gr.Markdown(INTRO)
    banner = startup_banner(HUB_OK, DEFAULT_MODEL, LOAD_PROBLEMS)
    gr.Markdown(f"⚠️ {banner}" if banner else "", visible=bool(banner), elem_id="offline-banner")
    with gr.Tabs():
        with gr.Tab("① Prune & fine-tune"):
            prune_tab.render()
        with gr.Tab("② Classify"):
            classify_tab.render()
        with gr.Tab("③ Compare") as compare_tab_item:
            compare_tab.render()
    # cross-tab: a new variant refreshes the picker; opening Compare rebuilds it
    new_variant.change(variant_choices, None, variants, api_visibility="private")
    compare_tab_item.select(compare, cmp_dataset, compare_outputs, api_visibility="private")
    demo.queue(default_concurrency_limit=4, max_size=64)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    demo.launch(**LAUNCH_KWARGS)  # host/port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
