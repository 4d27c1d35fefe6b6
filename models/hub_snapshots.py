"""Hugging Face cache snapshots of the catalog's Hub models, built offline with random weights.

Why: on a Space the app loads ``l3cube-pune/marathi-bert-v2`` and friends through ``from_pretrained``
and the Hub cache; the machines this project is built on cannot reach the Hub. This module writes, under
``DIR/hub``, the cache layout ``huggingface_hub`` reads::

    DIR/hub/models--l3cube-pune--marathi-bert-v2/
        refs/main                    the snapshot's commit hash (no newline, as the Hub client writes it)
        blobs/<sha256 or git sha1>   file contents
        snapshots/<commit>/<file>    relative symlinks into blobs/

for each Hub model of ``models.catalog`` (kinds ``base`` and ``scratch``), each with its true shape
(layers, width, heads, vocabulary size, positions), a cased WordPiece tokenizer of its true vocabulary
size and random fp32 weights. Then ``HF_HOME=DIR HF_HUB_OFFLINE=1`` makes the product load them by
their Hub ids through the normal code path. They exercise loading, memory and speed only: any figure
from them is "random weights (shape only)".

Tokenizers: MuRIL and MahaBERT-v2 get MuRIL's real vocabulary (``../shared/models/muril-vocab.txt``,
197,285 tokens); MahaBERT-Small/-Smaller a 52,000-token WordPiece trained on the shared Marathi corpus
(padded with ``[unused*]`` tokens if the corpus yields fewer). Files are the classic BERT repository
set: ``vocab.txt`` + ``tokenizer_config.json`` + ``special_tokens_map.json`` (no ``tokenizer.json``),
so the slow-to-fast conversion a real repository may need runs too.

Run ``python -m models.hub_snapshots DIR [--models mahabert-v2 ...]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .catalog import CATALOG, ModelSpec
from .store import TMP_PREFIX, atomic_write_text

logger = logging.getLogger(__name__)

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
MURIL_VOCAB = SHARED_DIR / "models" / "muril-vocab.txt"
CORPUS = SHARED_DIR / "data" / "marathi-corpus" / "corpus.txt"
HUB_KINDS = ("base", "scratch")
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# The first line of every model card: what these snapshots are, before anything else is read.
CARD_FIRST_LINE = (
    "**Random weights (shape only).** This snapshot stands in for `{hub_id}` only to exercise loading, "
    "memory and speed: its weights are random and its predictions mean nothing."
)
SNAPSHOT_FILES = (
    "config.json",
    "model.safetensors",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "README.md",
)


def hub_specs(names: Sequence[str] | None = None) -> list[ModelSpec]:
    """The catalog's Hub models (all of them, or those named), in catalog order.

    Raises:
        ValueError: a name that is not a Hub model of the catalog (lists the valid ones).
    """
    valid = [name for name, spec in CATALOG.items() if spec.kind in HUB_KINDS]
    unknown = [n for n in names or () if n not in valid]
    if unknown:
        raise ValueError(f"not Hub models of the catalog: {unknown}; valid: {', '.join(valid)}")
    return [CATALOG[n] for n in (names or valid)]


def repo_dir(hub_cache: str | os.PathLike, hub_id: str) -> Path:
    """``<hub_cache>/models--owner--name``, the folder ``huggingface_hub`` keeps a model repository in."""
    return Path(hub_cache) / ("models--" + hub_id.replace("/", "--"))


def snapshot_dir(hub_cache: str | os.PathLike, hub_id: str) -> Path | None:
    """The snapshot ``refs/main`` points at, or None when there is none (yet)."""
    ref = repo_dir(hub_cache, hub_id) / "refs" / "main"
    if not ref.is_file():
        return None
    folder = repo_dir(hub_cache, hub_id) / "snapshots" / ref.read_text().strip()
    return folder if folder.is_dir() else None


def _is_complete(hub_cache: Path, hub_id: str) -> bool:
    folder = snapshot_dir(hub_cache, hub_id)
    return folder is not None and all((folder / name).is_file() for name in SNAPSHOT_FILES)


# ----------------------------------------------------------------------------- vocabularies ---


def read_vocab(path: str | os.PathLike, size: int) -> list[str]:
    """Tokens of a ``vocab.txt``, one a line, checked against the expected size.

    Raises:
        FileNotFoundError: the file is missing (with where it should come from).
        ValueError: it holds another number of tokens than `size`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary {path} not found; it ships in ../shared/models beside the checkout")
    tokens = path.read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    if len(tokens) != size:
        raise ValueError(f"{path} holds {len(tokens)} tokens, expected {size}")
    return tokens


