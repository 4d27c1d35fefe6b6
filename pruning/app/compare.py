"""The Compare tab's table: every result the app knows, each row saying where it came from.

Rows come from this app's cache (timed here, per request), the sweep (assets/sweep/results.csv), the
latency benchmark (assets/benchmark.json) and the published papers (assets/reference.json). Every row
names its source and the device it was timed on, so a local mini model is never mistaken for a paper
number. ``build_comparison`` turns the rows into the tab's figures, display table and CSV.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from models import get_spec
from models.store import atomic_write_text

from .figures import accuracy_layers_figure, latency_layers_figure, pareto_figure, size_figure
from .wording import format_layers, short_model_name, size_mb, variant_kind

if TYPE_CHECKING:
    from .registry import ModelRegistry

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets"
REFERENCE_FILE = ASSETS / "reference.json"
BENCHMARK_FILE = ASSETS / "benchmark.json"
SWEEP_FILE = ASSETS / "sweep" / "results.csv"
DISTIL_FILE = ASSETS / "distil" / "results.csv"  # the offline-distil preset's sweep; only its distilled rows are new
CSV_NAME = "marathi-prune-comparison.csv"
PAPER_CAVEAT = (
    "Paper points are full-size models fine-tuned on the full MahaNews splits; local points are this "
    "project's mini models on the offline split. They give context, not a like-for-like comparison."
)

VOCAB_COLUMN = "vocabulary (tokens)"  # "before → after" for a vocabulary-pruned variant, empty otherwise
# The table's columns in order, with their width in the app's table.
COLUMN_WIDTHS = {
    "source": "84px",
    "model": "120px",
    "role": "118px",
    "strategy": "96px",
    "layers kept": "74px",
    "of layers": "50px",
    "kept layers (1 = bottom)": "96px",
    "dataset": "78px",
    "training texts": "70px",
    "test accuracy %": "66px",
    "macro F1 %": "62px",
    "params (M)": "80px",
    "size MB (fp32)": "74px",
    VOCAB_COLUMN: "104px",
    "latency ms": "84px",
    "latency timed on": "200px",
    "trained on": "110px",
    "evaluated on": "200px",
    "notes": "260px",
    "variant": "280px",
}
COLUMNS = list(COLUMN_WIDTHS)
DISPLAY_WIDTHS = list(COLUMN_WIDTHS.values())
DISPLAY_HEADERS = {  # shorter headers for the app's narrow columns; the CSV keeps the long ones
    "layers kept": "layers",
    "of layers": "of",
    "kept layers (1 = bottom)": "kept (1 = bottom)",
    "training texts": "train texts",
    "test accuracy %": "acc %",
    "macro F1 %": "F1 %",
    "params (M)": "params M",
    "size MB (fp32)": "MB fp32",
    VOCAB_COLUMN: "vocab",
}


def _read_optional(read: Callable[[Path], Any], path: Path) -> Any | None:
    """read(path), or None when the file is absent or unreadable (a warning then: it was there)."""
    try:
        return read(Path(path))
    except (OSError, ValueError) as exc:
        if Path(path).exists():
            logger.warning("ignoring unreadable %s: %s", path, exc)
        return None


def _first(row: Mapping, *keys: str, default: Any = None) -> Any:
    """The first of `keys` that `row` has a value for."""
    for key in keys:
        if row.get(key) is not None:
            return row[key]
    return default


def load_benchmark_rows(path: Path = BENCHMARK_FILE) -> list[dict]:
    """Rows of assets/benchmark.json (written by scripts/benchmark_report.py), normalised; [] if absent."""
    data = _read_optional(lambda p: json.loads(p.read_text(encoding="utf-8")), path)
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
        rows.append(
            {
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
            }
        )
    return rows


def _row(cells: Mapping[str, Any]) -> dict:
    """A table row with every column, None where `cells` has none."""
    return {c: cells.get(c) for c in COLUMNS}


def _size_cells(params: float | None) -> dict:
    """The 'params (M)' and 'size MB (fp32)' cells for a parameter count, empty when it is unknown."""
    if not params:
        return {"params (M)": None, "size MB (fp32)": None}
    return {"params (M)": round(params / 1e6, 3), "size MB (fp32)": round(size_mb(params), 1)}


def _percent(metrics: Mapping, key: str) -> float | None:
    return round(100 * metrics[key], 2) if key in metrics else None


def training_texts(record: Mapping) -> str:
    """'all', or how many training texts a reduced-data run used (its own series in Compare)."""
    limit = (record.get("finetune_config") or {}).get("max_train_samples")
    available = ((record.get("data_report") or {}).get("split_rows") or {}).get("train")
    if not limit or (available and limit >= available):
        return "all"
    return str(int(limit))


def recipe_cells(record: Mapping) -> dict:
    """The role (a distilled variant is its own series, "pruned + distilled"), vocabulary cell and note of a record."""
    kind, vocab, taught = variant_kind(record), record.get("vocab") or {}, record.get("distillation") or {}
    note = (
        f"; distilled from {taught['teacher']} (α {taught.get('alpha')}, T {taught.get('temperature')})"
        if taught.get("teacher")
        else ""
    )
    tokens = f"{vocab.get('tokens_before', 0):,} → {vocab['tokens_after']:,}" if vocab.get("tokens_after") else None
    return {"role": f"{kind} + distilled" if taught else kind, VOCAB_COLUMN: tokens, "_note": note}


def cache_rows(records: Sequence[Mapping], built_this_run: set[str], latencies: Mapping[str, dict]) -> list[dict]:
    """One row per cached variant; 'this run' for variants fine-tuned by this app process."""
    rows = []
    for r in records:
        plan, ft, test = r.get("plan", {}), r.get("finetune_config", {}), r.get("test_metrics", {})
        lat = latencies.get(r["name"]) or {}
        kind, recipe = variant_kind(r), recipe_cells(r)
        report = r.get("data_report") or {}
        n_test = report.get("split_rows", {}).get("test", test.get("num_examples"))
        split_source = report.get("split_sources", {}).get("test", "")
        train_notes = (
            f"{ft.get('epochs')} epochs, lr {ft.get('learning_rate')}, seed {ft.get('seed')}, "
            f"train samples {ft.get('max_train_samples') or 'all'}{recipe['_note']}"
        )
        rows.append(
            _row(
                {
                    "source": "this run" if r["name"] in built_this_run else "cache",
                    "model": short_model_name(r.get("base_model", "?")),
                    "role": recipe["role"],
                    "strategy": plan.get("strategy") if kind == "pruned" else kind,
                    VOCAB_COLUMN: recipe[VOCAB_COLUMN],
                    "layers kept": plan.get("keep"),
                    "of layers": plan.get("num_layers"),
                    "kept layers (1 = bottom)": format_layers(plan.get("kept", [])),
                    "dataset": ft.get("dataset"),
                    "training texts": training_texts(r),
                    "test accuracy %": _percent(test, "accuracy"),
                    "macro F1 %": _percent(test, "macro_f1"),
                    **_size_cells(r.get("num_parameters")),
                    "latency ms": round(lat["median_ms"], 2) if lat else None,
                    "latency timed on": f"{lat['device']}, batch 1, this app" if lat else "not timed yet",
                    "trained on": r.get("device"),
                    "evaluated on": f"{n_test} texts" + (f", offline split ({split_source})" if split_source else ""),
                    "notes": train_notes,
                    "variant": r["name"],
                }
            )
        )
    return rows


def _getter(row: Mapping) -> Callable[[str], Any]:
    """row.get that also maps pandas' NaN to None."""
    return lambda key: None if key not in row or pd.isna(row[key]) else row[key]


