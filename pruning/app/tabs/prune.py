"""Tab ①: choose a base model and the layers to keep, then fine-tune the pruned model with a live curve.

The panel (base, strategy, layers kept) redraws the stack picture, the importance chart and the size
numbers; the fine-tune runs on the server's job board (``jobs``), so this tab only queues a job and
streams it, and a reload finds the job again through an id kept in the browser. ``app.py`` wires
``new_variant`` (Classify's picker) and ``follow_job`` (a rebuild started from Compare) across tabs.
"""

from __future__ import annotations

import logging

import gradio as gr

from models import CATALOG

from ...config import DATASETS, FinetuneConfig
from ...strategies import STRATEGIES
from ..bases import base_depth, check_base_name
from ..figures import training_figure
from ..jobs import FinetuneJob, browser_id, client_key
from ..panel import finetune_config, panel_view, read_panel
from ..recipe import (
    COMPUTING,
    LABELS_ONLY,
    NO_TEACHER,
    check_teacher,
    teacher_choices,
    teacher_note,
    vocab_corpus,
    vocab_key,
    vocab_markdown,
    vocab_offer,
)
from ..wording import LOAD_ERRORS, user_message
from .context import TRACK_TQDM, WATCH, AppContext, gr_error

# Up to 3e-4: the recipe of the offline sweep, ladder and bundled variants (small models want more).
LEARNING_RATES = [(label, float(label)) for label in ("1e-5", "2e-5", "3e-5", "5e-5", "1e-4", "2e-4", "3e-4")]
DISTIL_DEFAULTS = FinetuneConfig()  # the library's alpha and temperature, the sliders' starting values
# Counting a corpus's tokens takes a core for a minute or two: at most two counts at once, apart from the panel.
VOCAB_QUEUE = {"concurrency_limit": 2, "concurrency_id": "vocab-sizes"}


logger = logging.getLogger(__name__)


