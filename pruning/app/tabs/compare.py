"""Tab ③: accuracy, latency and size of every known result, each row saying where it came from.

Cached variants are timed on first view; variants that fail to load are listed apart (the damaged
box), where one can be deleted or fine-tuned again. A rebuild is a job like any other and streams in
tab ①, so ``app.py`` wires the Rebuild button (``rebuild_broken``) to that tab's ``follow_job``;
opening the tab (``app.py``: the tab's select event) redraws it. The pretraining ladder (does a pruned
teacher beat a scratch model of its depth?) has an accordion of its own, re-read on every redraw.
"""

from __future__ import annotations

import gradio as gr

from ...config import DATASETS
from ..compare import DISPLAY_WIDTHS, PAPER_CAVEAT, build_comparison, comparison_rows
from ..damaged import damaged_entries, damaged_markdown, delete_damaged, rebuild_of
from ..jobs import client_key
from ..ladder_view import ladder_view
from ..wording import LADDER_TITLE, LOAD_ERRORS
from .context import TRACK_TQDM, AppContext, gr_error


class CompareTab:
    """The Compare tab as a ``gr.Blocks`` (``blocks``).

    Attributes that app.py wires across tabs: ``dataset`` and ``outputs`` (for ``compare`` when the tab
    opens), and ``rebuild_btn``, ``rebuild_inputs`` and ``damaged_status`` (for ``rebuild_broken``).
    """

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        with gr.Blocks() as self.blocks:
            gr.Markdown("### ③ Compare accuracy, latency and size")
            gr.Markdown(
                f"ℹ️ {PAPER_CAVEAT} Every row and point says where it came from (*this run*, *cache*, "
                "*sweep*, *benchmark*, *paper*) and on which device it was timed."
            )
            with gr.Row():
                self.dataset = gr.Radio(list(DATASETS), value="SHC", label="Dataset")
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
                    self.rebuild_btn = gr.Button("Rebuild", scale=1)
                self.damaged_status = gr.Markdown(elem_id="damaged-status")
            with gr.Accordion(LADDER_TITLE, open=False, elem_id="ladder"):
                ladder = ladder_view()
                ladder_md = gr.Markdown(ladder.markdown, elem_id="ladder-text")
                ladder_plot = gr.Plot(ladder.figure, visible=ladder.figure is not None, show_label=False)
            failures_state = gr.State({})  # variants that failed to load in the last Compare view
            self.outputs = [acc_plot, pareto_plot, size_plot, latency_plot, table, csv_btn]
            self.outputs += [damaged_box, damaged_md, damaged_pick, failures_state, ladder_md, ladder_plot]
            self.rebuild_inputs = [damaged_pick, failures_state]  # app.py adds tab ①'s client id
            gr.on(
                [refresh_btn.click, self.dataset.change], self.compare, self.dataset, self.outputs, api_name="compare"
            )
            delete_btn.click(
                self.delete_broken, [damaged_pick, failures_state], self.damaged_status, api_name="delete_damaged"
            ).success(self.compare, self.dataset, self.outputs, api_visibility="private")

    # ------------------------------------------------------------------------------ handlers ----

    def compare(self, dataset_name: str, progress=TRACK_TQDM):
        """Figures and table for one dataset (cached variants timed here on first view), and damaged variants apart."""
        failures: dict[str, str] = {}
        ctx = self.ctx
        rows = comparison_rows(ctx.registry, ctx.reference, ctx.bench, ctx.timing_text, load_failures=failures)
        view, ladder = build_comparison(rows, ctx.bench, dataset_name), ladder_view()  # a new `make ladder` shows too
        latency = gr.Plot(view.latency, visible=view.latency is not None)
        figures = view.accuracy, view.pareto, view.size, latency, view.table, view.csv_path
        return (
            *figures,
            *self.damaged_view(failures),
            ladder.markdown,
            gr.Plot(ladder.figure, visible=ladder.figure is not None),
        )

    def damaged_view(self, failures: dict[str, str]):
        """The damaged-variants box: shown only when there are some, the first one picked (one click to act)."""
        entries = damaged_entries(self.ctx.registry.cache, failures)
        names = [e.name for e in entries]
        picker = gr.Dropdown(choices=names, value=names[0] if names else None)
        return gr.Group(visible=bool(names)), damaged_markdown(entries), picker, failures

    def delete_broken(self, name: str, failures: dict[str, str]) -> str:
        """Delete one damaged variant (nothing else can be deleted from the app)."""
        return delete_damaged(self.ctx.registry.cache, name, failures)

    def rebuild_broken(self, name: str, failures: dict[str, str], client=None, request: gr.Request = None) -> str:
        """Fine-tune a damaged variant again with the settings it was made with; progress shows in tab ①."""
        try:
            how = rebuild_of(self.ctx.registry.cache, name, failures)
            self.ctx.jobs.start(client_key(client, request.session_hash), how.base, how.prune, how.train)
        except LOAD_ERRORS as exc:
            raise gr_error(exc) from exc
        return f"Rebuilding `{name}`: its progress shows under “Fine-tune” in the ① Prune & fine-tune tab."
