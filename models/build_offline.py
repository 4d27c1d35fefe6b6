"""Build the project's own small Marathi BERT family offline: one tokenizer, three MLM-pretrained models.

Why: the paper compares a pruned 12-layer Marathi BERT with 6- and 2-layer models pretrained from scratch.
The real models are large and need the network; this module makes a miniature family with the same
structure (12-layer teacher, 6- and 2-layer scratch models, same width, same data, same token budget)
that runs anywhere, so the app and the experiments work fully offline.

The recipe is chosen for sample efficiency on a few CPU cores: a small WordPiece vocabulary, narrow
layers, packed short sequences, a high masking rate with the LM head applied to masked positions only,
no dropout while pretraining, a high learning rate with warm-up and a late linear cool-down, and
in-domain MahaNews *training* texts mixed into the general corpus. Training checkpoints
(model, optimizer, schedule, RNG, data position) are written atomically every few minutes so a run can
be interrupted, resumed with another thread count, stopped after ``--max-minutes`` and extended with a
larger ``--budget-tokens``.

Usage::

    python -m models.build_offline --threads 1            # tokenizer, then teacher, small, smaller
    python -m models.build_offline --export-only          # snapshot current checkpoints to models/offline
    python -m models.build_offline --budget-tokens 20000000   # extend a finished run
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import platform
import random
import shlex
import shutil
import signal
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_CORPUS = SHARED_DIR / "data" / "marathi-corpus" / "corpus.txt"
DEFAULT_NEWS_DIR = SHARED_DIR / "data" / "mahanews"
DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "offline"
DEFAULT_CKPT_DIR = Path(os.environ.get("MARATHI_PRUNE_HOME", Path.home() / ".cache" / "marathi-prune")) / "pretrain"

# Short name -> (output folder, number of layers). Trained in this order: the teacher matters most.
FAMILY: dict[str, tuple[str, int]] = {
    "teacher": ("mini-teacher-12l", 12),
    "small": ("mini-scratch-6l", 6),
    "smaller": ("mini-scratch-2l", 2),
}
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CHECKPOINT_NAME = "checkpoint.pt"
FAMILY_CONFIG_NAME = "family_config.json"
LICENSE_NOTE = (
    "Pretraining data: the Marathi corpus in ../shared/data/marathi-corpus (tweets and sentences, "
    "CC BY-NC-SA 4.0) and the training split of L3Cube-MahaNews SHC/LPC (CC BY-NC-SA 4.0). "
    "The weights are derived from this data and are therefore for non-commercial research use, "
    "shared alike (CC BY-NC-SA 4.0)."
)


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


@dataclass
class PretrainConfig:
    """Everything that determines the tokenizer, the model shapes and the training trajectory.

    One config is shared by the whole family; only the number of layers differs per model.

    Args:
        corpus: path of the plain-text corpus, one sentence or tweet per line.
        news_datasets: MahaNews datasets whose *training* texts are mixed in (empty: none).
        news_dir: MahaNews folder for ``pruning.data.load_mahanews``.
        news_repeat: how many copies of the (small, in-domain) news texts go into each epoch.
        heldout_fraction: share of corpus lines held out for evaluation (never trained on).
        heldout_seed: seed of the held-out line selection, fixed independently of ``seed``.
        eval_sequences: held-out packed sequences scored at each evaluation.
        vocab_size: WordPiece vocabulary size.
        hidden_size, num_attention_heads, intermediate_size, max_position_embeddings: BERT shape.
        seq_len: packed training sequence length (including [CLS]).
        batch_size: sequences per optimizer step.
        mask_prob: share of non-special tokens selected for prediction (80/10/10 mask/random/keep).
        lr, warmup_fraction, decay_fraction, min_lr_ratio: schedule: linear warm-up over
            ``warmup_fraction`` of the steps, constant, then a linear cool-down to ``min_lr_ratio * lr``
            over the last ``decay_fraction`` of the steps.
        weight_decay, beta1, beta2, adam_eps, grad_clip: AdamW settings and gradient clipping.
        pretrain_dropout: dropout while pretraining (0: the tiny budget under-fits, it does not over-fit).
        export_dropout: dropout written into the exported config, used when fine-tuning.
        budget_tokens: tokens (positions, ``steps * batch_size * seq_len``) each model trains on.
        seed: seed of initialisation, data order and masking.
        checkpoint_minutes: wall-clock minutes between checkpoints.
        eval_times: evaluations spread evenly over a run (plus one at the end).
        bf16: run forward/backward under bfloat16 autocast.
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
    bf16: bool = False

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"PretrainConfig.{name}={getattr(self, name)!r} is invalid: {rule}")

        self.news_datasets = [str(x).upper() for x in self.news_datasets]
        need(all(x in ("SHC", "LPC", "LDC") for x in self.news_datasets), "news_datasets", "use SHC, LPC, LDC")
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


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_texts(texts: list[str]) -> str:
    """Hex sha256 of a list of texts joined by newlines."""
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def read_corpus(path: str | os.PathLike) -> list[str]:
    """Non-empty, stripped lines of a UTF-8 corpus, NFC-normalised.

    Raises:
        FileNotFoundError: with a hint when the corpus is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus {path} not found; pass --corpus or check out ../shared next to the repo")
    with open(path, encoding="utf-8", errors="replace") as handle:
        return [unicodedata.normalize("NFC", s) for line in handle if (s := line.strip())]


def split_heldout(lines: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Fixed random split of corpus lines into (train, held-out), order preserved.

    Args:
        lines: corpus lines.
        fraction: share held out (at least one line).
        seed: selection seed.

    Returns:
        (train lines, held-out lines).
    """
    n_held = max(1, round(len(lines) * fraction))
    order = torch.randperm(len(lines), generator=torch.Generator().manual_seed(seed)).tolist()
    held = set(order[:n_held])
    return [s for i, s in enumerate(lines) if i not in held], [lines[i] for i in sorted(held)]