def sweep_rows(path: Path = SWEEP_FILE, roles: set[str] | None = None) -> list[dict]:
    """Rows of a sweep's results.csv (one per fine-tuned variant, see pruning.sweep), [] if absent.

    The sweep's "distilled" twins become "pruned + distilled", as distilled variants from the cache do.

    Args:
        roles: keep only rows of these sweep roles (the distil preset repeats the plain cells of the main sweep).
    """
    frame = _read_optional(pd.read_csv, path)
    if frame is None:
        return []
    rows = []
    for r in frame.to_dict("records"):
        get = _getter(r)
        acc, role = get("test_accuracy"), str(get("role") or "?")
        if roles is not None and role not in roles:
            continue
        role = "pruned + distilled" if role == "distilled" else role
        spec = get_spec(str(get("model") or ""))
        rows.append(
            _row(
                {
                    "source": "sweep",
                    "model": short_model_name(str(get("model") or "?")),
                    "role": role,
                    "strategy": get("strategy") if role.startswith("pruned") else role,
                    "layers kept": get("layers"),
                    "of layers": spec.num_layers if spec else get("layers"),
                    "dataset": get("dataset"),
                    "training texts": str(int(get("max_train_samples"))) if get("max_train_samples") else "all",
                    "test accuracy %": round(100 * acc, 2) if acc is not None else None,
                    **_size_cells(get("params")),
                    "latency ms": get("latency_ms"),
                    "latency timed on": get("latency_device") or "?",
                    "trained on": get("train_device") or "?",
                    "evaluated on": "offline split (sweep)",
                    "notes": f"seed {get('seed')}; variant {get('variant')}",
                }
            )
        )
    return rows


