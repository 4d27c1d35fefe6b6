"""Vocabulary pruning: keep only the word-embedding rows that Marathi text uses.

Why: MahaBERT-v2 and MuRIL share a 197,285-token WordPiece vocabulary for 17 languages. Its embedding
(152M of 238M parameters) is untouched by layer pruning, so a 6-layer MahaBERT-v2 still weighs ~780 MB
fp32, more than MahaBERT-Small (334 MB). Marathi text uses a small part of the vocabulary; dropping the
rows it never uses (TextPruner's ``VocabularyPruner``) keeps every pretrained layer and most of the file goes.

How: tokenize a corpus, keep the special and added tokens plus every token seen (at least ``min_count``
times), take those rows of the word embedding (and of a masked-LM decoder), and rewrite the tokenizer's
JSON with the kept tokens renumbered in their old order.

Why the tokens stay the same: WordPiece splits each word greedily, longest vocabulary match first. A word
whose pieces are all kept is split the same way afterwards: each piece chosen before is still there, and
no longer match can appear because the new vocabulary is a subset of the old one. A word that needed a
dropped piece is split into other kept pieces, or becomes one ``[UNK]`` when none fit (WordPiece never
half-splits a word); ``unchanged_share`` measures how often either happens on held-out text.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.loading import MODEL_INIT_LOCK
from models.store import atomic_dir, atomic_write_json

from .corpus import BATCH_TEXTS, token_counts

logger = logging.getLogger(__name__)

RECORD_FILE = "vocab.json"
# Where a vocabulary-pruned model records how it was made (and so in its config.json), like surgery's
# ``config.pruning``.
PROVENANCE_KEY = "vocab_pruning"
# Config attributes that hold token ids and must follow the renumbering.
TOKEN_ID_CONFIG_KEYS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id")
FP32_BYTES = 4


@dataclass
class VocabReport:
    """What vocabulary pruning kept and what it saved.

    Args:
        tokens_before, tokens_after (int): vocabulary sizes (embedding rows).
        params_before, params_after (int): parameters of the model (tied weights once).
        min_count (int): a token was kept when seen at least this often (special tokens always).
        corpus_texts (int): texts tokenized.
        corpus_tokens (int): token occurrences in them, special tokens aside.
        coverage (float): share of those occurrences whose token was kept (1.0 unless ``min_count`` > 1).
        kept_ids (list[int]): old ids of the kept tokens; new id ``i`` was old id ``kept_ids[i]``.
        kept_tokens (list[str]): the kept tokens, in new-id order.
    """

    tokens_before: int
    tokens_after: int
    params_before: int
    params_after: int
    min_count: int
    corpus_texts: int
    corpus_tokens: int
    coverage: float
    kept_ids: list[int] = field(default_factory=list, repr=False)
    kept_tokens: list[str] = field(default_factory=list, repr=False)

    @property
    def bytes_fp32_before(self) -> int:
        return self.params_before * FP32_BYTES

    @property
    def bytes_fp32_after(self) -> int:
        return self.params_after * FP32_BYTES

    def summary(self) -> dict[str, Any]:
        """Sizes and coverage without the token lists (for variant records and printed results)."""
        data = {k: v for k, v in asdict(self).items() if k not in ("kept_ids", "kept_tokens")}
        return data | {"bytes_fp32_before": self.bytes_fp32_before, "bytes_fp32_after": self.bytes_fp32_after}

    def to_dict(self) -> dict[str, Any]:
        return self.summary() | {"kept_ids": list(self.kept_ids), "kept_tokens": list(self.kept_tokens)}


def _backend_spec(tokenizer) -> dict:
    """The tokenizer's ``tokenizers`` JSON; ValueError unless it is a fast WordPiece tokenizer."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError(
            f"{type(tokenizer).__name__} is not a fast tokenizer; vocabulary pruning edits the `tokenizers` "
            "JSON of a fast WordPiece tokenizer (load it with AutoTokenizer)"
        )
    spec = json.loads(backend.to_str())
    kind = spec.get("model", {}).get("type")
    if kind != "WordPiece":
        raise ValueError(
            f"vocabulary pruning supports WordPiece tokenizers (BERT, MuRIL, MahaBERT), got a {kind} tokenizer"
        )
    return spec