def load_news_texts(datasets: list[str], news_dir: str) -> list[str]:
    """Training-split texts of MahaNews datasets via the project's loader (never validation/test).

    Args:
        datasets: dataset names, e.g. ["SHC", "LPC"].
        news_dir: MahaNews data folder.

    Returns:
        NFC-normalised texts; empty when the loader or the data is unavailable (logged).
    """
    if not datasets:
        return []
    try:
        from pruning.data import load_mahanews
    except ImportError as err:  # the loader is optional for this module
        logger.warning("pruning.data.load_mahanews unavailable (%s); pretraining on the corpus only", err)
        return []
    texts: list[str] = []
    for name in datasets:
        try:
            ds, _ = load_mahanews(name, data_dir=news_dir, download=False)
        except (FileNotFoundError, ValueError) as err:
            logger.warning("MahaNews %s not loaded (%s); skipping it", name, err)
            continue
        texts.extend(unicodedata.normalize("NFC", t) for t in ds["train"]["text"] if t and t.strip())
        logger.info("MahaNews %s: %d training texts", name, len(ds["train"]))
    return texts


def train_tokenizer(texts: list[str], vocab_size: int, out_dir: str | os.PathLike, model_max_length: int) -> Any:
    """Train a cased, accent-keeping WordPiece tokenizer with NFC normalisation and save it.

    Devanagari vowel signs and anusvara are Unicode combining marks; BERT's ``strip_accents`` would
    delete them, so it is off, as is lower-casing.

    Args:
        texts: training texts (never held-out or test text).
        vocab_size: WordPiece vocabulary size.
        out_dir: folder for the ``BertTokenizerFast`` files.
        model_max_length: longest input the models accept.

    Returns:
        The ``BertTokenizerFast``.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.NFC(),
            normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
            ),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS, continuing_subword_prefix="##",
        limit_alphabet=min(1000, vocab_size // 4), show_progress=False,
    )  # fmt: skip
    tok.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = BertTokenizerFast(
        tokenizer_object=tok, do_lower_case=False, strip_accents=False, tokenize_chinese_chars=True,
        model_max_length=model_max_length, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
        cls_token="[CLS]", mask_token="[MASK]",
    )  # fmt: skip
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    # transformers 5 rebuilds a BertTokenizer's pipeline from its options (dropping NFC); the generic fast
    # class loads tokenizer.json verbatim. BertTokenizerFast.from_pretrained still works on these files.
    conf_path = Path(out_dir) / "tokenizer_config.json"
    conf = json.loads(conf_path.read_text())
    conf["tokenizer_class"] = "PreTrainedTokenizerFast"
    conf["model_input_names"] = ["input_ids", "token_type_ids", "attention_mask"]
    conf_path.write_text(json.dumps(conf, indent=2, sort_keys=True) + "\n")
    fast = load_tokenizer(out_dir)
    logger.info("tokenizer: %d tokens -> %s", len(fast), out_dir)
    return fast


def load_tokenizer(path: str | os.PathLike) -> Any:
    """Load a saved family tokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def pack_lines(token_lines: list[list[int]], seq_len: int, cls_id: int, sep_id: int) -> torch.Tensor:
    """Pack tokenised lines, each followed by [SEP], into rows of ``[CLS] + (seq_len - 1)`` tokens.

    Args:
        token_lines: token ids per line (no special tokens).
        seq_len: row length.
        cls_id, sep_id: special token ids.

    Returns:
        LongTensor [rows, seq_len]; the incomplete tail is dropped (kept if it is the only row).
    """
    body = seq_len - 1
    stream: list[int] = []
    for ids in token_lines:
        if ids:
            stream.extend(ids)
            stream.append(sep_id)
    n_rows = len(stream) // body
    if n_rows == 0:
        stream = stream + [sep_id] * (body - len(stream))
        n_rows = 1
    flat = torch.tensor(stream[: n_rows * body], dtype=torch.long).view(n_rows, body)
    return torch.cat([torch.full((n_rows, 1), cls_id, dtype=torch.long), flat], dim=1)


