"""Pretraining data: read the corpus, hold out lines, tokenise and pack, then batch and mask.

Every step of the trajectory is a pure function of the config and the step number: the rows of step
``s`` come from ``batch_rows(train, s * batch_size, ...)`` (a per-epoch permutation seeded by the
epoch) and its masks from a generator seeded by ``s``. Resuming therefore needs no iterator state,
only the step, and a run continues identically on another machine.

The packed rows of a run are cached in ``<root>/cache/packed-<key>.pt`` and the run's data
description is pinned in ``<root>/cache/run-data.json``: once a run has started it keeps its own
data, even on a machine without the corpus or the MahaNews files (a run restored with ``--unpack``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from models.store import atomic_torch_save, atomic_write_json

from .config import SPECIAL_TOKENS, PretrainConfig
from .tokenizer import load_tokenizer, special_ids, train_tokenizer

logger = logging.getLogger(__name__)

RUN_DATA_NAME = "run-data.json"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_texts(texts: Sequence[str]) -> str:
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


def pack_lines(token_lines: list[list[int]], seq_len: int, cls_id: int, sep_id: int) -> torch.Tensor:
    """Pack tokenised lines, each followed by [SEP], into rows of ``[CLS] + (seq_len - 1)`` tokens.

    Packing wastes no positions on padding, which matters when every token of a small budget counts.

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
    """Packed training and held-out rows plus what is needed to describe and score them.

    Args:
        train (torch.Tensor): LongTensor [rows, seq_len] of training rows.
        heldout (torch.Tensor): LongTensor [rows, seq_len] of held-out rows (never trained on).
        unigram_logprob (torch.Tensor): [vocab] add-one unigram log-probabilities of the training rows,
            the baseline an MLM must beat.
        info (dict): provenance (corpus/news/tokenizer sha256, line and row counts).
    """

    train: torch.Tensor
    heldout: torch.Tensor
    unigram_logprob: torch.Tensor
    info: dict[str, Any]


def packed_key(info: dict[str, Any], cfg: PretrainConfig) -> str:
    """Cache key of the packed rows: the data's hashes and the config fields that shape the packing."""
    fields = [info["corpus_sha256"], info["news_sha256"], info["tokenizer_sha256"], cfg.seed, cfg.seq_len]
    fields += [cfg.news_repeat, cfg.heldout_fraction, cfg.heldout_seed]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


def packed_path(cache_dir: Path, info: dict[str, Any], cfg: PretrainConfig) -> Path:
    """Where the packed rows described by ``info`` are cached."""
    return Path(cache_dir) / f"packed-{packed_key(info, cfg)}.pt"


def unigram_logprob(train_rows: torch.Tensor, tokenizer: Any) -> torch.Tensor:
    """Add-one unigram log-probabilities of the training rows, special tokens excluded."""
    vocab = len(tokenizer)
    counts = torch.bincount(train_rows.flatten(), minlength=vocab).double()
    counts[special_ids(tokenizer)] = 0
    return torch.log((counts + 1) / (counts.sum() + vocab)).float()


def read_run_data(cache_dir: Path | None) -> dict[str, Any] | None:
    """The data description pinned by a run (None when the run has none yet)."""
    path = Path(cache_dir) / RUN_DATA_NAME if cache_dir is not None else None
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_run_data(cache_dir: Path, info: dict[str, Any]) -> None:
    """Pin a run's data description next to its packed rows."""
    atomic_write_json(Path(cache_dir) / RUN_DATA_NAME, info, indent=2)


