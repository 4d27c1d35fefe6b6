"""Measure what layer pruning buys on a CPU: assets/benchmark.{json,md} and a latency figure (`make bench`).

Benchmarks the MahaBERT-v2 architecture kept at 12, 6 and 2 layers (top strategy) and the
MahaBERT-Small (6 layers, 52k vocabulary) / -Smaller (2 layers) shapes on every CPU backend
(PyTorch eager, ONNX Runtime fp32 with BERT fusions, ONNX Runtime INT8; GPU rows too when CUDA is
present) at batch 1 / 64 tokens (one interactive request) and batch 32 / 128 tokens (bulk
scoring), with the thread count fixed (2 by default).

The weights are random (the Hugging Face Hub is not reachable here): latency and size depend on
the shapes, not on the weight values, and every row says ``weights: random-weights``. For the same
reason the INT8 label-agreement of those rows is only indicative; pass ``--agreement-model NAME``
(a fine-tuned cached variant, or its folder) for the real check.

    python -m pruning.speed.report            # full run, ~10 min on 2 cores
    python -m pruning.speed.report --quick    # smoke test: few repeats

The Markdown is built by ``report_markdown``; this module measures, names inputs portably and writes.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from models.store import HOME_ENV, atomic_write_json, atomic_write_text, cache_dir, home

from ..config import BenchConfig
from ..strategies import parse_int_list
from .bench import run_bench
from .figures import latency_figure
from .machine import library_versions, machine_info
from .report_markdown import BASE, add_speedups, markdown_report, target_checks
from .sources import load_source

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python -m pruning.speed.report"

logger = logging.getLogger(__name__)

SCRATCH = ("mahabert-small", "mahabert-smaller")
SHAPES = ((1, 64), (32, 128))
# (warm-up, repeats, seconds of timed work at most) per shape; the big shape is ~100x the work.
FULL = {(1, 64): (5, 30, 30.0), (32, 128): (2, 10, 40.0)}
QUICK = {(1, 64): (1, 5, 5.0), (32, 128): (1, 2, 10.0)}
GPU_BACKENDS = ["torch", "torch-fp16", "onnx-cuda-fp16"]

NOTES = [
    "Latency is the model forward only; tokenization is timed separately (`tokenize_ms_p50` in the JSON).",
    "Inputs are padded to the sequence length, so a 64-token batch costs the same whatever the headline length.",
    "ONNX export uses the TorchScript exporter (`torch.onnx.export(dynamo=False)`) with eager attention: the dynamo "
    "exporter (default since torch 2.9) and SDPA attention export correctly, but ORT's BERT fusions do not recognise "
    "their attention pattern. INT8 is `quantize_dynamic` (QInt8 weights) on MatMul, Attention and the embedding "
    "(QEmbedLayerNormalization), which is why the 197k-word embedding shrinks too.",
    "Size is the file on disk: safetensors-equivalent fp32 estimate for torch rows, the .onnx file for ORT rows.",
    "Speed-ups are p50 ratios; 'x vs 12L torch' compares with 12-layer MahaBERT-v2 in PyTorch at the same shape.",
]


def portable(value: str) -> str:
    """How a report names an input so that it reads the same on any machine.

    A cached variant by its name (``--agreement-model`` accepts names), a path inside the repository
    relative to it, a path under the cache root as ``~/.cache/marathi-prune/...`` (or
    ``$MARATHI_PRUNE_HOME/...`` when that is set). Anything else (names, relative paths) unchanged.
    """
    path = Path(value).expanduser()
    if not path.is_absolute():
        return value
    path = Path(os.path.normpath(path))
    root = home().expanduser()
    if path.parent == cache_dir("variants").expanduser():
        return path.name
    if path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    if path.is_relative_to(root):
        if os.environ.get(HOME_ENV):
            return f"${HOME_ENV}/{path.relative_to(root)}"
        return f"~/{path.relative_to(Path.home())}"
    return value


def portable_command(argv: Sequence[str]) -> str:
    """The command line that made the report, each path argument made ``portable``."""
    parts = []
    for arg in argv:
        flag, eq, value = arg.partition("=")
        parts.append(f"{flag}={portable(value)}" if eq and flag.startswith("--") else portable(arg))
    return " ".join([COMMAND, *(shlex.quote(p) if not p.startswith(("~/", "$")) else p for p in parts)])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few repeats: a smoke test, not numbers to publish")
    p.add_argument("--threads", type=int, default=2, help="torch / ORT intra-op threads (default 2)")
    p.add_argument("--keep", default="12,6,2", help="MahaBERT-v2 depths to benchmark")
    p.add_argument("--models", default=",".join((BASE, *SCRATCH)), help="catalog architectures to include")
    p.add_argument("--backends", default="torch,onnx,onnx-int8", help="CPU backends")
    p.add_argument(
        "--agreement-model",
        action="append",
        default=[],
        help="fine-tuned cached variant (name) or model folder for the real INT8 agreement check (repeatable)",
    )
    p.add_argument("--tokenizer", help="tokenizer for tokenization timing of the random-weight rows (default: none)")
    p.add_argument("--out-dir", default=str(ROOT / "assets"))
    p.add_argument("--export-dir", help="ONNX export cache (default $MARATHI_PRUNE_HOME/exports)")
    p.add_argument("--no-spin", action="store_true", help="ORT threads do not spin (for a busy shared CPU)")
    p.add_argument("--no-gpu", action="store_true", help="skip GPU rows even when CUDA is present")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def _bench(
    model: str | nn.Module,
    *,
    shape: tuple[int, int],
    backends: list[str],
    device: str,
    args: argparse.Namespace,
    keep: list[int] | None = None,
    label: str | None = None,
    weights: str | None = None,
    tokenizer: Any | None = None,
) -> list[dict]:
    """Rows of one model at one shape, with the warm-up / repeats / budget of a full or quick run."""
    warmup, repeats, budget = (QUICK if args.quick else FULL)[shape]
    config = BenchConfig(
        backends=backends,
        batch_sizes=[shape[0]],
        seq_lengths=[shape[1]],
        warmup=warmup,
        repeats=repeats,
        threads=args.threads,
        device=device,
    )
    return run_bench(
        model,
        keep=keep,
        bench=config,
        label=label,
        weights=weights,
        tokenizer=tokenizer,
        export_root=args.export_dir,
        time_budget_s=budget,
        spinning=not args.no_spin,
    )


def collect(args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """(architecture rows, agreement rows) for every model, depth, backend and shape asked for."""
    import torch

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    devices = [("cpu", backends)]
    if torch.cuda.is_available() and not args.no_gpu:
        devices.append(("cuda", GPU_BACKENDS))
    rows: list[dict] = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        source = load_source(config_name=name, tokenizer=args.tokenizer)
        keep = parse_int_list(args.keep, "--keep") if name == BASE else None
        for device, device_backends in devices:
            for shape in SHAPES:
                logger.info("%s on %s, batch %d seq %d", name, device, *shape)
                rows += _bench(
                    source.model,
                    shape=shape,
                    backends=device_backends,
                    device=device,
                    args=args,
                    keep=keep,
                    label=source.label,
                    weights=source.weights,
                    tokenizer=source.tokenizer,
                )
        del source
    agreement: list[dict] = []
    for model in args.agreement_model:
        logger.info("INT8 agreement on fine-tuned %s", model)
        agreement += _bench(model, shape=SHAPES[0], backends=backends, device="cpu", args=args)
    return rows, agreement


def _meta(args: argparse.Namespace, rows: Sequence[dict], argv: Sequence[str] | None) -> dict:
    """The report's header facts: when, how, on what machine, with which libraries and method."""
    first = rows[0] if rows else {}
    method = "; ".join(
        f"b{b}/s{s}: {w} warm-up run(s), then up to {n} timed runs or {t:.0f} s of them"
        for (b, s), (w, n, t) in (QUICK if args.quick else FULL).items()
    )
    return {
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": portable_command(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "machine": machine_info(),
        "device_name": first.get("device_name"),
        "versions": library_versions(),
        "threads": args.threads,
        "spinning": not args.no_spin,
        "method": method + " (p50 / p90 over the timed runs).",
        "cpu_load_1m": [r["cpu_load_1m"] for r in rows if r.get("cpu_load_1m") is not None],
        "notes": NOTES + (["**--quick run: too few repeats to publish.**"] if args.quick else []),
    }


