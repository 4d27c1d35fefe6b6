"""The logic behind ``app.py``, testable without Gradio.

``app.py`` only wires widgets to the functions here. This module holds: the encoder-stack picture
(inline SVG), plan previews with size and speed estimates, the plotly figures, a registry that loads
every model once and is safe to call from many threads, per-request classification with measured
latency, background fine-tune jobs that stream their events, and the comparison table in which
every row says where its numbers came from (this run / cache / sweep / benchmark / paper) and on
which device it was timed.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import json
import logging
import math
import os
import re
import statistics
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import torch

from models import CATALOG, HubUnreachableError, LoadedModel, get_spec, load_classifier
from models.loading import ModelNotFoundError

from .cache import VariantCache
from .config import FinetuneConfig, PruneConfig
from .data import DataNotFoundError, load_mahanews, normalise_text
from .finetune import FinetuneCancelled, TrainEvent
from .importance import LayerScores, compute_layer_scores
from .pipeline import build_variant
from .strategies import STRATEGIES, LayerPlan, select_layers
from .surgery import encoder_layers

try:  # the latency harness (pruning/latency.py); the app works without it
    from .latency import device_name as _device_name
    from .latency import torch_threads
except ImportError:  # pragma: no cover - only when latency.py is absent
    _device_name = None

    @contextlib.contextmanager
    def torch_threads(threads: int | None) -> Iterator[int]:
        before = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            yield torch.get_num_threads()
        finally:
            torch.set_num_threads(before)


logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
REFERENCE_FILE = ASSETS / "reference.json"
EXAMPLES_FILE = ASSETS / "examples.json"
BENCHMARK_FILE = ASSETS / "benchmark.json"
SWEEP_FILE = ASSETS / "sweep" / "results.csv"

CALIBRATION_TEXTS = 128  # dev headlines used for the importance chart
MAX_CHARS = 20_000  # longer input is cut before tokenising (the longest MahaNews documents are shorter)
MAX_LOADED_BASES = 2  # a full-size base model takes ~1 GB in fp32
MAX_LOADED_VARIANTS = 8
# torch's intra-op thread count is per Python thread. One thread per request keeps 20 concurrent requests
# (and a busy shared CPU) from fighting over cores; fine-tuning uses all cores unless told otherwise.
INFER_THREADS = int(os.environ.get("MARATHI_PRUNE_INFER_THREADS", "1"))
TRAIN_THREADS = (
    int(os.environ["MARATHI_PRUNE_TRAIN_THREADS"]) if os.environ.get("MARATHI_PRUNE_TRAIN_THREADS") else None
)
TRAIN_LOCK = threading.Lock()  # one fine-tune at a time in this process, whatever the queue does
LOAD_ERRORS = (HubUnreachableError, ModelNotFoundError, DataNotFoundError, OSError, ValueError)
NO_VARIANT = (
    "No fine-tuned model yet. Fine-tune one in the “Prune & fine-tune” tab first "
    "(a variant that is already cached loads instantly), then classify."
)
PAPER_CAVEAT = (
    "Paper points are full-size models fine-tuned on the full MahaNews splits; local points are this "
    "project's mini models on the offline split. They give context, not a like-for-like comparison."
)
_DEVANAGARI = re.compile("[\u0900-\u097f]")

# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------


def format_count(n: float | None) -> str:
    """1234567 -> '1.23 M'; 12345 -> '12.3 k'."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    if abs(n) >= 1e9:
        return f"{n / 1e9:.2f} B"
    if abs(n) >= 1e6:
        return f"{n / 1e6:.2f} M"
    if abs(n) >= 1e3:
        return f"{n / 1e3:.1f} k"
    return str(int(n))


def size_mb(num_params: int, bytes_per_param: int = 4) -> float:
    """Weight size in MB (10^6 bytes); fp32 by default."""
    return num_params * bytes_per_param / 1e6


