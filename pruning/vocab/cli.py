"""`python -m pruning vocab`: cut a model's vocabulary (and optionally its layers) to a corpus, save it.

The saved folder is a normal ``save_pretrained`` model (its own head: masked LM for a base, classifier for a
fine-tuned variant) plus ``vocab.json``; every other command takes it as ``--model DIR``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ..config import DATASETS
from ..data import load_mahanews
from ..importance import compute_layer_scores
from ..strategies import STRATEGIES, select_layers
from ..surgery import num_layers, prune_layers
from .corpus import corpus_sha256, read_corpus
from .prune import RECORD_FILE, prune_vocabulary, save_pruned, unchanged_share

MB = 1_000_000  # decimal megabytes, as the bench reports sizes
# Layers to score for --strategy contribution: enough corpus lines for a stable mean, a few seconds of CPU.
SCORE_TEXTS = 512

Resolver = Callable[[str, "str | None"], str]


def add_vocab_parser(sub, resolve: Resolver) -> None:
    """Register ``vocab``; ``resolve(name, cache_dir)`` turns --model into a loadable name or one-line error."""
    p = sub.add_parser("vocab", help="keep only the tokens a corpus uses (smaller embedding); saves a model folder")
    p.add_argument("--model", required=True, help="catalog name, Hub id, model folder or cached variant")
    p.add_argument("--corpus", required=True, type=Path, help="UTF-8 text file, one text a line")
    p.add_argument("--out", required=True, type=Path, help="folder to write (replaced only if it holds vocab.json)")
    p.add_argument("--min-count", type=int, default=1, help="keep tokens seen at least N times (default 1)")
    p.add_argument(
        "--add-train",
        type=str.upper,
        choices=list(DATASETS),
        help="also keep this dataset's training tokens, and report the share of its test texts tokenized unchanged",
    )
    p.add_argument("--data-dir", help="MahaNews folder for --add-train")
    p.add_argument("--keep", type=int, help="first cut the encoder to K layers")
    strategies = [s for s in STRATEGIES if s != "custom"]
    p.add_argument("--strategy", choices=strategies, help="which layers --keep keeps (default top)")
    p.add_argument("--cache-dir", help="variant cache, for --model given as a cached variant's name")
    p.set_defaults(func=partial(cmd_vocab, resolve=resolve))


def _check_out(out: Path) -> None:
    """Refuse to replace a folder that is not an earlier ``vocab`` output: --out is removed and rewritten."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / RECORD_FILE).is_file())):
        raise ValueError(f"--out {out} exists and is not a vocabulary-pruned model folder; choose a new folder")


def cmd_vocab(args: argparse.Namespace, resolve: Resolver) -> int:
    from models import load_pretrained

    if args.strategy and args.keep is None:
        raise ValueError("--strategy needs --keep K, the number of layers to keep")
    _check_out(args.out)
    name = resolve(args.model, args.cache_dir)
    sha = corpus_sha256(args.corpus)  # the corpus and data fail fast, before a slow model load
    texts = read_corpus(args.corpus)
    train: list[str] = []
    test: list[str] = []
    if args.add_train:
        data, _ = load_mahanews(args.add_train, args.data_dir)
        train, test = list(data["train"]["text"]), list(data["test"]["text"])
    loaded = load_pretrained(name)
    model, original = loaded.model, loaded.tokenizer
    depth = num_layers(model)
    params_original = model.num_parameters()
    plan = None
    if args.keep is not None:
        strategy = args.strategy or "top"
        scores = None
        if strategy == "contribution":
            scores = compute_layer_scores(model, original, texts[:SCORE_TEXTS], show_progress=False).by("cls")
        plan = select_layers(strategy, depth, keep=args.keep, scores=scores)
        if plan.keep < depth:
            prune_layers(model, plan.kept, strategy=strategy, base_model=args.model)
    tokenizer, report = prune_vocabulary(model, original, texts + train, min_count=args.min_count)
    unchanged = unchanged_share(original, tokenizer, test) if test else None
    record = {
        "base_model": args.model,
        "source": loaded.source,
        "revision": loaded.revision,
        "weights": loaded.weights,
        "architecture": type(model).__name__,
        "corpus": str(args.corpus),
        "corpus_sha256": sha,
        "add_train": args.add_train,
        "train_texts": len(train),
        "layers": plan.to_dict() if plan else None,
        "params_original": params_original,
        "test_unchanged_share": unchanged,
        **report.to_dict(),
    }
    out = save_pruned(args.out, model, tokenizer, record)
    summary = {
        "out": str(out),
        "model": args.model,
        "weights": loaded.weights,
        "architecture": record["architecture"],
        "layers": {"before": depth, "after": num_layers(model)},
        "tokens": {"before": report.tokens_before, "after": report.tokens_after},
        "params": {"original": params_original, "after": report.params_after},
        "mb_fp32": {"original": round(params_original * 4 / MB, 1), "after": round(report.bytes_fp32_after / MB, 1)},
        "min_count": report.min_count,
        "corpus_texts": len(texts),
        "train_texts": len(train),
        "coverage": round(report.coverage, 6),
        **({"test_unchanged_share": round(unchanged, 6)} if unchanged is not None else {}),
    }
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    return 0
