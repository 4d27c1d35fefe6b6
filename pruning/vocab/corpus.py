"""The corpus a vocabulary is cut to: read it, hash it, count its tokens.

Why hashing lives here: a vocabulary-pruned variant is keyed by its corpus's content, not its path, and
keys are built on every lookup (a sweep asks dozens of times), so the hash is computed once per process
and file version.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data import normalise_text

BATCH_TEXTS = 1024  # texts per tokenizer call: the Rust side runs them in parallel, memory stays small
_SHA_CACHE: dict[tuple[str, int, int], str] = {}
_COUNTS_CACHE: dict[tuple[str, str], np.ndarray] = {}
_COUNTS_CACHE_SIZE = 4  # each entry is one int64 per vocabulary id (1.6 MB for MuRIL's 197k)


class CorpusError(ValueError):
    """A corpus file that cannot be used (missing, binary, not UTF-8, empty)."""


def _missing(path: Path) -> CorpusError:
    return CorpusError(f"corpus file {path} not found; give a UTF-8 text file with one text a line")


def read_corpus(path: str | os.PathLike) -> list[str]:
    """The texts of a corpus file, one a line, normalised as the datasets are (``data.normalise_text``).

    Raises:
        CorpusError: the file is missing, binary, not UTF-8 or holds no text.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise _missing(path)
    data = path.read_bytes()
    if b"\x00" in data:
        raise CorpusError(f"corpus file {path} looks binary (it holds NUL bytes); give UTF-8 text, one text a line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"corpus file {path} is not UTF-8 (bad byte at offset {exc.start}); re-save it as UTF-8"
        ) from None
    texts = [line for line in map(normalise_text, text.splitlines()) if line]
    if not texts:
        raise CorpusError(f"corpus file {path} holds no text; give at least one non-empty line")
    return texts


def corpus_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a corpus file's bytes, computed once per process and file version (path, mtime, size).

    Raises:
        CorpusError: the file is missing.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise _missing(path)
    stat = path.stat()
    ident = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if ident not in _SHA_CACHE:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _SHA_CACHE[ident] = digest.hexdigest()
    return _SHA_CACHE[ident]


def token_counts(tokenizer, texts: Sequence[str]) -> np.ndarray:
    """How often each token id occurs in ``texts`` (no special tokens added, no truncation).

    Returns:
        One count per id, ``0..max id`` of the tokenizer's vocabulary (added tokens included).
    """
    size = max(tokenizer.get_vocab().values()) + 1
    counts = np.zeros(size, dtype=np.int64)
    for start in range(0, len(texts), BATCH_TEXTS):
        batch = list(texts[start : start + BATCH_TEXTS])
        ids = tokenizer(batch, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64)
        counts += np.bincount(flat, minlength=size)
    return counts


def corpus_token_counts(tokenizer, tokenizer_name: str, path: str | os.PathLike) -> np.ndarray:
    """``token_counts`` of a corpus file, computed once per process, tokenizer and file content.

    A UI that previews sizes while a user moves a slider asks again and again for the same corpus; reading
    and tokenizing the shared corpus takes ~20 s on two cores, the lookup a hash of the file's identity.
    """
    ident = (tokenizer_name, corpus_sha256(path))
    if ident not in _COUNTS_CACHE:
        while len(_COUNTS_CACHE) >= _COUNTS_CACHE_SIZE:
            _COUNTS_CACHE.pop(next(iter(_COUNTS_CACHE)))
        _COUNTS_CACHE[ident] = token_counts(tokenizer, read_corpus(path))
    return _COUNTS_CACHE[ident].copy()
