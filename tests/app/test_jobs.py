"""pruning.app.jobs: background fine-tunes that stream, cancel and report what they built."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pruning import FinetuneConfig
from pruning.app import jobs
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
    assert board.cancel("no-such-session").startswith("Cancelling")
    stop = jobs.session_stop_file("no/such session")
    assert stop.is_relative_to(Path(tempfile.gettempdir())) and stop.name == "no_such_session"
    jobs.session_stop_file("no-such-session").unlink(missing_ok=True)