def encode_lines(tokenizer: Any, lines: list[str], chunk: int = 4096) -> list[list[int]]:
    """Token ids of each line without special tokens."""
    out: list[list[int]] = []
    for start in range(0, len(lines), chunk):
        out.extend(tokenizer(lines[start : start + chunk], add_special_tokens=False)["input_ids"])
    return out


@dataclass
class PretrainData:
    """Packed training and held-out rows plus what is needed to describe and score them."""

    train: torch.Tensor
    heldout: torch.Tensor
    unigram_logprob: torch.Tensor
    info: dict[str, Any]


def prepare_data(cfg: PretrainConfig, tokenizer_dir: Path, cache_dir: Path | None = None) -> PretrainData:
    """Read the corpus (+ news), train or reuse the tokenizer, tokenise and pack.

    Args:
        cfg: the family config.
        tokenizer_dir: where the tokenizer is (or will be) saved; an existing one is reused.
        cache_dir: folder for a cache of the packed tensors (None: no cache).

    Returns:
        PretrainData.
    """
    t0 = time.time()
    lines = read_corpus(cfg.corpus)
    corpus_sha = sha256_file(cfg.corpus)
    train_lines, held_lines = split_heldout(lines, cfg.heldout_fraction, cfg.heldout_seed)
    news = load_news_texts(cfg.news_datasets, cfg.news_dir)
    news_sha = sha256_texts(news) if news else None
    if (tokenizer_dir / "tokenizer.json").is_file():
        tokenizer = load_tokenizer(tokenizer_dir)
    else:
        tokenizer = train_tokenizer(train_lines + news, cfg.vocab_size, tokenizer_dir, cfg.max_position_embeddings)
    tok_sha = sha256_file(tokenizer_dir / "tokenizer.json")
    if len(tokenizer) > cfg.vocab_size:
        raise ValueError(f"tokenizer in {tokenizer_dir} has {len(tokenizer)} tokens > vocab_size={cfg.vocab_size}")
    key = hashlib.sha256(
        json.dumps([corpus_sha, news_sha, tok_sha, cfg.seed, cfg.seq_len, cfg.news_repeat,
                    cfg.heldout_fraction, cfg.heldout_seed]).encode()
    ).hexdigest()[:16]  # fmt: skip
    cache = cache_dir / f"packed-{key}.pt" if cache_dir else None
    if cache is not None and cache.is_file():
        blob = torch.load(cache, weights_only=True)
        train_rows, held_rows = blob["train"], blob["heldout"]
    else:
        cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        mixed = train_lines + news * cfg.news_repeat
        order = torch.randperm(len(mixed), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
        mixed = [mixed[i] for i in order]
        train_rows = pack_lines(encode_lines(tokenizer, mixed), cfg.seq_len, cls_id, sep_id)
        held_rows = pack_lines(encode_lines(tokenizer, held_lines), cfg.seq_len, cls_id, sep_id)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            atomic_torch_save({"train": train_rows, "heldout": held_rows}, cache)
    vocab = len(tokenizer)
    counts = torch.bincount(train_rows.flatten(), minlength=vocab).double()
    counts[special_ids(tokenizer)] = 0
    unigram = torch.log((counts + 1) / (counts.sum() + vocab))
    info = {
        "corpus": str(cfg.corpus),
        "corpus_sha256": corpus_sha,
        "corpus_lines": len(lines),
        "train_lines": len(train_lines),
        "heldout_lines": len(held_lines),
        "news_texts": len(news),
        "news_sha256": news_sha,
        "news_datasets": cfg.news_datasets if news else [],
        "tokenizer_sha256": tok_sha,
        "train_rows": int(train_rows.shape[0]),
        "train_tokens_per_epoch": int(train_rows.numel()),
        "heldout_rows": int(held_rows.shape[0]),
    }
    logger.info("data ready in %.0fs: %s", time.time() - t0, info)
    return PretrainData(train_rows, held_rows, unigram.float(), info)


def special_ids(tokenizer: Any) -> list[int]:
    """Ids of the special tokens that are never masked or predicted."""
    return [tokenizer.convert_tokens_to_ids(t) for t in ("[PAD]", "[CLS]", "[SEP]", "[MASK]")]


def mask_tokens(
    ids: torch.Tensor, mask_prob: float, mask_id: int, vocab_size: int, never: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BERT masking: select ``mask_prob`` of the ordinary tokens; 80% -> [MASK], 10% random, 10% kept.

    Args:
        ids: LongTensor [B, L] of original ids.
        mask_prob: selection rate.
        mask_id: id of [MASK].
        vocab_size: size of the vocabulary (random replacements are drawn from it, specials excluded).
        never: LongTensor of special ids that are never selected.
        generator: source of randomness (seeded per step, so resuming reproduces the masks).

    Returns:
        (input ids, bool selection [B, L], target ids of the selected positions).
    """
    ordinary = ~torch.isin(ids, never)
    selected = (torch.rand(ids.shape, generator=generator) < mask_prob) & ordinary
    if not selected.any():  # guarantee at least one prediction per batch
        first = ordinary.nonzero()[:1]
        if len(first):
            selected[first[0, 0], first[0, 1]] = True
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[selected & (roll < 0.8)] = mask_id
    rand_pos = selected & (roll >= 0.8) & (roll < 0.9)
    inputs[rand_pos] = torch.randint(len(SPECIAL_TOKENS), vocab_size, (int(rand_pos.sum()),), generator=generator)
    return inputs, selected, ids[selected]


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temp file in the same folder, then ``os.replace`` (never a torn file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(text: str, path: Path) -> None:
    """Write a text file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


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
    """Mean cross-entropy over the selected positions, with the LM head applied only there."""
    hidden = model.bert(input_ids=inputs).last_hidden_state
    logits = model.cls(hidden[selected])
    return F.cross_entropy(logits.float(), targets)


@torch.no_grad()
def evaluate(model: Any, data: PretrainData, cfg: PretrainConfig, mask_id: int, never: torch.Tensor,
             device: torch.device) -> dict[str, float]:  # fmt: skip
    """Held-out MLM loss/perplexity with fixed masks, and the unigram baseline on the same positions.

    Returns:
        {"mlm_loss", "ppl", "unigram_loss", "unigram_ppl", "predicted_tokens"}.
    """
    was_training = model.training
    model.eval()
    rows = data.heldout[: cfg.eval_sequences]
    gen = torch.Generator().manual_seed(cfg.heldout_seed + 99)
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
    return {"mlm_loss": loss, "ppl": math.exp(min(loss, 50)), "unigram_loss": uloss,
            "unigram_ppl": math.exp(min(uloss, 50)), "predicted_tokens": count}  # fmt: skip


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on ``device`` when enabled, else a no-op."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def batch_rows(data: torch.Tensor, start: int, size: int, seed: int) -> torch.Tensor:
    """Rows ``start .. start+size`` of the endless, per-epoch-shuffled sequence of training rows.

    The data position is just ``start`` (sequences seen), so resuming needs no iterator state.
    """
    n = data.shape[0]
    out = []
    pos = start
    while len(out) < size:
        epoch, offset = divmod(pos, n)
        perm = _epoch_perm(n, seed, epoch)
        take = min(size - len(out), n - offset)
        out.extend(perm[offset : offset + take].tolist())
        pos += take
    return data[torch.tensor(out, dtype=torch.long)]


_PERM_CACHE: dict[tuple[int, int, int], torch.Tensor] = {}


def _epoch_perm(n: int, seed: int, epoch: int) -> torch.Tensor:
    key = (n, seed, epoch)
    if key not in _PERM_CACHE:
        _PERM_CACHE.clear()
        _PERM_CACHE[key] = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
    return _PERM_CACHE[key]


def pick_device(name: str | None = None) -> torch.device:
    """``name`` if given, else CUDA when available, else CPU."""
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class _StopFlag:
    """Set by SIGTERM/SIGINT so the loop can checkpoint before exiting."""

    def __init__(self) -> None:
        self.stop = False

    def __call__(self, signum: int, frame: Any) -> None:
        logger.warning("signal %d: stopping after this step and checkpointing", signum)
        self.stop = True


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
    stop_flag: _StopFlag | None = None,
    command: str = "",
    progress: bool = True,
) -> dict[str, Any]:
    """Pretrain (or resume) one family member until its budget, the deadline or a stop signal.

    Args:
        name: a key of ``FAMILY`` (or any name; layers then come from ``FAMILY`` lookup failing -> error).
        cfg: family config; ``cfg.budget_tokens`` may exceed a finished checkpoint's (extension).
        data: packed data.
        tokenizer: the family tokenizer.
        ckpt_dir: this model's checkpoint folder.
        device: torch device.
        deadline: ``time.time()`` after which to checkpoint and stop.
        max_steps_this_call: stop after this many steps (tests).
        stop_flag: set asynchronously to stop.
        command: command line recorded in the checkpoint history.
        progress: show a tqdm bar.

    Returns:
        The final checkpoint state (without tensors): step, tokens, done, history, eval, ...
    """
    from tqdm.auto import tqdm
    from transformers import BertForMaskedLM

    _, layers = FAMILY[name]
    ckpt_path = ckpt_dir / CHECKPOINT_NAME
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    model = BertForMaskedLM(cfg.bert_config(layers)).to(device)
    model.train()
    decay, no_decay = [], []
    for _pname, param in model.named_parameters():
        (no_decay if param.ndim < 2 else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps,
    )  # fmt: skip
    state: dict[str, Any] = {
        "model_name": name, "step": 0, "sequences_seen": 0, "wall_seconds": 0.0, "history": [], "evals": [],
        "commands": [], "done": False, "rewarm_start": None, "budget_tokens": cfg.budget_tokens,
        "device": str(device), "data_info": data.info,
    }  # fmt: skip
    if ckpt_path.is_file():
        blob = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        torch.set_rng_state(blob["rng"]["torch"])
        random.setstate(blob["rng"]["python"])
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
    total_steps = state["budget_tokens"] // cfg.tokens_per_step
    if state["step"] >= total_steps:
        state["done"] = True
        return state
    state["commands"].append(command)
    mask_id = tokenizer.mask_token_id
    never = torch.tensor(special_ids(tokenizer))
    eval_every = max(1, total_steps // cfg.eval_times) if cfg.eval_times else None

    def save() -> None:
        rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
        sched = {"total_steps": total_steps, "rewarm_start": state["rewarm_start"],
                 "rewarm_from": state.get("rewarm_from"), "last_step": state["step"]}  # fmt: skip
        payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": sched,
                   "rng": rng, "state": state, "config": cfg.to_dict()}  # fmt: skip
        atomic_torch_save(payload, ckpt_path)

    if not state["evals"]:
        state["evals"].append({"step": state["step"], **evaluate(model, data, cfg, mask_id, never, device)})
        logger.info("%s: initial held-out %s", name, state["evals"][-1])
    last_ckpt = time.time()
    started = time.time()
    wall0 = state["wall_seconds"]
    steps_done = 0
    ema: float | None = None
    bar = tqdm(total=total_steps, initial=state["step"], desc=name, disable=not progress, mininterval=20,
               dynamic_ncols=True)  # fmt: skip
    try:
        while state["step"] < total_steps:
            step = state["step"]
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * lr_multiplier(
                    step, total_steps, cfg, state["rewarm_start"], state.get("rewarm_from")
                )
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
            state["wall_seconds"] = wall0 + time.time() - started
            steps_done += 1
            ema = value if ema is None else 0.98 * ema + 0.02 * value
            state["history"].append([state["step"], round(value, 4)])
            bar.update(1)
            bar.set_postfix(loss=f"{ema:.3f}", lr=f"{optimizer.param_groups[0]['lr']:.1e}", refresh=False)
            if eval_every and state["step"] % eval_every == 0 and state["step"] < total_steps:
                state["evals"].append({"step": state["step"], **evaluate(model, data, cfg, mask_id, never, device)})
                logger.info("%s: step %d/%d held-out %s (%.0fs)", name, state["step"], total_steps,
                            _fmt_eval(state["evals"][-1]), state["wall_seconds"])  # fmt: skip
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
        logger.info("%s: finished %d steps, held-out %s", name, state["step"], _fmt_eval(state["evals"][-1]))
    save()
    return {k: v for k, v in state.items() if k != "history"} | {"history_len": len(state["history"])}


def _fmt_eval(ev: dict[str, float]) -> str:
    return f"loss {ev['mlm_loss']:.3f} ppl {ev['ppl']:.1f} (unigram ppl {ev['unigram_ppl']:.1f})"


# --------------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------------


def export_model(
    name: str, ckpt_dir: Path, tokenizer_dir: Path, out_dir: Path, data_info: dict[str, Any] | None = None
) -> Path:
    """Write a checkpoint as an fp16 ``BertForMaskedLM`` folder with tokenizer, build_info.json and card.

    The weights are stored in float16 (half the size); ``config.json`` keeps ``dtype: float32`` so
    ``from_pretrained`` computes in float32 on CPU.

    Args:
        name: a key of ``FAMILY``.
        ckpt_dir: the model's checkpoint folder.
        tokenizer_dir: the family tokenizer folder.
        out_dir: the family output folder (``models/offline``).
        data_info: data description from ``prepare_data`` (else the one stored in the checkpoint).

    Returns:
        The exported model folder.

    Raises:
        FileNotFoundError: no checkpoint yet.
    """
    from transformers import BertForMaskedLM

    folder, layers = FAMILY[name]
    ckpt_path = ckpt_dir / CHECKPOINT_NAME
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"no checkpoint for {name} at {ckpt_path}; train it first")
    blob = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    cfg = PretrainConfig.from_dict(blob["config"])
    state = blob["state"]
    bert_cfg = cfg.bert_config(layers, for_export=True)
    model = BertForMaskedLM(bert_cfg)
    model.load_state_dict(blob["model"])
    model = model.half()
    target = out_dir / folder
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".tmp-{folder}-"))
    try:
        model.save_pretrained(str(tmp))
        conf = json.loads((tmp / "config.json").read_text())
        conf["dtype"] = "float32"  # compute dtype on load; the file itself is fp16
        (tmp / "config.json").write_text(json.dumps(conf, indent=2, sort_keys=True) + "\n")
        tok = load_tokenizer(tokenizer_dir)
        tok.save_pretrained(str(tmp))
        info = build_info(name, cfg, state, data_info or state.get("data_info") or _minimal_data_info(cfg), model)
        (tmp / "build_info.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        (tmp / "README.md").write_text(model_card(info))
        os.chmod(tmp, 0o755)
        for item in tmp.iterdir():
            os.chmod(item, 0o644)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("exported %s (step %d, done=%s) -> %s", name, state["step"], state["done"], target)
    return target


def _minimal_data_info(cfg: PretrainConfig) -> dict[str, Any]:
    """Data description for checkpoints written before the full one was stored."""
    corpus = Path(cfg.corpus)
    return {"corpus": str(corpus), "corpus_sha256": sha256_file(corpus) if corpus.is_file() else None,
            "news_datasets": cfg.news_datasets}  # fmt: skip


def build_info(name: str, cfg: PretrainConfig, state: dict[str, Any], data_info: dict[str, Any],
               model: Any) -> dict[str, Any]:  # fmt: skip
    """The provenance record written next to the weights."""
    folder, layers = FAMILY[name]
    final = state["evals"][-1] if state.get("evals") else {}
    return {
        "model": folder,
        "role": name,
        "status": "complete" if state.get("done") else "partial (intermediate checkpoint)",
        "num_layers": layers,
        "parameters": sum(p.numel() for p in model.parameters()),
        "commands": state.get("commands", []),
        "seed": cfg.seed,
        "data": data_info,
        "token_budget": state.get("budget_tokens", cfg.budget_tokens),
        "tokens_seen": state["step"] * cfg.tokens_per_step,
        "steps": state["step"],
        "wall_seconds": round(state.get("wall_seconds", 0.0), 1),
        "device": state.get("device"),
        "heldout": final,
        "eval_history": state.get("evals", []),
        "config": cfg.to_dict(),
        "versions": {"torch": torch.__version__, "python": platform.python_version(), **_lib_versions()},
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _lib_versions() -> dict[str, str]:
    import tokenizers
    import transformers

    return {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def model_card(info: dict[str, Any]) -> str:
    """A short model card (README.md) from a build_info dict."""
    cfg = info["config"]
    ho = info.get("heldout") or {}
    data = info.get("data") or {}
    ev = (
        f"at step {ho['step']}: held-out MLM loss {ho['mlm_loss']:.3f}, perplexity {ho['ppl']:.1f} "
        f"(unigram baseline perplexity {ho['unigram_ppl']:.1f}) on {ho['predicted_tokens']} masked tokens"
        if ho else "not evaluated yet"
    )  # fmt: skip
    cmds = "\n".join(f"    {c}" for c in info.get("commands") or ["(unknown)"])
    return f"""---
language: mr
license: cc-by-nc-sa-4.0
tags: [bert, fill-mask, marathi, offline, marathi-prune]
---

# {info["model"]} — miniature Marathi BERT (marathi-prune offline family)

**What.** A {info["num_layers"]}-layer BERT (hidden {cfg["hidden_size"]}, {cfg["num_attention_heads"]} heads,
FFN {cfg["intermediate_size"]}, vocabulary {cfg["vocab_size"]} WordPiece, {info["parameters"] / 1e6:.1f}M parameters)
pretrained from scratch with masked-language modelling. It is one of three models built by
`python -m models.build_offline` — a 12-layer teacher and 6- and 2-layer models trained on the **same data
with the same token budget and width** — so that "pruned teacher vs. model pretrained at that depth"
(as in the MahaBERT layer-pruning paper) can be studied fully offline. Role here: **{info["role"]}**.
Status: **{info["status"]}**.

**How trained.** Masked LM ({cfg["mask_prob"]:.0%} of tokens, 80/10/10), loss on masked positions only,
packed sequences of {cfg["seq_len"]} tokens, batch {cfg["batch_size"]}, AdamW (lr {cfg["lr"]}, betas
({cfg["beta1"]}, {cfg["beta2"]}), weight decay {cfg["weight_decay"]}), {cfg["warmup_fraction"]:.0%} warm-up and a
linear cool-down over the last {cfg["decay_fraction"]:.0%} of steps, no dropout in pretraining
(config sets {cfg["export_dropout"]} for fine-tuning). {info["steps"]} steps, {info["tokens_seen"]:,} tokens
(budget {info["token_budget"]:,}), seed {info["seed"]}, {info["wall_seconds"] / 60:.0f} min on {info["device"]}.
Weights are stored in float16; `config.json` asks for float32 compute.

Command(s):

{cmds}

**Evaluation.** {ev}. The held-out slice is {cfg["heldout_fraction"]:.0%} of the corpus lines (fixed seed
{cfg["heldout_seed"]}), never trained on. See `build_info.json` for the full record.

**Data.** `{Path(data.get("corpus", "?")).name}` (sha256 `{data.get("corpus_sha256", "?")}`,
{data.get("train_lines", "?")} training lines) and {data.get("news_texts", 0)} MahaNews training-split texts
({", ".join(data.get("news_datasets") or []) or "none"}; sha256 `{data.get("news_sha256")}`), repeated
{cfg["news_repeat"]}x. No MahaNews validation or test text was used. {LICENSE_NOTE}

**Limits.** Tiny budget (minutes of CPU): far weaker than MahaBERT/MuRIL, meant for offline demos, tests and
relative comparisons inside this project, not for production. Positions beyond {cfg["seq_len"]} were never
trained. Tweets in the corpus contain abusive language; the model may reproduce it.

**Use.**

```python
from transformers import AutoModelForSequenceClassification, AutoTokenizer
tok = AutoTokenizer.from_pretrained("models/offline/{info["model"]}")
model = AutoModelForSequenceClassification.from_pretrained("models/offline/{info["model"]}", num_labels=12)
```
"""


# --------------------------------------------------------------------------------------------------
# Orchestration / CLI
# --------------------------------------------------------------------------------------------------


def resolve_config(ckpt_root: Path, overrides: dict[str, Any]) -> PretrainConfig:
    """The family config: the saved one (a run in progress) updated with allowed overrides, else new.

    Once a run exists only ``budget_tokens`` (extend), ``checkpoint_minutes``, ``eval_times`` and ``bf16``
    may change; other differing overrides raise ValueError, because they would change the tokenizer or
    the trajectory.
    """
    path = ckpt_root / FAMILY_CONFIG_NAME
    if not path.is_file():
        cfg = PretrainConfig.from_dict(overrides)
        atomic_write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", path)
        return cfg
    saved = json.loads(path.read_text())
    mutable = {"budget_tokens", "checkpoint_minutes", "eval_times", "bf16", "corpus", "news_dir"}
    for key, value in overrides.items():
        if key not in mutable and saved.get(key) != value:
            raise ValueError(
                f"{key}={value!r} differs from the run in {ckpt_root} ({saved.get(key)!r}); "
                "use another --checkpoint-dir to start a new run"
            )
    # A lower budget than the saved one is allowed: each model's checkpoint keeps its own (larger) budget,
    # so the scratch models can stop at the first rung while the teacher goes on up the ladder.
    saved.update(overrides)
    cfg = PretrainConfig.from_dict(saved)
    atomic_write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", path)
    return cfg


def build_family(
    cfg: PretrainConfig,
    names: list[str],
    ckpt_root: Path,
    out_dir: Path,
    *,
    device: torch.device,
    max_minutes: float | None = None,
    export_only: bool = False,
    command: str = "",
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Tokenizer, then each model in order (train or resume, export when finished).

    Args:
        cfg: family config.
        names: keys of ``FAMILY`` in training order.
        ckpt_root: checkpoint root (tokenizer in ``tokenizer/``, one folder per model).
        out_dir: export folder.
        device: torch device.
        max_minutes: stop cleanly (checkpoint) after this many minutes.
        export_only: export existing checkpoints without training.
        command: recorded command line.
        progress: tqdm bars.

    Returns:
        Per model: its checkpoint state summary (and "exported" path when exported).
    """
    tokenizer_dir = ckpt_root / "tokenizer"
    results: dict[str, dict[str, Any]] = {}
    if export_only:
        for name in names:
            ckpt_dir = ckpt_root / FAMILY[name][0]
            if (ckpt_dir / CHECKPOINT_NAME).is_file():
                results[name] = {"exported": str(export_model(name, ckpt_dir, tokenizer_dir, out_dir))}
            else:
                logger.warning("%s: no checkpoint in %s, nothing to export", name, ckpt_dir)
        return results
    data = prepare_data(cfg, tokenizer_dir, cache_dir=ckpt_root / "cache")
    tokenizer = load_tokenizer(tokenizer_dir)
    deadline = time.time() + max_minutes * 60 if max_minutes else None
    stop = _StopFlag()
    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for name in names:
            ckpt_dir = ckpt_root / FAMILY[name][0]
            state = train_model(name, cfg, data, tokenizer, ckpt_dir, device=device, deadline=deadline,
                                stop_flag=stop, command=command, progress=progress)  # fmt: skip
            _store_data_info(ckpt_dir, data.info)
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


def _store_data_info(ckpt_dir: Path, info: dict[str, Any]) -> None:
    """Add the data description to a checkpoint so ``--export-only`` can record it."""
    path = ckpt_dir / CHECKPOINT_NAME
    blob = torch.load(path, map_location="cpu", weights_only=False)
    if blob["state"].get("data_info") != info:
        blob["state"]["data_info"] = info
        atomic_torch_save(blob, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m models.build_offline", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="teacher,small,smaller", help="comma list of teacher,small,smaller")
    p.add_argument("--budget-tokens", type=int, help="tokens per model (larger than the saved one: extend)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--export-only", action="store_true", help="write current checkpoints to --out-dir and exit")
    p.add_argument("--max-minutes", type=float, help="stop cleanly and checkpoint after this many minutes")
    p.add_argument("--corpus", help=f"corpus file (default {DEFAULT_CORPUS})")
    p.add_argument("--news-dir", help=f"MahaNews folder (default {DEFAULT_NEWS_DIR})")
    p.add_argument("--no-news", action="store_true", help="pretrain on the corpus only")
    p.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CKPT_DIR, help="checkpoint root")
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="export folder")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any PretrainConfig field (JSON value), e.g. --set hidden_size=192")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    bad = [n for n in names if n not in FAMILY]
    if bad:
        raise SystemExit(f"unknown --models {bad}; valid: {list(FAMILY)}")
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    for key, value in (("budget_tokens", args.budget_tokens), ("corpus", args.corpus), ("news_dir", args.news_dir),
                       ("seed", args.seed)):  # fmt: skip
        if value is not None:
            overrides[key] = value
    if args.no_news:
        overrides["news_datasets"] = []
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "models.build_offline", *(argv or sys.argv[1:])])
    ckpt_root = args.checkpoint_dir.expanduser()
    if args.export_only:
        results = build_family(PretrainConfig(), names, ckpt_root, args.out_dir, device=torch.device("cpu"),
                               export_only=True)  # fmt: skip
    else:
        cfg = resolve_config(ckpt_root, overrides)
        device = pick_device(args.device)
        logger.info("device %s, %d threads, config %s", device, torch.get_num_threads(), cfg.to_dict())
        results = build_family(cfg, names, ckpt_root, args.out_dir, device=device, max_minutes=args.max_minutes,
                               command=command, progress=not args.quiet)  # fmt: skip
    for name, res in results.items():
        ev = (res.get("evals") or [{}])[-1]
        line = f"{name}: step {res.get('step', '-')} done={res.get('done', '-')}"
        if ev:
            line += f" {_fmt_eval(ev)}"
        if "exported" in res:
            line += f" -> {res['exported']}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