def trained_vocab(corpus: str | os.PathLike, size: int) -> list[str]:
    """A cased WordPiece vocabulary of exactly `size` tokens trained on `corpus` (one text a line).

    Special tokens come first ([PAD] 0 ... [MASK] 4); when the corpus yields fewer tokens than `size`,
    ``[unused<i>]`` tokens fill the rest so the embedding matrix has the real model's shape.

    Raises:
        FileNotFoundError: the corpus is missing.
    """
    from tokenizers import BertWordPieceTokenizer

    corpus = Path(corpus)
    if not corpus.is_file():
        raise FileNotFoundError(f"corpus {corpus} not found; it ships in ../shared/data beside the checkout")
    tok = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    tok.train([str(corpus)], vocab_size=size, min_frequency=2, special_tokens=SPECIAL_TOKENS, show_progress=False)
    by_id = sorted(tok.get_vocab().items(), key=lambda item: item[1])
    tokens = [token for token, _ in by_id][:size]
    pad = size - len(tokens)
    if pad:
        logger.info("corpus gave %d WordPiece tokens; padding with %d [unused*] tokens", len(tokens), pad)
    return tokens + [f"[unused{i}]" for i in range(pad)]


def vocab_for(spec: ModelSpec, corpus: str | os.PathLike = CORPUS) -> list[str]:
    """MuRIL's real vocabulary for the 197,285-token models, a trained one for the others."""
    if spec.vocab_size == 197285:
        return read_vocab(MURIL_VOCAB, spec.vocab_size)
    return trained_vocab(corpus, spec.vocab_size)


# --------------------------------------------------------------------------------- files -----


def _tokenizer_files(tokens: list[str], max_length: int) -> dict[str, str]:
    special = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]"}
    special["mask_token"] = "[MASK]"
    # Cased: lower-casing would also strip accents, which deletes Devanagari vowel signs.
    config = {
        "do_lower_case": False,
        "strip_accents": False,
        "tokenize_chinese_chars": True,
        "model_max_length": max_length,
        "tokenizer_class": "BertTokenizer",
        **special,
    }
    return {
        "vocab.txt": "\n".join(tokens) + "\n",
        "tokenizer_config.json": json.dumps(config, indent=2) + "\n",
        "special_tokens_map.json": json.dumps(special, indent=2) + "\n",
    }


def model_card(spec: ModelSpec, vocab_note: str) -> str:
    """The README.md of a snapshot; its first line says the weights are random."""
    return "\n".join(
        [
            CARD_FIRST_LINE.format(hub_id=spec.source),
            "",
            f"# Stand-in for {spec.source} (random weights)",
            "",
            "Written offline by `python -m models.hub_snapshots` (marathi-prune) for machines that cannot reach "
            "the Hugging Face Hub. Only the shape is real:",
            "",
            f"- {spec.num_layers} layers, hidden size {spec.hidden_size}, {spec.num_attention_heads} heads, "
            f"FFN {spec.intermediate_size}, {spec.max_position_embeddings} positions",
            f"- vocabulary: {spec.vocab_size:,} WordPiece tokens ({vocab_note})",
            "- weights: BERT's random initialisation (normal, std 0.02), seed 0, fp32 safetensors",
            "",
            "Any accuracy measured with it is meaningless; latency, size and memory are those of the real shape. "
            'Label figures from it "random weights (shape only)".',
            "",
        ]
    )


