"""Helpers shared by the offline-build tests (imported by name; conftest.py holds the fixtures)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch

from models.build_offline.checkpoint import CHECKPOINT_NAME
from models.build_offline.config import PretrainConfig
from models.build_offline.corpus import PretrainData
from models.build_offline.pretrain import train_model
from models.build_offline.tokenizer import load_tokenizer

TINY: dict[str, Any] = {
    "news_datasets": [],
    "vocab_size": 600,
    "hidden_size": 64,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "max_position_embeddings": 64,
    "seq_len": 32,
    "batch_size": 16,
    "lr": 2e-3,
    "heldout_fraction": 0.05,
    "eval_sequences": 48,
    "eval_times": 0,
    "checkpoint_minutes": 60.0,
    "seed": 7,
}


def synthetic_lines(n: int) -> list[str]:
    """Marathi-looking sentences with learnable structure, for machines without ../shared."""
    rng = random.Random(0)
    subjects = ["मी", "तो", "ती", "आम्ही", "शेतकरी", "मंत्री", "विद्यार्थी", "पोलीस"]
    objects = ["शाळेत", "बाजारात", "घरी", "मुंबईत", "पुण्यात", "कार्यालयात"]
    verbs = ["गेलो", "गेला", "गेली", "आलो", "आले", "राहिले"]
    return [f"{rng.choice(subjects)} आज {rng.choice(objects)} {rng.choice(verbs)} आणि परत आले ।" for _ in range(n)]


def train(cfg: PretrainConfig, data: PretrainData, tok_dir: Path, ckpt: Path, **kwargs: Any) -> dict[str, Any]:
    """Train (or resume) the 2-layer member on the CPU without progress bars."""
    return train_model(
        "smaller",
        cfg,
        data,
        load_tokenizer(tok_dir),
        ckpt,
        device=torch.device("cpu"),
        progress=False,
        command="pytest",
        **kwargs,
    )


def history(ckpt: Path) -> list[list[float]]:
    """The per-step loss history stored in a checkpoint folder."""
    return torch.load(ckpt / CHECKPOINT_NAME, weights_only=False)["state"]["history"]
