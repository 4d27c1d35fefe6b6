"""Masked-LM pretraining of one family member: schedule, loss, held-out evaluation, resumable loop.

The loop checkpoints every ``checkpoint_minutes`` and on a stop signal or deadline, so a run can be
interrupted, resumed with another thread count or on another machine, and extended with a larger
``budget_tokens`` (the schedule then re-warms from where its cool-down had got to).
"""

from __future__ import annotations

import contextlib
import logging
import math
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from models.hardware import resolve_bf16

from .checkpoint import (
    CHECKPOINT_NAME,
    capture_rng,
    check_same_data,
    read_checkpoint,
    restore_rng,
    state_summary,
    write_checkpoint,
)
from .config import FAMILY, PretrainConfig
from .corpus import PretrainData, batch_rows, mask_tokens
from .tokenizer import special_ids

logger = logging.getLogger(__name__)


def lr_multiplier(
    step: int, total_steps: int, cfg: PretrainConfig, rewarm_start: int | None = None, rewarm_from: float | None = None
) -> float:
    """Learning-rate factor for ``step`` (0-based): warm-up, constant, linear cool-down.

    Args:
        step: current optimizer step.
        total_steps: steps of the whole (possibly extended) run.
        cfg: config with the schedule fractions.
        rewarm_start: step at which an extended run restarted after its cool-down; the factor ramps
            up again from there over the warm-up length.
        rewarm_from: factor reached at ``rewarm_start`` (default ``min_lr_ratio``).

    Returns:
        Factor in [min_lr_ratio, 1] (or smaller during warm-up).
    """
    warmup = max(1, int(cfg.warmup_fraction * total_steps))
    decay = int(cfg.decay_fraction * total_steps)
    factor = min(1.0, (step + 1) / warmup)
    decay_start = total_steps - decay
    if decay > 0 and step >= decay_start:
        frac = min(1.0, (step - decay_start) / decay)
        factor = min(factor, 1.0 - (1.0 - cfg.min_lr_ratio) * frac)
    if rewarm_start is not None and step >= rewarm_start:
        base = cfg.min_lr_ratio if rewarm_from is None else rewarm_from
        factor = min(factor, base + (1 - base) * min(1.0, (step - rewarm_start + 1) / warmup))
    return factor


