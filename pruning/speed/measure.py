"""Measuring a runner into benchmark rows: one JSON-serialisable dict per (batch, sequence length).

Why rows: the CLI, the report, the sweep and the app all read the same flat dicts
(``ROW_KEYS``), so a number can be traced back to the model, shape, machine and library
versions it was measured with. Layer pruning is only worth its accuracy cost if the smaller
model is really faster, so every row is measured (p50 / p90 of repeated forward passes after
warm-up), never estimated; tokenization is timed beside it, not inside it.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from ..surgery import num_layers, provenance
from .feeds import build_feed, check_shapes, time_tokenization
from .machine import device_name, library_versions, load_average
from .runners import Runner, TorchRunner
from .sizes import count_parameters, flops_per_token
from .timing import summarize, time_callable

logger = logging.getLogger(__name__)

# Every benchmark row carries these keys, in this order (values may be None where not applicable).
# Grouped by line: the model, where it ran, the shape and its timings, size and compute, provenance.
ROW_KEYS: tuple[str, ...] = tuple(
    (
        "model variant weights num_layers kept_layers strategy "
        "device device_name backend dtype threads "
        "batch seq_len p50_ms p90_ms mean_ms min_ms throughput repeats warmup "
        "tokenizer tokenize_ms_p50 params disk_mb disk_mb_source flops_per_token "
        "versions export_check cpu_load_1m timestamp"
    ).split()
)
WEIGHTS = ("pretrained", "fine-tuned", "random-weights")


def measure_runner(
    runner: Runner,
    feed: Mapping[str, Any],
    *,
    warmup: int = 5,
    repeats: int = 30,
    time_budget_s: float | None = None,
) -> dict[str, float]:
    """Latency statistics of `runner` on one feed.

    Throughput is sequences per second over the timed calls: ``batch · 1000 / mean_ms``.

    Returns:
        p50_ms, p90_ms, mean_ms, min_ms, throughput, repeats (samples actually taken), warmup.
    """
    batch = int(next(iter(feed.values())).shape[0])
    prepared = runner.prepare(feed)
    with runner.scope():
        samples = time_callable(
            lambda: runner(prepared),
            warmup=warmup,
            repeats=repeats,
            synchronize=runner.synchronize,
            time_budget_s=time_budget_s,
        )
    stats: dict[str, float] = summarize(samples)
    stats["throughput"] = batch * 1000.0 / stats["mean_ms"]
    stats["repeats"] = len(samples)
    stats["warmup"] = warmup
    return stats


def model_meta(
    model: nn.Module,
    *,
    label: str,
    weights: str,
    variant: str | None = None,
    strategy: str | None = None,
    tokenizer_name: str | None = None,
) -> dict[str, Any]:
    """Row fields that depend only on the model (not on backend or shape).

    Raises:
        ValueError: `weights` is not one of ``WEIGHTS``.
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be 'pretrained', 'fine-tuned' or 'random-weights', got {weights!r}")
    depth = num_layers(model)
    record = provenance(model) or {}
    return {
        "model": label,
        "variant": variant or label,
        "weights": weights,
        "num_layers": depth,
        "kept_layers": list(record.get("kept_layers") or range(depth)),
        "strategy": strategy or record.get("strategy"),
        "tokenizer": tokenizer_name,
        "params": count_parameters(model),
        "versions": library_versions(),
        "_config": model.config,  # removed by make_row; used for FLOPs per sequence length
    }


