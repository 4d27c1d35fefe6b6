"""`python -m pruning bench`: measured latency and size of layer-pruned variants on every backend.

One call loads a model (catalog name, hub id, folder, cached variant) or builds a random-weight
stand-in of a catalog architecture (``--config mahabert-v2``: fine for latency, never for
accuracy, and labelled ``weights="random-weights"``), prunes it to each ``--keep`` depth, exports
the ONNX backends it is asked for (cached and checked against PyTorch, see ``export.py``) and
times every (backend, batch, sequence length) with ``latency.py``. The result is a list of
JSON-serialisable rows (``latency.ROW_KEYS``), written as JSON or CSV or printed to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import BACKENDS, BenchConfig, ExportConfig
from .latency import (
    TorchRunner,
    benchmark_runner,
    check_shapes,
    disk_size_mb,
    load_headlines,
    model_meta,
)
from .strategies import STRATEGIES, select_layers
from .surgery import num_layers, prune_layers

logger = logging.getLogger(__name__)

EXPORT_ROOT = Path(os.environ.get("MARATHI_PRUNE_HOME", Path.home() / ".cache" / "marathi-prune")) / "exports"
ONNX_DTYPES = {"onnx": "float32", "onnx-int8": "int8", "onnx-cuda-fp16": "float16"}
DEFAULT_BACKENDS = "torch,onnx,onnx-int8"


@dataclass
class BenchSource:
    """The model under test and where it came from."""

    model: nn.Module
    tokenizer: Any | None
    label: str
    weights: str  # "pretrained" | "fine-tuned" | "random-weights"
    folder: Path | None = None  # a saved model folder, when the model came from one


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text).strip("/")).strip("-")[:60] or "model"


def _optional_tokenizer(name: str) -> Any | None:
    """A catalog model's tokenizer if it is available offline (local folder or HF cache), else None."""
    from models.loading import load_tokenizer

    try:
        return load_tokenizer(name)
    except (OSError, ValueError, ConnectionError) as exc:
        logger.info("no tokenizer for %s (%s); timing random token ids", name, exc)
        return None


def load_source(
    model: str | nn.Module | None = None,
    *,
    config_name: str | None = None,
    tokenizer: str | Any | None = None,
    label: str | None = None,
    weights: str | None = None,
    seed: int = 0,
) -> BenchSource:
    """Resolve what to benchmark.

    Args:
        model: catalog name, hub id, model folder, cached variant name, or a loaded nn.Module.
        config_name: instead of `model`, a catalog architecture built with random weights.
        tokenizer: tokenizer object or name/path; by default the model's own (None if unavailable).
        label: display name for the rows.
        weights: override the weights label of an nn.Module ("pretrained" by default).
        seed: torch seed for random weights.

    Raises:
        ValueError: neither or both of model / config_name, or an unknown catalog name.
    """
    from models.catalog import CATALOG
    from models.loading import load_classifier, load_tokenizer, random_classifier

    if (model is None) == (config_name is None):
        raise ValueError(
            "give exactly one of --model (weights to load) or --config (catalog architecture, random weights)"
        )
    tok = load_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
    if config_name is not None:
        if config_name not in CATALOG:
            raise ValueError(f"unknown architecture {config_name!r}; catalog names: {', '.join(CATALOG)}")
        torch.manual_seed(seed)
        spec = CATALOG[config_name]
        built = random_classifier(spec)
        tok = tok if tokenizer is not None else _optional_tokenizer(config_name)
        return BenchSource(built, tok, label or spec.name, "random-weights")
    if isinstance(model, nn.Module):
        name = label or getattr(model.config, "_name_or_path", None) or type(model).__name__
        kind = weights or getattr(model.config, "weights", None) or "pretrained"
        return BenchSource(model, tok, name, kind)
    loaded = load_classifier(_resolve_variant(model))
    folder = Path(loaded.source) if Path(loaded.source).is_dir() else None
    name = label or (loaded.spec.name if loaded.spec else (folder.name if folder else loaded.source))
    return BenchSource(loaded.model, tok if tokenizer is not None else loaded.tokenizer, name, loaded.weights, folder)


def _resolve_variant(name: str) -> str:
    """A cached fine-tuned variant's folder for its name (or unique prefix); other names unchanged."""
    from models.catalog import get_spec

    from .cache import CacheEntryError, VariantCache

    if get_spec(name) is not None or Path(name).expanduser().exists():
        return name
    with contextlib.suppress(CacheEntryError, OSError):
        return str(VariantCache().find(name))
    return name


