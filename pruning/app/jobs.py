"""Fine-tuning from the app: jobs that belong to the server, not to a browser tab.

``build_variant`` can take minutes, so a ``FinetuneJob`` runs it in a worker thread (through its
trainer, ``training.train_variant``: the part that goes under ZeroGPU's decorator) and ``stream()``
yields snapshots (state, message, training events) for the live curve. Closing or reloading the tab
only stops the stream: the job runs on, its variant lands in the cache, and the page shows it again
on reload (``JobBoard.job``). Jobs wait in one first-come-first-served line (``SlotQueue``) with one
slot on CPU; each client (a browser, or an API session) has at most one job waiting or running.

Before a job starts, ``preflight`` counts its training texts and estimates its time; once it runs,
the time left comes from its own measured steps. A job can be cancelled from the UI, or through a stop
file that a job running in another process (ZeroGPU) also sees. A job reports a variant it trained
through its ``on_built`` callback; it never reaches into the model registry.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from ..cache import VariantCache
from ..config import FinetuneConfig, PruneConfig
from ..finetune import FinetuneCancelled, TrainEvent
from .preflight import Preflight, preflight
from .training import Trained, Trainer, train_variant
from .wording import finetune_result, format_duration, short_model_name, user_message

logger = logging.getLogger(__name__)

SLOTS_ENV = "MARATHI_PRUNE_FINETUNE_SLOTS"
GIB_PER_SLOT = 20  # GPU memory one concurrent fine-tune may take (a 12-layer BERT-base at batch 32 needs far less)
MAX_WAITING = 8  # jobs waiting for a slot, all clients together
KEEP_FINISHED_S = 3600  # a reload within this time still shows a finished job's result
FINISHED = ("done", "cancelled", "failed")


def train_slots(env: Mapping[str, str] = os.environ) -> int:
    """Fine-tunes that may run at once: $MARATHI_PRUNE_FINETUNE_SLOTS, else 1 on CPU, else 1 per 20 GiB of GPU (≤ 4)."""
    if env.get(SLOTS_ENV, "").strip():
        return max(1, int(env[SLOTS_ENV]))
    if not torch.cuda.is_available():
        return 1  # CPU fine-tunes already use every core
    gib = torch.cuda.get_device_properties(0).total_memory / 2**30
    return max(1, min(4, int(gib // GIB_PER_SLOT)))


class SlotQueue:
    """First come, first served: at most `slots` jobs hold a slot at once, the others wait in line."""

    def __init__(self, slots: int = 1) -> None:
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting: list[object] = []
        self._running = 0

    def acquire(self, job: object, stopped: Callable[[], bool], poll: float = 0.2) -> bool:
        """Wait for `job`'s turn and a free slot; False (and no slot) when `stopped()` becomes true first."""
        with self._cond:
            self._waiting.append(job)
            try:
                while not stopped():
                    if self._waiting[0] is job and self._running < self.slots:
                        self._running += 1
                        return True
                    self._cond.wait(poll)
                return False
            finally:
                self._waiting.remove(job)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def position(self, job: object) -> int:
        """`job`'s place in line (1 = next to start), 0 when it is not waiting."""
        with self._cond:
            return self._waiting.index(job) + 1 if job in self._waiting else 0

    @property
    def running(self) -> int:
        with self._cond:
            return self._running

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)


_queue: list[SlotQueue] = []
_queue_lock = threading.Lock()


def default_queue() -> SlotQueue:
    """This process's line for fine-tunes, sized by ``train_slots`` on first use."""
    with _queue_lock:
        if not _queue:
            _queue.append(SlotQueue(train_slots()))
        return _queue[0]


def session_stop_file(session: str) -> Path:
    """The file whose existence tells `session`'s fine-tune to stop, in whichever process it runs.

    It lives in the system's temporary folder: a fixed place every process of the app can see.
    """
    folder = stop_folder()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / re.sub(r"[^A-Za-z0-9_-]", "_", session or "anonymous")[:120]


