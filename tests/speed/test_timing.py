"""The clock: warm-up is untimed, budgets cut runs short, thread counts are restored."""

from __future__ import annotations

import time

import pytest
import torch

from pruning.speed.timing import summarize, time_callable, time_single_request, torch_threads


def test_time_callable_warms_up_then_times_each_call():
    calls = []
    samples = time_callable(lambda: calls.append(time.sleep(0.002)), warmup=2, repeats=4)
    assert len(calls) == 6 and len(samples) == 4 and min(samples) >= 2.0


def test_time_callable_stops_at_the_time_budget():
    cut = time_callable(lambda: time.sleep(0.02), warmup=0, repeats=50, time_budget_s=0.05)
    assert 3 <= len(cut) < 10


def test_time_callable_synchronizes_and_rejects_bad_counts():
    syncs = []
    time_callable(lambda: None, warmup=1, repeats=3, synchronize=lambda: syncs.append(1))
    assert len(syncs) == 4  # once after warm-up, once per sample
    with pytest.raises(ValueError, match="repeats >= 1"):
        time_callable(lambda: None, repeats=0)


def test_summarize_gives_median_and_p90():
    stats = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert stats["p50_ms"] == 3.0 and stats["min_ms"] == 1.0 and stats["p50_ms"] <= stats["p90_ms"] <= 100
    with pytest.raises(ValueError):
        summarize([])


def test_time_single_request_returns_result_and_ms():
    result, ms = time_single_request(lambda x: x * 2, 21)
    assert result == 42 and ms >= 0


def test_torch_threads_sets_then_restores():
    before = torch.get_num_threads()
    with torch_threads(1) as n:
        assert n == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == before
    with torch_threads(None) as n:
        assert n == before
    with pytest.raises(ValueError, match="threads must be >= 1"), torch_threads(0):
        pass
    assert torch.get_num_threads() == before
