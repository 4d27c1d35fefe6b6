"""Gradio app: prune a Marathi BERT, fine-tune it on MahaNews, classify with it, compare the results.

Layout and wiring only: every handler turns widget values into one call to ``pruning.app`` and formats
the answer. Run ``python app.py`` (honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT). Tests import
``demo`` and launch it with ``LAUNCH_KWARGS``.
"""

from __future__ import annotations

import logging

import gradio as gr

from models import CATALOG, bundled_dir, hub_reachable
from pruning import DATASETS, STRATEGIES, VariantCache
from pruning.app import (
    BACKEND_LABELS,
    CLASSIFY_CONCURRENCY,
    CPU_BACKENDS,
    DISPLAY_WIDTHS,
    INTRO,
    LOAD_ERRORS,
    PAPER_CAVEAT,
    STACK_CSS,
    JobBoard,
    ModelRegistry,
    Prediction,
    available_backends,
    base_depth,
    browser_id,
    build_comparison,
    check_base_name,
    classify_text,
    client_key,
    comparison_rows,
    damaged_entries,
    damaged_markdown,
    default_variant_names,
    delete_damaged,
    finetune_config,
    latency_chart,
    load_benchmark_rows,
    load_examples,
    load_reference,
    notices_markdown,
    outcome_json,
    panel_view,
    pick_default_model,
    read_panel,
    rebuild_of,
    scrub_paths,
    slot_markdown,
    startup_banner,
    sweep_leftovers,
    training_figure,
    user_message,
    variant_options,
    variant_summaries,
)

try:  # ZeroGPU on Spaces: the fine-tune gets a GPU for its duration
    import spaces

    gpu = spaces.GPU(duration=240)
except ImportError:

    def gpu(fn):
        return fn


registry = ModelRegistry(VariantCache(bundled=bundled_dir()))  # the user's variants + the read-only bundled ones
jobs = JobBoard(registry.cache, on_built=registry.mark_built)  # Compare labels what this process trained
LEFTOVERS = sweep_leftovers(registry.cache)  # temp folders, old Compare CSVs and stop files older than an hour
HUB_OK = hub_reachable()
DEFAULT_MODEL, LOAD_PROBLEMS = pick_default_model(registry.base)
DEPTH = registry.anatomy(DEFAULT_MODEL).num_layers if DEFAULT_MODEL else 12
BENCH = load_benchmark_rows()
REFERENCE = load_reference()
EXAMPLES = load_examples()
TIMING_TEXT = EXAMPLES[0] if EXAMPLES else "मराठी बातमी"  # Compare times every cached variant on this text
MAX_SLOTS = 4
BACKENDS = [(BACKEND_LABELS[b], b) for b in available_backends()]
VARIANTS = registry.records()  # known when the UI is built: the API schema and the first render list them
FIRST_VARIANTS = default_variant_names(VARIANTS)[:MAX_SLOTS]
FIRST_BACKENDS = [b for b in available_backends() if b in CPU_BACKENDS]
registry.warm_up(FIRST_VARIANTS, FIRST_BACKENDS, background=True)  # load, export: the first visitor won't wait
TRACK_TQDM = gr.Progress(track_tqdm=True)  # gradio builds a fresh tracker per call from this default
# Jobs wait in the board's own line (one slot on CPU): these events only stream a job's progress.
WATCH = {"concurrency_limit": 16, "concurrency_id": "finetune-watch"}
# Up to 3e-4: the recipe of the offline sweep, ladder and bundled variants (small models want more).
LEARNING_RATES = [(label, float(label)) for label in ("1e-5", "2e-5", "3e-5", "5e-5", "1e-4", "2e-4", "3e-4")]

CSS = (
    STACK_CSS
    + """
.marathi textarea { font-size: 17px; font-family: "Lohit Marathi", "Noto Sans Devanagari", sans-serif; }
"""
)
LAUNCH_KWARGS = {"theme": gr.themes.Soft(), "css": CSS, "footer_links": ["api", "gradio", "settings"]}


def _gr_error(exc: Exception) -> gr.Error:
    return gr.Error(user_message(exc), print_exception=False)  # short, no paths; details go to the log


# ------------------------------------------------------------------ 1. prune & fine-tune ----