def load_reference(path: Path = REFERENCE_FILE) -> dict:
    """assets/reference.json: the published numbers, with their citations."""
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
        rows.append(
            _row(
                {
                    "source": "paper",
                    "model": p["model"],
                    "role": p.get("role", "full"),
                    "strategy": p.get("strategy", "full"),
                    "layers kept": p.get("layers"),
                    "of layers": p.get("layers"),
                    "dataset": p["dataset"],
                    "training texts": "all",
                    "test accuracy %": p["accuracy_percent"],
                    "params (M)": params,
                    "size MB (fp32)": round(params * 4, 0) if params else None,
                    "latency timed on": "not reported",
                    "trained on": p.get("trained_on", "not reported"),
                    "evaluated on": p.get("test_set", "official test set"),
                    "notes": f"{p['citation']} — {p.get('url', '')}",
                }
            )
        )
    return rows


def benchmark_rows_for_table(rows: Sequence[Mapping]) -> list[dict]:
    """Benchmark rows; random-weight ones are labelled as latency-only."""
    out = []
    for r in rows:
        random_weights = r["weights"] in ("random-weights", "random")
        out.append(
            _row(
                {
                    "source": "benchmark",
                    "model": short_model_name(r["model"]),
                    "role": "random weights (latency only)" if random_weights else r["weights"],
                    "layers kept": r["num_layers"],
                    **_size_cells(r.get("params")),
                    "latency ms": round(r["latency_ms"], 3),
                    "latency timed on": f"{r['device']}, batch {r['batch']}, {r['seq_len']} tokens, {r['backend']}",
                    "evaluated on": "not evaluated (latency only)" if random_weights else "",
                    "notes": "assets/benchmark.json",
                    "variant": r["variant"],
                }
            )
        )
    return out


def compare_table(rows: Sequence[dict], dataset: str | None = None) -> pd.DataFrame:
    """All rows as a DataFrame with ``COLUMNS``; `dataset` keeps that dataset's rows plus dataset-free ones."""
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    if dataset:
        frame = frame[frame["dataset"].isna() | (frame["dataset"] == dataset)]
    order = {"this run": 0, "cache": 1, "sweep": 2, "benchmark": 3, "paper": 4}
    frame = frame.assign(_o=frame["source"].map(order)).sort_values(["_o", "dataset", "layers kept"], kind="stable")
    return frame.drop(columns="_o").reset_index(drop=True)


def table_for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """Short headers and empty cells for missing values (gr.Dataframe would show 'nan')."""
    return frame.astype(object).where(frame.notna(), "").rename(columns=DISPLAY_HEADERS)


def csv_folder() -> Path:
    """Where the Compare CSV is written: under the system's temporary folder, which Gradio serves a
    download from without ``allowed_paths``; nothing lands in the working tree or the model cache.
    ``housekeeping.sweep_leftovers`` empties it of files older than an hour at start-up."""
    return Path(tempfile.gettempdir()) / "marathi-prune-compare"


def write_csv(frame: pd.DataFrame, folder: str | os.PathLike | None = None) -> Path:
    """`frame` as marathi-prune-comparison.csv in `folder` (default ``csv_folder()``), written atomically."""
    return atomic_write_text(Path(folder or csv_folder()) / CSV_NAME, frame.to_csv(index=False))


@dataclass
class Comparison:
    """The Compare tab's outputs for one dataset."""

    accuracy: go.Figure
    pareto: go.Figure
    size: go.Figure
    latency: go.Figure | None
    table: pd.DataFrame
    csv_path: Path


def comparison_rows(
    registry: ModelRegistry,
    reference: Mapping,
    bench_rows: Sequence[dict],
    timing_text: str,
    max_timed: int = 12,
    load_failures: dict[str, str] | None = None,
) -> list[dict]:
    """Rows from the cache (timed here, newest `max_timed` first), the sweep, the benchmark and the papers.

    Args:
        load_failures: filled with variant name -> reason for each variant that failed to load (its
            row stays, untimed; ``damaged.damaged_entries`` lists it).
    """
    records = registry.records()
    latencies = {}
    for record in records[:max_timed]:
        try:
            latencies[record["name"]] = registry.latency(record["name"], timing_text)
        except (OSError, ValueError, RuntimeError) as exc:  # a broken variant must not break the tab
            logger.warning("could not time %s: %s", record["name"], exc)
            if load_failures is not None:
                load_failures[record["name"]] = str(exc)
    rows = cache_rows(records, registry.built_this_run, latencies)
    sweeps = sweep_rows() + sweep_rows(DISTIL_FILE, roles={"distilled"})
    return rows + sweeps + benchmark_rows_for_table(bench_rows) + reference_rows(reference)


def build_comparison(
    rows: Sequence[dict], bench_rows: Sequence[dict], dataset: str, csv_folder: str | os.PathLike | None = None
) -> Comparison:
    """Figures for `dataset`, the table (that dataset plus dataset-free rows) and a CSV of every row."""
    frame = compare_table(rows, dataset)
    return Comparison(
        accuracy=accuracy_layers_figure(frame, dataset),
        pareto=pareto_figure(frame, dataset),
        size=size_figure(frame),
        latency=latency_layers_figure(bench_rows),
        table=table_for_display(frame),
        csv_path=write_csv(compare_table(rows), csv_folder),  # every dataset
    )