def kept_ids(tokenizer, counts: np.ndarray, min_count: int = 1) -> list[int]:
    """Old ids to keep, ascending: special and added tokens, and every token seen ``min_count`` times.

    Raises:
        ValueError: no token beyond the special ones reaches ``min_count`` (the corpus covers nothing).
    """
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a positive integer, got {min_count!r}")
    special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    seen = {int(i) for i in np.flatnonzero(counts >= min_count)} - special
    if not seen:
        raise ValueError(
            f"the corpus covers no token beyond the special ones (at least {min_count} times): the tokenizer turns "
            "it into [UNK] only, e.g. Latin text under a Devanagari vocabulary; give text in the model's languages"
        )
    return sorted(special | seen)


def _remap_processor(proc: dict | None, new_id: dict[str, int]) -> None:
    """Point the post-processor's [CLS]/[SEP] (and friends) at their new ids, in place."""
    if proc is None:
        return
    kind = proc.get("type")
    if kind == "Sequence":
        for inner in proc["processors"]:
            _remap_processor(inner, new_id)
    elif kind == "TemplateProcessing":
        for special in proc["special_tokens"].values():
            special["ids"] = [new_id[token] for token in special["tokens"]]
    elif kind in ("BertProcessing", "RobertaProcessing"):
        for name in ("sep", "cls"):
            proc[name][1] = new_id[proc[name][0]]
    elif kind != "ByteLevel":  # ByteLevel holds no ids
        raise ValueError(f"cannot renumber a {kind} post-processor; vocabulary pruning supports BERT's")


def pruned_tokenizer(tokenizer, keep: Sequence[int]):
    """A new tokenizer holding only the old ids ``keep`` (ascending), renumbered 0.. in that order.

    The WordPiece settings (unknown token, ``##`` prefix, normalizer, pre-tokenizer) are untouched, so it
    splits text the same way wherever the pieces it needs were kept. It is written and read back through
    ``save_pretrained``/``AutoTokenizer``: the exact path a saved pruned model takes when it is loaded.
    """
    spec = _backend_spec(tokenizer)
    token_of = {i: t for t, i in spec["model"]["vocab"].items()}
    token_of |= {added["id"]: added["content"] for added in spec["added_tokens"]}
    tokens = [token_of[i] for i in keep]
    new_id = {token: n for n, token in enumerate(tokens)}
    spec["model"]["vocab"] = {t: new_id[t] for t in tokens if t in spec["model"]["vocab"]}
    if spec["model"]["unk_token"] not in new_id:
        raise ValueError(f"the unknown token {spec['model']['unk_token']!r} must be kept")
    for added in spec["added_tokens"]:
        added["id"] = new_id[added["content"]]
    _remap_processor(spec.get("post_processor"), new_id)
    if spec.get("padding"):
        spec["padding"]["pad_id"] = new_id[spec["padding"]["pad_token"]]
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="vocab-") as tmp:
        tokenizer.save_pretrained(tmp)
        (Path(tmp) / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        vocab_txt = Path(tmp) / "vocab.txt"  # a slow-tokenizer copy must not contradict tokenizer.json
        if vocab_txt.exists():
            vocab_txt.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
        config_file = Path(tmp) / "tokenizer_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8"))
        if config.get("added_tokens_decoder"):
            decoder = config["added_tokens_decoder"]
            config["added_tokens_decoder"] = {str(new_id[v["content"]]): v for v in decoder.values()}
            config_file.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
        with MODEL_INIT_LOCK:
            new = AutoTokenizer.from_pretrained(tmp)
    for name, old in zip(tokenizer.all_special_tokens, tokenizer.all_special_ids, strict=True):
        if new.convert_tokens_to_ids(name) != new_id[token_of[old]]:
            raise RuntimeError(f"special token {name} did not follow the renumbering")
    return new


