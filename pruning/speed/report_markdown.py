"""From benchmark rows to the text of assets/benchmark.md: speed-up ratios, the issue's targets, tables.

Pure functions of rows (no timing, no files), so the report's wording and arithmetic are tested
on synthetic rows in milliseconds while ``report`` does the slow measuring.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BASE = "mahabert-v2"  # the model every speed-up is measured against, and whose depths the targets name


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


def _find(rows: Sequence[dict], **match: Any) -> dict | None:
    hits = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    return hits[0] if hits else None


def _target(target: str, measured: str, met: bool) -> dict:
    return {"target": target, "measured": measured, "met": met}


def target_checks(rows: Sequence[dict], *, base: str = BASE) -> list[dict]:
    """The issue's targets, each with the measured value and whether it was met on this machine.

    Args:
        rows: rows with speed-ups (``add_speedups``).
        base: the full-depth model whose pruned depths the layer targets compare.
    """
    out: list[dict] = []
    b1 = {"batch": 1, "seq_len": 64, "device": "cpu"}
    full = _find(rows, model=base, num_layers=12, backend="torch", **b1)
    for k in (6, 2):
        row = _find(rows, model=base, num_layers=k, backend="torch", **b1)
        if full and row:
            bound, ratio = k / 12 + 0.08, row["p50_ms"] / full["p50_ms"]
            target = f"torch {k}-layer <= ({k}/12 + 0.08) x 12-layer latency (b1/s64)"
            out.append(_target(target, f"{ratio:.3f} x (bound {bound:.3f})", ratio <= bound))
    for r in rows:
        if r["device"] != "cpu" or r["backend"] not in ("onnx", "onnx-int8") or r.get("speedup_vs_torch") is None:
            continue
        need = 1.5 if r["backend"] == "onnx" else 2.5
        target = f"{r['backend']} >= {need}x torch: {r['variant']} b{r['batch']}/s{r['seq_len']}"
        out.append(_target(target, f"{r['speedup_vs_torch']:.2f}x", r["speedup_vs_torch"] >= need))
    for r in rows:
        if (
            r["model"] == base
            and r["num_layers"] == 6
            and r["device"] == "cpu"
            and (r["batch"], r["seq_len"]) == (1, 64)
        ):
            target = f"6-layer MahaBERT-v2 <= 15 ms p50 (b1/s64, {r['threads']} threads): {r['backend']}"
            out.append(_target(target, f"{r['p50_ms']:.1f} ms", r["p50_ms"] <= 15))
    for r in rows:
        fp32 = _find(rows, variant=r["variant"], backend="onnx", batch=r["batch"], seq_len=r["seq_len"])
        if r["backend"] == "onnx-int8" and fp32 and (r["batch"], r["seq_len"]) == (1, 64):
            ratio = r["disk_mb"] / fp32["disk_mb"]
            measured = f"{r['disk_mb']:.0f} / {fp32['disk_mb']:.0f} MB = {ratio:.0%}"
            out.append(_target(f"INT8 file <= 30% of fp32: {r['variant']}", measured, ratio <= 0.30))
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


# Said until a run on a GPU machine adds the CUDA rows (PyTorch fp32/bf16, ORT CUDA fp16).
NO_GPU_LINE = "GPU rows: not measured on GPU yet (no GPU machine was available)"


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


def _agreement(rows: Sequence[dict]) -> list[str]:
    """The INT8 label-agreement section: one sentence per fine-tuned model, then its table."""
    if not rows:
        return [
            "Not measured in this run: the rows above have random weights, whose near-uniform logits make "
            "label agreement meaningless. Re-run with `--agreement-model <fine-tuned variant>`."
        ]
    lines = []
    for r in rows:
        c = r.get("export_check")
        if r["backend"] == "onnx-int8" and c:
            lines.append(
                f"- {r['model']} ({r['num_layers']} layers, {r['weights']}): {c['label_agreement']:.2%} of "
                f"{c['n']} {c['inputs']} keep their label (target >= 99%), max abs logit difference "
                f"{c['max_abs_logit_diff']:.3f} — {'met' if c['passed'] else '**not met**'}."
            )
    return [*lines, "", *_table(rows)]


def markdown_report(rows: Sequence[dict], agreement: Sequence[dict], meta: dict) -> str:
    """The whole benchmark.md: header, one table per shape, targets, INT8 agreement, notes."""
    lines = _header(meta)
    if not any(str(r["device"]).startswith("cuda") for r in rows):
        lines.insert(-1, f"- {NO_GPU_LINE}")
    for batch, seq in sorted({(r["batch"], r["seq_len"]) for r in rows}):
        for device in sorted({r["device"] for r in rows}):
            chunk = [r for r in rows if (r["batch"], r["seq_len"], r["device"]) == (batch, seq, device)]
            if chunk:
                lines += [f"## Batch {batch}, sequence {seq} tokens ({device})", "", *_table(chunk), ""]
    lines += ["## Targets (measured here, not asserted)", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |" for t in meta["targets"]]
    lines += ["", "## INT8 label agreement on a fine-tuned model", "", *_agreement(agreement)]
    lines += ["", "## Notes", "", *[f"- {n}" for n in meta["notes"]], ""]
    return "\n".join(lines)
