"""pruning.app.jobs: background fine-tunes that stream, cancel and report what they built."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import pytest

from pruning import FinetuneConfig, PruneConfig
from pruning.app import jobs, training
from tests.app.conftest import TINY_TRAIN


def test_finetune_job_cancel_stops_after_a_step_and_saves_nothing(registry, tiny_base_dir, tmp_path):
    train = FinetuneConfig(**{**TINY_TRAIN, "seed": 1})
    built = []
    job = jobs.FinetuneJob(
        str(tiny_base_dir), None, train, cache=registry.cache, stop_file=tmp_path / "stop", on_built=built.append
    )
    original = job._on_event
    job._on_event = lambda event: (original(event), (tmp_path / "stop").touch())  # like the Cancel button
    snaps = list(job.start().stream(interval=0.05))
    assert snaps[-1].state == "cancelled" and "nothing was saved" in snaps[-1].message
    assert [e["kind"] for e in snaps[-1].events] == ["step"]
    assert len(registry.records()) == 2 and built == []


def test_finetune_job_missing_dataset_fails_with_data_message(registry, tiny_base_dir):
    train = FinetuneConfig(**{**TINY_TRAIN, "dataset": "LDC"})
    job = jobs.FinetuneJob(str(tiny_base_dir), None, train, cache=registry.cache)
    final = list(job.start().stream(interval=0.05))[-1]
    assert final.state == "failed" and "LDC" in final.message and "MAHANEWS_DIR" in final.message


def test_finetune_job_from_cache_reports_nothing_built(registry, tiny_base_dir):
    built = []
    job = jobs.FinetuneJob(
        str(tiny_base_dir), None, FinetuneConfig(**TINY_TRAIN), cache=registry.cache, on_built=built.append
    )
    final = list(job.start().stream(interval=0.05))[-1]
    assert final.state == "done" and final.from_cache and final.message.startswith("**Loaded from cache**")
    assert built == []  # only a variant this process trained is "this run"


def test_job_board_cancel_without_a_job_says_so_and_leaves_a_stop_file_in_the_temp_dir(registry):
    board = jobs.JobBoard(registry.cache)
    assert board.cancel("no-such-session") == "No fine-tune of yours is waiting or running."
    stop = jobs.session_stop_file("no/such session")
    assert stop.is_relative_to(Path(tempfile.gettempdir())) and stop.name == "no_such_session"
    jobs.session_stop_file("no-such-session").unlink(missing_ok=True)


def test_slot_queue_serves_first_come_first_and_reports_positions():
    queue = jobs.SlotQueue(slots=1)
    order, started = [], threading.Event()

    def run(name):
        if queue.acquire(name, lambda: False):
            order.append(name)
            started.set()
            time.sleep(0.2)
            queue.release()

    assert queue.acquire("first", lambda: False)
    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    threads[0].start()
    while queue.position("a") != 1:
        time.sleep(0.01)
    threads[1].start()
    while queue.position("b") != 2:
        time.sleep(0.01)
    assert queue.running == 1 and queue.waiting == 2
    assert not queue.acquire("gave-up", lambda: True) and queue.waiting == 2  # a cancelled wait takes no slot
    queue.release()
    for t in threads:
        t.join(5)
    assert order == ["a", "b"] and queue.running == 0 and queue.waiting == 0


def test_job_board_keeps_one_job_per_client_and_bounds_the_line(registry, tiny_base_dir, monkeypatch):
    gate = threading.Event()

    def fake_build(*args, **kwargs):
        gate.wait(10)
        raise RuntimeError("boom in /secret/place")

    monkeypatch.setattr(training, "build_variant", fake_build)
    board = jobs.JobBoard(registry.cache, queue=jobs.SlotQueue(1), max_waiting=1)
    train = FinetuneConfig(**TINY_TRAIN)
    first = board.start("alice", str(tiny_base_dir), None, train)
    assert board.start("alice", str(tiny_base_dir), None, train) is first  # same settings: the same job
    with pytest.raises(jobs.JobRefused, match="already have a fine-tune"):
        board.start("alice", str(tiny_base_dir), PruneConfig("top", keep=2), train)
    second = board.start("bob", str(tiny_base_dir), None, train)
    while board.queue.position(second) != 1:
        time.sleep(0.01)
    assert "Queued: position 1 in line" in second.snapshot().message
    with pytest.raises(jobs.JobRefused, match="line is full"):
        board.start("carol", str(tiny_base_dir), None, train)
    assert board.cancel("bob") == "**Cancelled** before it started; nothing was saved."
    gate.set()
    assert first.wait(10) and board.job("alice") is first and board.job("nobody") is None
    assert first.state == "failed" and "RuntimeError" in first.message and "/secret" not in first.message


def test_client_key_prefers_the_browser_id_and_cleans_it():
    assert jobs.client_key("abc/../x", "s1") == "browser-abcx" and jobs.client_key(None, "s1") == "session-s1"
    assert len(jobs.browser_id()) == 32 and jobs.browser_id() != jobs.browser_id() and jobs.browser_id("x") == "x"
