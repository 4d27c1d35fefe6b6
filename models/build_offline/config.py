"""``PretrainConfig``: everything that fixes the tokenizer, the model shapes and the training trajectory.

One config is shared by the whole family (only the number of layers differs per model), so that
"pruned teacher vs. model pretrained at that depth" compares models that saw the same data, width and
token budget. The config is saved with the run (``family_config.json``) and inside every checkpoint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The shared, read-only data sits beside the checkout: <repo>/../shared (see ../shared/README.md).
SHARED_DIR = Path(__file__).resolve().parents[3] / "shared"
DEFAULT_CORPUS = SHARED_DIR / "data" / "marathi-corpus" / "corpus.txt"
DEFAULT_NEWS_DIR = SHARED_DIR / "data" / "mahanews"

# Short name -> (folder, number of layers). Trained in this order: the teacher matters most.
# The folder names are also the checkpoint folders and the catalog's ``models/offline/<folder>``.
FAMILY: dict[str, tuple[str, int]] = {
    "teacher": ("mini-teacher-12l", 12),
    "small": ("mini-scratch-6l", 6),
    "smaller": ("mini-scratch-2l", 2),
}
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
NEWS_DATASETS = ("SHC", "LPC", "LDC")


@dataclass
class PretrainConfig:
    """Everything that determines the tokenizer, the model shapes and the training trajectory.

    The recipe is chosen for sample efficiency on a few CPU cores: a small WordPiece vocabulary,
    narrow layers, packed short sequences, a high masking rate with the LM head applied to masked
    positions only, no dropout while pretraining and a high learning rate with warm-up and a late
    linear cool-down.

    Args:
        corpus (str, defaults to ``../shared/data/marathi-corpus/corpus.txt``): plain-text corpus, one
            sentence or tweet per line.
        news_datasets (list[str], defaults to ["SHC", "LPC"]): MahaNews datasets whose *training* texts
            are mixed in (empty: none). The texts themselves are passed to ``prepare_data`` by the caller.
        news_dir (str, defaults to ``../shared/data/mahanews``): MahaNews folder the CLI reads them from.
        news_repeat (int, defaults to 4): copies of the (small, in-domain) news texts in each epoch.
        heldout_fraction (float, defaults to 0.01): share of corpus lines held out for evaluation.
        heldout_seed (int, defaults to 0): seed of the held-out selection, independent of ``seed``.
        eval_sequences (int, defaults to 256): held-out packed sequences scored at each evaluation.
        vocab_size (int, defaults to 8000): WordPiece vocabulary size.
        hidden_size, num_attention_heads, intermediate_size, max_position_embeddings (int): BERT shape.
        seq_len (int, defaults to 64): packed training sequence length (including [CLS]).
        batch_size (int, defaults to 64): sequences per optimizer step.
        mask_prob (float, defaults to 0.3): share of ordinary tokens predicted (80/10/10 mask/random/keep);
            higher than BERT's 0.15 because a tiny budget needs more signal per sequence.
        lr, warmup_fraction, decay_fraction, min_lr_ratio (float): linear warm-up over
            ``warmup_fraction`` of the steps, constant, then a linear cool-down to ``min_lr_ratio * lr``
            over the last ``decay_fraction`` of the steps.
        weight_decay, beta1, beta2, adam_eps, grad_clip (float): AdamW settings and gradient clipping.
        pretrain_dropout (float, defaults to 0.0): dropout while pretraining (the tiny budget
            under-fits, it does not over-fit).
        export_dropout (float, defaults to 0.1): dropout written into the exported config (fine-tuning).
        budget_tokens (int, defaults to 6,000,000): token positions (``steps * batch_size * seq_len``)
            each model trains on.
        seed (int, defaults to 1234): seed of initialisation, data order and masking.
        checkpoint_minutes (float, defaults to 3.0): wall-clock minutes between checkpoints.
        eval_times (int, defaults to 8): evaluations spread evenly over a run (plus one at the end).
        bf16 (bool or "auto", defaults to "auto"): forward/backward under bfloat16 autocast; "auto" turns it
            on only where it is native (``models.hardware.fast_bf16``): emulated bf16 was 15x slower.
    """

    corpus: str = str(DEFAULT_CORPUS)
    news_datasets: list[str] = field(default_factory=lambda: ["SHC", "LPC"])
    news_dir: str = str(DEFAULT_NEWS_DIR)
    news_repeat: int = 4
    heldout_fraction: float = 0.01
    heldout_seed: int = 0
    eval_sequences: int = 256
    vocab_size: int = 8000
    hidden_size: int = 256
    num_attention_heads: int = 4
    intermediate_size: int = 512
    max_position_embeddings: int = 128
    seq_len: int = 64
    batch_size: int = 64
    mask_prob: float = 0.3
    lr: float = 7e-4
    warmup_fraction: float = 0.05
    decay_fraction: float = 0.25
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.98
    adam_eps: float = 1e-6
    grad_clip: float = 1.0
    pretrain_dropout: float = 0.0
    export_dropout: float = 0.1
    budget_tokens: int = 6_000_000
    seed: int = 1234
    checkpoint_minutes: float = 3.0
    eval_times: int = 8
    bf16: bool | str = "auto"

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"PretrainConfig.{name}={getattr(self, name)!r} is invalid: {rule}")

        self.news_datasets = [str(x).upper() for x in self.news_datasets]
        need(all(x in NEWS_DATASETS for x in self.news_datasets), "news_datasets", "use SHC, LPC, LDC")
        need(self.news_repeat >= 0, "news_repeat", "must be >= 0")
        need(0 < self.heldout_fraction < 0.5, "heldout_fraction", "must be in (0, 0.5)")
        need(self.eval_sequences >= 1, "eval_sequences", "must be >= 1")
        need(len(SPECIAL_TOKENS) + 100 <= self.vocab_size <= 200_000, "vocab_size", "must be in [105, 200000]")
        need(self.hidden_size >= 8, "hidden_size", "must be >= 8")
        need(
            self.num_attention_heads >= 1 and self.hidden_size % self.num_attention_heads == 0,
            "num_attention_heads",
            f"must divide hidden_size={self.hidden_size}",
        )
        need(self.intermediate_size >= 1, "intermediate_size", "must be >= 1")
        need(self.seq_len >= 8, "seq_len", "must be >= 8")
        need(self.max_position_embeddings >= self.seq_len, "max_position_embeddings", "must be >= seq_len")
        need(self.batch_size >= 1, "batch_size", "must be >= 1")
        need(0 < self.mask_prob < 1, "mask_prob", "must be in (0, 1)")
        need(self.lr > 0, "lr", "must be > 0")
        need(0 <= self.warmup_fraction < 1, "warmup_fraction", "must be in [0, 1)")
        need(0 <= self.decay_fraction <= 1 - self.warmup_fraction, "decay_fraction", "must be in [0, 1-warmup]")
        need(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "must be in [0, 1]")
        need(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        need(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "beta2" if self.beta1 < 1 else "beta1", "must be in [0, 1)")
        need(self.grad_clip > 0, "grad_clip", "must be > 0")
        need(0 <= self.pretrain_dropout < 1, "pretrain_dropout", "must be in [0, 1)")
        need(0 <= self.export_dropout < 1, "export_dropout", "must be in [0, 1)")
        need(self.budget_tokens >= self.tokens_per_step, "budget_tokens", f"must be >= {self.tokens_per_step}")
        need(self.checkpoint_minutes > 0, "checkpoint_minutes", "must be > 0")
        need(self.eval_times >= 0, "eval_times", "must be >= 0")
        need(isinstance(self.bf16, bool) or self.bf16 == "auto", "bf16", "must be true, false or 'auto'")

    @property
    def tokens_per_step(self) -> int:
        """Token positions processed by one optimizer step."""
        return self.batch_size * self.seq_len

    @property
    def total_steps(self) -> int:
        """Optimizer steps that spend ``budget_tokens``."""
        return self.budget_tokens // self.tokens_per_step

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-safe dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        """Inverse of ``to_dict``; rejects unknown keys so typos do not pass silently."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown PretrainConfig keys {unknown}; valid keys: {sorted(names)}")
        return cls(**data)

    def bert_config(self, num_layers: int, for_export: bool = False) -> Any:
        """The ``transformers.BertConfig`` of one family member.

        Args:
            num_layers: encoder layers.
            for_export: use ``export_dropout`` (fine-tuning) instead of ``pretrain_dropout``.

        Returns:
            A BertConfig for ``BertForMaskedLM``.
        """
        from transformers import BertConfig

        dropout = self.export_dropout if for_export else self.pretrain_dropout
        return BertConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            max_position_embeddings=self.max_position_embeddings,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            type_vocab_size=2,
            pad_token_id=SPECIAL_TOKENS.index("[PAD]"),
            architectures=["BertForMaskedLM"],
        )