def load_base(name: str):
    """Size the slider and layer toggles to the base's depth (catalog models: from the catalog, no download)."""
    try:
        depth = base_depth(check_base_name(name), registry.anatomy)
    except LOAD_ERRORS as exc:  # a notice, not gr.Error: the panel below explains and stays usable
        gr.Warning(user_message(exc))
        return gr.skip(), gr.skip(), gr.skip()
    every = list(range(depth))  # the toggles' value resets too: old ticks may not exist on this model
    slider = gr.Slider(maximum=depth, value=max(1, depth // 2))
    return slider, gr.CheckboxGroup(choices=[(f"Layer {i + 1}", i) for i in every], value=every), every


def preview(name: str, strategy: str, keep: float, layers: list[int], progress=TRACK_TQDM):
    """Stack picture, importance chart and size/speed numbers for the current setting."""
    view, figure = panel_view(registry.base_summary, name, strategy, keep, layers, BENCH)
    return view.stack_html, figure, view.stats_markdown, (view.plan.kept if view.plan else gr.skip())


def on_strategy(strategy: str, kept: list[int]):
    """Custom shows the layer toggles, pre-ticked with the layers the last plan kept."""
    custom = strategy == "custom"
    toggles = gr.CheckboxGroup(visible=custom, value=kept) if custom else gr.CheckboxGroup(visible=False)
    return toggles, gr.Slider(interactive=not custom)


def _follow(job, fail: bool = True):
    """Stream a job's status, curve and (when done) variant name; a failed job ends in gr.Error when `fail`."""
    for snap in job.stream():
        yield snap.message, training_figure(snap.events), (snap.record or {}).get("name", "")
    if fail and snap.state == "failed":
        raise gr.Error(snap.message, print_exception=False)


@gpu
def finetune(base, strategy, keep, layers, dataset, epochs, lr, samples, client=None, request: gr.Request = None):
    """Queue the panel's fine-tune (or load it from the cache) and stream it; closing the tab leaves it running."""
    try:
        name = check_base_name(base)
        prune = read_panel(strategy, keep, layers, base_depth(name, registry.anatomy)).prune_config()
        job = jobs.start(
            client_key(client, request.session_hash), name, prune, finetune_config(dataset, epochs, lr, samples)
        )
    except LOAD_ERRORS as exc:
        raise _gr_error(exc) from exc
    for notice in job.checked.notices if job.checked else []:
        gr.Warning(notice)
    yield from _follow(job)


def follow_job(client=None, request: gr.Request = None):
    """On page load (and after a rebuild): this browser's waiting, running or just finished fine-tune, if any."""
    job = jobs.job(client_key(client, request.session_hash))
    if job is not None:
        yield from _follow(job, fail=False)


def cancel(client=None, request: gr.Request = None) -> str:
    """Stop this browser's fine-tune after its current step; answers once it has stopped (a few seconds)."""
    message = jobs.cancel(client_key(client, request.session_hash))
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
            elem_id="base-model",
            info="Catalog name or Hugging Face id (owner/name)",
        )
        strategy = gr.Dropdown(
            list(STRATEGIES),
            value="middle",
            label="Strategy",
            elem_id="strategy",
            info="middle = the paper's best overall; contribution = drop layers that change least",
        )
        keep = gr.Slider(1, DEPTH, value=max(1, DEPTH // 2), step=1, label="Layers to keep", elem_id="keep-slider")
    layers = gr.CheckboxGroup(
        [(f"Layer {i + 1}", i) for i in range(DEPTH)],
        value=list(range(DEPTH)),
        visible=False,
        label="Layers to keep (custom): layer 1 is the bottom",
        elem_id="custom-layers",
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
            elem_id="train-samples",
            info="A few hundred gives a quick, rough model on CPU",
        )
    with gr.Row():
        run_btn = gr.Button("Fine-tune", variant="primary")
        cancel_btn = gr.Button("Cancel", variant="stop")
    status = gr.Markdown(elem_id="finetune-status")
    curve = gr.Plot(training_figure([]), label="Training curve", show_label=False)
    new_variant = gr.State("")
    client_id = gr.BrowserState("", storage_key="marathi-prune-client")  # survives reloads: finds the job again

    panel_inputs, panel_outputs = [base, strategy, keep, layers], [stack, importance, stats, kept_state]
    base.change(load_base, base, [keep, layers, kept_state], api_name="load_base").then(
        preview, panel_inputs, panel_outputs, api_name="panel_after_load", api_visibility="private"
    )
    # .input, not .change: only the visitor's moves redraw here; a base or strategy change resizes the controls
    # and then redraws once, so no event carries a value from before the resize
    moves = [keep.input, layers.input]
    gr.on(moves, preview, panel_inputs, panel_outputs, api_name="preview", trigger_mode="always_last")
    # on_strategy reads the last plan (server-side state) before the new preview overwrites it
    strategy.change(on_strategy, [strategy, kept_state], [layers, keep], api_visibility="private").then(
        preview, panel_inputs, panel_outputs, api_name="panel_after_strategy", api_visibility="private"
    )
    prune_tab.load(preview, panel_inputs, panel_outputs, api_name="panel_on_load", api_visibility="private")
    job_outputs = [status, curve, new_variant]
    run_btn.click(
        finetune, [*panel_inputs, dataset, epochs, lr, samples, client_id], job_outputs, api_name="finetune", **WATCH
    )
    cancel_btn.click(cancel, client_id, status, api_name="cancel")
    prune_tab.load(browser_id, client_id, client_id, api_visibility="private").then(
        follow_job, client_id, job_outputs, api_name="job_status", **WATCH
    )


# ------------------------------------------------------------------------- 2. classify ------


def variant_choices(prefer: str = ""):
    """Ready variants (the cache and the bundled ones) for the picker; a just fine-tuned one is selected."""
    records = registry.records()
    return gr.Dropdown(choices=variant_options(records), value=default_variant_names(records, prefer)[:MAX_SLOTS])


def refresh_choices():
    """On page load: variants added since start-up (by any session) join the picker; the selection stays."""
    return gr.Dropdown(choices=variant_options(registry.records()))


def _slot(prediction: Prediction | None) -> tuple[gr.Label, gr.Markdown]:
    """One result column: top-5 labels and the per-backend table, or hidden."""
    if prediction is None:
        return gr.Label(None, visible=False), gr.Markdown("", visible=False)
    label = gr.Label(prediction.top(5), label=f"{prediction.kind} · {prediction.layers} layers", visible=True)
    return label, gr.Markdown(slot_markdown(prediction), visible=True)


def classify(text: str, names: list[str], backends: list[str]):
    """Each chosen variant on each backend: labels, agreement, and the latency of warm runs on this text."""
    try:
        outcome = classify_text(registry, names, text, backends)
    except ValueError as exc:
        raise _gr_error(exc) from exc
    for notice in outcome.notices:
        gr.Warning(notice)
    shown = outcome.predictions[:MAX_SLOTS] + [None] * MAX_SLOTS
    slots = [out for p in shown[:MAX_SLOTS] for out in _slot(p)]
    return [*slots, notices_markdown(outcome.notices), latency_chart(outcome), outcome_json(outcome)]


def list_variants() -> list[dict]:
    """The ready variants: name, base, role (full/pruned/scratch), layers kept, parameters, test accuracy, backends."""
    return variant_summaries(registry.records(), available_backends())


with gr.Blocks() as classify_tab:
    gr.Markdown(
        "### ② Classify Marathi text with several variants side by side\n"
        "Each variant runs on PyTorch eager and on ONNX Runtime (fp32 and INT8); latency is the median of "
        "several warm runs of the whole request path (tokenise, model, softmax) on *this* text."
    )
    text = gr.Textbox(
        EXAMPLES[0] if EXAMPLES else "",
        lines=3,
        label="Marathi text",
        placeholder="एक मराठी बातमीचे शीर्षक लिहा…",
        elem_id="classify-text",
        elem_classes="marathi",
    )
    gr.Examples([[e] for e in EXAMPLES], inputs=text, label="Headlines written for this demo (not from MahaNews)")
    with gr.Row():
        variants = gr.Dropdown(
            variant_options(VARIANTS),
            value=FIRST_VARIANTS,
            multiselect=True,
            max_choices=MAX_SLOTS,
            allow_custom_value=True,  # a variant fine-tuned after start-up is accepted by name through the API too
            label="Variants to compare",
            info="Default: the bundled full, pruned and scratch models (bundled = ships with the demo, read-only)",
            scale=3,
        )
        backends = gr.CheckboxGroup(
            BACKENDS, value=FIRST_BACKENDS, label="Backends", info="ONNX files are exported on first use", scale=2
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
    latency_plot = gr.Plot(label="Latency per variant and backend", show_label=False, elem_id="classify-latency")
    with gr.Accordion("The same result as the API returns it (JSON)", open=False):
        result_json = gr.JSON(elem_id="classify-json")
    classify_outputs = [*slot_outputs, notices, latency_plot, result_json]
    classify_tab.load(refresh_choices, None, variants, api_visibility="private")
    gr.on(
        [classify_btn.click, text.submit, classify_tab.load],  # on load: the example headline, already classified
        classify,
        [text, variants, backends],
        classify_outputs,
        api_name="classify",
        concurrency_limit=CLASSIFY_CONCURRENCY,
        concurrency_id="classify",
    )
    gr.api(list_variants, api_name="variants")


# -------------------------------------------------------------------------- 3. compare ------


def compare(dataset_name: str, progress=TRACK_TQDM):
    """Figures and table for one dataset (cached variants timed here on first view), and damaged variants apart."""
    failures: dict[str, str] = {}
    rows = comparison_rows(registry, REFERENCE, BENCH, TIMING_TEXT, load_failures=failures)
    view = build_comparison(rows, BENCH, dataset_name)
    latency = gr.Plot(view.latency, visible=view.latency is not None)
    return view.accuracy, view.pareto, view.size, latency, view.table, view.csv_path, *damaged_view(failures)


def damaged_view(failures: dict[str, str]):
    """The damaged-variants box: shown only when there are some, the first one picked (one click to act)."""
    entries = damaged_entries(registry.cache, failures)
    names = [e.name for e in entries]
    picker = gr.Dropdown(choices=names, value=names[0] if names else None)
    return gr.Group(visible=bool(names)), damaged_markdown(entries), picker, failures


def delete_broken(name: str, failures: dict[str, str]) -> str:
    """Delete one damaged variant (nothing else can be deleted from the app)."""
    return delete_damaged(registry.cache, name, failures)


def rebuild_broken(name: str, failures: dict[str, str], client=None, request: gr.Request = None) -> str:
    """Fine-tune a damaged variant again with the settings it was made with; progress shows in tab ①."""
    try:
        how = rebuild_of(registry.cache, name, failures)
        jobs.start(client_key(client, request.session_hash), how.base, how.prune, how.train)
    except LOAD_ERRORS as exc:
        raise _gr_error(exc) from exc
    return f"Rebuilding `{name}`: its progress shows under “Fine-tune” in the ① Prune & fine-tune tab."


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
    with gr.Group(visible=False) as damaged_box:
        damaged_md = gr.Markdown(elem_id="damaged-variants")
        with gr.Row():
            damaged_pick = gr.Dropdown(label="Damaged variant", scale=3, elem_id="damaged-pick")
            delete_btn = gr.Button("Delete", variant="stop", scale=1)
            rebuild_btn = gr.Button("Rebuild", scale=1)
        damaged_status = gr.Markdown(elem_id="damaged-status")
    failures_state = gr.State({})  # variants that failed to load in the last Compare view
    compare_outputs = [acc_plot, pareto_plot, size_plot, latency_plot, table, csv_btn]
    compare_outputs += [damaged_box, damaged_md, damaged_pick, failures_state]
    gr.on([refresh_btn.click, cmp_dataset.change], compare, cmp_dataset, compare_outputs, api_name="compare")
    delete_btn.click(delete_broken, [damaged_pick, failures_state], damaged_status, api_name="delete_damaged").success(
        compare, cmp_dataset, compare_outputs, api_visibility="private"
    )


# ------------------------------------------------------------------------------ page --------

with gr.Blocks(title="Marathi BERT layer pruning", delete_cache=(3600, 3600)) as demo:  # served files: 1 h
    gr.Markdown(INTRO)
    banner = startup_banner(HUB_OK, DEFAULT_MODEL, [scrub_paths(p) for p in LOAD_PROBLEMS])
    gr.Markdown(f"⚠️ {banner}" if banner else "", visible=bool(banner), elem_id="offline-banner")
    with gr.Tabs():
        with gr.Tab("① Prune & fine-tune"):
            prune_tab.render()
        with gr.Tab("② Classify"):
            classify_tab.render()
        with gr.Tab("③ Compare") as compare_tab_item:
            compare_tab.render()
    # cross-tab: a new variant refreshes the picker; opening Compare rebuilds it
    new_variant.change(variant_choices, new_variant, variants, api_visibility="private")
    compare_tab_item.select(compare, cmp_dataset, compare_outputs, api_visibility="private")
    # a rebuild is a fine-tune like any other: tab ① streams it
    rebuild_btn.click(
        rebuild_broken, [damaged_pick, failures_state, client_id], damaged_status, api_name="rebuild_damaged"
    ).success(follow_job, client_id, job_outputs, api_visibility="private", **WATCH)
    demo.queue(default_concurrency_limit=4, max_size=64)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    demo.launch(**LAUNCH_KWARGS)  # host/port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
