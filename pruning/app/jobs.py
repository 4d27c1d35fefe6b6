"""Fine-tuning from the app: jobs that run in the background, one per browser session.

``build_variant`` can take minutes, so a ``FinetuneJob`` runs it in a worker thread and ``stream()``
yields snapshots (state, message, training events) for the live curve. A job can be cancelled from
the UI, or through a stop file that a job running in another process (ZeroGPU) also sees, and only
one fine-tune runs at a time in this process. A job reports a variant it trained through its
``on_built`` callback; it never reaches into the model registry.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..cache import VariantCache
from ..config import FinetuneConfig, PruneConfig
from ..finetune import FinetuneCancelled, TrainEvent
from ..pipeline import build_variant
from ..speed import torch_threads
from .wording import LOAD_ERRORS, finetune_result, short_model_name

logger = logging.getLogger(__name__)

# Fine-tuning uses all cores unless $MARATHI_PRUNE_TRAIN_THREADS says otherwise.
TRAIN_THREADS = (
    int(os.environ["MARATHI_PRUNE_TRAIN_THREADS"]) if os.environ.get("MARATHI_PRUNE_TRAIN_THREADS") else None
)
TRAIN_LOCK = threading.Lock()  # one fine-tune at a time in this process, whatever the queue does


def session_stop_file(session: str) -> Path:
    """The file whose existence tells `session`'s fine-tune to stop, in whichever process it runs.

    It lives in the system's temporary folder: a fixed place every process of the app can see.
    """
    folder = Path(tempfile.gettempdir()) / "marathi-prune-stop"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / re.sub(r"[^A-Za-z0-9_-]", "_", session or "anonymous")


@dataclass
class JobSnapshot:
    """What the UI shows of a fine-tune job at one moment."""

    state: str  # "waiting" | "running" | "done" | "cancelled" | "failed"
    message: str
    events: list[dict]
    record: dict | None = None
    from_cache: bool = False


class FinetuneJob:
    """``build_variant`` in a worker thread; `stream()` yields snapshots for a live curve.

    Args:
        base: catalog name, hub id or folder of the pretrained model.
        prune: how to cut it; None keeps every layer.
        train: fine-tuning settings.
        cache: where the variant is looked up and saved.
        stop_file: a file whose appearance stops the job (see ``session_stop_file``).
        on_built: called with the variant's name when this job trained it (not when it came from the cache).
    """

    def __init__(
        self,
        base: str,
        prune: PruneConfig | None,
        train: FinetuneConfig,
        *,
        cache: VariantCache,
        stop_file: Path | None = None,
        on_built: Callable[[str], None] | None = None,
    ) -> None:
        self.base, self.prune, self.train, self.cache = base, prune, train, cache
        self.on_built = on_built
        self.events: list[dict] = []
        self.state, self.message = "waiting", "Waiting for the running fine-tune to finish…"
        self.record: dict | None = None
        self.from_cache = False
        self._stop = threading.Event()
        self._stop_file = stop_file
        if stop_file is not None:
            stop_file.unlink(missing_ok=True)
        self._thread: threading.Thread | None = None
        self.describe = self._describe()

    def _describe(self) -> str:
        if self.prune:
            cut = f"{self.prune.strategy}, keeping {self.prune.keep or len(self.prune.layers or [])} layers"
        else:
            cut = "all layers"
        return f"{short_model_name(self.base)} ({cut}) on {self.train.dataset}"

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")

    def start(self) -> FinetuneJob:
        context = contextvars.copy_context()  # carries gr.Progress(track_tqdm=True) into the worker
        self._thread = threading.Thread(target=context.run, args=(self._run,), daemon=True, name="finetune")
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._stop.set()

    def stopped(self) -> bool:
        return self._stop.is_set() or bool(self._stop_file and self._stop_file.exists())

    def _on_event(self, event: TrainEvent) -> None:
        self.events.append(vars(event).copy())
        last = self.events[-1]
        dev = [e["dev_accuracy"] for e in self.events if e["kind"] == "eval"]
        self.message = (
            f"Fine-tuning {self.describe}: step {last['step']} of {last['total_steps']}, epoch {last['epoch']:.2f}"
            + (f", loss {last['loss']:.3f}" if last.get("loss") else "")
            + (f", best dev accuracy {100 * max(dev):.1f}%" if dev else "")
        )

    def _run(self) -> None:
        with TRAIN_LOCK, torch_threads(TRAIN_THREADS):
            if self.stopped():
                self.state, self.message = "cancelled", "Cancelled before it started; nothing was saved."
                return
            self.state, self.message = "running", f"Preparing {self.describe} (loading model and data)…"
            started = time.perf_counter()
            try:
                variant = build_variant(
                    self.base,
                    self.prune,
                    self.train,
                    cache=self.cache,
                    on_event=self._on_event,
                    should_stop=self.stopped,
                )
            except FinetuneCancelled as exc:
                self.state, self.message = "cancelled", f"Cancelled ({exc}); nothing was saved."
                return
            except LOAD_ERRORS as exc:
                self.state, self.message = "failed", f"Fine-tune failed: {exc}"
                return
            except Exception as exc:  # keep serving; the log has the traceback
                logger.exception("fine-tune of %s failed", self.describe)
                self.state, self.message = "failed", f"Fine-tune failed unexpectedly: {type(exc).__name__}: {exc}"
                return
        self.record, self.from_cache = variant.record, variant.from_cache
        if not variant.from_cache and self.on_built is not None:
            self.on_built(variant.record["name"])
        seconds = time.perf_counter() - started
        self.state, self.message = "done", finetune_result(variant.record, variant.from_cache, seconds)

    def snapshot(self) -> JobSnapshot:
        return JobSnapshot(self.state, self.message, list(self.events), self.record, self.from_cache)

    def stream(self, interval: float = 0.5) -> Iterator[JobSnapshot]:
        """Snapshots while the job runs (only when something changed), then the final one."""
        last = None
        while True:
            snap = self.snapshot()
            key = (snap.state, len(snap.events), snap.message)
            if key != last:
                last = key
                yield snap
            if snap.state in ("done", "cancelled", "failed"):
                return
            time.sleep(interval)


class JobBoard:
    """This process's fine-tune jobs, one per browser session, so Cancel finds the right one.

    Args:
        cache: where jobs look up and save variants.
        on_built: passed to every job (app.py wires it to ``ModelRegistry.mark_built``).
    """

    def __init__(self, cache: VariantCache, on_built: Callable[[str], None] | None = None) -> None:
        self.cache, self.on_built = cache, on_built
        self._jobs: dict[str, FinetuneJob] = {}
        self._lock = threading.Lock()

    def start(self, session: str, base: str, prune: PruneConfig | None, train: FinetuneConfig) -> FinetuneJob:
        """Start a fine-tune for `session` in the background; it waits while another one runs."""
        stop_file = session_stop_file(session)
        job = FinetuneJob(base, prune, train, cache=self.cache, stop_file=stop_file, on_built=self.on_built).start()
        with self._lock:
            self._jobs[session] = job
        return job

    def cancel(self, session: str) -> str:
        """Ask the session's fine-tune to stop after its current step; returns what happened."""
        session_stop_file(session).touch()  # seen even by a job running in another process (ZeroGPU)
        with self._lock:
            job = self._jobs.get(session)
        if job is not None and job.finished:
            return "No fine-tune is running in this session."
        if job is not None:
            job.cancel()
        return "Cancelling: a running fine-tune stops after its current training step; nothing is saved."
