"""Measure what layer pruning buys on a CPU: assets/benchmark.{json,md} and a latency figure.

Benchmarks the MahaBERT-v2 architecture kept at 12, 6 and 2 layers (top strategy) and the
MahaBERT-Small (6 layers, 52k vocabulary) / -Smaller (2 layers) shapes on every CPU backend
(PyTorch eager, ONNX Runtime fp32 with BERT fusions, ONNX Runtime INT8; GPU rows too when CUDA is
present) at batch 1 / 64 tokens (one interactive request) and batch 32 / 128 tokens (bulk
scoring), with the thread count fixed (2 by default).

The weights are random (the Hugging Face Hub is not reachable here): latency and size depend on
the shapes, not on the weight values, and every row says ``weights: random-weights``. For the same
reason the INT8 label-agreement of those rows is only indicative; pass ``--agreement-model PATH``
(a fine-tuned variant) for the real check.

    python -m scripts.benchmark_report            # full run, ~10 min on 2 cores
    python -m scripts.benchmark_report --quick    # smoke test: few repeats
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pruning.bench import add_speedups, latency_figure, load_source, run_bench
from pruning.config import BenchConfig
from pruning.latency import library_versions, machine_info

ROOT = Path(__file__).resolve().parents[1]

logger = logging.getLogger("benchmark_report")

__all__ = ["latency_figure", "main", "markdown_report", "target_checks"]

BASE = "mahabert-v2"
SCRATCH = ("mahabert-small", "mahabert-smaller")
SHAPES = ((1, 64), (32, 128))
# (warm-up, repeats, seconds of timed work at most) per shape; the big shape is ~100x the work.
FULL = {(1, 64): (5, 30, 30.0), (32, 128): (2, 10, 40.0)}
QUICK = {(1, 64): (1, 5, 5.0), (32, 128): (1, 2, 10.0)}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few repeats: a smoke test, not numbers to publish")
    p.add_argument("--threads", type=int, default=2, help="torch / ORT intra-op threads (default 2)")
    p.add_argument("--keep", default="12,6,2", help="MahaBERT-v2 depths to benchmark")
    p.add_argument("--models", default=",".join((BASE, *SCRATCH)), help="catalog architectures to include")
    p.add_argument("--backends", default="torch,onnx,onnx-int8", help="CPU backends")
    p.add_argument("--agreement-model", action="append", default=[],
                   help="fine-tuned model folder / cached variant for the real INT8 agreement check (repeatable)")  # fmt: skip
    p.add_argument("--tokenizer", help="tokenizer for tokenization timing of the random-weight rows (default: none)")
    p.add_argument("--out-dir", default=str(ROOT / "assets"))
    p.add_argument("--export-dir", help="ONNX export cache (default ~/.cache/marathi-prune/exports)")
    p.add_argument("--no-spin", action="store_true", help="ORT threads do not spin (for a busy shared CPU)")
    p.add_argument("--no-gpu", action="store_true", help="skip GPU rows even when CUDA is present")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def _bench(model, source, *, shape, backends, device, args, keep=None, label=None, weights=None, tokenizer=None):
    warmup, repeats, budget = (QUICK if args.quick else FULL)[shape]
    config = BenchConfig(backends=backends, batch_sizes=[shape[0]], seq_lengths=[shape[1]], warmup=warmup,
                         repeats=repeats, threads=args.threads, device=device)  # fmt: skip
    return run_bench(model, keep=keep, bench=config, label=label, weights=weights, tokenizer=tokenizer,
                     export_root=args.export_dir, time_budget_s=budget, spinning=not args.no_spin)  # fmt: skip


def collect(args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """(architecture rows, agreement rows) for every model, depth, backend and shape asked for."""
    import torch

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    devices = [("cpu", backends)]
    if torch.cuda.is_available() and not args.no_gpu:
        devices.append(("cuda", ["torch", "torch-fp16", "onnx-cuda-fp16"]))
    rows: list[dict] = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        source = load_source(config_name=name, tokenizer=args.tokenizer)
        keep = [int(k) for k in args.keep.split(",")] if name == BASE else None
        for device, device_backends in devices:
            for shape in SHAPES:
                logger.info("%s on %s, batch %d seq %d", name, device, *shape)
                rows += _bench(source.model, source, shape=shape, backends=device_backends, device=device, args=args,
                               keep=keep, label=source.label, weights=source.weights, tokenizer=source.tokenizer)  # fmt: skip
        del source
    agreement: list[dict] = []
    for path in args.agreement_model:
        logger.info("INT8 agreement on fine-tuned %s", path)
        agreement += _bench(path, None, shape=SHAPES[0], backends=backends, device="cpu", args=args)
    return rows, agreement


# --------------------------------------------------------------------------------------------
# Targets and Markdown
# --------------------------------------------------------------------------------------------


def _find(rows: Sequence[dict], **match: Any) -> dict | None:
    hits = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    return hits[0] if hits else None


def target_checks(rows: Sequence[dict]) -> list[dict]:
    """The issue's targets, each with the measured value and whether it was met on this machine."""
    out: list[dict] = []
    b1 = {"batch": 1, "seq_len": 64, "device": "cpu"}
    full = _find(rows, model=BASE, num_layers=12, backend="torch", **b1)
    for k in (6, 2):
        row = _find(rows, model=BASE, num_layers=k, backend="torch", **b1)
        if full and row:
            bound = k / 12 + 0.08
            ratio = row["p50_ms"] / full["p50_ms"]
            out.append({"target": f"torch {k}-layer <= ({k}/12 + 0.08) x 12-layer latency (b1/s64)",
                        "measured": f"{ratio:.3f} x (bound {bound:.3f})", "met": ratio <= bound})  # fmt: skip
    for r in rows:
        if r["device"] != "cpu" or r["backend"] not in ("onnx", "onnx-int8") or r.get("speedup_vs_torch") is None:
            continue
        need = 1.5 if r["backend"] == "onnx" else 2.5
        out.append({"target": f"{r['backend']} >= {need}x torch: {r['variant']} b{r['batch']}/s{r['seq_len']}",
                    "measured": f"{r['speedup_vs_torch']:.2f}x", "met": r["speedup_vs_torch"] >= need})  # fmt: skip
    for r in rows:
        if (
            r["model"] == BASE
            and r["num_layers"] == 6
            and r["device"] == "cpu"
            and (r["batch"], r["seq_len"]) == (1, 64)
        ):
            out.append({"target": f"6-layer MahaBERT-v2 <= 15 ms p50 (b1/s64, {r['threads']} threads): {r['backend']}",
                        "measured": f"{r['p50_ms']:.1f} ms", "met": r["p50_ms"] <= 15})  # fmt: skip
    for r in rows:
        fp32 = _find(rows, variant=r["variant"], backend="onnx", batch=r["batch"], seq_len=r["seq_len"])
        if r["backend"] == "onnx-int8" and fp32 and (r["batch"], r["seq_len"]) == (1, 64):
            ratio = r["disk_mb"] / fp32["disk_mb"]
            out.append({"target": f"INT8 file <= 30% of fp32: {r['variant']}",
                        "measured": f"{r['disk_mb']:.0f} / {fp32['disk_mb']:.0f} MB = {ratio:.0%}", "met": ratio <= 0.30})  # fmt: skip
    return out