def _validate(bench: BenchConfig) -> None:
    """Backend / device combinations that cannot run, reported before anything is loaded."""
    cuda = bench.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch.cuda.is_available() is False on this machine")
    if "onnx-cuda-fp16" in bench.backends and not cuda:
        raise ValueError("backend onnx-cuda-fp16 runs on the GPU only; add --device cuda or drop it")
    if "torch-fp16" in bench.backends and not cuda:
        raise ValueError("backend torch-fp16 needs --device cuda (fp16 matmuls are very slow on CPU); use torch-bf16")


def _variant_models(source: BenchSource, keeps: Sequence[int], strategy: str):
    """Yield (keep, kept layers, model) per requested depth; pruned ones are copies."""
    depth = num_layers(source.model)
    for keep in keeps:
        plan = select_layers(strategy, depth, keep=keep)
        if keep == depth:
            yield keep, plan.kept, source.model
            continue
        pruned = prune_layers(copy.deepcopy(source.model), plan.kept, strategy=strategy, base_model=source.label)
        yield keep, plan.kept, pruned
        del pruned
        gc.collect()


def _export_dir(source: BenchSource, keep: int, depth: int, strategy: str, root: Path) -> Path:
    """Beside a cached variant (a folder with variant.json) when unpruned; else under the export cache."""
    if source.folder is not None and keep == depth and (source.folder / "variant.json").is_file():
        return source.folder
    tag = "full" if keep == depth else f"{strategy}-k{keep}"
    name = f"{_slug(source.label)}__{source.weights}"
    if source.folder is not None:  # two folders both called "model" must not share (and thrash) one cache
        name += "__" + hashlib.sha1(str(source.folder.resolve()).encode()).hexdigest()[:8]
    return root / name / tag


