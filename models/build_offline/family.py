"""The whole family in one call: data and tokenizer, then each model in order, exported when finished."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .checkpoint import CACHE_DIR, CHECKPOINT_NAME, TOKENIZER_DIR, model_dir, store_data_info
from .config import PretrainConfig
from .corpus import prepare_data
from .export import export_model
from .pretrain import StopFlag, train_model
from .tokenizer import load_tokenizer

logger = logging.getLogger(__name__)


def build_family(
    cfg: PretrainConfig,
    names: list[str],
    ckpt_root: Path,
    out_dir: Path,
    *,
    device: torch.device,
    news: Sequence[str] = (),
    max_minutes: float | None = None,
    command: str = "",
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Tokenizer, then each model in order (train or resume, export when finished).

    Models are trained one after the other and the loop stops at the first one that did not finish
    (deadline or signal), so the next call resumes exactly there.

    Args:
        cfg: family config.
        names: keys of ``FAMILY`` in training order.
        ckpt_root: checkpoint root (tokenizer in ``tokenizer/``, one folder per model).
        out_dir: export folder.
        device: torch device.
        news: MahaNews training-split texts to mix into a new run (a run in progress keeps its own data).
        max_minutes: stop cleanly (checkpoint) after this many minutes.
        command: recorded command line.
        progress: tqdm bars.

    Returns:
        Per model: its checkpoint state summary (and "exported" path when exported).
    """
    ckpt_root = Path(ckpt_root)
    tokenizer_dir = ckpt_root / TOKENIZER_DIR
    data = prepare_data(cfg, tokenizer_dir, cache_dir=ckpt_root / CACHE_DIR, news=news)
    tokenizer = load_tokenizer(tokenizer_dir)
    deadline = time.time() + max_minutes * 60 if max_minutes else None
    stop = StopFlag()
    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in names:
            ckpt_dir = model_dir(ckpt_root, name)
            state = train_model(
                name,
                cfg,
                data,
                tokenizer,
                ckpt_dir,
                device=device,
                deadline=deadline,
                stop_flag=stop,
                command=command,
                progress=progress,
            )
            store_data_info(ckpt_dir, data.info)
            results[name] = state
            if state["done"]:
                results[name]["exported"] = str(export_model(name, ckpt_dir, tokenizer_dir, out_dir, data.info))
            else:
                logger.info("%s: stopped at step %d; resume with the same command", name, state["step"])
                break
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return results


def export_family(names: list[str], ckpt_root: Path, out_dir: Path) -> dict[str, dict[str, Any]]:
    """Export the current checkpoints of ``names`` without training (finished or not).

    Returns:
        Per exported model: {"exported": folder}. Models without a checkpoint are skipped (logged).
    """
    ckpt_root = Path(ckpt_root)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        ckpt_dir = model_dir(ckpt_root, name)
        if (ckpt_dir / CHECKPOINT_NAME).is_file():
            results[name] = {"exported": str(export_model(name, ckpt_dir, ckpt_root / TOKENIZER_DIR, out_dir))}
        else:
            logger.warning("%s: no checkpoint in %s, nothing to export", name, ckpt_dir)
    return results