def random_weights(spec: ModelSpec, out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Save a randomly initialised ``BertForMaskedLM`` of `spec`'s shape (config.json + model.safetensors).

    Returns:
        The folder written.
    """
    import torch
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(**spec.bert_config_kwargs(), architectures=["BertForMaskedLM"])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = BertForMaskedLM(config)
    model.save_pretrained(str(out_dir))
    return Path(out_dir)


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def write_repo(hub_cache: str | os.PathLike, hub_id: str, files: dict[str, Path | str]) -> Path:
    """Write one repository into a Hub cache: blobs, one snapshot of symlinks, then ``refs/main``.

    Large files (Paths) are moved into ``blobs/`` under their sha256, as the Hub stores LFS files; text
    files under their git blob sha1. The commit hash is derived from the file hashes, so rebuilding the
    same content gives the same revision. ``refs/main`` is written last and atomically, so a reader sees
    either no snapshot or a complete one.

    Args:
        hub_cache: the ``hub`` folder (``$HF_HOME/hub``).
        hub_id: ``owner/name``.
        files: file name -> text content, or a Path whose file is moved in.

    Returns:
        The snapshot folder.
    """
    repo = repo_dir(hub_cache, hub_id)
    blobs = repo / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    hashes: dict[str, str] = {}
    for name, content in sorted(files.items()):
        if isinstance(content, Path):
            blob_hash = _sha256_file(content)
            if not (blobs / blob_hash).is_file():
                os.replace(content, blobs / blob_hash)
        else:
            data = content.encode("utf-8")
            blob_hash = _git_sha1(data)
            (blobs / blob_hash).write_bytes(data)
        hashes[name] = blob_hash
    commit = hashlib.sha1(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    snap = repo / "snapshots" / commit
    if snap.exists():
        shutil.rmtree(snap)
    snap.mkdir(parents=True)
    for name, blob_hash in hashes.items():
        (snap / name).symlink_to(Path("..") / ".." / "blobs" / blob_hash)  # relative, like huggingface_hub
    (repo / "refs").mkdir(exist_ok=True)
    atomic_write_text(repo / "refs" / "main", commit)  # no newline: the Hub client reads it verbatim
    return snap


def build_snapshot(
    spec: ModelSpec,
    hub_cache: str | os.PathLike,
    tokens: list[str],
    *,
    weights_dir: str | os.PathLike | None = None,
    vocab_note: str = "",
    seed: int = 0,
) -> Path:
    """Write `spec`'s stand-in repository into `hub_cache`.

    Args:
        spec: the catalog entry (its ``source`` is the Hub id).
        hub_cache: the ``hub`` folder (``$HF_HOME/hub``).
        tokens: the vocabulary, ``spec.vocab_size`` tokens.
        weights_dir: a folder already holding random weights of this shape (config.json and
            model.safetensors, e.g. from ``random_weights``); its safetensors file is hard-linked (or
            copied) so two repositories of one shape cost one initialisation. None makes new ones.
        vocab_note: where the vocabulary came from, for the model card.
        seed: weight initialisation seed.

    Returns:
        The snapshot folder.

    Raises:
        ValueError: `tokens` does not have the model's vocabulary size.
    """
    if len(tokens) != spec.vocab_size:
        raise ValueError(f"{spec.name} needs {spec.vocab_size} tokens, got {len(tokens)}")
    hub_cache = Path(hub_cache)
    hub_cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=TMP_PREFIX, dir=hub_cache) as tmp:
        tmp = Path(tmp)
        if weights_dir is None:
            weights_dir = random_weights(spec, tmp / "weights", seed)
        weights = tmp / "model.safetensors"
        try:
            os.link(Path(weights_dir) / "model.safetensors", weights)
        except OSError:
            shutil.copyfile(Path(weights_dir) / "model.safetensors", weights)
        config = json.loads((Path(weights_dir) / "config.json").read_text(encoding="utf-8"))
        config.pop("transformers_version", None)
        # Data, not a special case: loading.py reports ``weights`` as the model's weights label, and both
        # keys travel into every variant's config.json, so anything made from a stand-in says so.
        config |= {"weights": "random-weights", "stand_in_for": spec.source}
        files: dict[str, Path | str] = {
            "config.json": json.dumps(config, indent=2, sort_keys=True) + "\n",
            "model.safetensors": weights,
            "README.md": model_card(spec, vocab_note),
            **_tokenizer_files(tokens, spec.max_position_embeddings),
        }
        snap = write_repo(hub_cache, spec.source, files)
    logger.info("%s -> %s", spec.source, snap)
    return snap


def build_all(
    root: str | os.PathLike,
    names: Sequence[str] | None = None,
    *,
    corpus: str | os.PathLike = CORPUS,
    force: bool = False,
    seed: int = 0,
) -> dict[str, Path]:
    """Stand-in snapshots of the catalog's Hub models under ``root/hub`` (``HF_HOME=root``).

    Models of one shape share one random initialisation (MuRIL and MahaBERT-v2 are the same shape);
    the 52k vocabulary is trained once for both small models. Complete snapshots are kept unless `force`.

    Args:
        root: the future ``HF_HOME``.
        names: catalog names (default: every Hub model of the catalog).
        corpus: text for the small models' vocabulary.
        force: rebuild snapshots that already exist.
        seed: weight initialisation seed.

    Returns:
        Catalog name -> snapshot folder.
    """
    specs = hub_specs(names)
    hub_cache = Path(root) / "hub"
    hub_cache.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    vocabs: dict[int, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix=TMP_PREFIX, dir=hub_cache) as tmp:
        shapes: dict[tuple, Path] = {}
        for spec in specs:
            if not force and _is_complete(hub_cache, spec.source):
                out[spec.name] = snapshot_dir(hub_cache, spec.source)  # type: ignore[assignment]
                continue
            if spec.vocab_size not in vocabs:
                vocabs[spec.vocab_size] = vocab_for(spec, corpus)
            shape = tuple(sorted(spec.bert_config_kwargs().items()))
            if shape not in shapes:
                shapes[shape] = random_weights(spec, Path(tmp) / f"shape-{len(shapes)}", seed)
            note = "MuRIL's real vocab.txt" if spec.vocab_size == 197285 else "trained on the shared Marathi corpus"
            out[spec.name] = build_snapshot(
                spec, hub_cache, vocabs[spec.vocab_size], weights_dir=shapes[shape], vocab_note=note, seed=seed
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m models.hub_snapshots",
        description="Write random-weight stand-ins of the catalog's Hub models as a Hugging Face cache "
        "(then HF_HOME=DIR HF_HUB_OFFLINE=1 loads them by Hub id).",
    )
    p.add_argument("dir", type=Path, help="the HF_HOME to fill (snapshots go under DIR/hub)")
    p.add_argument("--models", nargs="+", help=f"catalog names (default: {' '.join(s.name for s in hub_specs())})")
    p.add_argument("--corpus", type=Path, default=CORPUS, help="text for the 52k vocabulary of the small models")
    p.add_argument("--force", action="store_true", help="rebuild snapshots that exist")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        built = build_all(args.dir, args.models, corpus=args.corpus, force=args.force)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({name: str(path) for name, path in built.items()}, indent=1))
    print(
        f"use: HF_HOME={args.dir} HF_HUB_OFFLINE=1 python -m pruning finetune --model mahabert-v2 ...", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
