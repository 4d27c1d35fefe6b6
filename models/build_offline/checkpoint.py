"""The run folder: family config, per-model training checkpoints, RNG capture, and a readable summary.

Layout of a checkpoint root (default ``$MARATHI_PRUNE_HOME/pretrain``)::

    family_config.json            the PretrainConfig shared by the family
    tokenizer/                    the family tokenizer
    cache/packed-<key>.pt         packed training and held-out rows; cache/run-data.json describes them
    <folder>/checkpoint.pt        per model: {model, optimizer, scheduler, rng, state, config}
    <folder>/state.json           per model: the state without its loss history (for people and scripts)

``checkpoint.pt`` keeps the format of the first runs (the keys above, fp32 tensors), so a run started by
an older version resumes unchanged. Writes are atomic (``models.store``): a killed run leaves the
previous checkpoint, never a torn one.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch

from models.store import atomic_torch_save, atomic_write_json, cache_dir

from .config import FAMILY, PretrainConfig

CHECKPOINT_NAME = "checkpoint.pt"
STATE_NAME = "state.json"
FAMILY_CONFIG_NAME = "family_config.json"
TOKENIZER_DIR = "tokenizer"
CACHE_DIR = "cache"
# Fields a run in progress may change: its length, its bookkeeping, its precision, and where the inputs
# live on this machine. Everything else would change the tokenizer or the trajectory.
MUTABLE_FIELDS = frozenset({"budget_tokens", "checkpoint_minutes", "eval_times", "bf16", "corpus", "news_dir"})
# Data facts that must match when a checkpoint resumes (else it would continue on other data).
DATA_IDENTITY = ("corpus_sha256", "news_sha256", "tokenizer_sha256", "train_rows", "heldout_rows")


def default_root() -> Path:
    """The default checkpoint root, read at call time so ``MARATHI_PRUNE_HOME`` can move it."""
    return cache_dir("pretrain")


def model_dir(root: Path, name: str) -> Path:
    """The checkpoint folder of family member ``name``."""
    return Path(root) / FAMILY[name][0]


def resolve_config(ckpt_root: Path, overrides: dict[str, Any]) -> PretrainConfig:
    """The family config: the saved one (a run in progress) updated with allowed overrides, else new.

    Once a run exists only ``MUTABLE_FIELDS`` may change; other differing overrides raise ValueError,
    because they would change the tokenizer or the trajectory.

    Args:
        ckpt_root: the checkpoint root (``family_config.json`` is read and written there).
        overrides: PretrainConfig fields to set.

    Returns:
        The config, also saved back to the root.
    """
    path = Path(ckpt_root) / FAMILY_CONFIG_NAME
    if not path.is_file():
        cfg = PretrainConfig.from_dict(overrides)
        atomic_write_json(path, cfg.to_dict(), indent=2)
        return cfg
    saved = json.loads(path.read_text())
    for key, value in overrides.items():
        if key not in MUTABLE_FIELDS and saved.get(key) != value:
            raise ValueError(
                f"{key}={value!r} differs from the run in {ckpt_root} ({saved.get(key)!r}); "
                "use another --checkpoint-dir to start a new run"
            )
    # A lower budget than the saved one is allowed: each model's checkpoint keeps its own (larger) budget,
    # so the scratch models can stop at the first rung while the teacher goes on up the ladder.
    saved.update(overrides)
    cfg = PretrainConfig.from_dict(saved)
    atomic_write_json(path, cfg.to_dict(), indent=2)
    return cfg


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a ``checkpoint.pt`` onto the CPU (it holds Python RNG state, hence ``weights_only=False``).

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train the model first")
    return torch.load(path, map_location="cpu", weights_only=False)


def capture_rng(device: torch.device) -> dict[str, Any]:
    """The global RNG states (torch CPU, Python, and CUDA when training there)."""
    rng: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def restore_rng(rng: dict[str, Any], device: torch.device) -> None:
    """Inverse of ``capture_rng`` (the CUDA state only when saved on CUDA and resumed there)."""
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    if "cuda" in rng and device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], device)


def state_summary(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint state without its (long) loss history."""
    return {k: v for k, v in state.items() if k != "history"} | {"history_len": len(state.get("history", []))}


def write_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Save a checkpoint atomically, plus ``state.json`` (its state summary) beside it.

    Args:
        path: ``<folder>/checkpoint.pt``.
        payload: {model, optimizer, scheduler, rng, state, config}.
    """
    path = Path(path)
    atomic_torch_save(payload, path)
    summary = state_summary(payload["state"]) | {"scheduler": payload["scheduler"], "config": payload["config"]}
    atomic_write_json(path.parent / STATE_NAME, summary, indent=1)


def check_same_data(saved: dict[str, Any] | None, current: dict[str, Any], where: Path) -> None:
    """Refuse to resume a checkpoint on data other than its own.

    Raises:
        ValueError: a data fact in ``DATA_IDENTITY`` differs, with both values and the way out.
    """
    if not saved:
        return
    for key in DATA_IDENTITY:
        if key in saved and key in current and saved[key] != current[key]:
            raise ValueError(
                f"the checkpoint in {where} was trained on other data: {key} {saved[key]!r} there, "
                f"{current[key]!r} now. Resume with the run's own corpus and news (same --corpus, --news-dir, "
                "--no-news as before), or restore the run with --unpack; use another --checkpoint-dir for a new run"
            )


def store_data_info(ckpt_dir: Path, info: dict[str, Any]) -> None:
    """Add the data description to a checkpoint so ``--export-only`` can record it."""
    path = Path(ckpt_dir) / CHECKPOINT_NAME
    blob = read_checkpoint(path)
    if blob["state"].get("data_info") != info:
        blob["state"]["data_info"] = info
        write_checkpoint(path, blob)
