"""Export a training checkpoint as a ``from_pretrained`` folder: fp16 weights, tokenizer, record, card."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from models.store import atomic_dir

from .cards import build_info, minimal_data_info, model_card
from .checkpoint import CHECKPOINT_NAME, read_checkpoint
from .config import FAMILY, PretrainConfig
from .tokenizer import load_tokenizer

logger = logging.getLogger(__name__)


def export_model(
    name: str, ckpt_dir: Path, tokenizer_dir: Path, out_dir: Path, data_info: dict[str, Any] | None = None
) -> Path:
    """Write a checkpoint as an fp16 ``BertForMaskedLM`` folder with tokenizer, build_info.json and card.

    The weights are stored in float16 (half the size, so the family fits in the repository);
    ``config.json`` keeps ``dtype: float32`` so ``from_pretrained`` computes in float32 on CPU.
    The folder is built aside and swapped in whole, so a reader never sees half an export.

    Args:
        name: a key of ``FAMILY``.
        ckpt_dir: the model's checkpoint folder.
        tokenizer_dir: the family tokenizer folder.
        out_dir: the family output folder (``models/offline`` or a ladder rung).
        data_info: data description from ``prepare_data`` (else the one stored in the checkpoint).

    Returns:
        The exported model folder.

    Raises:
        FileNotFoundError: no checkpoint yet.
    """
    from transformers import BertForMaskedLM

    folder, layers = FAMILY[name]
    blob = read_checkpoint(Path(ckpt_dir) / CHECKPOINT_NAME)
    cfg = PretrainConfig.from_dict(blob["config"])
    state = blob["state"]
    model = BertForMaskedLM(cfg.bert_config(layers, for_export=True))
    model.load_state_dict(blob["model"])
    model = model.half()
    target = Path(out_dir) / folder
    with atomic_dir(target) as tmp:
        model.save_pretrained(str(tmp))
        conf = json.loads((tmp / "config.json").read_text())
        conf["dtype"] = "float32"  # compute dtype on load; the file itself is fp16
        (tmp / "config.json").write_text(json.dumps(conf, indent=2, sort_keys=True) + "\n")
        load_tokenizer(tokenizer_dir).save_pretrained(str(tmp))
        info = build_info(name, cfg, state, data_info or state.get("data_info") or minimal_data_info(cfg), model)
        (tmp / "build_info.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        (tmp / "README.md").write_text(model_card(info))
        os.chmod(tmp, 0o755)  # readable by everyone, as a committed folder should be
        for item in tmp.iterdir():
            os.chmod(item, 0o644)
    logger.info("exported %s (step %d, done=%s) -> %s", name, state["step"], state["done"], target)
    return target
