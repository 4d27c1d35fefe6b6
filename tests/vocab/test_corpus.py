"""Corpus files: clear errors for what cannot be used, a content hash computed once per file version."""

from __future__ import annotations

import hashlib
import os

import pytest

from pruning.vocab import CorpusError, corpus_sha256, read_corpus


def test_read_corpus_normalises_and_drops_blank_lines(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("  मराठी\u00a0बातम्या  \n\n   \nआज\r\n", encoding="utf-8")
    assert read_corpus(path) == ["मराठी बातम्या", "आज"]


@pytest.mark.parametrize(
    "content,match",
    [
        (None, "not found"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks binary"),
        ("मराठी\n".encode("utf-16-le"), "looks binary"),  # UTF-16 has NUL bytes in every ASCII character
        ("café\n".encode("latin-1"), "not UTF-8 \\(bad byte at offset 3\\)"),
        (b"", "holds no text"),
        (b" \n\t\n", "holds no text"),
    ],
)
def test_read_corpus_rejects_unusable_files(tmp_path, content, match):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CorpusError, match=match):
        read_corpus(path)


def test_read_corpus_rejects_a_folder(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        read_corpus(tmp_path)


def test_corpus_sha256_is_the_file_hash_computed_once_per_file_version(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"abc\n")
    first = corpus_sha256(path)
    assert first == hashlib.sha256(b"abc\n").hexdigest()
    stat = path.stat()
    path.write_bytes(b"xyz\n")  # same size, and the old mtime put back: the same file version to the cache
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert corpus_sha256(path) == first  # served from the cache, the file was not read again
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert corpus_sha256(path) == hashlib.sha256(b"xyz\n").hexdigest()


def test_corpus_sha256_of_a_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        corpus_sha256(tmp_path / "nope.txt")
