"""The prune panel: its widget values as a plan and configs, and what that plan costs and saves.

``read_panel`` is the one place where the panel's raw values (a float from the slider, ticked boxes)
become a checked ``PanelSetting``; the preview turns it into a ``LayerPlan`` and the Fine-tune button
into a ``PruneConfig``, so both always agree. ``panel_view`` resolves the base model once per event and
hands the resolved ``BaseSummary`` down. Impossible settings and models that do not load become
messages in the panel, never exceptions: the user is mid-way through choosing.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from models import get_spec

from ..config import FinetuneConfig, PruneConfig
from ..importance import LayerScores
from ..strategies import LayerPlan, check_strategy, parse_int_list, select_layers
from .bases import BaseNotAllowedError, check_base_name
from .figures import empty_figure, importance_figure
from .registry import BaseSummary
from .stack import error_box, notice_box, stack_svg
from .wording import LOAD_ERRORS, PICK_A_BASE, format_count, scrub_paths, short_model_name, size_mb, user_message


@dataclass(frozen=True)
class PanelSetting:
    """The prune panel's choice, checked against the base model's depth.

    Args:
        strategy (str): a key of ``STRATEGIES``.
        num_layers (int): depth of the base model.
        keep (int): layers to keep (for "custom", how many are ticked).
        layers (tuple[int, ...], optional): the ticked 0-based layers, sorted; "custom" only.
    """

    strategy: str
    num_layers: int
    keep: int
    layers: tuple[int, ...] | None = None

    def plan(self, scores: LayerScores | None = None) -> LayerPlan:
        """The layers this setting keeps; "contribution" needs the base model's importance scores.

        Raises:
            ValueError: "contribution" without scores.
        """
        if self.strategy == "contribution" and scores is None:
            raise ValueError(
                "the contribution strategy needs layer importance scores, which are not available for this model"
            )
        if self.strategy == "custom":
            return select_layers("custom", self.num_layers, layers=list(self.layers or ()))
        return select_layers(self.strategy, self.num_layers, keep=self.keep, scores=scores.cls if scores else None)

    def prune_config(self, vocab_corpus: str | None = None) -> PruneConfig | None:
        """What to fine-tune; None means "keep every layer and token" (the full reference).

        "contribution" needs no scores here: ``build_variant`` scores layers on the chosen dataset's dev split.
        With `vocab_corpus` (``recipe.vocab_corpus``) the vocabulary is cut too; every layer kept then becomes
        "top" at full depth, which ``build_variant`` keys as the full model (no importance scores computed).
        """
        if self.keep == self.num_layers:
            return PruneConfig("top", keep=self.num_layers, vocab_corpus=vocab_corpus) if vocab_corpus else None
        if self.strategy == "custom":
            return PruneConfig("custom", layers=list(self.layers or ()), vocab_corpus=vocab_corpus)
        return PruneConfig(self.strategy, keep=self.keep, vocab_corpus=vocab_corpus)


def read_panel(strategy: str, keep: float | None, layers: Sequence[int] | None, num_layers: int) -> PanelSetting:
    """Check the panel's strategy, slider and layer toggles against a model of `num_layers` layers.

    Raises:
        ValueError: unknown strategy, a slider value outside 1..num_layers, or no / out-of-range custom layers.
    """
    check_strategy(strategy)
    if strategy == "custom":
        chosen = sorted(set(parse_int_list(layers, "layers to keep"))) if layers else []
        select_layers("custom", num_layers, layers=chosen)  # raises with a clear message
        return PanelSetting("custom", num_layers, len(chosen), tuple(chosen))
    k = int(round(keep)) if keep is not None else None
    if k is None or not 1 <= k <= num_layers:
        raise ValueError(f"layers to keep must be between 1 and {num_layers}, got {keep}")
    return PanelSetting(strategy, num_layers, k)


def finetune_config(
    dataset: str,
    epochs: float,
    learning_rate: float,
    max_samples: float | None,
    distil_from: str | None = None,
    alpha: float | None = None,
    temperature: float | None = None,
) -> FinetuneConfig:
    """FinetuneConfig from the panel; 0 or empty sample limit means all training texts.

    `distil_from` is a teacher already checked (``recipe.check_teacher``); None trains on labels alone, and
    then alpha and temperature are left at their defaults, so the config (the cache key) is plain fine-tuning's.
    """
    limit = int(max_samples) if max_samples else None
    distil = {}
    if distil_from:
        defaults = FinetuneConfig()
        distil = {
            "distil_from": distil_from,
            "distil_alpha": float(defaults.distil_alpha if alpha is None else alpha),
            "distil_temperature": float(defaults.distil_temperature if temperature is None else temperature),
        }
    return FinetuneConfig(
        dataset=dataset or "SHC",
        epochs=float(epochs),
        learning_rate=float(learning_rate),
        max_train_samples=limit,
        **distil,
    )


def estimated_speedup(num_layers: int, keep: int) -> float:
    """Encoder time scales with depth, so L/k is the estimate (an upper bound for the whole model)."""
    return num_layers / keep


def measured_speedup(rows: Sequence[dict], model: str, num_layers: int, keep: int) -> dict | None:
    """Measured latency ratio full/keep for `model` from benchmark rows, same backend/device/shape."""
    name = short_model_name(model)
    mine = [r for r in rows if short_model_name(r["model"]) == name and r["backend"] == "torch"]
    for full in (r for r in mine if r["num_layers"] == num_layers):
        for part in mine:
            same = all(part[k] == full[k] for k in ("device", "batch", "seq_len", "backend"))
            if same and part["num_layers"] == keep and part["latency_ms"] > 0:
                return {
                    "ratio": full["latency_ms"] / part["latency_ms"],
                    **{k: full[k] for k in ("device", "batch", "seq_len", "weights")},
                }
    return None


@dataclass
class PlanPreview:
    """What the prune panel shows for one setting; `error` is set instead when the setting is impossible."""

    plan: LayerPlan | None
    stack_html: str
    stats_markdown: str
    error: str | None = None


def plan_preview(
    base: BaseSummary, strategy: str, keep: float | None, layers: Sequence[int] | None, bench_rows: Sequence[dict] = ()
) -> PlanPreview:
    """Stack picture and size/speed numbers for a strategy setting; never raises for bad settings."""
    try:
        plan = read_panel(strategy, keep, layers, base.anatomy.num_layers).plan(base.scores)
    except ValueError as exc:
        message = f"Can't build this plan: {exc}."
        return PlanPreview(None, error_box(message), f"**{html.escape(message, quote=False)}**", error=message)
    return PlanPreview(plan, stack_svg(plan), plan_stats(base, plan, bench_rows))


def plan_stats(base: BaseSummary, plan: LayerPlan, bench_rows: Sequence[dict] = ()) -> str:
    """Markdown: parameters, fp32 size and expected speed-up of a plan, each saying what it is."""
    anatomy = base.anatomy
    before, after = anatomy.total_params, anatomy.params_after(plan.kept)
    cut = 100 * (1 - after / before)
    speed = estimated_speedup(plan.num_layers, plan.keep)
    lines = [
        f"**Keeping {plan.keep} of {plan.num_layers} layers** ({plan.strategy}). "
        f"Parameters {format_count(before)} → **{format_count(after)}** (−{cut:.0f}%), "
        f"size {size_mb(before):.1f} → **{size_mb(after):.1f} MB** in fp32 (counted from the loaded model; "
        f"embeddings and classifier are {format_count(anatomy.other_params)} of it and are never pruned).",
        f"**Expected speed-up ≈ {speed:.1f}×**: an *estimate* from the layer count ({plan.num_layers}/{plan.keep}); "
        "embeddings, the classifier head and tokenisation don't shrink, so the real gain is smaller.",
    ]
    measured = measured_speedup(bench_rows, base.name, plan.num_layers, plan.keep)
    if measured:
        lines.append(
            f"**Measured: {measured['ratio']:.1f}×** for this depth on {measured['device']} "
            f"(batch {measured['batch']}, {measured['seq_len']} tokens; assets/benchmark.json, {measured['weights']})."
        )
    return "\n\n".join(lines)


def panel_view(
    lookup: Callable[[str], BaseSummary],
    name: str | None,
    strategy: str,
    keep: float | None,
    layers: Sequence[int] | None,
    bench_rows: Sequence[dict] = (),
) -> tuple[PlanPreview, go.Figure]:
    """Everything the prune panel shows for one setting; model or plan problems become messages, never errors.

    Args:
        lookup: resolves a base-model name (``ModelRegistry.base_summary``); called once.
        name: the base model as entered.
    """
    if not (name or "").strip():
        return PlanPreview(None, notice_box(PICK_A_BASE), PICK_A_BASE, error=PICK_A_BASE), empty_figure(
            "Layer importance", PICK_A_BASE
        )
    try:
        name = check_base_name(name)
        base = lookup(name)
    except LOAD_ERRORS as exc:
        message = user_message(exc)
        spec = None if isinstance(exc, BaseNotAllowedError) else get_spec(name.strip())
        if spec is not None:  # a catalog model's depth is known without loading it
            return catalog_preview(spec.num_layers, strategy, keep, layers, message), empty_figure(
                "Layer importance", "Importance scores need the model itself."
            )
        return PlanPreview(None, error_box(message), html.escape(message, quote=False), error=message), empty_figure(
            "Layer importance", "–"
        )
    view = plan_preview(base, strategy, keep, layers, bench_rows)
    return view, importance_figure(base.scores, view.plan, note=scrub_paths(base.scores_note))


def catalog_preview(
    depth: int, strategy: str, keep: float | None, layers: Sequence[int] | None, problem: str
) -> PlanPreview:
    """The stack picture of a plan on a catalog model that does not load here, with why sizes are missing."""
    try:
        plan = read_panel(strategy, keep, layers, depth).plan(None)
    except ValueError as exc:
        message = f"Can't build this plan: {exc}. {problem}"
        return PlanPreview(None, error_box(message), f"**{html.escape(message, quote=False)}**", error=message)
    stats = (
        f"**Keeping {plan.keep} of {plan.num_layers} layers** ({plan.strategy}). The model itself can't be "
        f"loaded here, so sizes and importance scores are missing: {html.escape(problem, quote=False)}"
    )
    return PlanPreview(plan, stack_svg(plan), stats, error=problem)
