"""The Gradio-facing layer: everything ``app.py`` shows, as plain functions testable without Gradio.

Dependencies point one way: ``app.py`` (layout, wiring) -> ``pruning.app`` -> the library (``pruning.*``)
-> ``models``. Nothing outside this package imports it. Inside, in the order a visitor meets them:

- ``startup``: the default base model, the degraded-mode banner, the demo headlines, the bundled folder.
- ``housekeeping``: leftovers older than an hour removed at start-up.
- ``bases``: which base models a visitor may name (catalog, Hub id, operator's folders) and their depth.
- ``registry``: base models (anatomy, importance scores) and fine-tuned variants (the user's and the bundled
  ones), each loaded once.
- ``panel``: prune-panel values -> plan and configs; parameter, size and speed-up numbers.
- ``recipe``: vocabulary pruning (is the corpus here, sizes after the cut) and distillation (which teachers fit).
- ``stack``: the SVG picture of the encoder stack, kept and dropped layers.
- ``jobs``: fine-tunes owned by the server, one per client, in a first-come line, cancellable.
- ``training``: the training call a job runs, shaped for ZeroGPU (``spaces.GPU`` wraps it, not a handler).
- ``preflight``: a fine-tune's size, estimated time and warnings, before it starts.
- ``backends``: a variant on PyTorch eager or ONNX Runtime fp32 / INT8, ONNX files exported on first use.
- ``classify``: several variants on one text, on several backends, timed over warm runs.
- ``classify_view``: the Classify columns, latency chart and JSON; what ``/variants`` returns.
- ``compare``: every known result in one table, each row saying where it came from.
- ``damaged``: damaged cache entries, listed apart, deleted or rebuilt.
- ``ladder_view``: the pretraining ladder's box in Compare (does pruning beat training from scratch?).
- ``figures``: the plotly charts; ``wording``: how every tab names things and words its messages.
- ``bench``: what a visitor's request costs, measured with this package's code (``make bench``).
- ``tabs``: the Gradio side, one ``gr.Blocks`` module per tab over a shared ``AppContext`` (imported by
  ``app.py`` as ``pruning.app.tabs``, so the functions above stay importable without Gradio's layout code).

This file names the functions of this layer, as ``pruning/__init__.py`` does for the library.
"""

from .backends import BACKEND_LABELS, CPU_BACKENDS, available_backends
from .bases import MODEL_DIRS_ENV, BaseNotAllowedError, base_depth, check_base_name
from .classify import ClassifyOutcome, LiveTiming, Prediction, classify_text, default_variant_names
from .classify_view import (
    latency_chart,
    notices_markdown,
    outcome_json,
    slot_markdown,
    variant_options,
    variant_summaries,
)
from .compare import (
    DISPLAY_WIDTHS,
    PAPER_CAVEAT,
    build_comparison,
    comparison_rows,
    load_benchmark_rows,
    load_reference,
)
from .damaged import DamagedEntry, damaged_entries, damaged_markdown, delete_damaged, rebuild_of
from .figures import training_figure
from .housekeeping import sweep_leftovers
from .jobs import FinetuneJob, JobBoard, JobRefused, browser_id, client_key
from .panel import PanelSetting, finetune_config, panel_view, read_panel
from .registry import CLASSIFY_CONCURRENCY, BaseSummary, ModelRegistry
from .stack import STACK_CSS
from .startup import load_examples, pick_default_model, startup_banner
from .wording import INTRO, LOAD_ERRORS, no_data_message, scrub_paths, user_message, variant_label

__all__ = [
    "BACKEND_LABELS",
    "CLASSIFY_CONCURRENCY",
    "CPU_BACKENDS",
    "DISPLAY_WIDTHS",
    "INTRO",
    "LOAD_ERRORS",
    "MODEL_DIRS_ENV",
    "PAPER_CAVEAT",
    "STACK_CSS",
    "BaseNotAllowedError",
    "BaseSummary",
    "ClassifyOutcome",
    "DamagedEntry",
    "FinetuneJob",
    "JobBoard",
    "JobRefused",
    "LiveTiming",
    "ModelRegistry",
    "PanelSetting",
    "Prediction",
    "available_backends",
    "browser_id",
    "base_depth",
    "build_comparison",
    "check_base_name",
    "classify_text",
    "client_key",
    "comparison_rows",
    "damaged_entries",
    "damaged_markdown",
    "default_variant_names",
    "delete_damaged",
    "finetune_config",
    "latency_chart",
    "load_benchmark_rows",
    "load_examples",
    "load_reference",
    "no_data_message",
    "notices_markdown",
    "outcome_json",
    "panel_view",
    "pick_default_model",
    "read_panel",
    "rebuild_of",
    "scrub_paths",
    "slot_markdown",
    "startup_banner",
    "sweep_leftovers",
    "training_figure",
    "user_message",
    "variant_label",
    "variant_options",
    "variant_summaries",
]