def _slice_embeddings(model: nn.Module, keep: torch.Tensor) -> None:
    """Keep rows ``keep`` of the word embedding and of a masked-LM decoder (weight and bias), in place.

    A decoder that shared the embedding's weight shares the new one: weight tying survives.
    """
    old_in = model.get_input_embeddings()
    old_out = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if not isinstance(old_in, nn.Embedding):
        raise ValueError(f"{type(model).__name__} has no nn.Embedding input embedding to prune")
    remap = {int(old): new for new, old in enumerate(keep.tolist())}
    pad = remap.get(old_in.padding_idx) if old_in.padding_idx is not None else None
    rows = keep.to(old_in.weight.device)
    new_in = nn.Embedding(len(keep), old_in.embedding_dim, padding_idx=pad)
    new_in.weight = nn.Parameter(old_in.weight.detach().index_select(0, rows).clone())  # (kept, hidden)
    model.set_input_embeddings(new_in)
    if old_out is not None:
        if not isinstance(old_out, nn.Linear):
            raise ValueError(f"cannot prune a {type(old_out).__name__} output layer; expected nn.Linear")
        tied = old_out.weight is old_in.weight
        new_out = nn.Linear(old_out.in_features, len(keep), bias=old_out.bias is not None)
        rows = keep.to(old_out.weight.device)
        new_out.weight = new_in.weight if tied else nn.Parameter(old_out.weight.detach().index_select(0, rows).clone())
        if old_out.bias is not None:  # BERT's MLM bias; set_output_embeddings re-links cls.predictions.bias
            new_out.bias = nn.Parameter(old_out.bias.detach().index_select(0, rows).clone())
        model.set_output_embeddings(new_out)
    config = model.config
    config.vocab_size = len(keep)
    for key in TOKEN_ID_CONFIG_KEYS:
        old = getattr(config, key, None)
        if isinstance(old, int):
            setattr(config, key, remap.get(old))


def prune_vocabulary(model: nn.Module, tokenizer, texts: Sequence[str], *, min_count: int = 1):
    """Cut ``model``'s vocabulary to the tokens ``texts`` use; the model changes in place.

    Args:
        model: a BERT-family model (classifier or masked LM), pruned or not.
        tokenizer: its fast WordPiece tokenizer (left unchanged).
        texts: the corpus; include the training split so no training token is lost.
        min_count: keep tokens seen at least this often (special and added tokens always).

    Returns:
        (new tokenizer, VocabReport).

    Raises:
        ValueError: a non-WordPiece or slow tokenizer, an empty corpus, a corpus that covers nothing beyond
            the special tokens, or a tokenizer larger than the model's embedding.
    """
    _backend_spec(tokenizer)
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise ValueError("the corpus is empty: give at least one non-empty text")
    rows = model.get_input_embeddings().num_embeddings
    counts = token_counts(tokenizer, texts)
    if len(counts) > rows:
        raise ValueError(f"the tokenizer has ids up to {len(counts) - 1} but the model only {rows} embedding rows")
    keep = kept_ids(tokenizer, counts, min_count)
    params_before = model.num_parameters()
    new_tokenizer = pruned_tokenizer(tokenizer, keep)
    _slice_embeddings(model, torch.tensor(keep, dtype=torch.long))
    special = set(tokenizer.all_special_ids)
    corpus = counts.copy()
    corpus[list(special)] = 0
    covered = int(corpus[keep].sum())
    report = VocabReport(
        tokens_before=rows,
        tokens_after=len(keep),
        params_before=params_before,
        params_after=model.num_parameters(),
        min_count=min_count,
        corpus_texts=len(texts),
        corpus_tokens=int(corpus.sum()),
        coverage=covered / max(1, int(corpus.sum())),
        kept_ids=keep,
        kept_tokens=new_tokenizer.convert_ids_to_tokens(list(range(len(keep)))),
    )
    previous = getattr(model.config, PROVENANCE_KEY, None) or {}
    setattr(
        model.config,
        PROVENANCE_KEY,
        {
            "tokens_before": previous.get("tokens_before", rows),
            "tokens_after": len(keep),
            "min_count": min_count,
        },
    )
    logger.info("vocabulary %d -> %d tokens, %d -> %d parameters", rows, len(keep), params_before, report.params_after)
    return new_tokenizer, report


def unchanged_share(original, pruned, texts: Sequence[str]) -> float:
    """Share of ``texts`` that the pruned tokenizer splits into the same token strings as the original.

    A word that needed a dropped token is split into other kept pieces or becomes ``[UNK]``; a text with
    such a word counts as changed. This is the figure to read on held-out text (e.g. test headlines).
    """
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise ValueError("no text to compare: give at least one non-empty text")
    same = 0
    for start in range(0, len(texts), BATCH_TEXTS):
        batch = list(texts[start : start + BATCH_TEXTS])
        a = original(batch, add_special_tokens=False, truncation=False, verbose=False)
        b = pruned(batch, add_special_tokens=False, truncation=False, verbose=False)
        same += sum(a.tokens(i) == b.tokens(i) for i in range(len(batch)))
    return same / len(texts)


def save_pruned(out: str | os.PathLike, model: nn.Module, tokenizer, record: dict[str, Any]) -> Path:
    """Write model, tokenizer and ``vocab.json`` into ``out`` atomically (all of it or nothing)."""
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / RECORD_FILE, record)
    return Path(out)