def _portable_rows(rows: Sequence[dict]) -> list[dict]:
    """Rows with their path fields (export folder, tokenizer folder) named ``portable``-ly."""
    fields = ("export_dir", "tokenizer")
    return [{k: portable(v) if k in fields and isinstance(v, str) else v for k, v in r.items()} for r in rows]


def write_outputs(out_dir: Path, rows: list[dict], agreement: list[dict], meta: dict) -> list[Path]:
    """benchmark.json, benchmark.md, benchmark_latency.html (+ .png when kaleido is installed)."""
    rows, agreement = _portable_rows(rows), _portable_rows(agreement)
    written = [out_dir / "benchmark.json", out_dir / "benchmark.md", out_dir / "benchmark_latency.html"]
    atomic_write_json(written[0], {"meta": meta, "rows": rows, "agreement_rows": agreement})
    atomic_write_text(written[1], markdown_report(rows, agreement, meta))
    figure = latency_figure(rows, family=BASE if any(r["model"] == BASE for r in rows) else None)
    atomic_write_text(written[2], figure.to_html(include_plotlyjs="cdn"))
    if importlib.util.find_spec("kaleido") is not None:
        try:
            figure.write_image(out_dir / "benchmark_latency.png", scale=2)
            written.append(out_dir / "benchmark_latency.png")
        except Exception as exc:  # noqa: BLE001 - a PNG is a nicety; the HTML is the figure
            logger.warning("kaleido is installed but the PNG export failed: %s", exc)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logger.setLevel(logging.INFO)
    rows, agreement = collect(args)
    rows, agreement = add_speedups(rows, baseline_model=BASE), add_speedups(agreement)
    meta = _meta(args, rows, argv)
    meta["targets"] = target_checks(rows)
    for path in write_outputs(Path(args.out_dir), rows, agreement, meta):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
