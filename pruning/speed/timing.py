"""The clock: warm-up, then repeated timed calls, summarised as median and p90.

Why this shape (TextPruner's ``inference_time`` pattern): the first calls pay for allocator growth
and oneDNN / MLAS kernel selection, so they are run untimed; on CUDA the launch returns before the
work is done, so every sample synchronises the device before the clock stops; and the median and
p90 describe a noisy shared CPU better than a mean. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

logger = logging.getLogger(__name__)

R = TypeVar("R")


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Fix torch's intra-op thread count for the block, then restore it.

    Args:
        threads: threads to use; None keeps the current setting.

    Yields:
        The thread count in effect.

    Raises:
        ValueError: a thread count below 1.
    """
    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / mean / min of timing samples in ms (linear-interpolated percentiles).

    Raises:
        ValueError: no samples.
    """
    if not samples_ms:
        raise ValueError("no timing samples to summarize")
    arr = np.asarray(samples_ms, dtype=float)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p90_ms": float(np.percentile(arr, 90)),
        "mean_ms": float(arr.mean()),
        "min_ms": float(arr.min()),
    }


def time_callable(
    fn: Callable[[], Any],
    *,
    warmup: int = 5,
    repeats: int = 30,
    synchronize: Callable[[], None] | None = None,
    time_budget_s: float | None = None,
    min_repeats: int = 3,
) -> list[float]:
    """Wall-clock samples (ms) of `fn()`, after `warmup` untimed calls.

    The garbage collector is paused while timing, so a collection never lands inside one sample.

    Args:
        fn: the work to time.
        warmup: untimed calls first.
        repeats: timed calls.
        synchronize: called after warm-up and before stopping each sample's clock; pass e.g.
            ``torch.cuda.synchronize`` with a CUDA backend so that a sample covers the device work.
        time_budget_s: stop early once timed calls have taken this long (at least `min_repeats`).
        min_repeats: lower bound on samples when a budget cuts the run short.

    Returns:
        One sample per timed call, in ms.

    Raises:
        ValueError: negative warm-up or fewer than one repeat.
    """
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    sync = synchronize or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        spent = 0.0
        for i in range(repeats):
            start = time.perf_counter_ns()
            fn()
            sync()
            elapsed = (time.perf_counter_ns() - start) / 1e6
            samples.append(elapsed)
            spent += elapsed / 1000
            if time_budget_s is not None and spent > time_budget_s and i + 1 >= min_repeats:
                logger.info("time budget %.1fs reached after %d of %d repeats", time_budget_s, i + 1, repeats)
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def time_single_request(fn: Callable[..., R], *args: Any, **kwargs: Any) -> tuple[R, float]:
    """Run `fn(*args, **kwargs)` once and return (result, wall-clock ms): for the app's live demo.

    If the result is a CUDA tensor the device is synchronized before the clock stops.
    """
    start = time.perf_counter_ns()
    result = fn(*args, **kwargs)
    if isinstance(result, torch.Tensor) and result.is_cuda:
        torch.cuda.synchronize(result.device)
    return result, (time.perf_counter_ns() - start) / 1e6
