"""The models of the paper and the offline family built by this project, by short name.

``kind`` says how a model was made and so how it may be compared:
- ``base``: a 12-layer pretrained model that the app prunes (MahaBERT-v2, MuRIL).
- ``scratch``: a small model pretrained from scratch at its final depth (MahaBERT-Small/-Smaller).
- ``random``: a control: the shape of another entry with freshly initialised weights (seed 0),
  fine-tuned like the others to show what pretraining buys. Never a stand-in for a real model.
- ``offline``: this project's own mini family (``python -m models.build_offline``), committed
  under ``models/offline/`` so everything runs with no network; its teacher plays the base role
  and its 6- and 2-layer models the scratch roles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

OFFLINE_DIR = Path(__file__).resolve().parent / "offline"
# Fine-tuned variants of the offline family that ship with the repository (read-only; `make variants`).
BUNDLED_DIR = Path(__file__).resolve().parent / "variants"
BUNDLED_ENV = "MARATHI_PRUNE_BUNDLED"


def bundled_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The read-only folder of ready-made variants: ``$MARATHI_PRUNE_BUNDLED``, else ``models/variants``."""
    return Path(env.get(BUNDLED_ENV) or BUNDLED_DIR).expanduser()


@dataclass(frozen=True)
class ModelSpec:
    """A catalog entry: where the weights live and the shape they have."""

    name: str
    source: str  # hub id, or a folder for offline models
    kind: str  # "base" | "scratch" | "offline"
    role: str  # "base" (prunable 12-layer) or "scratch" (small model trained at its depth)
    num_layers: int
    hidden_size: int
    vocab_size: int
    intermediate_size: int
    num_attention_heads: int
    max_position_embeddings: int = 512
    description: str = ""
    paper_params_millions: float | None = None

    @property
    def is_local(self) -> bool:
        return self.kind in ("offline", "random")

    def bert_config_kwargs(self) -> dict:
        """Shape arguments for ``transformers.BertConfig``: a random-weight stand-in of this model."""
        return {
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_attention_heads,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
        }


# BERT-base width shared by the paper's models; the offline family's shared mini shape (all three
# have the same width, vocabulary and tokenizer, so pruned-teacher vs scratch compares like with like).
_BASE_SHAPE = {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12}
_MINI_SHAPE = {
    "hidden_size": 256,
    "vocab_size": 8000,
    "intermediate_size": 512,
    "num_attention_heads": 4,
    "max_position_embeddings": 128,
}

CATALOG: dict[str, ModelSpec] = {
    "mahabert-v2": ModelSpec(
        name="mahabert-v2",
        source="l3cube-pune/marathi-bert-v2",
        kind="base",
        role="base",
        num_layers=12,
        **_BASE_SHAPE,
        vocab_size=197285,
        description="MahaBERT-v2: multilingual BERT further pretrained on 752M Marathi tokens (L3Cube)",
        paper_params_millions=238,
    ),
    "muril": ModelSpec(
        name="muril",
        source="google/muril-base-cased",
        kind="base",
        role="base",
        num_layers=12,
        **_BASE_SHAPE,
        vocab_size=197285,
        description="MuRIL: BERT pretrained on 17 Indian languages (Google)",
        paper_params_millions=238,
    ),
    "mahabert-small": ModelSpec(
        name="mahabert-small",
        source="l3cube-pune/marathi-bert-small",
        kind="scratch",
        role="scratch",
        num_layers=6,
        **_BASE_SHAPE,
        vocab_size=52000,
        description="MahaBERT-Small: 6-layer Marathi BERT pretrained from scratch (L3Cube)",
    ),
    "mahabert-smaller": ModelSpec(
        name="mahabert-smaller",
        source="l3cube-pune/marathi-bert-smaller",
        kind="scratch",
        role="scratch",
        num_layers=2,
        **_BASE_SHAPE,
        vocab_size=52000,
        description="MahaBERT-Smaller: 2-layer Marathi BERT pretrained from scratch (L3Cube)",
    ),
    # The offline family (issue: offline Marathi mini-BERTs). Same width, same data and token
    # budget for all three, so "pruned teacher vs scratch model of the same depth" is fair.
    "offline-teacher": ModelSpec(
        name="offline-teacher",
        source=str(OFFLINE_DIR / "mini-teacher-12l"),
        kind="offline",
        role="base",
        num_layers=12,
        **_MINI_SHAPE,
        description="12-layer mini Marathi BERT pretrained offline by this project (teacher role)",
    ),
    "offline-small": ModelSpec(
        name="offline-small",
        source=str(OFFLINE_DIR / "mini-scratch-6l"),
        kind="offline",
        role="scratch",
        num_layers=6,
        **_MINI_SHAPE,
        description="6-layer mini Marathi BERT pretrained from scratch offline (MahaBERT-Small role)",
    ),
    "offline-smaller": ModelSpec(
        name="offline-smaller",
        source=str(OFFLINE_DIR / "mini-scratch-2l"),
        kind="offline",
        role="scratch",
        num_layers=2,
        **_MINI_SHAPE,
        description="2-layer mini Marathi BERT pretrained from scratch offline (MahaBERT-Smaller role)",
    ),
    "offline-teacher-random": ModelSpec(
        name="offline-teacher-random",
        source=str(OFFLINE_DIR / "mini-teacher-12l"),
        kind="random",
        role="control",
        num_layers=12,
        **_MINI_SHAPE,
        description="offline-teacher's shape and tokenizer with random weights: the no-pretraining control",
    ),
}


def get_spec(name: str) -> ModelSpec | None:
    """The catalog entry for a short name or a hub id, or None for anything else."""
    if name in CATALOG:
        return CATALOG[name]
    for spec in CATALOG.values():
        if spec.source == name:
            return spec
    return None
