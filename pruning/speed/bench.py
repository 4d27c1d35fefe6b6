"""`python -m pruning bench`: measured latency and size of layer-pruned variants on every backend.

One call loads a model (``sources.load_source``), prunes it to each ``--keep`` depth, exports
the ONNX backends it is asked for (cached and checked against PyTorch, ``onnx_cache``) and times
every (backend, batch, sequence length) with ``measure``. The result is a list of
JSON-serialisable rows (``measure.ROW_KEYS``), written as JSON or CSV or printed to stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.store import atomic_write_json, atomic_write_text, cache_dir

from ..config import BACKENDS, BenchConfig, ExportConfig
from ..strategies import STRATEGIES, parse_int_list, select_layers
from ..surgery import num_layers
from .feeds import check_shapes, load_headlines
from .measure import benchmark_runner, model_meta
from .onnx_cache import export_variant
from .onnx_session import ONNX_BACKENDS, OnnxClassifier
from .runners import OnnxRunner, Runner, TorchRunner
from .sizes import disk_size_mb
from .sources import BenchSource, export_dir, load_source, pruned_models, weights_files

DEFAULT_BACKENDS = "torch,onnx,onnx-int8"


def _validate(bench: BenchConfig) -> None:
    """Backend / device combinations that cannot run, reported before anything is loaded."""
    cuda = bench.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch.cuda.is_available() is False on this machine")
    if "onnx-cuda-fp16" in bench.backends and not cuda:
        raise ValueError("backend onnx-cuda-fp16 runs on the GPU only; add --device cuda or drop it")
    if "torch-fp16" in bench.backends and not cuda:
        raise ValueError("backend torch-fp16 needs --device cuda (fp16 matmuls are very slow on CPU); use torch-bf16")


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
        export_root: where exports of non-cached variants go (default ``$MARATHI_PRUNE_HOME/exports``).
        label: model name in the rows.
        weights: weights label for an nn.Module ("pretrained" | "fine-tuned" | "random-weights").
        time_budget_s: cut a (backend, shape) measurement short after this many timed seconds.
        spinning: ONNX Runtime worker-thread spinning (turn off on a busy shared CPU).
        force_export: redo ONNX exports even if cached.
        seed: seed of random weights.

    Returns:
        Rows (dicts with every key of ``measure.ROW_KEYS``), one per (keep, backend, batch, seq_len).

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
    root = Path(export_root) if export_root else cache_dir("exports")
    rows: list[dict[str, Any]] = []
    for k, kept, variant_model in pruned_models(source, keeps, strategy):
        pruned = k != depth
        meta = model_meta(
            variant_model,
            label=source.label,
            weights=source.weights,
            variant=f"{source.label}-{strategy}-k{k}" if pruned else source.label,
            strategy=strategy if pruned else None,
            tokenizer_name=getattr(tok, "name_or_path", None) or None,
        )
        meta["kept_layers"] = kept
        folder = export_dir(source, k, strategy, root)
        runners = _runners(source, variant_model, folder, bench, export, tok, texts, spinning, force_export)
        for runner, check, extra in runners:
            rows += benchmark_runner(
                runner,
                meta,
                tokenizer=tok,
                texts=texts,
                batch_sizes=bench.batch_sizes,
                seq_lengths=bench.seq_lengths,
                warmup=bench.warmup,
                repeats=bench.repeats,
                time_budget_s=time_budget_s,
                export_check=check,
                extra=extra,
            )
    return rows


def _runners(
    source: BenchSource,
    model: nn.Module,
    folder: Path,
    bench: BenchConfig,
    export: ExportConfig,
    tok: Any | None,
    texts: Sequence[str] | None,
    spinning: bool,
    force: bool,
) -> Iterator[tuple[Runner, dict | None, dict[str, Any]]]:
    """Yield (runner, export check, extra row fields) per backend of one depth, releasing each after use."""
    onnx_backends = [b for b in bench.backends if b in ONNX_BACKENDS]
    result = None
    if onnx_backends:
        result = export_variant(
            model,
            folder,
            backends=onnx_backends,
            tokenizer=tok,
            texts=texts,
            weights=source.weights,
            config=export,
            threads=bench.threads,
            device=bench.device,
            force=force,
        )
    full_depth = model is source.model
    for backend in bench.backends:
        if backend in ONNX_BACKENDS:
            device = "cpu" if backend == "onnx-int8" else bench.device  # ORT INT8 kernels are CPU kernels
            classifier = OnnxClassifier(result.paths[backend], threads=bench.threads, device=device, spinning=spinning)
            extra = {
                "ort_spinning": spinning,
                "exporter": result.manifest.get("exporter"),
                "export_dir": str(result.directory),
                "export_from_cache": result.from_cache,
            }
            yield OnnxRunner(classifier, backend), result.checks[backend], extra
            del classifier
        else:
            runner = TorchRunner(model, backend=backend, device=bench.device, threads=bench.threads)
            files = weights_files(source) if full_depth and backend == "torch" else []
            if files:  # the real file beats an estimate
                runner.disk_mb = sum(disk_size_mb(f) for f in files)
                runner.disk_mb_source = "file " + ", ".join(f.name for f in files)
            yield runner, None, {}
            del runner
        gc.collect()


def write_rows(rows: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write rows as JSON (a list) or CSV (nested values JSON-encoded), chosen by the extension.

    Raises:
        ValueError: an extension other than .json / .csv.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValueError(f"--output must end in .json or .csv, got {path.name!r}")
    if suffix == ".json":
        return atomic_write_json(path, list(rows))
    import pandas as pd

    flat = [{k: json.dumps(v, default=str) if isinstance(v, (dict, list)) else v for k, v in r.items()} for r in rows]
    return atomic_write_text(path, pd.DataFrame(flat).to_csv(index=False))


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _backends(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise ValueError(f"unknown backend(s) {unknown or [text]}; valid backends: {', '.join(BACKENDS)}")
    return names


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` on an argparse subparsers object; returns the new parser."""
    p = subparsers.add_parser(
        "bench", help="latency / size of pruned variants on torch and ONNX Runtime", description=__doc__.splitlines()[0]
    )
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
    bench = BenchConfig(
        backends=_backends(args.backend),
        batch_sizes=parse_int_list(args.batch, "--batch"),
        seq_lengths=parse_int_list(args.seq, "--seq"),
        warmup=args.warmup,
        repeats=args.repeats,
        threads=args.threads,
        device=args.device,
    )
    if args.time_budget is not None and args.time_budget <= 0:
        raise ValueError(f"--time-budget must be > 0 seconds, got {args.time_budget}")
    texts = None
    if args.texts:
        try:
            texts = [t.strip() for t in Path(args.texts).read_text(encoding="utf-8").splitlines() if t.strip()]
        except OSError as exc:
            raise ValueError(f"cannot read --texts {args.texts}: {exc}") from exc
    rows = run_bench(
        args.model,
        config_name=args.arch,
        keep=parse_int_list(args.keep, "--keep") if args.keep is not None else None,
        strategy=args.strategy,
        bench=bench,
        export=ExportConfig(exporter=args.exporter),
        tokenizer=args.tokenizer,
        texts=texts,
        data_dir=args.data_dir,
        export_root=args.export_dir,
        label=args.label,
        time_budget_s=args.time_budget,
        spinning=not args.no_spin,
        force_export=args.force_export,
        seed=args.seed,
    )
    if args.output:
        path = write_rows(rows, args.output)
        sys.stdout.write(json.dumps({"rows": len(rows), "output": str(path)}) + "\n")
    else:
        sys.stdout.write(json.dumps(rows, indent=1, ensure_ascii=False, default=str) + "\n")
    return 0