def format_layers(indices: Sequence[int]) -> str:
    """0-based indices -> 1-based ranges as people read them: [0, 1, 2, 9] -> '1–3, 10'."""
    if not indices:
        return "none"
    nums = sorted(i + 1 for i in indices)
    runs, start, prev = [], nums[0], nums[0]
    for n in nums[1:] + [None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        runs.append(f"{start}" if start == prev else f"{start}, {prev}" if prev == start + 1 else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(runs)


def short_model_name(name_or_path: str) -> str:
    """Catalog name, or the last part of a hub id / folder."""
    spec = get_spec(name_or_path)
    return spec.name if spec else str(name_or_path).rstrip("/").split("/")[-1]


_device_cache: list[str] = []


def device_label() -> str:
    """Where this process runs inference: the CPU (model and threads); variants always run on CPU here."""
    if not _device_cache:
        name = "cpu"
        if _device_name is not None:
            try:
                name = f"cpu ({_device_name('cpu').split(' (')[0]})"
            except Exception:  # noqa: BLE001 - a name is nice to have, never worth a failed request
                pass
        _device_cache.append(name)
    return f"{_device_cache[0]}, {INFER_THREADS} thread{'s' if INFER_THREADS > 1 else ''}"


# ---------------------------------------------------------------------------------------------
# Model anatomy, plan preview, size and speed
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelAnatomy:
    """Parameter counts of a model, split so the size after pruning can be computed exactly."""

    num_layers: int
    total_params: int
    layer_params: tuple[int, ...]  # one entry per encoder layer, bottom first

    @property
    def other_params(self) -> int:
        """Embeddings, pooler and classifier: untouched by layer pruning."""
        return self.total_params - sum(self.layer_params)

    def params_after(self, kept: Sequence[int]) -> int:
        return self.other_params + sum(self.layer_params[i] for i in kept)


def anatomy_of(model: torch.nn.Module) -> ModelAnatomy:
    layers = encoder_layers(model)
    per_layer = tuple(sum(p.numel() for p in layer.parameters()) for layer in layers)
    total = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    return ModelAnatomy(len(layers), total, per_layer)


def estimated_speedup(num_layers: int, keep: int) -> float:
    """Encoder time scales with depth, so L/k is the estimate (an upper bound for the whole model)."""
    return num_layers / keep


def _first(row: Mapping, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if row.get(key) is not None:
            return row[key]
    return default


def load_benchmark_rows(path: Path = BENCHMARK_FILE) -> list[dict]:
    """Rows of assets/benchmark.json (written by scripts/benchmark_report.py), normalised; [] if absent."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if Path(path).exists():
            logger.warning("ignoring unreadable %s: %s", path, exc)
        return []
    raw = data.get("rows", []) if isinstance(data, dict) else data
    rows = []
    for row in raw if isinstance(raw, list) else []:
        if not isinstance(row, dict):
            continue
        latency = _first(row, "p50_ms", "latency_ms", "median_ms")
        layers = _first(row, "num_layers", "layers", "keep")
        if latency is None or layers is None:
            continue
        params = row.get("params")
        rows.append({
            "model": str(_first(row, "model", "base_model", default="?")),
            "variant": str(_first(row, "variant", "model", default="?")),
            "weights": str(row.get("weights") or "unknown"),
            "num_layers": int(layers),
            "latency_ms": float(latency),
            "device": str(_first(row, "device_name", "device", default="?")),
            "backend": str(row.get("backend") or "torch"),
            "batch": _first(row, "batch", "batch_size"),
            "seq_len": _first(row, "seq_len", "seq_length"),
            "params": params.get("total") if isinstance(params, dict) else params,
            "_raw": row,
        })  # fmt: skip
    return rows


def measured_speedup(rows: Sequence[dict], model: str, num_layers: int, keep: int) -> dict | None:
    """Measured latency ratio full/keep for `model` from benchmark rows, same backend/device/shape."""
    name = short_model_name(model)
    mine = [r for r in rows if short_model_name(r["model"]) == name and r["backend"] == "torch"]
    for full in (r for r in mine if r["num_layers"] == num_layers):
        for part in mine:
            same = all(part[k] == full[k] for k in ("device", "batch", "seq_len", "backend"))
            if same and part["num_layers"] == keep and part["latency_ms"] > 0:
                return {"ratio": full["latency_ms"] / part["latency_ms"], "device": full["device"],
                        "batch": full["batch"], "seq_len": full["seq_len"], "weights": full["weights"]}  # fmt: skip
    return None


@dataclass
class PlanPreview:
    """What the prune panel shows for one setting; `error` is set instead when the setting is impossible."""

    plan: LayerPlan | None
    stack_html: str
    stats_markdown: str
    error: str | None = None


def make_plan(strategy: str, num_layers: int, keep: int | float | None, layers: Sequence[int] | None,
              scores: LayerScores | None) -> LayerPlan:  # fmt: skip
    """select_layers with UI values (floats from sliders, None for unticked custom)."""
    if strategy == "contribution" and scores is None:
        raise ValueError(
            "the contribution strategy needs layer importance scores, which are not available for this model"
        )
    keep_int = int(round(keep)) if keep is not None else None
    if strategy == "custom":
        return select_layers("custom", num_layers, layers=[int(i) for i in (layers or [])])
    return select_layers(strategy, num_layers, keep=keep_int, scores=scores.cls if scores else None)


def plan_preview(anatomy: ModelAnatomy, model: str, strategy: str, keep: float | None, layers: Sequence[int] | None,
                 scores: LayerScores | None, bench_rows: Sequence[dict] = ()) -> PlanPreview:  # fmt: skip
    """Stack picture and size/speed numbers for a strategy setting; never raises for bad settings."""
    try:
        plan = make_plan(strategy, anatomy.num_layers, keep, layers, scores)
    except ValueError as exc:
        message = f"Can't build this plan: {exc}."
        box = f'<div class="stack-error" role="alert">⚠️ {html.escape(message)}</div>'
        return PlanPreview(None, box, f"**{html.escape(message)}**", error=message)
    return PlanPreview(plan, stack_svg(plan), plan_stats(anatomy, plan, model, bench_rows))


def plan_stats(anatomy: ModelAnatomy, plan: LayerPlan, model: str, bench_rows: Sequence[dict] = ()) -> str:
    """Markdown: parameters, fp32 size and expected speed-up of a plan, each saying what it is."""
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
    measured = measured_speedup(bench_rows, model, plan.num_layers, plan.keep)
    if measured:
        lines.append(
            f"**Measured: {measured['ratio']:.1f}×** for this depth on {measured['device']} "
            f"(batch {measured['batch']}, {measured['seq_len']} tokens; assets/benchmark.json, {measured['weights']})."
        )
    return "\n\n".join(lines)


def panel_view(registry: ModelRegistry, name: str | None, strategy: str, keep: float | None,
               layers: Sequence[int] | None, bench_rows: Sequence[dict] = ()) -> tuple[PlanPreview, go.Figure]:  # fmt: skip
    """Everything the prune panel shows for one setting; model or plan problems become messages, never errors."""
    if not (name or "").strip():
        message = "Pick a base model above (or type a Hugging Face id or a local folder)."
        return PlanPreview(None, f'<div class="stack-error">{message}</div>', message, error=message), _empty_figure(
            "Layer importance", message)  # fmt: skip
    try:
        anatomy = registry.anatomy(name)
    except LOAD_ERRORS as exc:
        message = f"Could not load {name}: {exc}"
        box = f'<div class="stack-error" role="alert">⚠️ {html.escape(message)}</div>'
        return PlanPreview(None, box, html.escape(message), error=message), _empty_figure("Layer importance", "–")
    scores = registry.scores(name)
    view = plan_preview(anatomy, name, strategy, keep, layers, scores, bench_rows)
    return view, importance_figure(scores, view.plan, note=registry.scores_error(name) or "")


# ---------------------------------------------------------------------------------------------
# Pictures and figures
# ---------------------------------------------------------------------------------------------

KEPT_FILL, DROPPED_FILL, EDGE_FILL = "#1d4ed8", "#f3f4f6", "#e5e7eb"
PAPER_COLOUR = "#f59e0b"


def stack_svg(plan: LayerPlan) -> str:
    """HTML with an inline SVG of the encoder: one box per layer, bottom layer at the bottom.

    Kept layers are solid blue and labelled "kept"; dropped ones are pale, hatched, dashed and
    labelled "dropped", so the picture reads without colour. Boxes carry ``data-state`` for tests.
    """
    n, kept = plan.num_layers, set(plan.kept)
    box_h = max(14, min(26, 330 // n))
    gap, width, x0 = 4, 300, 8
    font = max(9, min(13, box_h - 9))
    height = (n + 2) * (box_h + gap) + gap

    def box(row: int, fill: str, text_left: str, text_right: str, *, state: str = "", colour: str = "#111827",
            dashed: bool = False, layer: int | None = None) -> str:  # fmt: skip
        y = gap + row * (box_h + gap)
        attrs = f' class="layer {state}" data-state="{state}" data-layer="{layer}"' if state else ""
        stroke = ' stroke-dasharray="4 3"' if dashed else ""
        hatch = (f'<rect x="{x0}" y="{y}" width="{width - 2 * x0}" height="{box_h}" rx="4" fill="url(#hatch)"/>'
                 if state == "dropped" else "")  # fmt: skip
        ty = y + box_h / 2 + font / 2.8
        return (
            f"<g{attrs}><rect x='{x0}' y='{y}' width='{width - 2 * x0}' height='{box_h}' rx='4' fill='{fill}' "
            f"stroke='#6b7280' stroke-width='1'{stroke}/>{hatch}"
            f"<text x='{x0 + 10}' y='{ty:.1f}' font-size='{font}' fill='{colour}'>{html.escape(text_left)}</text>"
            f"<text x='{width - x0 - 10}' y='{ty:.1f}' font-size='{font}' fill='{colour}' text-anchor='end'>"
            f"{html.escape(text_right)}</text></g>"
        )

    parts = [box(0, EDGE_FILL, "classifier head (12 topics)", "always kept")]
    for i in reversed(range(n)):
        row = n - i
        if i in kept:
            parts.append(box(row, KEPT_FILL, f"Layer {i + 1}", "✓ kept", state="kept", colour="#ffffff", layer=i + 1))
        else:
            parts.append(box(row, DROPPED_FILL, f"Layer {i + 1}", "✕ dropped", state="dropped", colour="#4b5563",
                             dashed=True, layer=i + 1))  # fmt: skip
    parts.append(box(n + 1, EDGE_FILL, "embeddings (input tokens)", "always kept"))
    summary = (f"Encoder stack: {plan.keep} of {n} layers kept (layers {format_layers(plan.kept)}), "
               f"{len(plan.dropped)} dropped (layers {format_layers(plan.dropped)})")  # fmt: skip
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(summary)}" font-family="system-ui, sans-serif">'
        f"<title>{html.escape(summary)}</title>"
        '<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<line x1="0" y1="0" x2="0" y2="8" stroke="#9ca3af" stroke-width="2"/></pattern></defs>'
        + "".join(parts)
        + "</svg>"
    )
    legend = (
        f'<div class="stack-legend"><span class="swatch" style="background:{KEPT_FILL}"></span> '
        f"<b>kept ({plan.keep})</b>: layers {format_layers(plan.kept)}<br>"
        f'<span class="swatch swatch-dropped"></span> <b>dropped ({len(plan.dropped)})</b>: '
        f"{'layers ' + format_layers(plan.dropped) if plan.dropped else 'none'}<br>"
        "Layer 1 is the bottom (next to the embeddings); text flows bottom → top.</div>"
    )
    title = f'<div class="stack-title"><b>{html.escape(plan.strategy)}</b>: {plan.keep} of {n} layers kept</div>'
    return f'<div class="stack-picture" data-kept="{plan.keep}" data-dropped="{len(plan.dropped)}">{title}{svg}{legend}</div>'


def _empty_figure(title: str, message: str, height: int = 320) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 13})
    fig.update_layout(title=title, height=height, xaxis={"visible": False}, yaxis={"visible": False},
                      margin={"l": 30, "r": 20, "t": 50, "b": 30})  # fmt: skip
    return fig


def importance_figure(scores: LayerScores | None, plan: LayerPlan | None, note: str = "") -> go.Figure:
    """Horizontal bars, layer 1 at the bottom like the stack: 1 − cos(input, output) of [CLS] per layer."""
    title = "Layer importance"
    if scores is None:
        return _empty_figure(title, note or "Importance scores are not available for this model.")
    n = len(scores.cls)
    kept = set(plan.kept) if plan else set(range(n))
    fig = go.Figure()
    for state, colour, pattern in (("kept", KEPT_FILL, ""), ("dropped", "#9ca3af", "/")):
        idx = [i for i in range(n) if (i in kept) == (state == "kept")]
        if not idx:
            continue
        fig.add_bar(
            y=[f"Layer {i + 1}" for i in idx], x=[1 - scores.cls[i] for i in idx], orientation="h", name=state,
            marker={"color": colour, "pattern": {"shape": pattern}},
            customdata=[[scores.cls[i], scores.mean[i]] for i in idx],
            hovertemplate="%{y}: change %{x:.3f}<br>cos(in, out) [CLS] %{customdata[0]:.3f}, "
                          "mean-pooled %{customdata[1]:.3f}<extra>" + state + "</extra>",
        )  # fmt: skip
    fig.update_layout(
        title={"text": f"{title}<br><sup>1 − cosine(layer input, output) of [CLS] on {scores.num_texts} dev "
                       "headlines; higher = changes more</sup>"},
        height=max(320, 28 * n + 120), barmode="overlay", margin={"l": 80, "r": 20, "t": 70, "b": 40},
        yaxis={"categoryorder": "array", "categoryarray": [f"Layer {i + 1}" for i in range(n)]},
        xaxis={"title": "change (1 − cos)"}, legend={"orientation": "h", "y": -0.12},
    )  # fmt: skip
    return fig


def training_figure(events: Sequence[Mapping]) -> go.Figure:
    """Live curve: training loss per step (left axis) and dev accuracy per evaluation (right axis)."""
    steps = [e for e in events if e.get("kind") == "step"]
    evals = [e for e in events if e.get("kind") == "eval"]
    if not steps:
        return _empty_figure("Training curve", "The curve appears when training starts.", height=300)
    fig = go.Figure()
    fig.add_scatter(x=[e["step"] for e in steps], y=[e["loss"] for e in steps], name="training loss", mode="lines")
    fig.add_scatter(x=[e["step"] for e in evals], y=[100 * e["dev_accuracy"] for e in evals], name="dev accuracy %",
                    mode="lines+markers", yaxis="y2", marker={"symbol": "diamond", "size": 9})  # fmt: skip
    total = steps[-1].get("total_steps") or steps[-1]["step"]
    fig.update_layout(
        title=f"Training curve (step {steps[-1]['step']} of {total})", height=300,
        xaxis={"title": "step", "range": [0, total]}, yaxis={"title": "loss"},
        yaxis2={"title": "dev accuracy %", "overlaying": "y", "side": "right", "range": [0, 100]},
        legend={"orientation": "h", "y": -0.25}, margin={"l": 50, "r": 50, "t": 40, "b": 40},
    )  # fmt: skip
    return fig


# ---------------------------------------------------------------------------------------------
# Registry: every model loaded once, thread-safe
# ---------------------------------------------------------------------------------------------


@dataclass
class LoadedVariant:
    """A fine-tuned variant ready for inference (eval mode, read-only)."""

    name: str
    model: torch.nn.Module
    tokenizer: Any
    record: dict
    max_length: int
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)  # fast tokenizers are not reentrant


def variant_kind(record: Mapping) -> str:
    """'scratch' (small model pretrained at its depth), 'pruned' or 'full'."""
    if record.get("base_role") == "scratch":
        return "scratch"
    plan = record.get("plan") or {}
    return "pruned" if plan.get("keep", 0) < plan.get("num_layers", 0) else "full"


def describe_variant(record: Mapping) -> str:
    """'offline-teacher · middle 6/12 · SHC · seed 42'."""
    plan, ft = record.get("plan", {}), record.get("finetune_config", {})
    how = f"{plan.get('strategy')} {plan.get('keep')}/{plan.get('num_layers')}" if variant_kind(record) == "pruned" \
        else f"{plan.get('num_layers')} layers"  # fmt: skip
    return (
        f"{short_model_name(record.get('base_model', '?'))} · {how} · {ft.get('dataset', '?')} · seed {ft.get('seed')}"
    )


def variant_label(record: Mapping) -> str:
    """One line for the variant picker: kind, description, test accuracy."""
    acc = record.get("test_metrics", {}).get("accuracy")
    return f"{variant_kind(record)} · {describe_variant(record)} · test acc {100 * (acc or 0):.1f}%"


def default_variant_names(records: Sequence[Mapping]) -> list[str]:
    """The newest full, pruned and scratch variants, preferring the newest variant's dataset."""
    if not records:
        return []
    dataset = records[0].get("finetune_config", {}).get("dataset")
    same = [r for r in records if r.get("finetune_config", {}).get("dataset") == dataset]
    picked = []
    for kind in ("full", "pruned", "scratch"):
        match = next((r for r in same if variant_kind(r) == kind), None) or next(
            (r for r in records if variant_kind(r) == kind), None)  # fmt: skip
        if match:
            picked.append(match["name"])
    return picked


class ModelRegistry:
    """Base models, their anatomy and importance scores, and fine-tuned variants: each loaded once.

    Safe to call from many request threads: a global lock guards the dictionaries and a per-key lock
    makes concurrent first requests for the same model wait for one load instead of loading twice.
    """

    def __init__(self, cache: VariantCache | None = None, max_bases: int = MAX_LOADED_BASES,
                 max_variants: int = MAX_LOADED_VARIANTS) -> None:  # fmt: skip
        self.cache = cache or VariantCache()
        self.max_bases, self.max_variants = max_bases, max_variants
        self.built_this_run: set[str] = set()
        self._bases: OrderedDict[str, LoadedModel] = OrderedDict()
        self._variants: OrderedDict[str, LoadedVariant] = OrderedDict()
        self._anatomy: dict[str, ModelAnatomy] = {}
        self._scores: dict[str, LayerScores | str] = {}
        self._latency: dict[str, dict] = {}
        self._jobs: dict[str, FinetuneJob] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def _once(self, store: dict, key: str, loader: Callable[[], Any], limit: int | None = None) -> Any:
        with self._lock:
            if key in store:
                if isinstance(store, OrderedDict):
                    store.move_to_end(key)
                return store[key]
            key_lock = self._key_locks.setdefault(f"{id(store)}:{key}", threading.Lock())
        with key_lock:
            with self._lock:
                if key in store:
                    return store[key]
            value = loader()
            with self._lock:
                store[key] = value
                while limit is not None and len(store) > limit:
                    store.popitem(last=False)
        return value

    def base(self, name: str) -> LoadedModel:
        """The pretrained base model (catalog name, hub id or folder), loaded once.

        Raises:
            HubUnreachableError, ModelNotFoundError, ValueError: with a message saying what to do.
        """
        name = (name or "").strip()
        return self._once(self._bases, name, lambda: load_classifier(name), self.max_bases)

    def anatomy(self, name: str) -> ModelAnatomy:
        name = (name or "").strip()
        return self._once(self._anatomy, name, lambda: anatomy_of(self.base(name).model))

    def scores(self, name: str, show_progress: bool = True) -> LayerScores | None:
        """Importance scores on ~128 dev headlines, computed once per model; None when impossible."""
        name = (name or "").strip()

        def compute() -> LayerScores | str:
            try:
                loaded = self.base(name)
                with torch_threads(INFER_THREADS):
                    return compute_layer_scores(loaded.model, loaded.tokenizer, calibration_texts(), max_length=64,
                                            show_progress=show_progress)  # fmt: skip
            except LOAD_ERRORS as exc:
                logger.warning("no importance scores for %s: %s", name, exc)
                return f"{exc}"

        value = self._once(self._scores, name, compute)
        return value if isinstance(value, LayerScores) else None

    def scores_error(self, name: str) -> str | None:
        value = self._scores.get((name or "").strip())
        return value if isinstance(value, str) else None

    def records(self) -> list[dict]:
        """Readable cached variants, newest first."""
        return self.cache.list().records

    def variant(self, name: str) -> LoadedVariant:
        """A cached variant by folder name, loaded once (CPU, eval mode)."""

        def load() -> LoadedVariant:
            model, tokenizer, record = self.cache.load(name)
            model.eval().requires_grad_(False)
            train = FinetuneConfig.from_dict(record["finetune_config"])
            limit = min(train.effective_max_length, model.config.max_position_embeddings)
            return LoadedVariant(record["name"], model, tokenizer, record, limit)

        return self._once(self._variants, name, load, self.max_variants)

    def latency(self, name: str, text: str, repeats: int = 7) -> dict:
        """Median forward latency of a variant at batch 1 on `text`, measured once per process."""

        def measure() -> dict:
            variant = self.variant(name)
            samples = [predict(variant, text)[1]["forward_ms"] for _ in range(repeats + 2)][2:]
            return {"median_ms": statistics.median(samples), "device": device_label(), "repeats": repeats}

        return self._once(self._latency, name, measure)

    # fine-tune jobs, one per browser session
    def start_job(self, session: str, base: str, prune: PruneConfig | None, train: FinetuneConfig) -> FinetuneJob:
        job = FinetuneJob(self, base, prune, train, stop_file=_stop_file(session)).start()
        with self._lock:
            self._jobs[session] = job
        return job

    def cancel_job(self, session: str) -> str:
        """Ask the session's fine-tune to stop after its current step; returns what happened."""
        _stop_file(session).touch()  # seen even by a job running in another process (ZeroGPU)
        with self._lock:
            job = self._jobs.get(session)
        if job is not None and job.finished:
            return "No fine-tune is running in this session."
        if job is not None:
            job.cancel()
        return "Cancelling: a running fine-tune stops after its current training step; nothing is saved."


def _stop_file(session: str) -> Path:
    folder = Path(tempfile.gettempdir()) / "marathi-prune-stop"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / re.sub(r"[^A-Za-z0-9_-]", "_", session or "anonymous")


_calibration_lock = threading.Lock()
_calibration: list[str] = []


def calibration_texts(n: int = CALIBRATION_TEXTS) -> list[str]:
    """The first `n` validation headlines of SHC (never test text), loaded once."""
    with _calibration_lock:
        if not _calibration:
            data, _ = load_mahanews("SHC")
            _calibration.extend(list(data["validation"]["text"])[:n])
        return list(_calibration[:n])


# ---------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------


@dataclass
class Prediction:
    """One variant's answer to one request, with the time it took."""

    name: str
    description: str  # describe_variant of its record
    kind: str
    probabilities: dict[str, float]
    forward_ms: float
    tokenize_ms: float
    device: str
    num_tokens: int
    max_length: int
    test_accuracy: float | None

    @property
    def truncated(self) -> bool:
        return self.num_tokens > self.max_length

    def top(self, k: int = 5) -> dict[str, float]:
        return dict(sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k])

    def summary_markdown(self) -> str:
        lines = [
            f"**{self.kind}** · {html.escape(self.description)}",
            f"Latency **{self.forward_ms:.1f} ms** model + {self.tokenize_ms:.1f} ms tokenising "
            f"(this request, {self.device})",
        ]
        if self.test_accuracy is not None:
            lines.append(f"Test accuracy {100 * self.test_accuracy:.1f}% (offline split)")
        if self.truncated:
            lines.append(f"Read only the first {self.max_length} of {self.num_tokens} tokens")
        return "\n\n".join(lines)


@dataclass
class ClassifyOutcome:
    predictions: list[Prediction]
    notices: list[str]


def check_text(text: str | None) -> tuple[str, list[str]]:
    """Normalised text and notices about it; ValueError when there is nothing to classify."""
    text = normalise_text(text or "")
    if not text:
        raise ValueError("Please enter some Marathi text (a news headline works best).")
    notices = []
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
        notices.append(f"The text was cut to its first {MAX_CHARS:,} characters.")
    if not _DEVANAGARI.search(text):
        notices.append("The text has no Devanagari (Marathi) letters; the models were trained on Marathi, "
                       "so expect a meaningless answer.")  # fmt: skip
    return text, notices


def predict(variant: LoadedVariant, text: str) -> tuple[dict[str, float], dict]:
    """Class probabilities for one text and its timings (tokenising and model forward, in ms)."""
    with variant.tokenizer_lock:
        num_tokens = len(variant.tokenizer(text, truncation=False, verbose=False)["input_ids"])
        start = time.perf_counter()
        batch = variant.tokenizer(text, truncation=True, max_length=variant.max_length, return_tensors="pt")
        tokenize_ms = (time.perf_counter() - start) * 1000
    with torch_threads(INFER_THREADS), torch.inference_mode():
        start = time.perf_counter()
        logits = variant.model(**batch).logits[0]
        forward_ms = (time.perf_counter() - start) * 1000
    probs = torch.softmax(logits.float(), dim=-1).tolist()
    id2label = variant.model.config.id2label
    return {id2label[i]: p for i, p in enumerate(probs)}, {
        "forward_ms": forward_ms, "tokenize_ms": tokenize_ms, "num_tokens": num_tokens}  # fmt: skip


def classify(registry: ModelRegistry, names: Sequence[str] | None, text: str | None) -> ClassifyOutcome:
    """Classify `text` with each named cached variant (default: newest full / pruned / scratch).

    Raises:
        ValueError: empty text, or no fine-tuned variant exists yet.
    """
    text, notices = check_text(text)
    records = {r["name"]: r for r in registry.records()}
    if not records:
        raise ValueError(NO_VARIANT)
    names = [n for n in (names or []) if n] or default_variant_names(list(records.values()))
    gone = [n for n in names if n not in records]
    if gone:
        notices.append(f"No longer in the cache, skipped: {', '.join(gone)}.")
    predictions = []
    for name in (n for n in names if n in records):
        variant = registry.variant(name)
        probabilities, t = predict(variant, text)
        predictions.append(Prediction(name, describe_variant(variant.record), variant_kind(variant.record), probabilities,
                                      t["forward_ms"], t["tokenize_ms"], device_label(), t["num_tokens"],
                                      variant.max_length, variant.record["test_metrics"].get("accuracy")))  # fmt: skip
    for limit in sorted({p.max_length for p in predictions if p.truncated}):
        longest = max(p.num_tokens for p in predictions if p.max_length == limit)
        notices.append(f"The text is {longest} tokens long but a model fine-tuned with a {limit}-token limit reads "
                       f"only the first {limit}: the rest was ignored (truncated).")  # fmt: skip
    if not predictions:
        raise ValueError(NO_VARIANT)
    return ClassifyOutcome(predictions, notices)


# ---------------------------------------------------------------------------------------------
# Fine-tuning in the background, streamed to the UI
# ---------------------------------------------------------------------------------------------


def prune_config_from_ui(
    strategy: str, keep: float | None, layers: Sequence[int] | None, depth: int
) -> PruneConfig | None:
    """PruneConfig for the panel's values; None means "keep every layer" (the full reference)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}")
    if strategy == "custom":
        chosen = sorted({int(i) for i in (layers or [])})
        select_layers("custom", depth, layers=chosen)  # raises with a clear message
        return None if len(chosen) == depth else PruneConfig("custom", layers=chosen)
    k = int(round(keep)) if keep is not None else None
    if k is None or not 1 <= k <= depth:
        raise ValueError(f"layers to keep must be between 1 and {depth}, got {keep}")
    return None if k == depth else PruneConfig(strategy, keep=k)


def finetune_config_from_ui(
    dataset: str, epochs: float, learning_rate: float, max_samples: float | None
) -> FinetuneConfig:
    """FinetuneConfig from the panel; 0 or empty sample limit means all training texts."""
    limit = int(max_samples) if max_samples else None
    return FinetuneConfig(dataset=dataset or "SHC", epochs=float(epochs), learning_rate=float(learning_rate),
                          max_train_samples=limit)  # fmt: skip


@dataclass
class JobSnapshot:
    """What the UI shows of a fine-tune job at one moment."""

    state: str  # "waiting" | "running" | "done" | "cancelled" | "failed"
    message: str
    events: list[dict]
    record: dict | None = None
    from_cache: bool = False


class FinetuneJob:
    """``build_variant`` in a worker thread; `stream()` yields snapshots for a live curve."""

    def __init__(self, registry: ModelRegistry, base: str, prune: PruneConfig | None, train: FinetuneConfig,
                 stop_file: Path | None = None) -> None:  # fmt: skip
        self.registry, self.base, self.prune, self.train = registry, base, prune, train
        self.events: list[dict] = []
        self.state, self.message = "waiting", "Waiting for the running fine-tune to finish…"
        self.record: dict | None = None
        self.from_cache = False
        self._stop = threading.Event()
        self._stop_file = stop_file
        if stop_file is not None:
            stop_file.unlink(missing_ok=True)
        self._thread: threading.Thread | None = None
        self.describe = self._describe()

    def _describe(self) -> str:
        cut = (f"{self.prune.strategy}, keeping {self.prune.keep or len(self.prune.layers or [])} layers"
               if self.prune else "all layers")  # fmt: skip
        return f"{short_model_name(self.base)} ({cut}) on {self.train.dataset}"

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")

    def start(self) -> FinetuneJob:
        context = contextvars.copy_context()  # carries gr.Progress(track_tqdm=True) into the worker
        self._thread = threading.Thread(target=context.run, args=(self._run,), daemon=True, name="finetune")
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._stop.set()

    def stopped(self) -> bool:
        return self._stop.is_set() or bool(self._stop_file and self._stop_file.exists())

    def _on_event(self, event: TrainEvent) -> None:
        self.events.append(vars(event).copy())
        last = self.events[-1]
        dev = [e["dev_accuracy"] for e in self.events if e["kind"] == "eval"]
        self.message = (f"Fine-tuning {self.describe}: step {last['step']} of {last['total_steps']}, "
                        f"epoch {last['epoch']:.2f}" + (f", loss {last['loss']:.3f}" if last.get("loss") else "")
                        + (f", best dev accuracy {100 * max(dev):.1f}%" if dev else ""))  # fmt: skip

    def _run(self) -> None:
        with TRAIN_LOCK, torch_threads(TRAIN_THREADS):
            if self.stopped():
                self.state, self.message = "cancelled", "Cancelled before it started; nothing was saved."
                return
            self.state, self.message = "running", f"Preparing {self.describe} (loading model and data)…"
            started = time.perf_counter()
            try:
                variant = build_variant(self.base, self.prune, self.train, cache=self.registry.cache,
                                        on_event=self._on_event, should_stop=self.stopped)  # fmt: skip
            except FinetuneCancelled as exc:
                self.state, self.message = "cancelled", f"Cancelled ({exc}); nothing was saved."
                return
            except LOAD_ERRORS as exc:
                self.state, self.message = "failed", f"Fine-tune failed: {exc}"
                return
            except Exception as exc:  # keep serving; the log has the traceback
                logger.exception("fine-tune of %s failed", self.describe)
                self.state, self.message = "failed", f"Fine-tune failed unexpectedly: {type(exc).__name__}: {exc}"
                return
        self.record, self.from_cache = variant.record, variant.from_cache
        if not variant.from_cache:
            self.registry.built_this_run.add(variant.record["name"])
        self.state, self.message = "done", result_message(variant.record, variant.from_cache,
                                                           time.perf_counter() - started)  # fmt: skip

    def snapshot(self) -> JobSnapshot:
        return JobSnapshot(self.state, self.message, list(self.events), self.record, self.from_cache)

    def stream(self, interval: float = 0.5) -> Iterator[JobSnapshot]:
        """Snapshots while the job runs (only when something changed), then the final one."""
        last = None
        while True:
            snap = self.snapshot()
            key = (snap.state, len(snap.events), snap.message)
            if key != last:
                last = key
                yield snap
            if snap.state in ("done", "cancelled", "failed"):
                return
            time.sleep(interval)


def result_message(record: Mapping, from_cache: bool, seconds: float) -> str:
    test = record["test_metrics"]
    head = "**Loaded from cache** (this exact variant was fine-tuned before; no training)" if from_cache else \
        f"**Done** in {seconds:.0f} s on {record.get('device', '?')}"  # fmt: skip
    return (f"{head}: test accuracy **{100 * test['accuracy']:.1f}%**, macro-F1 {100 * test['macro_f1']:.1f}% on "
            f"{test.get('num_examples', '?')} held-out texts (majority-class baseline "
            f"{100 * record.get('majority_baseline_test', 0):.1f}%). Saved as `{record['name']}`; "
            "it is now selectable in Classify and listed in Compare.")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Comparison: table and figures, every number with its source and device
# ---------------------------------------------------------------------------------------------

COLUMNS = [
    "source", "model", "role", "strategy", "layers kept", "of layers", "kept layers (1 = bottom)", "dataset",
    "test accuracy %", "macro F1 %", "params (M)", "size MB (fp32)", "latency ms", "latency timed on",
    "trained on", "evaluated on", "notes", "variant",
]  # fmt: skip
NUMERIC = {"layers kept", "of layers", "test accuracy %", "macro F1 %", "params (M)", "size MB (fp32)", "latency ms"}


def _row(**values: Any) -> dict:
    return {c: values.get(c) for c in COLUMNS}


def cache_rows(records: Sequence[Mapping], built_this_run: set[str], latencies: Mapping[str, dict]) -> list[dict]:
    """One row per cached variant; 'this run' for variants fine-tuned by this app process."""
    rows = []
    for r in records:
        plan, ft, test = r.get("plan", {}), r.get("finetune_config", {}), r.get("test_metrics", {})
        lat = latencies.get(r["name"]) or {}
        kind = variant_kind(r)
        n_test = (r.get("data_report") or {}).get("split_rows", {}).get("test", test.get("num_examples"))
        source = (r.get("data_report") or {}).get("split_sources", {}).get("test", "")
        params = r.get("num_parameters")
        rows.append(_row(
            source="this run" if r["name"] in built_this_run else "cache", model=short_model_name(r.get("base_model", "?")),
            role=kind, strategy=plan.get("strategy") if kind == "pruned" else kind, **{
                "layers kept": plan.get("keep"), "of layers": plan.get("num_layers"),
                "kept layers (1 = bottom)": format_layers(plan.get("kept", [])), "dataset": ft.get("dataset"),
                "test accuracy %": round(100 * test["accuracy"], 2) if "accuracy" in test else None,
                "macro F1 %": round(100 * test["macro_f1"], 2) if "macro_f1" in test else None,
                "params (M)": round(params / 1e6, 3) if params else None,
                "size MB (fp32)": round(size_mb(params), 1) if params else None,
                "latency ms": round(lat["median_ms"], 2) if lat else None,
                "latency timed on": f"{lat['device']}, batch 1, this app" if lat else "not timed yet",
                "trained on": r.get("device"),
                "evaluated on": f"{n_test} texts, offline split ({source})" if source else f"{n_test} texts",
                "notes": f"{ft.get('epochs')} epochs, lr {ft.get('learning_rate')}, seed {ft.get('seed')}, "
                         f"train samples {ft.get('max_train_samples') or 'all'}",
                "variant": r["name"]}))  # fmt: skip
    return rows


def _getter(row: Mapping) -> Callable[[str], Any]:
    """row.get that also maps pandas' NaN to None."""
    return lambda key: None if key not in row or pd.isna(row[key]) else row[key]


def sweep_rows(path: Path = SWEEP_FILE) -> list[dict]:
    """Rows of assets/sweep/results.csv (the sweep's results), [] if absent or unreadable."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        if Path(path).exists():
            logger.warning("ignoring unreadable %s: %s", path, exc)
        return []
    rows = []
    for r in frame.to_dict("records"):
        get = _getter(r)
        acc = get("test_accuracy")
        spec = get_spec(str(get("base_model") or ""))
        depth = get("num_layers") or (spec.num_layers if spec else None)
        keep = get("keep") or depth
        role = (
            "scratch"
            if get("role") == "scratch"
            else "full"
            if keep == depth or get("strategy") == "full"
            else "pruned"
        )
        params = get("params")
        rows.append(_row(
            source="sweep", model=short_model_name(str(get("base_model") or "?")), role=role,
            strategy=get("strategy") if role == "pruned" else role, dataset=get("dataset"), notes=(
                f"seed {get('seed')}; sweep source: {get('source') or '?'}"), **{
                "layers kept": int(keep) if keep is not None else None, "of layers": depth,
                "test accuracy %": round(100 * acc if acc is not None and acc <= 1 else acc, 2) if acc is not None else None,
                "params (M)": round(params / 1e6, 3) if params else None,
                "size MB (fp32)": round(size_mb(params), 1) if params else None,
                "latency ms": get("latency_ms"), "latency timed on": get("device") or "?",
                "trained on": get("device") or "?", "evaluated on": "offline split (sweep)"}))  # fmt: skip
    return rows


def load_reference(path: Path = REFERENCE_FILE) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("no reference numbers (%s): %s", path, exc)
        return {"points": []}


def reference_rows(reference: Mapping) -> list[dict]:
    """Published numbers, each with its citation; never mixed up with local measurements."""
    rows = []
    for p in reference.get("points", []):
        params = p.get("params_millions")
        rows.append(_row(
            source="paper", model=p["model"], role=p.get("role", "full"), strategy=p.get("strategy", "full"),
            dataset=p["dataset"], notes=f"{p['citation']} — {p.get('url', '')}", **{
                "layers kept": p.get("layers"), "of layers": p.get("layers"), "test accuracy %": p["accuracy_percent"],
                "params (M)": params, "size MB (fp32)": round(params * 4, 0) if params else None,
                "latency timed on": "not reported", "trained on": p.get("trained_on", "not reported"),
                "evaluated on": p.get("test_set", "official test set")}))  # fmt: skip
    return rows


def benchmark_rows_for_table(rows: Sequence[Mapping]) -> list[dict]:
    """Benchmark rows; random-weight ones are labelled as latency-only."""
    out = []
    for r in rows:
        random_weights = r["weights"] in ("random-weights", "random")
        out.append(_row(
            source="benchmark", model=short_model_name(r["model"]),
            role="random weights (latency only)" if random_weights else r["weights"], strategy=None, **{
                "layers kept": r["num_layers"], "latency ms": round(r["latency_ms"], 3),
                "params (M)": round(r["params"] / 1e6, 3) if r.get("params") else None,
                "size MB (fp32)": round(size_mb(r["params"]), 1) if r.get("params") else None,
                "latency timed on": f"{r['device']}, batch {r['batch']}, {r['seq_len']} tokens, {r['backend']}",
                "evaluated on": "not evaluated (latency only)" if random_weights else "",
                "notes": "assets/benchmark.json", "variant": r["variant"]}))  # fmt: skip
    return out


def compare_table(rows: Sequence[dict], dataset: str | None = None) -> pd.DataFrame:
    """All rows as a DataFrame with ``COLUMNS``; `dataset` keeps that dataset's rows plus dataset-free ones."""
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    if dataset:
        frame = frame[frame["dataset"].isna() | (frame["dataset"] == dataset)]
    order = {"this run": 0, "cache": 1, "sweep": 2, "benchmark": 3, "paper": 4}
    frame = frame.assign(_o=frame["source"].map(order)).sort_values(["_o", "dataset", "layers kept"], kind="stable")
    return frame.drop(columns="_o").reset_index(drop=True)


DISPLAY_HEADERS = {
    "layers kept": "layers", "of layers": "of", "kept layers (1 = bottom)": "kept (1 = bottom)", "test accuracy %": "acc %",
    "macro F1 %": "F1 %", "params (M)": "params M", "size MB (fp32)": "MB fp32", "latency ms": "latency ms",
    "latency timed on": "latency timed on",
}  # fmt: skip
DISPLAY_WIDTHS = ["84px", "120px", "90px", "96px", "74px", "50px", "96px", "78px", "66px", "62px", "80px", "74px",
                  "84px", "200px", "110px", "200px", "260px", "280px"]  # fmt: skip


def table_for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """Short headers and empty cells for missing values (gr.Dataframe would show 'nan')."""
    return frame.astype(object).where(frame.notna(), "").rename(columns=DISPLAY_HEADERS)


def write_csv(frame: pd.DataFrame, folder: str | os.PathLike | None = None) -> Path:
    folder = Path(folder or tempfile.mkdtemp(prefix="marathi-prune-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "marathi-prune-comparison.csv"
    frame.to_csv(path, index=False)
    return path


def _hover(frame: pd.DataFrame) -> list[str]:
    return [
        f"{r['model']} · {r['role']} · {r['strategy'] or ''} {r['layers kept']}/{r['of layers']} layers<br>"
        f"accuracy {r['test accuracy %']}% · source: {r['source']}<br>latency timed on: {r['latency timed on']}"
        f"<br>trained on: {r['trained on']}<br>{r['variant'] or r['notes'] or ''}"
        for r in frame.to_dict("records")
    ]


_SYMBOLS = {"full": "square", "pruned": "circle", "scratch": "diamond"}
_LOCAL = ("this run", "cache", "sweep")


def accuracy_layers_figure(frame: pd.DataFrame, dataset: str) -> go.Figure:
    """Test accuracy vs layers kept: one line per (model, strategy), scratch models and paper points apart."""
    title = f"{dataset}: test accuracy vs encoder layers kept"
    local = frame[frame["source"].isin(_LOCAL) & frame["test accuracy %"].notna()]
    paper = frame[(frame["source"] == "paper") & frame["test accuracy %"].notna()]
    if local.empty and paper.empty:
        return _empty_figure(title, "No results for this dataset yet: fine-tune a variant or run the sweep.")
    fig = go.Figure()
    for (model, strategy), group in local[local["role"] == "pruned"].groupby(["model", "strategy"]):
        full = local[(local["model"] == model) & (local["role"] == "full")]
        g = pd.concat([group, full]).groupby("layers kept")["test accuracy %"].mean().reset_index()
        fig.add_scatter(x=g["layers kept"], y=g["test accuracy %"], mode="lines+markers", name=f"{model} · {strategy}",
                        hovertext=[f"{model} · {strategy} · {k} layers: mean {a:.1f}% over seeds/sources"
                                   for k, a in zip(g["layers kept"], g["test accuracy %"], strict=True)], hoverinfo="text")  # fmt: skip
    for role in ("full", "scratch"):
        part = local[local["role"] == role]
        if not part.empty:
            fig.add_scatter(x=part["layers kept"], y=part["test accuracy %"], mode="markers", name=f"{role} (local)",
                            marker={"symbol": _SYMBOLS[role], "size": 11, "line": {"width": 1, "color": "#111"}},
                            hovertext=_hover(part), hoverinfo="text")  # fmt: skip
    if not paper.empty:
        fig.add_scatter(x=paper["layers kept"], y=paper["test accuracy %"], mode="markers+text", name="paper",
                        text=[f"{m} (paper)" for m in paper["model"]], textposition="bottom left",
                        marker={"symbol": "star", "size": 16, "color": PAPER_COLOUR, "line": {"width": 1, "color": "#111"}},
                        hovertext=[f"{m}: {a}% — {n}" for m, a, n in zip(paper["model"], paper["test accuracy %"],
                                                                         paper["notes"], strict=True)], hoverinfo="text")  # fmt: skip
    fig.update_layout(title=title, xaxis={"title": "encoder layers kept", "dtick": 1}, yaxis={"title": "test accuracy %"},
                      height=420, legend={"orientation": "h", "y": -0.2}, margin={"t": 50, "b": 40})  # fmt: skip
    return fig


def pareto_indices(latency: Sequence[float], accuracy: Sequence[float]) -> list[int]:
    """Indices of points no other point beats on both (lower latency, higher accuracy), fastest first."""
    order = sorted(range(len(latency)), key=lambda i: (latency[i], -accuracy[i]))
    front, best = [], -math.inf
    for i in order:
        if accuracy[i] > best:
            front.append(i)
            best = accuracy[i]
    return front


def pareto_figure(frame: pd.DataFrame, dataset: str) -> go.Figure:
    """Accuracy vs per-request latency for fine-tuned variants (pruned, full, scratch) with the Pareto front."""
    title = f"{dataset}: accuracy vs latency (batch 1)"
    local = frame[frame["source"].isin(_LOCAL) & frame["test accuracy %"].notna() & frame["latency ms"].notna()]
    local = local[local["latency ms"].astype(str) != ""]
    if local.empty:
        return _empty_figure(title, "No timed variants yet: open this tab after a fine-tune (variants are timed here), "
                                    "or run the sweep.")  # fmt: skip
    fig = go.Figure()
    for role in ("full", "pruned", "scratch"):
        part = local[local["role"] == role]
        if not part.empty:
            fig.add_scatter(x=part["latency ms"], y=part["test accuracy %"], mode="markers", name=role,
                            marker={"symbol": _SYMBOLS[role], "size": 11}, hovertext=_hover(part), hoverinfo="text")  # fmt: skip
    lat, acc = list(local["latency ms"].astype(float)), list(local["test accuracy %"].astype(float))
    front = pareto_indices(lat, acc)
    fig.add_scatter(x=[lat[i] for i in front], y=[acc[i] for i in front], mode="lines", name="Pareto front",
                    line={"dash": "dot", "color": "#6b7280", "shape": "hv"}, hoverinfo="skip")  # fmt: skip
    paper = frame[(frame["source"] == "paper") & frame["test accuracy %"].notna()]
    for r in paper.to_dict("records"):
        fig.add_scatter(x=[min(lat), max(lat)], y=[r["test accuracy %"]] * 2, mode="lines+markers", name="paper",
                        line={"dash": "dash", "color": PAPER_COLOUR}, marker={"symbol": "star", "size": 12},
                        hovertext=f"{r['model']} {r['test accuracy %']}% (paper; no latency reported) — {r['notes']}",
                        hoverinfo="text")  # fmt: skip
    devices = sorted(set(local["latency timed on"].astype(str)))
    fig.update_layout(title={"text": f"{title}<br><sup>timed on: {'; '.join(devices)[:120]}</sup>"},
                      xaxis={"title": "latency per request, ms (lower is better)"},
                      yaxis={"title": "test accuracy %"}, height=420, legend={"orientation": "h", "y": -0.2})  # fmt: skip
    return fig


def size_figure(frame: pd.DataFrame) -> go.Figure:
    """Parameters (millions, log scale) vs layers for local variants, scratch models and the paper's model."""
    title = "Model size: parameters vs layers"
    rows = frame[frame["params (M)"].notna() & (frame["params (M)"].astype(str) != "")]
    rows = rows[rows["source"] != "benchmark"]
    if rows.empty:
        return _empty_figure(title, "No model sizes yet.")
    fig = go.Figure()
    for source, group in rows.groupby("source"):
        paper = source == "paper"
        fig.add_scatter(x=group["layers kept"], y=group["params (M)"].astype(float), mode="markers",
                        name="paper" if paper else source, hovertext=[
                            f"{m} · {r} · {k} layers: {p} M params, {s} MB fp32 ({source})" for m, r, k, p, s in zip(
                                group["model"], group["role"], group["layers kept"], group["params (M)"],
                                group["size MB (fp32)"], strict=True)], hoverinfo="text",
                        marker={"symbol": "star", "size": 15, "color": PAPER_COLOUR} if paper else {"size": 10})  # fmt: skip
    fig.update_layout(title={"text": f"{title}<br><sup>fp32 size in MB = 4 × parameters in millions</sup>"},
                      xaxis={"title": "encoder layers", "dtick": 1}, yaxis={"title": "parameters (millions)", "type": "log", "dtick": 1},
                      height=380, legend={"orientation": "h", "y": -0.2})  # fmt: skip
    return fig


def latency_layers_figure(bench_rows: Sequence[Mapping]) -> go.Figure | None:
    """Measured latency vs layers from assets/benchmark.json; None when there are no rows.

    Uses the benchmark's own figure (``pruning.bench.latency_figure``) when every row has random weights
    (its title then says "random weights (latency only)"); otherwise labels each line itself.
    """
    if not bench_rows:
        return None
    if all(r["weights"] == "random-weights" and r.get("_raw") for r in bench_rows):
        try:
            from .bench import latency_figure

            fig = latency_figure([r["_raw"] for r in bench_rows])
            fig.update_layout(width=None, autosize=True)
            return fig
        except (ImportError, KeyError, TypeError, ValueError) as exc:
            logger.info("benchmark figure unavailable (%s); drawing a simple one", exc)
    fig = go.Figure()
    groups: dict[tuple, list[Mapping]] = {}
    for r in bench_rows:
        groups.setdefault((short_model_name(r["model"]), r["device"], r["backend"], r["batch"], r["seq_len"],
                           r["weights"]), []).append(r)  # fmt: skip
    for (model, device, backend, batch, seq, weights), rows in groups.items():
        rows = sorted(rows, key=lambda r: r["num_layers"])
        tag = "random weights (latency only)" if weights in ("random-weights", "random") else weights
        fig.add_scatter(x=[r["num_layers"] for r in rows], y=[r["latency_ms"] for r in rows], mode="lines+markers",
                        name=f"{model} · {backend} · {device} · b{batch}×{seq} · {tag}")  # fmt: skip
    fig.update_layout(title="Measured latency vs layers (assets/benchmark.json)", height=380,
                      xaxis={"title": "encoder layers", "dtick": 1}, yaxis={"title": "p50 latency, ms"},
                      legend={"orientation": "h", "y": -0.25})  # fmt: skip
    return fig


@dataclass
class Comparison:
    """The Compare tab's outputs for one dataset."""

    accuracy: go.Figure
    pareto: go.Figure
    size: go.Figure
    latency: go.Figure | None
    table: pd.DataFrame
    csv_path: Path


def comparison_rows(registry: ModelRegistry, reference: Mapping, bench_rows: Sequence[dict], timing_text: str,
                    max_timed: int = 12) -> list[dict]:  # fmt: skip
    """Rows from the cache (timed here, newest `max_timed` first), the sweep, the benchmark and the papers."""
    records = registry.records()
    latencies = {}
    for record in records[:max_timed]:
        try:
            latencies[record["name"]] = registry.latency(record["name"], timing_text)
        except (OSError, ValueError, RuntimeError) as exc:  # a broken variant must not break the tab
            logger.warning("could not time %s: %s", record["name"], exc)
    rows = cache_rows(records, registry.built_this_run, latencies)
    return rows + sweep_rows() + benchmark_rows_for_table(bench_rows) + reference_rows(reference)


def build_comparison(rows: Sequence[dict], bench_rows: Sequence[dict], dataset: str,
                     csv_folder: str | os.PathLike | None = None) -> Comparison:  # fmt: skip
    """Figures for `dataset`, the table (that dataset plus dataset-free rows) and a CSV of every row."""
    everything = compare_table(rows)
    frame = compare_table(rows, dataset)
    return Comparison(
        accuracy_layers_figure(frame, dataset), pareto_figure(frame, dataset), size_figure(frame),
        latency_layers_figure(bench_rows), table_for_display(frame), write_csv(everything, csv_folder),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Start-up: default model, banner, examples
# ---------------------------------------------------------------------------------------------


def pick_default_model(registry: ModelRegistry, env: Mapping[str, str] = os.environ) -> tuple[str | None, list[str]]:
    """$MARATHI_PRUNE_DEFAULT_MODEL, else offline-teacher, else the first catalog model that loads.

    Returns:
        (name or None, the reasons why earlier candidates could not be loaded).
    """
    wanted = env.get("MARATHI_PRUNE_DEFAULT_MODEL", "").strip()
    candidates = ([wanted] if wanted else []) + ["offline-teacher"] + [n for n in CATALOG if n != "offline-teacher"]
    problems = []
    for name in dict.fromkeys(candidates):
        try:
            registry.base(name)
            return name, problems
        except LOAD_ERRORS as exc:
            problems.append(f"{name}: {exc}")
            logger.info("default model candidate %s not available: %s", name, exc)
    return None, problems


def startup_banner(hub_ok: bool, default_model: str | None, problems: Sequence[str]) -> str:
    """Markdown shown above the tabs when the app runs degraded; '' when all is well."""
    lines = []
    if not hub_ok:
        lines.append("**Hugging Face Hub unreachable: running on the offline models and local data.** The paper's "
                     "models (MahaBERT-v2, MuRIL, MahaBERT-Small/-Smaller) need the Hub; this project's offline family "
                     "(offline-teacher, offline-small, offline-smaller) and local MahaNews files work without it.")  # fmt: skip
    if default_model is None:
        lines.append("**No base model could be loaded**, so pruning and fine-tuning are unavailable until you enter a "
                     "model that loads (a local folder, or a Hub id when online). Cached variants can still classify. "
                     "Reasons: " + "; ".join(problems[:4]))  # fmt: skip
    return "\n\n".join(lines)


def load_examples(path: Path = EXAMPLES_FILE) -> list[str]:
    """The demo headlines (written for this app, not taken from MahaNews)."""
    try:
        return [e["text"] for e in json.loads(Path(path).read_text(encoding="utf-8"))["examples"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("no examples (%s): %s", path, exc)
        return []