class PruneTab:
    """The prune panel and the fine-tune controls, as a ``gr.Blocks`` (``blocks``) that app.py renders.

    Attributes that app.py wires across tabs: ``new_variant`` (the name of a just built variant),
    ``client_id`` (this browser's id) and ``job_outputs`` (status, curve, new variant) for ``follow_job``.
    """

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        depth, default = ctx.depth, ctx.default_model
        with gr.Blocks() as self.blocks:
            gr.Markdown("### ① Choose a base model and which layers to keep")
            with gr.Row():
                base = gr.Dropdown(
                    list(dict.fromkeys([*CATALOG, default or "offline-teacher"])),
                    value=default,
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
                keep = gr.Slider(
                    1, depth, value=max(1, depth // 2), step=1, label="Layers to keep", elem_id="keep-slider"
                )
            layers = gr.CheckboxGroup(
                [(f"Layer {i + 1}", i) for i in range(depth)],
                value=list(range(depth)),
                visible=False,
                label="Layers to keep (custom): layer 1 is the bottom",
                elem_id="custom-layers",
            )
            offer = vocab_offer()  # no corpus on this server: shown disabled, with why (never its path)
            vocab_box = gr.Checkbox(
                False,
                label="Prune the vocabulary to Marathi text",
                info=offer.note,
                interactive=offer.available,
                elem_id="vocab-prune",
            )
            kept_state = gr.State(list(range(depth)))
            with gr.Row(equal_height=False):
                with gr.Column(scale=2, min_width=320):
                    stack = gr.HTML(elem_id="stack-picture")
                with gr.Column(scale=3):
                    importance = gr.Plot(label="Layer importance", show_label=False, elem_id="importance-plot")
            stats = gr.Markdown(elem_id="plan-stats")
            vocab_stats = gr.Markdown(visible=False, elem_id="vocab-stats")

            gr.Markdown("### Fine-tune the pruned model (or load it if it was trained before)")
            with gr.Row():
                dataset = gr.Radio(
                    list(DATASETS),
                    value="SHC",
                    label="MahaNews dataset",
                    info="SHC headlines · LPC paragraphs · LDC documents",
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
            choices = self._teachers(default, "SHC", False)
            teacher = gr.Dropdown(
                choices,
                value=NO_TEACHER,
                allow_custom_value=True,  # an API caller may name a variant; check_teacher says why one can't teach
                label="Distil from (a fine-tuned full model teaches the pruned one)",
                info=teacher_note(choices, "SHC", False),
                elem_id="distil-from",
            )
            with gr.Accordion("Distillation settings", open=False, elem_id="distil-settings"):
                with gr.Row():
                    alpha = gr.Slider(
                        0,
                        1,
                        value=DISTIL_DEFAULTS.distil_alpha,
                        step=0.05,
                        label="α: weight of the label loss",
                        info="1 = labels only; the teacher's soft labels get 1 − α",
                    )
                    temperature = gr.Slider(
                        1,
                        8,
                        value=DISTIL_DEFAULTS.distil_temperature,
                        step=0.5,
                        label="Temperature T",
                        info="softens both distributions; higher shows more of the teacher's runner-up topics",
                    )
            with gr.Row():
                run_btn = gr.Button("Fine-tune", variant="primary")
                cancel_btn = gr.Button("Cancel", variant="stop")
            status = gr.Markdown(elem_id="finetune-status")
            curve = gr.Plot(training_figure([]), label="Training curve", show_label=False)
            self.new_variant = gr.State("")
            # survives reloads: finds the job again
            self.client_id = gr.BrowserState("", storage_key="marathi-prune-client")
            self.job_outputs = [status, curve, self.new_variant]
            vocab_inputs = [vocab_box, base, kept_state, dataset]
            self._wire(
                [base, strategy, keep, layers], [stack, importance, stats, kept_state], vocab_inputs, vocab_stats
            )
            gr.on(
                [self.blocks.load, base.change, dataset.change, vocab_box.change, self.new_variant.change],
                self.teacher_menu,
                [base, dataset, vocab_box, teacher],
                teacher,
                api_visibility="private",
            )
            # the new inputs come after the client id, so API calls written before them keep working
            run_btn.click(
                self.finetune,
                [base, strategy, keep, layers, dataset, epochs, lr, samples, self.client_id]
                + [vocab_box, teacher, alpha, temperature],
                self.job_outputs,
                api_name="finetune",
                **WATCH,
            )
            cancel_btn.click(self.cancel, self.client_id, status, api_name="cancel")
            self.blocks.load(browser_id, self.client_id, self.client_id, api_visibility="private").then(
                self.follow_job, self.client_id, self.job_outputs, api_name="job_status", **WATCH
            )

    def _wire(self, panel_inputs: list, panel_outputs: list, vocab_inputs: list, vocab_stats: gr.Markdown) -> None:
        """The panel's events: a base or strategy change resizes the controls, then the panel redraws once.

        The sizes after a vocabulary cut follow each redraw (the layers kept are then current) in an event of
        their own, so the first, slow count for a model never holds up the stack picture.
        """
        base, strategy, keep, layers = panel_inputs
        kept_state = panel_outputs[-1]
        sizes = {"fn": self.vocab_view, "inputs": vocab_inputs, "outputs": vocab_stats, **VOCAB_QUEUE}
        base.change(self.load_base, base, [keep, layers, kept_state], api_name="load_base").then(
            self.preview, panel_inputs, panel_outputs, api_name="panel_after_load", api_visibility="private"
        ).then(**sizes, api_visibility="private")
        # .input, not .change: only the visitor's moves redraw here; a base or strategy change resizes the
        # controls and then redraws once, so no event carries a value from before the resize
        moves = [keep.input, layers.input]
        gr.on(moves, self.preview, panel_inputs, panel_outputs, api_name="preview", trigger_mode="always_last").then(
            **sizes, api_visibility="private"
        )
        # on_strategy reads the last plan (server-side state) before the new preview overwrites it
        strategy.change(self.on_strategy, [strategy, kept_state], [layers, keep], api_visibility="private").then(
            self.preview, panel_inputs, panel_outputs, api_name="panel_after_strategy", api_visibility="private"
        ).then(**sizes, api_visibility="private")
        self.blocks.load(self.preview, panel_inputs, panel_outputs, api_name="panel_on_load", api_visibility="private")
        vocab_box, _base, _kept, dataset = vocab_inputs
        gr.on([vocab_box.change, dataset.change], **sizes, api_name="vocab_sizes", trigger_mode="always_last")

    # ------------------------------------------------------------------------------ handlers ----

    def load_base(self, name: str):
        """Size the slider and layer toggles to the base's depth (catalog models: from the catalog, no download)."""
        try:
            depth = base_depth(check_base_name(name), self.ctx.registry.anatomy)
        except LOAD_ERRORS as exc:  # a notice, not gr.Error: the panel below explains and stays usable
            gr.Warning(user_message(exc))
            return gr.skip(), gr.skip(), gr.skip()
        every = list(range(depth))  # the toggles' value resets too: old ticks may not exist on this model
        slider = gr.Slider(maximum=depth, value=max(1, depth // 2))
        return slider, gr.CheckboxGroup(choices=[(f"Layer {i + 1}", i) for i in every], value=every), every

    def preview(self, name: str, strategy: str, keep: float, layers: list[int], progress=TRACK_TQDM):
        """Stack picture, importance chart and size/speed numbers for the current setting."""
        view, figure = panel_view(self.ctx.registry.base_summary, name, strategy, keep, layers, self.ctx.bench)
        return view.stack_html, figure, view.stats_markdown, (view.plan.kept if view.plan else gr.skip())

    def vocab_view(self, ticked: bool, base: str, kept: list[int], dataset: str):
        """Sizes after the vocabulary cut, under the panel's numbers: at once when counted before, else
        "computing…" first (the first count per model takes a minute or two)."""
        if not ticked:
            yield gr.Markdown(visible=False)
            return
        try:
            name, sizes = check_base_name(base), self.ctx.vocab_sizes
            if not sizes.ready(name, dataset):
                yield gr.Markdown(COMPUTING, visible=True)
            text = vocab_markdown(sizes.sizes(name, dataset, len(kept)), dataset)
        except LOAD_ERRORS as exc:  # a note in the panel, like the panel's own: the visitor is mid-way through choosing
            text = f"Sizes after the vocabulary cut are not available: {user_message(exc)}"
        yield gr.Markdown(text, visible=True)

    def _teachers(self, base: str | None, dataset: str, ticked: bool) -> list[tuple[str, str]]:
        """The "Distil from" choices for a setting; labels only when the base or the corpus is not usable."""
        try:
            vocab = vocab_key(vocab_corpus(ticked))
            return teacher_choices(self.ctx.registry.cache, check_base_name(base), dataset, vocab)
        except LOAD_ERRORS as exc:
            logger.info("no teachers listed for %s: %s", base, exc)
            return [LABELS_ONLY]

    def teacher_menu(self, base: str, dataset: str, ticked: bool, current: str):
        """Refresh the teachers when the base, dataset or vocabulary choice changes, and after a fine-tune."""
        choices = self._teachers(base, dataset, ticked)
        keep = current if current in [value for _label, value in choices] else NO_TEACHER
        return gr.Dropdown(choices=choices, value=keep, info=teacher_note(choices, dataset, bool(ticked)))

    @staticmethod
    def on_strategy(strategy: str, kept: list[int]):
        """Custom shows the layer toggles, pre-ticked with the layers the last plan kept."""
        custom = strategy == "custom"
        toggles = gr.CheckboxGroup(visible=custom, value=kept) if custom else gr.CheckboxGroup(visible=False)
        return toggles, gr.Slider(interactive=not custom)

    def finetune(
        self,
        base,
        strategy,
        keep,
        layers,
        dataset,
        epochs,
        lr,
        samples,
        client=None,
        vocab=False,
        teacher=NO_TEACHER,
        alpha=None,
        temperature=None,
        request: gr.Request = None,
    ):
        """Queue the panel's fine-tune (or load it from the cache) and stream it; closing the tab leaves it running.

        The vocabulary box becomes the server's corpus (never a visitor's path) and the teacher is checked
        against the base, dataset and vocabulary before the job is queued.
        """
        try:
            name, corpus = check_base_name(base), vocab_corpus(vocab)
            setting = read_panel(strategy, keep, layers, base_depth(name, self.ctx.registry.anatomy))
            chosen = check_teacher(self.ctx.registry.cache, teacher, name, str(dataset).upper(), vocab_key(corpus))
            train = finetune_config(dataset, epochs, lr, samples, chosen, alpha, temperature)
            job = self.ctx.jobs.start(
                client_key(client, request.session_hash), name, setting.prune_config(corpus), train
            )
        except LOAD_ERRORS as exc:
            raise gr_error(exc) from exc
        for notice in job.checked.notices if job.checked else []:
            gr.Warning(notice)
        yield from _follow(job)

    def follow_job(self, client=None, request: gr.Request = None):
        """On page load (and after a rebuild): this browser's waiting, running or just finished fine-tune, if any."""
        job = self.ctx.jobs.job(client_key(client, request.session_hash))
        if job is not None:
            yield from _follow(job, fail=False)

    def cancel(self, client=None, request: gr.Request = None) -> str:
        """Stop this browser's fine-tune after its current step; answers once it has stopped (a few seconds)."""
        message = self.ctx.jobs.cancel(client_key(client, request.session_hash))
        gr.Info(message)
        return message


def _follow(job: FinetuneJob, fail: bool = True):
    """Stream a job's status, curve and (when done) variant name; a failed job ends in gr.Error when `fail`."""
    for snap in job.stream():
        yield snap.message, training_figure(snap.events), (snap.record or {}).get("name", "")
    if fail and snap.state == "failed":
        raise gr.Error(snap.message, print_exception=False)