def mlm_loss(model: Any, inputs: torch.Tensor, selected: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the selected positions, with the LM head applied only there.

    The vocabulary projection is the costliest matrix of a narrow model; applying it to the ~30% masked
    positions [n_selected, hidden] instead of all [B, L, hidden] saves most of it.
    """
    hidden = model.bert(input_ids=inputs).last_hidden_state
    logits = model.cls(hidden[selected])
    return F.cross_entropy(logits.float(), targets)


def autocast(device: torch.device, enabled: bool | str) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on ``device`` when enabled (``"auto"``: where it is native), else a no-op."""
    if not resolve_bf16(enabled, device):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.inference_mode()
def evaluate(
    model: Any, data: PretrainData, cfg: PretrainConfig, mask_id: int, never: torch.Tensor, device: torch.device
) -> dict[str, float]:
    """Held-out MLM loss/perplexity with fixed masks, and the unigram baseline on the same positions.

    Returns:
        {"mlm_loss", "ppl", "unigram_loss", "unigram_ppl", "predicted_tokens"}.
    """
    was_training = model.training
    model.eval()
    rows = data.heldout[: cfg.eval_sequences]
    gen = torch.Generator().manual_seed(cfg.heldout_seed + 99)  # the same masks at every evaluation
    total, uni, count = 0.0, 0.0, 0
    for start in range(0, len(rows), cfg.batch_size):
        ids = rows[start : start + cfg.batch_size]
        inputs, selected, targets = mask_tokens(ids, cfg.mask_prob, mask_id, cfg.vocab_size, never, gen)
        with autocast(device, cfg.bf16):
            hidden = model.bert(input_ids=inputs.to(device)).last_hidden_state
            logits = model.cls(hidden[selected.to(device)])
        total += float(F.cross_entropy(logits.float(), targets.to(device), reduction="sum"))
        uni += float(-data.unigram_logprob[targets].sum())
        count += int(targets.numel())
    model.train(was_training)
    loss, uloss = total / max(count, 1), uni / max(count, 1)
    return {
        "mlm_loss": loss,
        "ppl": math.exp(min(loss, 50)),
        "unigram_loss": uloss,
        "unigram_ppl": math.exp(min(uloss, 50)),
        "predicted_tokens": count,
    }


def format_eval(ev: dict[str, float]) -> str:
    """One line for a held-out evaluation."""
    return f"loss {ev['mlm_loss']:.3f} ppl {ev['ppl']:.1f} (unigram ppl {ev['unigram_ppl']:.1f})"


def pick_device(name: str | None = None) -> torch.device:
    """``name`` if given, else CUDA when available, else CPU."""
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device: torch.device) -> str:
    """What ran the steps, for the record: the GPU's name, or the CPU model and thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
    return f"{model} ({torch.get_num_threads()} threads)"


class StopFlag:
    """Set by SIGTERM/SIGINT so the loop can checkpoint before exiting."""

    def __init__(self) -> None:
        self.stop = False

    def __call__(self, signum: int, frame: Any) -> None:
        logger.warning("signal %d: stopping after this step and checkpointing", signum)
        self.stop = True


def _model_and_optimizer(cfg: PretrainConfig, layers: int, device: torch.device) -> tuple[Any, torch.optim.Optimizer]:
    """A freshly initialised BertForMaskedLM and its AdamW (no weight decay on biases and norms)."""
    from transformers import BertForMaskedLM

    model = BertForMaskedLM(cfg.bert_config(layers)).to(device)
    model.train()
    decay, no_decay = [], []
    for _pname, param in model.named_parameters():
        (no_decay if param.ndim < 2 else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        eps=cfg.adam_eps,
    )
    return model, optimizer


def _resume(
    name: str,
    cfg: PretrainConfig,
    data: PretrainData,
    model: Any,
    optimizer: Any,
    ckpt_path: Path,
    state: dict[str, Any],
    device: torch.device,
) -> None:
    """Load a checkpoint into ``model``/``optimizer``/``state``; extend its budget if ``cfg`` asks for more."""
    blob = read_checkpoint(ckpt_path)
    check_same_data(blob["state"].get("data_info"), data.info, ckpt_path.parent)
    model.load_state_dict(blob["model"])
    if blob["optimizer"] is not None:
        optimizer.load_state_dict(blob["optimizer"])
    elif cfg.total_steps > blob["scheduler"]["total_steps"]:  # a finished model packed without its moments
        logger.warning(
            "%s: no AdamW moments in %s (packed when finished); extending starts them afresh", name, ckpt_path
        )
    restore_rng(blob["rng"], device)
    state.update(blob["state"])
    state["data_info"] = data.info
    old_total = blob["scheduler"]["total_steps"]
    if cfg.total_steps > old_total:
        logger.info("%s: budget extended %d -> %d tokens", name, state["budget_tokens"], cfg.budget_tokens)
        if state["step"] > old_total - int(cfg.decay_fraction * old_total):  # already cooling down: re-warm
            prev = blob["scheduler"].get("rewarm_start"), blob["scheduler"].get("rewarm_from")
            state["rewarm_from"] = lr_multiplier(state["step"] - 1, old_total, cfg, *prev)
            state["rewarm_start"] = state["step"]
        state["done"] = False
    state["budget_tokens"] = max(cfg.budget_tokens, state["budget_tokens"])
    logger.info("%s: resumed at step %d (%d sequences seen)", name, state["step"], state["sequences_seen"])


def train_model(
    name: str,
    cfg: PretrainConfig,
    data: PretrainData,
    tokenizer: Any,
    ckpt_dir: Path,
    *,
    device: torch.device,
    deadline: float | None = None,
    max_steps_this_call: int | None = None,
    stop_flag: StopFlag | None = None,
    command: str = "",
    progress: bool = True,
) -> dict[str, Any]:
    """Pretrain (or resume) one family member until its budget, the deadline or a stop signal.

    Args:
        name: a key of ``FAMILY`` (it gives the number of layers).
        cfg: family config; ``cfg.budget_tokens`` may exceed a finished checkpoint's (extension).
        data: packed data.
        tokenizer: the family tokenizer.
        ckpt_dir: this model's checkpoint folder.
        device: torch device.
        deadline: ``time.time()`` after which to checkpoint and stop.
        max_steps_this_call: stop after this many steps (tests, smoke runs).
        stop_flag: set asynchronously to stop.
        command: command line recorded in the checkpoint history.
        progress: show a tqdm bar.

    Returns:
        The final checkpoint state without its loss history: step, sequences_seen, done, evals,
        sessions (device, tokens per second, wall time of each call that trained), ...

    Raises:
        ValueError: the checkpoint was trained on other data.
        FloatingPointError: the loss became non-finite.
    """
    from tqdm.auto import tqdm
    from transformers import set_seed

    ckpt_path = Path(ckpt_dir) / CHECKPOINT_NAME
    set_seed(cfg.seed)  # initialisation; data order and masks have their own seeded generators
    model, optimizer = _model_and_optimizer(cfg, FAMILY[name][1], device)
    state: dict[str, Any] = {
        "model_name": name,
        "step": 0,
        "sequences_seen": 0,
        "wall_seconds": 0.0,
        "history": [],
        "evals": [],
        "commands": [],
        "done": False,
        "rewarm_start": None,
        "budget_tokens": cfg.budget_tokens,
        "device": str(device),
        "data_info": data.info,
    }
    if ckpt_path.is_file():
        _resume(name, cfg, data, model, optimizer, ckpt_path, state, device)
    total_steps = state["budget_tokens"] // cfg.tokens_per_step
    if state["step"] >= total_steps:
        state["done"] = True
        return state_summary(state)
    state["commands"].append(command)
    session = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "device": str(device),
        "device_name": device_name(device),
        "start_step": state["step"],
        "end_step": state["step"],
        "wall_seconds": 0.0,
        "tokens_per_second": None,
    }
    state["sessions"] = [*state.get("sessions", []), session]
    state["device"], state["device_name"] = session["device"], session["device_name"]
    mask_id = tokenizer.mask_token_id
    never = torch.tensor(special_ids(tokenizer))
    eval_every = max(1, total_steps // cfg.eval_times) if cfg.eval_times else None

    def save() -> None:
        sched = {
            "total_steps": total_steps,
            "rewarm_start": state["rewarm_start"],
            "rewarm_from": state.get("rewarm_from"),
            "last_step": state["step"],
        }
        payload = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": sched,
            "rng": capture_rng(device),
            "state": state,
            "config": cfg.to_dict(),
        }
        write_checkpoint(ckpt_path, payload)

    if not state["evals"]:
        state["evals"].append({"step": state["step"], **evaluate(model, data, cfg, mask_id, never, device)})
        logger.info("%s: initial held-out %s", name, state["evals"][-1])
    last_ckpt = started = time.time()
    wall0 = state["wall_seconds"]
    steps_done = 0
    ema: float | None = None
    bar = tqdm(
        total=total_steps, initial=state["step"], desc=name, disable=not progress, mininterval=20, dynamic_ncols=True
    )
    try:
        while state["step"] < total_steps:
            step = state["step"]
            for group in optimizer.param_groups:
                factor = lr_multiplier(step, total_steps, cfg, state["rewarm_start"], state.get("rewarm_from"))
                group["lr"] = cfg.lr * factor
            ids = batch_rows(data.train, state["sequences_seen"], cfg.batch_size, cfg.seed)
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
            inputs, selected, targets = mask_tokens(ids, cfg.mask_prob, mask_id, cfg.vocab_size, never, gen)
            with autocast(device, cfg.bf16):
                loss = mlm_loss(model, inputs.to(device), selected.to(device), targets.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"{name}: non-finite loss at step {step}; lower --lr")
            state["step"] += 1
            state["sequences_seen"] += cfg.batch_size
            elapsed = time.time() - started
            state["wall_seconds"] = wall0 + elapsed
            steps_done += 1
            session["end_step"], session["wall_seconds"] = state["step"], round(elapsed, 1)
            session["tokens_per_second"] = round(steps_done * cfg.tokens_per_step / max(elapsed, 1e-9), 1)
            state["tokens_per_second"] = session["tokens_per_second"]
            ema = value if ema is None else 0.98 * ema + 0.02 * value
            state["history"].append([state["step"], round(value, 4)])
            bar.update(1)
            bar.set_postfix(loss=f"{ema:.3f}", lr=f"{optimizer.param_groups[0]['lr']:.1e}", refresh=False)
            if eval_every and state["step"] % eval_every == 0 and state["step"] < total_steps:
                state["evals"].append({"step": state["step"], **evaluate(model, data, cfg, mask_id, never, device)})
                logger.info(
                    "%s: step %d/%d held-out %s (%.0fs)",
                    name,
                    state["step"],
                    total_steps,
                    format_eval(state["evals"][-1]),
                    state["wall_seconds"],
                )
            if state["step"] >= total_steps:
                break
            if time.time() - last_ckpt > cfg.checkpoint_minutes * 60:
                save()
                last_ckpt = time.time()
            if (deadline is not None and time.time() > deadline) or (stop_flag is not None and stop_flag.stop):
                break
            if max_steps_this_call is not None and steps_done >= max_steps_this_call:
                break
    finally:
        bar.close()
    if state["step"] >= total_steps:
        state["done"] = True
        state["evals"].append({"step": state["step"], **evaluate(model, data, cfg, mask_id, never, device)})
        logger.info("%s: finished %d steps, held-out %s", name, state["step"], format_eval(state["evals"][-1]))
    save()
    return state_summary(state)