def run_bench(
    model: str | nn.Module | None = None,
    *,
    config_name: str | None = None,
    keep: Sequence[int] | None = None,
    strategy: str = "top",
    bench: BenchConfig | None = None,
    export: ExportConfig | None = None,
    tokenizer: str | Any | None = None,
    texts: Sequence[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    export_root: str | os.PathLike | None = None,
    label: str | None = None,
    weights: str | None = None,
    time_budget_s: float | None = None,
    spinning: bool = True,
    force_export: bool = False,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Benchmark a model pruned to each depth in `keep`, on every backend of `bench`.

    Args:
        model: catalog name, hub id, model folder, cached variant name, or an nn.Module.
        config_name: instead of `model`, a catalog architecture with random weights.
        keep: layer counts to keep (default: the full depth).
        strategy: which layers survive (a key of ``STRATEGIES`` that needs no scores).
        bench: backends, shapes, warm-up, repeats, threads, device.
        export: ONNX export / check settings.
        tokenizer: tokenizer (object or name); texts are real headlines to tokenize (default: MahaNews SHC).
        data_dir: MahaNews folder for the default texts.
        export_root: where exports of non-cached variants go (default ``~/.cache/marathi-prune/exports``).
        label: model name in the rows.
        weights: weights label for an nn.Module ("pretrained" | "fine-tuned" | "random-weights").
        time_budget_s: cut a (backend, shape) measurement short after this many timed seconds.
        spinning: ONNX Runtime worker-thread spinning (turn off on a busy shared CPU).
        force_export: redo ONNX exports even if cached.
        seed: seed of random weights.

    Returns:
        Rows (dicts with every key of ``latency.ROW_KEYS``), one per (keep, backend, batch, seq_len).

    Raises:
        ValueError: bad shapes, backends, depths, device; one line each.
    """
    bench = bench or BenchConfig()
    export = export or ExportConfig()
    _validate(bench)
    source = load_source(model, config_name=config_name, tokenizer=tokenizer, label=label, weights=weights, seed=seed)
    check_shapes(source.model.config, bench.batch_sizes, bench.seq_lengths)
    depth = num_layers(source.model)
    keeps = list(keep) if keep else [depth]
    for k in keeps:  # validate every depth before the first (slow) measurement
        select_layers(strategy, depth, keep=k)
    tok = source.tokenizer
    if tok is not None and not texts:
        texts = load_headlines(256, data_dir)
    if not texts:
        tok = None  # without texts, time random token ids
    root = Path(export_root) if export_root else EXPORT_ROOT
    rows: list[dict[str, Any]] = []
    for k, kept, variant_model in _variant_models(source, keeps, strategy):
        variant = source.label if k == depth else f"{source.label}-{strategy}-k{k}"
        meta = model_meta(variant_model, label=source.label, weights=source.weights, variant=variant,
                          strategy=strategy if k != depth else None,
                          tokenizer_name=getattr(tok, "name_or_path", None) or None)  # fmt: skip
        meta["kept_layers"] = kept
        ctx = {"bench": bench, "tok": tok, "texts": texts, "budget": time_budget_s, "meta": meta}
        for runner, check, extra in _runners(source, variant_model, k, depth, strategy, root, export, bench,
                                             tok, texts, spinning, force_export):  # fmt: skip
            rows.extend(_time(runner, check, extra, ctx))
    return rows


def _time(runner: Any, check: dict | None, extra: dict, ctx: dict) -> list[dict[str, Any]]:
    bench: BenchConfig = ctx["bench"]
    return benchmark_runner(
        runner, ctx["meta"], tokenizer=ctx["tok"], texts=ctx["texts"], batch_sizes=bench.batch_sizes,
        seq_lengths=bench.seq_lengths, warmup=bench.warmup, repeats=bench.repeats, time_budget_s=ctx["budget"],
        export_check=check, extra=extra,
    )  # fmt: skip


def _runners(source, model, keep, depth, strategy, root, export, bench, tok, texts, spinning, force):
    """Yield (runner, export check, extra row fields) per backend, releasing each after use."""
    from .export import OnnxClassifier, OnnxRunner, export_variant

    onnx_backends = [b for b in bench.backends if b in ONNX_DTYPES]
    result = None
    if onnx_backends:
        folder = _export_dir(source, keep, depth, strategy, root)
        result = export_variant(model, folder, backends=onnx_backends, tokenizer=tok, texts=texts,
                                weights=source.weights, config=export, threads=bench.threads,
                                device=bench.device, force=force)  # fmt: skip
    for backend in bench.backends:
        if backend in ONNX_DTYPES:
            device = "cpu" if backend == "onnx-int8" else bench.device  # ORT INT8 kernels are CPU kernels
            classifier = OnnxClassifier(result.paths[backend], threads=bench.threads, device=device, spinning=spinning)
            extra = {"ort_spinning": spinning, "exporter": result.manifest.get("exporter"),
                     "export_dir": str(result.directory), "export_from_cache": result.from_cache}  # fmt: skip
            yield OnnxRunner(classifier, backend, ONNX_DTYPES[backend]), result.checks[backend], extra
            del classifier
        else:
            runner = TorchRunner(model, backend=backend, device=bench.device, threads=bench.threads)
            if source.folder is not None and keep == depth and backend == "torch":
                weights_files = list(source.folder.glob("*.safetensors")) + list(source.folder.glob("*.bin"))
                if weights_files:
                    runner.disk_mb = sum(disk_size_mb(f) for f in weights_files)
                    runner.disk_mb_source = "file " + ", ".join(f.name for f in weights_files)
            yield runner, None, {}
            del runner
        gc.collect()


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def write_rows(rows: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write rows as JSON (a list) or CSV (nested values JSON-encoded), chosen by the extension.

    Raises:
        ValueError: an extension other than .json / .csv.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValueError(f"--output must end in .json or .csv, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if suffix == ".json":
        tmp.write_text(json.dumps(list(rows), indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    else:
        import pandas as pd

        flat = [
            {k: json.dumps(v, default=str) if isinstance(v, (dict, list)) else v for k, v in r.items()} for r in rows
        ]
        pd.DataFrame(flat).to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _ints(text: str | None, flag: str) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(x) for x in str(text).replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise ValueError(f"{flag} expects comma-separated integers (e.g. 1,32), got {text!r}") from None
    if not values:
        raise ValueError(f"{flag} needs at least one value")
    return values


def _names(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise ValueError(f"unknown backend(s) {unknown or [text]}; valid backends: {', '.join(BACKENDS)}")
    return names


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` on an argparse subparsers object; returns the new parser."""
    p = subparsers.add_parser("bench", help="latency / size of pruned variants on torch and ONNX Runtime",
                              description=__doc__.splitlines()[0])  # fmt: skip
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="catalog name, hub id, model folder or cached variant (real weights)")
    src.add_argument(
        "--config", dest="arch", metavar="NAME", help="catalog architecture with RANDOM weights (latency only)"
    )
    p.add_argument("--keep", help="layer counts to keep, e.g. 12,6,2 (default: all layers)")
    p.add_argument("--strategy", default="top", choices=[s for s in STRATEGIES if s not in ("contribution", "custom")])
    p.add_argument("--backend", default=DEFAULT_BACKENDS, help=f"comma-separated, of: {', '.join(BACKENDS)}")
    p.add_argument("--batch", default="1", help="batch sizes, e.g. 1,32")
    p.add_argument("--seq", default="64", help="padded sequence lengths, e.g. 64,128")
    p.add_argument("--threads", type=int, help="intra-op threads (default: all available CPUs)")
    p.add_argument("--repeats", type=int, default=30, help="timed runs per shape (p50/p90 over these)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    p.add_argument("--time-budget", type=float, help="stop a shape after this many timed seconds (>= 3 runs)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--output", help="rows.json or rows.csv (default: JSON rows on stdout)")
    p.add_argument("--tokenizer", help="tokenizer name or folder (default: the model's own, if available offline)")
    p.add_argument("--texts", help="texts to tokenize, one a line (default: MahaNews SHC headlines)")
    p.add_argument("--data-dir", default=None, help="MahaNews folder for the default texts")
    p.add_argument("--export-dir", help="where ONNX exports of non-cached variants go")
    p.add_argument("--exporter", default="auto", choices=["auto", "torchscript", "dynamo"])
    p.add_argument("--force-export", action="store_true", help="redo ONNX exports even if cached")
    p.add_argument("--no-spin", action="store_true", help="stop ONNX Runtime threads spinning (busy shared CPUs)")
    p.add_argument("--label", help="model name in the rows")
    p.add_argument("--seed", type=int, default=0, help="seed of random weights (--config)")
    p.set_defaults(func=cmd_bench)
    return p


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``bench`` from parsed arguments; JSON rows to --output or stdout. ValueError on bad input."""
    if args.output and Path(args.output).suffix.lower() not in (".json", ".csv"):
        raise ValueError(f"--output must end in .json or .csv, got {args.output!r}")
    bench = BenchConfig(backends=_names(args.backend), batch_sizes=_ints(args.batch, "--batch"),
                        seq_lengths=_ints(args.seq, "--seq"), warmup=args.warmup, repeats=args.repeats,
                        threads=args.threads, device=args.device)  # fmt: skip
    if args.time_budget is not None and args.time_budget <= 0:
        raise ValueError(f"--time-budget must be > 0 seconds, got {args.time_budget}")
    texts = None
    if args.texts:
        try:
            texts = [t.strip() for t in Path(args.texts).read_text(encoding="utf-8").splitlines() if t.strip()]
        except OSError as exc:
            raise ValueError(f"cannot read --texts {args.texts}: {exc}") from exc
    rows = run_bench(args.model, config_name=args.arch, keep=_ints(args.keep, "--keep"), strategy=args.strategy,
                     bench=bench, export=ExportConfig(exporter=args.exporter), tokenizer=args.tokenizer, texts=texts,
                     data_dir=args.data_dir, export_root=args.export_dir, label=args.label,
                     time_budget_s=args.time_budget, spinning=not args.no_spin, force_export=args.force_export,
                     seed=args.seed)  # fmt: skip
    if args.output:
        path = write_rows(rows, args.output)
        sys.stdout.write(json.dumps({"rows": len(rows), "output": str(path)}) + "\n")
    else:
        sys.stdout.write(json.dumps(rows, indent=1, ensure_ascii=False, default=str) + "\n")
    return 0


# --------------------------------------------------------------------------------------------
# Ratios and the latency figure (shared by scripts/benchmark_report.py and the app)
# --------------------------------------------------------------------------------------------


def _shape(row: dict[str, Any]) -> tuple:
    return row["batch"], row["seq_len"], row["device"], row["threads"]


def add_speedups(rows: Sequence[dict[str, Any]], *, baseline_model: str | None = None) -> list[dict[str, Any]]:
    """Copies of `rows` with two speed-up columns (p50 ratios, > 1 means faster).

    ``speedup_vs_baseline``: against the deepest ``torch`` fp32 row of `baseline_model` (default: the
    model label with the deepest torch row, e.g. 12-layer MahaBERT-v2) at the same batch, sequence
    length, device and threads. ``speedup_vs_torch``: against the ``torch`` row of the same variant
    and shape. None where the reference row is missing.
    """
    torch_rows = [r for r in rows if r["backend"] == "torch"]
    if baseline_model is None and torch_rows:
        baseline_model = max(torch_rows, key=lambda r: r["num_layers"])["model"]
    base: dict[tuple, dict] = {}
    for r in torch_rows:
        if r["model"] == baseline_model and r["num_layers"] >= base.get(_shape(r), {}).get("num_layers", 0):
            base[_shape(r)] = r
    same = {(r["variant"], *_shape(r)): r for r in torch_rows}
    out = []
    for r in rows:
        ref_base, ref_same = base.get(_shape(r)), same.get((r["variant"], *_shape(r)))
        out.append(
            {
                **r,
                "speedup_vs_baseline": round(ref_base["p50_ms"] / r["p50_ms"], 3) if ref_base else None,
                "baseline": f"{ref_base['variant']} torch" if ref_base else None,
                "speedup_vs_torch": round(ref_same["p50_ms"] / r["p50_ms"], 3) if ref_same else None,
            }
        )
    return out


BACKEND_COLORS = {"torch": "#d62728", "torch-bf16": "#ff7f0e", "torch-fp16": "#bcbd22",
                  "onnx": "#1f77b4", "onnx-int8": "#2ca02c", "onnx-cuda-fp16": "#9467bd"}  # fmt: skip


def latency_figure(rows: Sequence[dict[str, Any]], *, family: str | None = None):
    """Plotly figure "latency vs layers kept": one line per backend, one panel per (batch, seq_len).

    Args:
        rows: benchmark rows (``run_bench`` output or ``benchmark.json``'s rows).
        family: the model whose pruned variants make the lines (default: the label with the most
            distinct depths); other models (e.g. MahaBERT-Small/-Smaller) are drawn as markers.

    Returns:
        A ``plotly.graph_objects.Figure``; error bars reach from p50 up to p90.
    """
    from plotly.subplots import make_subplots

    if not rows:
        raise ValueError("no benchmark rows to plot")
    if family is None:
        depths: dict[str, set] = {}
        for r in rows:
            depths.setdefault(r["model"], set()).add(r["num_layers"])
        family = max(depths, key=lambda m: len(depths[m]))
    shapes = sorted({(r["batch"], r["seq_len"]) for r in rows})
    fig = make_subplots(rows=1, cols=len(shapes), subplot_titles=[f"batch {b}, seq {s}" for b, s in shapes])
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["model"], r["backend"]), []).append(r)
    for (model, backend), members in sorted(groups.items(), key=lambda kv: (kv[0][0] != family, kv[0])):
        for col, shape in enumerate(shapes, start=1):
            pts = sorted((r for r in members if (r["batch"], r["seq_len"]) == shape), key=lambda r: r["num_layers"])
            if pts:
                fig.add_trace(_trace(model, backend, pts, model == family, col == 1), row=1, col=col)
        fig.update_xaxes(title_text="encoder layers kept", dtick=2)
    fig.update_yaxes(title_text="p50 latency (ms)", rangemode="tozero")
    weights = {r["weights"] for r in rows}
    note = " — random weights (latency only)" if weights == {"random-weights"} else ""
    threads = sorted({r["threads"] for r in rows})
    fig.update_layout(title=f"Latency vs layers kept ({family}, {threads} thread(s)){note}", template="plotly_white",
                      legend_title_text="model · backend", height=460, width=max(640, 520 * len(shapes)))  # fmt: skip
    return fig


def _trace(model: str, backend: str, pts: list[dict], is_family: bool, legend: bool):
    import plotly.graph_objects as go

    color = BACKEND_COLORS.get(backend, "#7f7f7f")
    return go.Scatter(
        x=[r["num_layers"] for r in pts],
        y=[r["p50_ms"] for r in pts],
        error_y={"type": "data", "symmetric": False, "array": [r["p90_ms"] - r["p50_ms"] for r in pts],
                 "arrayminus": [0] * len(pts)},
        mode="lines+markers" if is_family else "markers",
        marker={"color": color, "size": 9 if is_family else 12, "symbol": "circle" if is_family else "diamond-open"},
        line={"color": color},
        name=f"{model} · {backend}",
        legendgroup=f"{model}-{backend}",
        showlegend=legend,
        customdata=[[r["p90_ms"], r["throughput"], r["disk_mb"], r["variant"]] for r in pts],
        hovertemplate="%{customdata[3]}<br>p50 %{y:.2f} ms, p90 %{customdata[0]:.2f} ms<br>"
        "%{customdata[1]:.1f} seq/s, %{customdata[2]:.0f} MB<extra>" + backend + "</extra>",
    )  # fmt: skip
