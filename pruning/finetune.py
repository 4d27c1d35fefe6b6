"""Fine-tune a (pruned) encoder for MahaNews topic classification.

A plain PyTorch loop rather than ``transformers.Trainer``: it is short, it reports every step to
a callback (the app draws a live curve from it), it can be cancelled between steps, and it keeps
the best dev-accuracy weights in memory so the returned model is the best one seen.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from datasets import Dataset, DatasetDict
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup, set_seed

from models.hardware import cpu_has_fast_bf16

from .config import FinetuneConfig
from .distil import distillation_loss, teacher_logits
from .evaluate import classification_metrics, predict_logits

logger = logging.getLogger(__name__)


class FinetuneCancelled(RuntimeError):
    """The caller asked to stop; nothing was written."""


@dataclass
class TrainEvent:
    """One report to the progress callback: a training step or an evaluation."""

    kind: str  # "step" | "eval"
    step: int
    total_steps: int
    epoch: float
    loss: float | None = None
    dev_accuracy: float | None = None
    learning_rate: float | None = None


@dataclass
class FinetuneResult:
    model: nn.Module
    dev_metrics: dict
    history: list[dict] = field(default_factory=list)
    best_step: int = 0
    train_seconds: float = 0.0
    device: str = "cpu"
    precision: str = "fp32"


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast_dtype(config: FinetuneConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for this run, or None for plain fp32. Weights always stay fp32.

    "auto": bf16 where the hardware does it natively (recent GPUs, AVX512-BF16/AMX CPUs), fp16 on
    older GPUs (with a gradient scaler), fp32 elsewhere (emulated bf16 on a CPU is slower).
    """
    if config.mixed_precision == "no":
        return None
    if device.type == "cpu":
        if config.mixed_precision == "fp16":
            raise ValueError("fp16 mixed precision needs a GPU; use bf16 or no on CPU")
        return torch.bfloat16 if config.mixed_precision == "bf16" or cpu_has_fast_bf16() else None
    if config.mixed_precision == "fp16":
        return torch.float16
    if config.mixed_precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def stratified_subset(dataset: Dataset, limit: int | None, seed: int) -> Dataset:
    """At most `limit` rows, keeping the label mix (used by max_train_samples / max_eval_samples)."""
    if limit is None or limit >= len(dataset):
        return dataset
    return dataset.train_test_split(train_size=limit, seed=seed, stratify_by_column="label")["train"]


def _loader(dataset: Dataset, tokenizer, max_length: int, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    encoded = dataset.map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
        batched=True,
        remove_columns=["text"],
        desc="tokenizing",
    ).rename_column("label", "labels")
    generator = torch.Generator().manual_seed(seed)
    collate = DataCollatorWithPadding(tokenizer)  # pad each batch to its own longest text
    return DataLoader(encoded, batch_size=batch_size, shuffle=shuffle, collate_fn=collate, generator=generator)


def _optimizer(model: nn.Module, config: FinetuneConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


def finetune(
    model: nn.Module,
    tokenizer,
    data: DatasetDict,
    config: FinetuneConfig,
    *,
    on_event: Callable[[TrainEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    show_progress: bool = True,
    teacher: nn.Module | None = None,
) -> FinetuneResult:
    """Train `model` on ``data["train"]``, pick the best weights on ``data["validation"]``.

    Args:
        model: a sequence-classification model whose labels match the dataset's.
        tokenizer: its tokenizer.
        data: DatasetDict with train and validation splits (columns text, label).
        config: hyperparameters.
        on_event: called after every step and every evaluation (UI curves).
        should_stop: polled every step; returning True raises FinetuneCancelled.
        show_progress: tqdm bar (gr.Progress(track_tqdm=True) follows it).
        teacher: a fine-tuned classifier with the same labels and vocabulary; when given, every step's loss is
            ``distillation_loss`` against its logits on the same batch (``config.distil_alpha`` and
            ``config.distil_temperature``), and the reported loss is that combined loss.

    Returns:
        FinetuneResult whose model holds the best dev-accuracy weights.
    """
    if "train" not in data or "validation" not in data or len(data["train"]) == 0:
        raise ValueError("fine-tuning needs non-empty 'train' and 'validation' splits")
    set_seed(config.seed)
    device = pick_device()
    amp = autocast_dtype(config, device)
    model.to(device).train()
    if teacher is not None:
        teacher.to(device).eval()  # no dropout: the targets are the teacher's considered answer
    train = stratified_subset(data["train"], config.max_train_samples, config.seed)
    dev = stratified_subset(data["validation"], config.max_eval_samples, config.seed)
    max_length = config.max_length_for(model)
    loader = _loader(train, tokenizer, max_length, config.batch_size, shuffle=True, seed=config.seed)
    total_steps = max(1, math.ceil(len(loader) * config.epochs))
    optimizer = _optimizer(model, config)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total_steps), total_steps)
    scaler = torch.amp.GradScaler("cuda", enabled=amp is torch.float16)
    eval_every = config.eval_steps or len(loader)

    history: list[dict] = []
    best = {"accuracy": -1.0, "step": 0, "state": None, "metrics": {}}
    step, started = 0, time.perf_counter()
    bar = tqdm(total=total_steps, desc="fine-tuning", disable=not show_progress)
    dev_texts, dev_labels = list(dev["text"]), list(dev["label"])
    names = dev.features["label"].names

    def evaluate_now() -> None:
        logits = predict_logits(model, tokenizer, dev_texts, max_length=max_length)
        metrics = classification_metrics(dev_labels, logits.argmax(-1).tolist(), names)
        event = TrainEvent("eval", step, total_steps, step / len(loader), dev_accuracy=metrics["accuracy"])
        history.append(vars(event))
        if on_event:
            on_event(event)
        if metrics["accuracy"] > best["accuracy"]:  # keep the best weights on CPU, not a checkpoint file
            state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            best.update(accuracy=metrics["accuracy"], step=step, state=state, metrics=metrics)

    try:
        while step < total_steps:
            for batch in loader:
                if should_stop and should_stop():
                    raise FinetuneCancelled(f"fine-tuning cancelled at step {step} of {total_steps}")
                batch = {k: v.to(device) for k, v in batch.items()}
                with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                    if teacher is None:
                        loss = model(**batch).loss
                    else:
                        targets = teacher_logits(teacher, batch)
                        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
                        alpha, temperature = config.distil_alpha, config.distil_temperature
                        loss = distillation_loss(logits, targets, batch["labels"], alpha, temperature)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                step += 1
                loss_value = loss.detach().item()
                event = TrainEvent(
                    "step",
                    step,
                    total_steps,
                    step / len(loader),
                    loss=loss_value,
                    learning_rate=scheduler.get_last_lr()[0],
                )
                history.append(vars(event))
                if on_event:
                    on_event(event)
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.3f}")
                if step % eval_every == 0 or step == total_steps:
                    evaluate_now()
                if step >= total_steps:
                    break
    finally:
        bar.close()
    model.load_state_dict(best["state"])
    model.eval()
    precision = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(amp, "fp32")
    return FinetuneResult(
        model=model,
        dev_metrics=best["metrics"],
        history=history,
        best_step=best["step"],
        train_seconds=time.perf_counter() - started,
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        precision=precision,
    )
