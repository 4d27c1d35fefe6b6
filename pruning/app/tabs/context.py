"""What the three tabs share: the model registry, the fine-tune board and what start-up found.

``AppContext.start()`` does the start-up work once (``app.py`` calls it at import, and a test that
re-imports ``app.py`` gets a fresh one): leftovers swept, the default base model picked, the cached
variants listed, the first variants warmed up in the background. Each tab takes the context as an
argument, so no tab module holds state of its own and a tab can be built twice (a re-import) without
sharing anything with the first build.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from models import bundled_dir, hub_reachable

from ...cache import VariantCache
from ..backends import BACKEND_LABELS, CPU_BACKENDS, available_backends
from ..classify import default_variant_names
from ..compare import load_benchmark_rows, load_reference
from ..housekeeping import sweep_leftovers
from ..jobs import JobBoard
from ..recipe import VocabSizes
from ..registry import ModelRegistry
from ..startup import load_examples, pick_default_model
from ..training import gpu_trainer
from ..wording import user_message

MAX_SLOTS = 4  # variants side by side in Classify
TRACK_TQDM = gr.Progress(track_tqdm=True)  # gradio builds a fresh tracker per call from this default
# Jobs wait in the board's own line (one slot on CPU): these events only stream a job's progress.
WATCH = {"concurrency_limit": 16, "concurrency_id": "finetune-watch"}


def gr_error(exc: Exception) -> gr.Error:
    """A library error as the toast a visitor reads: short, no paths (details go to the log)."""
    return gr.Error(user_message(exc), print_exception=False)


@dataclass
class AppContext:
    """The shared state of one app: built once by ``start`` and passed to every tab.

    Args:
        registry (ModelRegistry): the user's variants and the read-only bundled ones, base models, loaded once.
        jobs (JobBoard): the server's fine-tunes; its trainer is the ZeroGPU-decorated training call.
        leftovers (dict[str, int]): what start-up swept (temp folders, old Compare CSVs, stop files).
        hub_ok (bool): whether the Hugging Face Hub answered at start-up.
        default_model (str, optional): the base the prune panel opens with; None when none loads.
        load_problems (list[str]): why the preferred bases did not load (for the banner).
        depth (int): the default base's encoder layers (the panel's first slider range).
        bench, reference: benchmark rows and the paper's numbers, for Compare.
        examples (list[str]): the demo headlines; the first is classified on page load.
        variants (list[dict]): the variants known when the UI is built (the API schema lists them).
        first_variants, first_backends (list[str]): Classify's default selection, warmed up at start.
        vocab_sizes (VocabSizes): sizes after a vocabulary cut, counted once per base and dataset for every visitor.
    """

    registry: ModelRegistry
    jobs: JobBoard
    leftovers: dict[str, int]
    hub_ok: bool
    default_model: str | None
    load_problems: list[str]
    depth: int
    bench: list[dict]
    reference: dict
    examples: list[str]
    variants: list[dict]
    first_variants: list[str]
    first_backends: list[str]
    vocab_sizes: VocabSizes = field(default_factory=VocabSizes)

    @classmethod
    def start(cls) -> AppContext:
        """Open the cache, sweep leftovers, pick the default base, list the variants and warm the first ones."""
        registry = ModelRegistry(VariantCache(bundled=bundled_dir()))
        # Compare labels what this process trained; on ZeroGPU only the training call holds a GPU
        jobs = JobBoard(registry.cache, on_built=registry.mark_built, trainer=gpu_trainer())
        leftovers = sweep_leftovers(registry.cache)  # temp folders, old Compare CSVs and stop files older than 1 h
        hub_ok = hub_reachable()
        default_model, problems = pick_default_model(registry.base)
        depth = registry.anatomy(default_model).num_layers if default_model else 12
        bench, reference, examples = load_benchmark_rows(), load_reference(), load_examples()
        variants = registry.records()
        first_variants = default_variant_names(variants)[:MAX_SLOTS]
        first_backends = [b for b in available_backends() if b in CPU_BACKENDS]
        registry.warm_up(first_variants, first_backends, background=True)  # the first visitor won't wait
        return cls(
            registry=registry,
            jobs=jobs,
            leftovers=leftovers,
            hub_ok=hub_ok,
            default_model=default_model,
            load_problems=problems,
            depth=depth,
            bench=bench,
            reference=reference,
            examples=examples,
            variants=variants,
            first_variants=first_variants,
            first_backends=first_backends,
        )

    @property
    def timing_text(self) -> str:
        """The text Compare times every cached variant on."""
        return self.examples[0] if self.examples else "मराठी बातमी"

    @property
    def backend_choices(self) -> list[tuple[str, str]]:
        """(label, backend) of every backend this machine can run, for the Classify checkboxes."""
        return [(BACKEND_LABELS[b], b) for b in available_backends()]