def _pinned_data(cfg: PretrainConfig, tokenizer_dir: Path, cache_dir: Path | None) -> PretrainData | None:
    """The run's own packed data, if it was pinned, its tokenizer is unchanged and its rows are cached."""
    info = read_run_data(cache_dir)
    tok_file = tokenizer_dir / "tokenizer.json"
    if info is None or not tok_file.is_file() or sha256_file(tok_file) != info.get("tokenizer_sha256"):
        return None
    path = packed_path(cache_dir, info, cfg)
    if not path.is_file():
        return None
    corpus = Path(cfg.corpus)
    if corpus.is_file() and sha256_file(corpus) != info.get("corpus_sha256"):
        logger.warning("%s differs from the corpus this run started with; the run keeps its own data", corpus)
    blob = torch.load(path, weights_only=True)
    tokenizer = load_tokenizer(tokenizer_dir)
    logger.info("data: the run's packed rows %s (%d train rows)", path.name, blob["train"].shape[0])
    return PretrainData(blob["train"], blob["heldout"], unigram_logprob(blob["train"], tokenizer), info)


def prepare_data(
    cfg: PretrainConfig,
    tokenizer_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    *,
    news: Sequence[str] = (),
) -> PretrainData:
    """Read the corpus (+ news), train or reuse the tokenizer, tokenise and pack.

    A run that has already pinned its data in ``cache_dir`` gets exactly that data back (the corpus
    and ``news`` are then not read), so resuming never depends on the files of the machine.

    Args:
        cfg: the family config.
        tokenizer_dir: where the tokenizer is (or will be) saved; an existing one is reused.
        cache_dir: folder for the packed rows and the pinned data description (None: no cache).
        news: MahaNews *training-split* texts to mix in (the caller loads them; empty: corpus only).

    Returns:
        PretrainData.

    Raises:
        FileNotFoundError: the corpus is missing and the run has no pinned data.
        ValueError: the saved tokenizer is larger than ``cfg.vocab_size``.
    """
    t0 = time.time()
    tokenizer_dir = Path(tokenizer_dir)
    cache_dir = Path(cache_dir) if cache_dir is not None else None
    pinned = _pinned_data(cfg, tokenizer_dir, cache_dir)
    if pinned is not None:
        return pinned
    lines = read_corpus(cfg.corpus)
    corpus_sha = sha256_file(cfg.corpus)
    train_lines, held_lines = split_heldout(lines, cfg.heldout_fraction, cfg.heldout_seed)
    news = [unicodedata.normalize("NFC", t) for t in news if t and t.strip()]
    news_sha = sha256_texts(news) if news else None
    if (tokenizer_dir / "tokenizer.json").is_file():
        tokenizer = load_tokenizer(tokenizer_dir)
    else:
        tokenizer = train_tokenizer(train_lines + news, cfg.vocab_size, tokenizer_dir, cfg.max_position_embeddings)
    tok_sha = sha256_file(tokenizer_dir / "tokenizer.json")
    if len(tokenizer) > cfg.vocab_size:
        raise ValueError(f"tokenizer in {tokenizer_dir} has {len(tokenizer)} tokens > vocab_size={cfg.vocab_size}")
    hashes = {"corpus_sha256": corpus_sha, "news_sha256": news_sha, "tokenizer_sha256": tok_sha}
    cache = packed_path(cache_dir, hashes, cfg) if cache_dir is not None else None
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
            atomic_torch_save({"train": train_rows, "heldout": held_rows}, cache)
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
    if cache_dir is not None:
        write_run_data(cache_dir, info)
    logger.info("data ready in %.0fs: %s", time.time() - t0, info)
    return PretrainData(train_rows, held_rows, unigram_logprob(train_rows, tokenizer), info)


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
        (input ids [B, L], bool selection [B, L], target ids [n_selected] of the selected positions).
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


def batch_rows(data: torch.Tensor, start: int, size: int, seed: int) -> torch.Tensor:
    """Rows ``start .. start+size`` of the endless, per-epoch-shuffled sequence of training rows.

    The data position is just ``start`` (sequences seen), so resuming needs no iterator state.
    """
    n = data.shape[0]
    out: list[int] = []
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
    """The row order of one epoch (one permutation kept: the loop walks epochs in order)."""
    key = (n, seed, epoch)
    if key not in _PERM_CACHE:
        _PERM_CACHE.clear()
        _PERM_CACHE[key] = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
    return _PERM_CACHE[key]
