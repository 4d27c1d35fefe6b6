"""Fine-tuning from the app: panel values to configs, and jobs that run in the background.

``build_variant`` can take minutes, so a ``FinetuneJob`` runs it in a worker thread and ``stream()``
yields snapshots (state, message, training events) for the live curve. A job can be cancelled from
the UI, or through a stop file that a job running in another process (ZeroGPU) also sees, and only
one fine-tune runs at a time in this process.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .app_format import LOAD_ERRORS, short_model_name
from .config import FinetuneConfig, PruneConfig
from .finetune import FinetuneCancelled, TrainEvent
from .latency import torch_threads
from .pipeline import build_variant
from .strategies import STRATEGIES, select_layers

if TYPE_CHECKING:
    from .app_registry import ModelRegistry

logger = logging.getLogger(__name__)

# Fine-tuning uses all cores unless $MARATHI_PRUNE_TRAIN_THREADS says otherwise.
TRAIN_THREADS = (
    int(os.environ["MARATHI_PRUNE_TRAIN_THREADS"]) if os.environ.get("MARATHI_PRUNE_TRAIN_THREADS") else None
)
TRAIN_LOCK = threading.Lock()  # one fine-tune at a time in this process, whatever the queue does


def prune_config_from_ui(
    strategy: str, keep: float | None, layers: Sequence[int] | None, depth: int
) -> PruneConfig | None:
    """PruneConfig for the panel's values; None means "keep every layer" (the full reference)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}")
    if strategy == "custom":
        chosen = sorted({int(i) for i in (layers or [])})
        select_layers("custom", depth, layers=chosen)  # raises with a clear message
        return None if len(chosen) == depth else PruneConfig("custom", layers=chosen)
    k = int(round(keep)) if keep is not None else None
    if k is None or not 1 <= k <= depth:
        raise ValueError(f"layers to keep must be between 1 and {depth}, got {keep}")
    return None if k == depth else PruneConfig(strategy, keep=k)


def finetune_config_from_ui(
    dataset: str, epochs: float, learning_rate: float, max_samples: float | None
) -> FinetuneConfig:
    """FinetuneConfig from the panel; 0 or empty sample limit means all training texts."""
    limit = int(max_samples) if max_samples else None
    return FinetuneConfig(dataset=dataset or "SHC", epochs=float(epochs), learning_rate=float(learning_rate),
                          max_train_samples=limit)  # fmt: skip


def start_from_ui(registry: ModelRegistry, session: str, base: str, strategy: str, keep: float | None,
                  layers: Sequence[int] | None, dataset: str, epochs: float, learning_rate: float,
                  max_samples: float | None) -> FinetuneJob:  # fmt: skip
    """Start this session's fine-tune of the variant the panel describes.

    Raises:
        HubUnreachableError, ModelNotFoundError, ValueError: the base does not load or a value is invalid.
    """
    prune = prune_config_from_ui(strategy, keep, layers, registry.anatomy(base).num_layers)
    train = finetune_config_from_ui(dataset, epochs, learning_rate, max_samples)
    return registry.start_job(session, base, prune, train)


def session_stop_file(session: str) -> Path:
    """The file whose existence tells `session`'s fine-tune to stop, in whichever process it runs."""
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
    """``build_variant`` in a worker thread; `stream()` yields snapshots for a live curve."""

    def __init__(self, registry: ModelRegistry, base: str, prune: PruneConfig | None, train: FinetuneConfig,
                 stop_file: Path | None = None) -> None:  # fmt: skip
        self.registry, self.base, self.prune, self.train = registry, base, prune, train
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
        cut = (f"{self.prune.strategy}, keeping {self.prune.keep or len(self.prune.layers or [])} layers"
               if self.prune else "all layers")  # fmt: skip
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
        self.message = (f"Fine-tuning {self.describe}: step {last['step']} of {last['total_steps']}, "
                        f"epoch {last['epoch']:.2f}" + (f", loss {last['loss']:.3f}" if last.get("loss") else "")
                        + (f", best dev accuracy {100 * max(dev):.1f}%" if dev else ""))  # fmt: skip

    def _run(self) -> None:
        with TRAIN_LOCK, torch_threads(TRAIN_THREADS):
            if self.stopped():
                self.state, self.message = "cancelled", "Cancelled before it started; nothing was saved."
                return
            self.state, self.message = "running", f"Preparing {self.describe} (loading model and data)…"
            started = time.perf_counter()
            try:
                variant = build_variant(self.base, self.prune, self.train, cache=self.registry.cache,
                                        on_event=self._on_event, should_stop=self.stopped)  # fmt: skip
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
        if not variant.from_cache:
            self.registry.built_this_run.add(variant.record["name"])
        self.state, self.message = "done", result_message(variant.record, variant.from_cache,
                                                           time.perf_counter() - started)  # fmt: skip

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


def result_message(record: Mapping, from_cache: bool, seconds: float) -> str:
    """The status line of a finished fine-tune: test accuracy, baseline and where the variant is saved."""
    test = record["test_metrics"]
    head = "**Loaded from cache** (this exact variant was fine-tuned before; no training)" if from_cache else \
        f"**Done** in {seconds:.0f} s on {record.get('device', '?')}"  # fmt: skip
    return (f"{head}: test accuracy **{100 * test['accuracy']:.1f}%**, macro-F1 {100 * test['macro_f1']:.1f}% on "
            f"{test.get('num_examples', '?')} held-out texts (majority-class baseline "
            f"{100 * record.get('majority_baseline_test', 0):.1f}%). Saved as `{record['name']}`; "
            "it is now selectable in Classify and listed in Compare.")  # fmt: skip
