"""pruning.app.training: the training call is what goes under ZeroGPU's decorator, and it survives another process.

ZeroGPU is stood in for by a fake ``spaces`` module that does what matters here: a decorated function
gets its arguments through pickle (they cross to the GPU process), its generator's items are relayed
back, and each call's duration and calling thread are recorded.
"""

from __future__ import annotations

import contextvars
import functools
import pickle
import sys
import threading
import time
import types
from types import SimpleNamespace

import pytest

from models import CATALOG
from pruning import FinetuneConfig, PruneConfig, VariantCache, gpu
from pruning.app import jobs, training
from pruning.finetune import FinetuneCancelled, TrainEvent
from tests.app.conftest import import_app


class ZeroGpuStandIn(types.ModuleType):
    """Stands in for ``spaces``: records what ``spaces.GPU`` decorated and, per call, the duration and thread."""

    def __init__(self) -> None:
        super().__init__("spaces")
        self.decorated: list = []
        self.calls: list[tuple[int, str]] = []

    def GPU(self, fn=None, *, duration=60):  # noqa: N802 (the real name)
        def wrap(func):
            self.decorated.append(func)

            @functools.wraps(func)
            def run(*args, **kwargs):
                seconds = duration(*args, **kwargs) if callable(duration) else duration
                self.calls.append((seconds, threading.current_thread().name))
                args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))  # what reaches the GPU process
                yield from func(*args, **kwargs)

            return run

        return wrap(fn) if fn is not None else wrap


@pytest.fixture
def zerogpu(monkeypatch) -> ZeroGpuStandIn:
    fake = ZeroGpuStandIn()
    monkeypatch.setitem(sys.modules, "spaces", fake)
    return fake


def record(name: str) -> dict:
    """The little of a variant's record that a finished job reads."""
    return {"name": name, "test_metrics": {"accuracy": 0.5, "macro_f1": 0.4}, "majority_baseline_test": 0.3}


def fake_build(steps: int, step_s: float = 0.0):
    """A ``build_variant`` that reports `steps` steps (stopping when asked) and builds nothing."""

    def build(base, prune, train, *, cache, on_event, should_stop, show_progress):
        for step in range(1, steps + 1):
            if should_stop():
                raise FinetuneCancelled(f"cancelled at step {step}")
            time.sleep(step_s)
            on_event(TrainEvent("step", step, steps, step / steps, loss=1.0 / step))
        return SimpleNamespace(record=record(f"built-from-{base}"), from_cache=False)

    return build


def test_without_spaces_the_trainer_is_train_variant_itself(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # as if it were not installed
    assert training.gpu_trainer() is training.train_variant


def test_on_zerogpu_only_the_training_call_holds_a_gpu_and_its_events_still_stream(zerogpu, monkeypatch, tmp_path):
    monkeypatch.setattr(training, "build_variant", fake_build(3))
    built: list[str] = []
    board = jobs.JobBoard(
        VariantCache(tmp_path / "variants"),
        on_built=built.append,
        queue=jobs.SlotQueue(1),
        trainer=training.gpu_trainer(),
    )
    assert zerogpu.decorated == [training.train_variant]
    monkeypatch.setattr(jobs, "preflight", lambda *a, **k: None)  # no data needed: the build is a fake
    train, prune = FinetuneConfig(epochs=1, max_train_samples=64), PruneConfig("top", keep=2)
    job = board.start("alice", "mahabert-v2", prune, train)
    snaps = list(job.stream(interval=0.01))
    assert snaps[-1].state == "done" and built == ["built-from-mahabert-v2"]
    assert [e["step"] for e in snaps[-1].events] == [1, 2, 3]  # relayed from the "other process", one by one
    # asked once, from the job's own thread (not a request handler), for the duration of this very job
    assert zerogpu.calls == [(training.gpu_seconds("mahabert-v2", prune, train), "finetune")]


def test_cancel_reaches_a_trainer_in_another_process_through_the_stop_file(zerogpu, monkeypatch, tmp_path):
    monkeypatch.setattr(training, "build_variant", fake_build(2000, step_s=0.01))
    stop = tmp_path / "stop"
    job = jobs.FinetuneJob(
        "m",
        None,
        FinetuneConfig(),
        cache=VariantCache(tmp_path / "variants"),
        stop_file=stop,
        queue=jobs.SlotQueue(1),
        trainer=training.gpu_trainer(),
    )
    job.start()
    while not job.events:
        time.sleep(0.01)
    job.cancel()  # the trainer got a pickled copy of the job: only the file can reach it
    assert job.wait(10) and job.state == "cancelled" and "after step" in job.message and stop.exists()
    assert len(job.events) < 2000


def test_the_job_hands_its_callers_context_to_the_trainer(monkeypatch, tmp_path):
    """ZeroGPU reads the visitor's Gradio request from the context to charge them: the job's thread carries it."""
    visitor = contextvars.ContextVar("visitor", default=None)
    seen: list = []

    def trainer(*args):
        seen.append(visitor.get())
        yield training.Trained(record("x"), True)

    visitor.set("alice")
    job = jobs.FinetuneJob("m", None, FinetuneConfig(), cache=VariantCache(tmp_path / "v"), trainer=trainer)
    assert job.start().wait(10) and job.state == "done" and seen == ["alice"]


def test_gpu_seconds_follow_the_jobs_layers_width_and_size():
    train = FinetuneConfig(dataset="SHC", epochs=3)  # every training text
    full, pruned = (
        training.gpu_seconds("mahabert-v2", None, train),
        training.gpu_seconds("mahabert-v2", PruneConfig("top", keep=2), train),
    )
    assert full == gpu.finetune_seconds(CATALOG["mahabert-v2"].num_layers, "SHC", 3, 0) and pruned < full
    custom = training.gpu_seconds("mahabert-v2", PruneConfig("custom", layers=[0, 5]), train)
    assert custom == pruned  # two layers either way
    assert training.gpu_seconds("/models/unknown", None, train) == gpu.finetune_seconds(
        training.FULL_DEPTH, "SHC", 3, 0
    )
    narrow = next(name for name, spec in CATALOG.items() if spec.hidden_size < 768 and spec.num_layers == 12)
    assert training.gpu_seconds(narrow, None, train) < full


def test_the_app_decorates_the_training_call_and_no_handler(zerogpu, monkeypatch, tmp_path, tiny_base_dir):
    app = import_app(monkeypatch, VariantCache(tmp_path / "variants"), tiny_base_dir)
    try:
        assert zerogpu.decorated == [training.train_variant]  # not the streaming handler, not anything else
        assert app.ctx.jobs.trainer.__wrapped__ is training.train_variant
    finally:
        if app.ctx.registry.warm_up_thread is not None:
            app.ctx.registry.warm_up_thread.join(60)


def test_a_distilled_job_asks_for_its_teachers_forward_too():
    plain = FinetuneConfig(dataset="SHC", epochs=3)
    taught = FinetuneConfig(dataset="SHC", epochs=3, distil_from="mahabert-v2__full-teacher")
    pruned = PruneConfig("middle", keep=6)
    base = training.gpu_seconds("mahabert-v2", pruned, plain)
    # a 12-layer teacher's forward (a third of a step per layer) beside a 6-layer student: 1 + 12 / 18
    assert training.gpu_seconds("mahabert-v2", pruned, taught) == gpu.clamp_seconds(base * (1 + 12 / 18))
    assert training.gpu_seconds("mahabert-v2", pruned, taught) > base