def _verdict(check: dict) -> str:
    """One table cell for an export check (no '|' characters: they would split the cell)."""
    if not check:
        return ""
    numbers = f"max abs dlogit {check['max_abs_logit_diff']:.1e}, labels kept {check['label_agreement']:.1%}"
    if check["backend"] != "onnx" and check.get("weights") == "random-weights":
        return f"indicative (random weights): {numbers}"
    return f"{'ok' if check['passed'] else '**FAIL**'}: {numbers}"


def _ratio(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "–"


def _table(rows: Sequence[dict]) -> list[str]:
    lines = [
        "| model | layers | backend | p50 ms | p90 ms | seq/s | x vs 12L torch | x vs own torch | size MB | export check |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        verdict = _verdict(r.get("export_check") or {})
        lines.append(
            f"| {r['model']} | {r['num_layers']} | {r['backend']} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
            f"{r['throughput']:.1f} | {_ratio(r.get('speedup_vs_baseline'))} | {_ratio(r.get('speedup_vs_torch'))} | "
            f"{r['disk_mb']:.0f} | {verdict} |"
        )
    return lines


def _header(meta: dict) -> list[str]:
    m, v = meta["machine"], meta["versions"]
    loads = meta.get("cpu_load_1m") or []
    load = f"{min(loads):.1f}–{max(loads):.1f}" if loads else "n/a"
    return [
        "# Latency and size of layer-pruned MahaBERT-v2",
        "",
        f"Generated {meta['created']} by:",
        "",
        f"    {meta['command']}",
        "",
        f"- **Machine:** {meta['device_name']} — {m['platform']}; 1-minute load average while measuring: {load} "
        f"(above the thread count means other processes competed for the cores; numbers are then noisy).",
        f"- **Libraries:** torch {v['torch']}, transformers {v['transformers']}, onnxruntime {v['onnxruntime']}, "
        f"onnx {v['onnx']}, Python {v['python']}.",
        f"- **Threads:** {meta['threads']} (torch.set_num_threads / ORT intra_op_num_threads, inter_op 1, "
        f"ORT_ENABLE_ALL, ORT spinning {'on' if meta['spinning'] else 'off'}).",
        f"- **Method:** {meta['method']}",
        "- **Weights: random** (catalog shapes: MahaBERT-v2 = 197,285-word vocabulary, hidden 768, 12 heads, FFN 3072;"
        " MahaBERT-Small/-Smaller = 52,000 words, 6 / 2 layers). Latency and size do not depend on weight values;"
        " no accuracy is ever read from these rows.",
        "",
    ]


def markdown_report(rows: Sequence[dict], agreement: Sequence[dict], meta: dict) -> str:
    """The whole benchmark.md: header, one table per shape, targets, INT8 agreement, notes."""
    lines = _header(meta)
    for batch, seq in sorted({(r["batch"], r["seq_len"]) for r in rows}):
        for device in sorted({r["device"] for r in rows}):
            chunk = [r for r in rows if (r["batch"], r["seq_len"], r["device"]) == (batch, seq, device)]
            if chunk:
                lines += [f"## Batch {batch}, sequence {seq} tokens ({device})", "", *_table(chunk), ""]
    lines += ["## Targets (measured here, not asserted)", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |" for t in meta["targets"]]
    lines += ["", "## INT8 label agreement on a fine-tuned model", ""]
    if agreement:
        for r in agreement:
            if r["backend"] == "onnx-int8" and r.get("export_check"):
                c = r["export_check"]
                lines.append(f"- {r['model']} ({r['num_layers']} layers, {r['weights']}): {c['label_agreement']:.2%} of "
                             f"{c['n']} {c['inputs']} keep their label (target >= 99%), max abs logit difference "
                             f"{c['max_abs_logit_diff']:.3f} — {'met' if c['passed'] else '**not met**'}.")  # fmt: skip
        lines += ["", *_table(agreement)]
    else:
        lines.append("Not measured in this run: the rows above have random weights, whose near-uniform logits make "
                     "label agreement meaningless. Re-run with `--agreement-model <fine-tuned variant>`.")  # fmt: skip
    lines += ["", "## Notes", "", *[f"- {n}" for n in meta["notes"]], ""]
    return "\n".join(lines)


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


def _meta(args: argparse.Namespace, rows: Sequence[dict], argv: Sequence[str] | None) -> dict:
    first = rows[0] if rows else {}
    warm = QUICK if args.quick else FULL
    method = "; ".join(
        f"b{b}/s{s}: {w} warm-up run(s), then up to {n} timed runs or {t:.0f} s of them"
        for (b, s), (w, n, t) in warm.items()
    )
    command = "python -m scripts.benchmark_report " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    return {
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": command.strip(),
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


def write_outputs(out_dir: Path, rows: list[dict], agreement: list[dict], meta: dict) -> list[Path]:
    """benchmark.json, benchmark.md, benchmark_latency.html (+ .png when kaleido is installed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "benchmark.json", out_dir / "benchmark.md", out_dir / "benchmark_latency.html"]
    payload = {"meta": meta, "rows": rows, "agreement_rows": agreement}
    written[0].write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    written[1].write_text(markdown_report(rows, agreement, meta), encoding="utf-8")
    figure = latency_figure(rows, family=BASE if any(r["model"] == BASE for r in rows) else None)
    figure.write_html(written[2], include_plotlyjs="cdn")
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