def stop_folder() -> Path:
    return Path(tempfile.gettempdir()) / "marathi-prune-stop"


def sweep_stop_files(older_than_s: float = 3600) -> int:
    """Remove stop files older than `older_than_s` (left by Cancel with no job to stop); returns how many."""
    removed, now = 0, time.time()
    for path in stop_folder().glob("*") if stop_folder().is_dir() else []:
        try:
            if path.is_file() and now - path.stat().st_mtime > older_than_s:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


# --------------------------------------------------------------------------------- jobs ------


@dataclass
class JobSnapshot:
    """What the UI shows of a fine-tune job at one moment."""

    state: str  # "waiting" | "running" | "done" | "cancelled" | "failed"
    message: str
    events: list[dict]
    record: dict | None = None
    from_cache: bool = False


class FinetuneJob:
    """`trainer` (``build_variant``) in a worker thread; `stream()` yields snapshots for a live curve.

    Args:
        base: catalog name, hub id or folder of the pretrained model.
        prune: how to cut it; None keeps every layer.
        train: fine-tuning settings.
        cache: where the variant is looked up and saved.
        stop_file: a file whose appearance stops the job (see ``session_stop_file``); Cancel creates it, so a
            trainer in another process (ZeroGPU) stops too. Default: one of the job's own.
        on_built: called with the variant's name when this job trained it (not when it came from the cache).
        queue: the line it waits in for a slot (default: this process's ``default_queue``).
        checked: its ``Preflight``, when one was made.
        trainer: what builds the variant (``training.train_variant``, or ``training.gpu_trainer()`` on ZeroGPU);
            called with picklable arguments only, once the job holds a slot.
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
        queue: SlotQueue | None = None,
        checked: Preflight | None = None,
        trainer: Trainer = train_variant,
    ) -> None:
        self.base, self.prune, self.train, self.cache = base, prune, train, cache
        self.on_built, self.checked, self.trainer = on_built, checked, trainer
        self.queue = queue or default_queue()
        self.events: list[dict] = []
        self.state, self.message = "waiting", ""
        self.record: dict | None = None
        self.from_cache = False
        self.finished_at: float | None = None
        self._stop = threading.Event()
        self._own_stop_file = stop_file is None
        self._stop_file = stop_file or session_stop_file(f"job-{uuid.uuid4().hex}")
        self._stop_file.unlink(missing_ok=True)
        self._thread: threading.Thread | None = None
        self._first_step_at: float | None = None
        self.describe = self._describe()

    def _describe(self) -> str:
        if self.prune:
            cut = f"{self.prune.strategy}, keeping {self.prune.keep or len(self.prune.layers or [])} layers"
        else:
            cut = "all layers"
        cut += ", vocabulary cut to Marathi text" if self.prune and self.prune.vocab_corpus else ""
        cut += f", distilled from {self.train.distil_from}" if self.train.distil_from else ""
        return f"{short_model_name(self.base)} ({cut}) on {self.train.dataset}"

    def same_as(self, base: str, prune: PruneConfig | None, train: FinetuneConfig) -> bool:
        return (self.base, self.prune, self.train) == (base, prune, train)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def start(self) -> FinetuneJob:
        # The caller's context (Gradio's request among it) goes with the job: ZeroGPU's decorator reads the
        # visitor's request from it to charge the GPU time to them.
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), daemon=True, name="finetune")
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._stop.set()
        self._stop_file.touch()  # the trainer sees only the file, wherever it runs

    def stopped(self) -> bool:
        return self._stop.is_set() or self._stop_file.exists()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job finished (True) or `timeout` seconds passed (False)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished

    def _on_event(self, event: TrainEvent) -> None:
        self.events.append(vars(event).copy())
        last = self.events[-1]
        if event.kind == "step" and self._first_step_at is None:
            self._first_step_at = time.perf_counter()
        dev = [e["dev_accuracy"] for e in self.events if e["kind"] == "eval"]
        steps_done = last["step"]
        left = ""
        if self._first_step_at is not None and steps_done >= 3:
            per_step = (time.perf_counter() - self._first_step_at) / (steps_done - 1)
            left = f", about {format_duration(per_step * (last['total_steps'] - steps_done))} left"
        self.message = (
            f"Fine-tuning {self.describe}: step {steps_done} of {last['total_steps']}, epoch {last['epoch']:.2f}"
            + (f", loss {last['loss']:.3f}" if last.get("loss") else "")
            + (f", best dev accuracy {100 * max(dev):.1f}%" if dev else "")
            + left
        )

    def _finish(self, state: str, message: str) -> None:
        # message before state: a snapshot that reads a finished state then reads its final message
        self.message, self.finished_at = message, time.time()
        self.state = state

    def _run(self) -> None:
        try:
            if not self.queue.acquire(self, self.stopped):
                self._finish("cancelled", "**Cancelled** before it started; nothing was saved.")
                return
            try:
                self._train()
            finally:
                self.queue.release()
        finally:
            if self._own_stop_file:
                self._stop_file.unlink(missing_ok=True)

    def _train(self) -> None:
        about = f" {self.checked.summary()}" if self.checked else ""
        self.state, self.message = "running", f"Preparing {self.describe} (loading model and data).{about}"
        started = time.perf_counter()
        variant: Trained | None = None
        try:
            for item in self.trainer(self.base, self.prune, self.train, self.cache, self._stop_file):
                if isinstance(item, Trained):
                    variant = item
                else:
                    self._on_event(item)
            if variant is None:
                raise RuntimeError("the trainer ended without a variant")
            result = finetune_result(variant.record, variant.from_cache, time.perf_counter() - started)
            if not variant.from_cache and self.on_built is not None:
                self.on_built(variant.record["name"])
        except FinetuneCancelled:
            steps = [e for e in self.events if e["kind"] == "step"]
            where = f" after step {steps[-1]['step']} of {steps[-1]['total_steps']}" if steps else " before training"
            self._finish("cancelled", f"**Cancelled**{where}; nothing was saved.")
            return
        except Exception as exc:  # noqa: BLE001 - keep serving; user_message logs what the visitor is not shown
            self._finish("failed", f"Fine-tune failed: {user_message(exc)}")
            return
        self.record, self.from_cache = variant.record, variant.from_cache
        self._finish("done", result)

    def _waiting_message(self) -> str:
        place = self.queue.position(self)
        if place == 0:
            return "Starting…"
        running = self.queue.running
        ahead = f"{running} fine-tune{'s' if running != 1 else ''} running" + (
            f" and {place - 1} waiting before yours" if place > 1 else ""
        )
        about = f" {self.checked.summary()}" if self.checked else ""
        return (
            f"**Queued: position {place} in line** ({ahead}). It starts by itself; you may close this tab and "
            f"come back.{about}"
        )

    def snapshot(self) -> JobSnapshot:
        state = self.state  # read once: a job that finishes meanwhile must not pair "done" with "Starting…"
        message = self._waiting_message() if state == "waiting" else self.message
        return JobSnapshot(state, message, list(self.events), self.record, self.from_cache)

    def stream(self, interval: float = 0.5) -> Iterator[JobSnapshot]:
        """Snapshots while the job runs (only when something changed), then the final one."""
        last = None
        while True:
            snap = self.snapshot()
            key = (snap.state, len(snap.events), snap.message)
            if key != last:
                last = key
                yield snap
            if snap.state in FINISHED:
                return
            time.sleep(interval)


def browser_id(stored: str | None = None) -> str:
    """The id a page keeps in its browser (``gr.BrowserState``) so a reload finds its job again: the stored
    one, or a new random one on a first visit."""
    return stored or uuid.uuid4().hex


def client_key(browser_id: str | None, session: str | None) -> str:
    """Whose job it is: the browser's id when the page sent one, else the API caller's session."""
    browser_id = re.sub(r"[^A-Za-z0-9_-]", "", str(browser_id or ""))[:64]
    return f"browser-{browser_id}" if browser_id else f"session-{session or 'anonymous'}"


class JobRefused(ValueError):
    """A fine-tune the board will not queue (one per client, and a bounded line)."""


class JobBoard:
    """The server's fine-tune jobs, at most one waiting or running per client.

    A client is whatever the app keys it by: a browser id kept in the browser (so a reload finds its
    job again) or, for API callers, their session.

    Args:
        cache: where jobs look up and save variants.
        on_built: passed to every job (app.py wires it to ``ModelRegistry.mark_built``).
        queue: the line jobs wait in (default: this process's ``default_queue``).
        max_waiting (int, defaults to MAX_WAITING): jobs that may wait for a slot, all clients together.
        trainer: passed to every job (the app gives ``training.gpu_trainer()``: on ZeroGPU the GPU is held
            for the training only, not while a job waits in line or a page follows it).
    """

    def __init__(
        self,
        cache: VariantCache,
        on_built: Callable[[str], None] | None = None,
        queue: SlotQueue | None = None,
        max_waiting: int = MAX_WAITING,
        trainer: Trainer = train_variant,
    ) -> None:
        self.cache, self.on_built, self.trainer = cache, on_built, trainer
        self.queue = queue or default_queue()
        self.max_waiting = max_waiting
        self._jobs: dict[str, FinetuneJob] = {}
        self._lock = threading.Lock()

    def start(self, client: str, base: str, prune: PruneConfig | None, train: FinetuneConfig) -> FinetuneJob:
        """Queue a fine-tune for `client`; the same settings again return the job already under way.

        Raises:
            JobRefused: the client has another fine-tune waiting or running, or the line is full.
            DataNotFoundError, ValueError: from ``preflight`` (missing or unreadable data).
        """
        current = self.job(client)
        if current is not None and not current.finished:
            if current.same_as(base, prune, train):
                return current
            raise JobRefused(self._busy(current))
        checked = preflight(base, prune, train, self.cache.list().records)
        with self._lock:
            now = time.time()  # forget other clients' jobs that finished long ago
            for key in [k for k, j in self._jobs.items() if j.finished_at and now - j.finished_at > KEEP_FINISHED_S]:
                del self._jobs[key]
            current = self._jobs.get(client)
            if current is not None and not current.finished:
                raise JobRefused(self._busy(current))
            if self.queue.waiting >= self.max_waiting:
                raise JobRefused(
                    f"The fine-tune line is full ({self.queue.waiting} waiting). Try again in a few minutes."
                )
            job = FinetuneJob(
                base,
                prune,
                train,
                cache=self.cache,
                stop_file=session_stop_file(client),
                on_built=self.on_built,
                queue=self.queue,
                checked=checked,
                trainer=self.trainer,
            )
            self._jobs[client] = job.start()
        return job

    @staticmethod
    def _busy(job: FinetuneJob) -> str:
        doing = "waiting in line" if job.state == "waiting" else "running"
        return f"You already have a fine-tune {doing} ({job.describe}). Wait for it to finish, or cancel it first."

    def job(self, client: str) -> FinetuneJob | None:
        """`client`'s job: waiting, running, or finished within the last hour; None otherwise."""
        with self._lock:
            job = self._jobs.get(client)
            if job is not None and job.finished_at is not None and time.time() - job.finished_at > KEEP_FINISHED_S:
                del self._jobs[client]
                return None
            return job

    def cancel(self, client: str, wait_s: float = 15.0) -> str:
        """Stop `client`'s fine-tune after its current step and wait (up to `wait_s`) until it has stopped."""
        job = self.job(client)
        if job is None or job.finished:
            session_stop_file(client).touch()  # a job of this client in another process (ZeroGPU) sees it
            return "No fine-tune of yours is waiting or running."
        job.cancel()
        if job.wait(wait_s):
            return job.message
        return "Cancelling: the fine-tune stops after its current training step; nothing is saved."
