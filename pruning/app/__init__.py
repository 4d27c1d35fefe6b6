"""The Gradio-facing layer: everything ``app.py`` shows, as plain functions testable without Gradio.

Dependencies point one way: ``app.py`` (layout, wiring) -> ``pruning.app`` -> the library (``pruning.*``)
-> ``models``. Nothing outside this package imports it. Inside, in the order a visitor meets them:

- ``startup``: the default base model, the degraded-mode banner, the demo headlines.
- ``registry``: base models (anatomy, importance scores) and fine-tuned variants, each loaded once.
- ``panel``: prune-panel values -> plan and configs; parameter, size and speed-up numbers.
- ``stack``: the SVG picture of the encoder stack, kept and dropped layers.
- ``jobs``: background fine-tunes, one per browser session, cancellable.
- ``classify``: several variants on one text, with each request's latency.
- ``compare``: every known result in one table, each row saying where it came from.
- ``figures``: the plotly charts; ``wording``: how every tab names things and words its messages.

This file names what ``app.py`` uses, as ``pruning/__init__.py`` does for the library.
"""

from .classify import ClassifyOutcome, Prediction, classify_text, default_variant_names
from .compare import (
    DISPLAY_WIDTHS,
    PAPER_CAVEAT,
    build_comparison,
    comparison_rows,
    load_benchmark_rows,
    load_reference,
)
from .figures import training_figure
from .jobs import FinetuneJob, JobBoard
from .panel import PanelSetting, finetune_config, panel_view, read_panel
from .registry import BaseSummary, ModelRegistry
from .startup import load_examples, pick_default_model, startup_banner
from .wording import LOAD_ERRORS, variant_label

__all__ = [
    "DISPLAY_WIDTHS",
    "LOAD_ERRORS",
    "PAPER_CAVEAT",
    "BaseSummary",
    "ClassifyOutcome",
    "FinetuneJob",
    "JobBoard",
    "ModelRegistry",
    "PanelSetting",
    "Prediction",
    "build_comparison",
    "classify_text",
    "comparison_rows",
    "default_variant_names",
    "finetune_config",
    "load_benchmark_rows",
    "load_examples",
    "load_reference",
    "panel_view",
    "pick_default_model",
    "read_panel",
    "startup_banner",
    "training_figure",
    "variant_label",
]
