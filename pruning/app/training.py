"""The GPU work of one fine-tune job, shaped for ZeroGPU: plain arguments in, a stream of results out.

On a ZeroGPU Space a ``spaces.GPU`` function runs in another process, which gets a GPU only for that
call. So the function that goes under the decorator is the training call itself, not the Gradio
handler that streams a job's progress from the server's job board (that handler would hold a GPU while
the job waits in line, and the board it reads would live in the other process). Hence its shape:

- Arguments cross the process boundary by pickling: names, configs, a cache and a path; no callbacks.
- Training events come back as yielded items (ZeroGPU relays a generator's items as they come), then
  one ``Trained`` with the record; a failure is raised as usual.
- A stop is a file both processes see (``jobs.session_stop_file``).

``gpu_trainer`` applies ``pruning.gpu.gpu_task`` with a duration computed from the job; without the
``spaces`` package it is ``train_variant`` itself, and everything runs in the job's own thread as before.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from models import get_spec

from ..cache import VariantCache
from ..config import FinetuneConfig, PruneConfig
from ..finetune import TrainEvent
from ..gpu import clamp_seconds, finetune_seconds, gpu_task
from ..pipeline import build_variant
from ..speed import torch_threads

# Fine-tuning uses all cores unless $MARATHI_PRUNE_TRAIN_THREADS says otherwise.
TRAIN_THREADS = (
    int(os.environ["MARATHI_PRUNE_TRAIN_THREADS"]) if os.environ.get("MARATHI_PRUNE_TRAIN_THREADS") else None
)
FULL_DEPTH = 12  # layers assumed for a full fine-tune of a base off the catalog (the largest catalog depth)


@dataclass
class Trained:
    """The last item a trainer yields: the variant's record, and whether it came from the cache."""

    record: dict
    from_cache: bool


Trainer = Callable[..., Iterator[TrainEvent | Trained]]


def train_variant(
    base: str, prune: PruneConfig | None, train: FinetuneConfig, cache: VariantCache, stop_file: Path | None
) -> Iterator[TrainEvent | Trained]:
    """Build the variant (``build_variant``) and yield its training events as they come, then ``Trained``.

    The training runs in a thread of its own and waits after each event until the consumer asks for
    the next item, so a stop decided on an event lands before the following step, as with a callback.

    Raises:
        FinetuneCancelled: `stop_file` appeared; nothing was saved.
        Exception: whatever ``build_variant`` raised (missing data, a model that does not load, ...).
    """
    items: queue.Queue = queue.Queue()
    taken = threading.Semaphore(0)
    abandoned = threading.Event()  # the consumer went away: training stops at its next step

    def on_event(event: TrainEvent) -> None:
        items.put(event)
        taken.acquire()

    def should_stop() -> bool:
        return abandoned.is_set() or bool(stop_file and stop_file.exists())

    def work() -> None:
        try:
            with torch_threads(TRAIN_THREADS):
                variant = build_variant(
                    base,
                    prune,
                    train,
                    cache=cache,
                    on_event=on_event,
                    should_stop=should_stop,
                    show_progress=False,  # the job outlives its request, so no gr.Progress to follow tqdm
                )
            items.put(Trained(variant.record, variant.from_cache))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            items.put(exc)

    threading.Thread(target=work, daemon=True, name="finetune-train").start()
    try:
        while True:
            item = items.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if isinstance(item, Trained):
                return
            taken.release()
    finally:
        abandoned.set()
        taken.release()  # a training thread waiting on an event nobody will take goes on, and stops


def gpu_seconds(base: str, prune: PruneConfig | None, train: FinetuneConfig, *_: object, **__: object) -> int:
    """GPU seconds to ask ZeroGPU for one ``train_variant`` call (its own arguments), from the job's size.

    Layers kept come from `prune`, else from the catalog's depth of `base` (``FULL_DEPTH`` off the
    catalog); the width from the catalog (BERT-base's 768 off it), so no model is loaded to decide. A
    distilled job also runs its full-depth teacher forward on every batch, so it asks for that time too.
    """
    spec = get_spec(base)
    depth = spec.num_layers if spec else FULL_DEPTH
    layers = (prune.keep or len(prune.layers or [])) if prune else depth
    hidden = spec.hidden_size if spec else 768
    seconds = finetune_seconds(layers, train.dataset, train.epochs, train.max_train_samples, hidden_size=hidden)
    if train.distil_from:  # the full teacher's forward on every batch: a forward is about a third of a training step
        seconds = clamp_seconds(seconds * (1 + depth / (3 * layers)))
    return seconds


def gpu_trainer() -> Trainer:
    """``train_variant`` under ``spaces.GPU`` (duration from ``gpu_seconds``) on ZeroGPU; itself elsewhere."""
    return gpu_task(gpu_seconds)(train_variant)