def make_row(
    meta: Mapping[str, Any],
    runner: Runner,
    batch: int,
    seq_len: int,
    stats: Mapping[str, float],
    *,
    tokenize_ms_p50: float | None = None,
    export_check: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One JSON-serialisable benchmark row with every key of ``ROW_KEYS`` first, then `extra`'s."""
    config = meta.get("_config")
    row: dict[str, Any] = {k: v for k, v in meta.items() if not k.startswith("_")}
    row.update(
        device=runner.device,
        device_name=device_name(runner.device),
        backend=runner.backend,
        dtype=runner.dtype,
        threads=runner.threads,
        batch=batch,
        seq_len=seq_len,
        tokenize_ms_p50=tokenize_ms_p50,
        disk_mb=round(float(getattr(runner, "disk_mb", math.nan)), 3),
        disk_mb_source=getattr(runner, "disk_mb_source", None),
        flops_per_token=flops_per_token(config, seq_len) if config is not None else None,
        export_check=dict(export_check) if export_check else None,
        cpu_load_1m=load_average(),
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    row.update({k: (round(v, 4) if isinstance(v, float) else v) for k, v in stats.items()})
    if extra:
        row.update(extra)
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:  # a programming error, not a user one
        raise RuntimeError(f"benchmark row is missing {missing}")
    return {k: row[k] for k in ROW_KEYS} | {k: v for k, v in row.items() if k not in ROW_KEYS}


def benchmark_runner(
    runner: Runner,
    meta: Mapping[str, Any],
    *,
    tokenizer: Any | None = None,
    texts: Sequence[str] | None = None,
    batch_sizes: Sequence[int] = (1,),
    seq_lengths: Sequence[int] = (64,),
    warmup: int = 5,
    repeats: int = 30,
    time_budget_s: float | None = None,
    export_check: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Rows for one runner over every (batch, seq_len) pair; tokenization is timed separately.

    Raises:
        ValueError: bad batch size or a sequence longer than the model's positions.
    """
    config = meta.get("_config")
    check_shapes(config, batch_sizes, seq_lengths)
    vocab = getattr(config, "vocab_size", None)
    rows = []
    for batch in batch_sizes:
        for seq_len in seq_lengths:
            feed = build_feed(tokenizer, texts, batch, seq_len, vocab_size=vocab)
            tok_ms = None
            if tokenizer is not None:
                tok_repeats = max(3, repeats // 3)
                tok_ms = statistics.median(time_tokenization(tokenizer, texts, batch, seq_len, repeats=tok_repeats))
            stats = measure_runner(runner, feed, warmup=warmup, repeats=repeats, time_budget_s=time_budget_s)
            logger.info(
                "%s %s b=%d s=%d: p50 %.2f ms", meta.get("variant"), runner.backend, batch, seq_len, stats["p50_ms"]
            )
            rows.append(
                make_row(
                    meta, runner, batch, seq_len, stats, tokenize_ms_p50=tok_ms, export_check=export_check, extra=extra
                )
            )
    return rows


def benchmark_torch(
    model: nn.Module,
    tokenizer: Any | None = None,
    texts: Sequence[str] | None = None,
    *,
    label: str = "model",
    weights: str = "pretrained",
    backend: str = "torch",
    device: str = "cpu",
    threads: int | None = None,
    batch_sizes: Sequence[int] = (1,),
    seq_lengths: Sequence[int] = (64,),
    warmup: int = 5,
    repeats: int = 30,
    time_budget_s: float | None = None,
) -> list[dict[str, Any]]:
    """Latency rows of a PyTorch model: the one-call entry point for the app and the sweep.

    Args:
        model: a transformers sequence classifier (left in the train/eval mode it came in).
        tokenizer: its tokenizer; None times random token ids and leaves tokenize_ms_p50 None.
        texts: real texts to tokenize (MahaNews headlines); required with a tokenizer.
        label: model name for the rows.
        weights: "pretrained", "fine-tuned" or "random-weights".
        backend: "torch", "torch-fp16" (CUDA) or "torch-bf16".
        device: "cpu" or "cuda".
        threads: torch intra-op threads; defaults to all available CPUs.
        batch_sizes, seq_lengths: shapes to time.
        warmup, repeats: untimed and timed calls per shape.
        time_budget_s: stop a shape early after this much timed work.

    Returns:
        One row per (batch, seq_len), each with every key of ``ROW_KEYS``.

    Raises:
        ValueError: bad shapes, unknown backend, CUDA asked for but absent.
    """
    check_shapes(model.config, batch_sizes, seq_lengths)
    runner = TorchRunner(model, backend=backend, device=device, threads=threads)
    meta = model_meta(model, label=label, weights=weights, tokenizer_name=getattr(tokenizer, "name_or_path", None))
    return benchmark_runner(
        runner,
        meta,
        tokenizer=tokenizer,
        texts=texts,
        batch_sizes=batch_sizes,
        seq_lengths=seq_lengths,
        warmup=warmup,
        repeats=repeats,
        time_budget_s=time_budget_s,
    )
