"""A directory of fine-tuned variants, one folder each, written atomically.

A variant's key is everything that decides its weights: base model and revision, strategy,
kept layers, dataset, fine-tuning hyperparameters and seed. The folder name is readable
(``offline-teacher__middle-k6-0.1.2.9.10.11__SHC__s42__3f2a9c1d0b``) and ends in a hash of the
full key, so two variants that differ only in, say, learning rate never collide.

Each folder holds ``save_pretrained`` weights and tokenizer plus ``variant.json`` (key, configs,
metrics, history). It is written into ``.tmp-*`` and renamed when complete, so an interrupted
fine-tune leaves no half-written variant; stale temp folders are ignored by listings and swept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.loading import MODEL_INIT_LOCK
from models.store import TMP_PREFIX, atomic_dir, atomic_write_json, cache_dir, slug, sweep_temp

logger = logging.getLogger(__name__)

RECORD_FILE = "variant.json"
REQUIRED_FILES = ("config.json", RECORD_FILE)


class CacheEntryError(ValueError):
    """A cache folder that exists but cannot be used (corrupt or incomplete)."""


class VariantNotFoundError(CacheEntryError):
    """No cached variant matches a name: the caller may try the name as a model instead."""


def file_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file in a variant folder but its record, written with the variant.

    Sizes are checked whenever a variant is listed or loaded (cheap, catches truncation); hashes by
    ``VariantCache.verify`` (reads every byte).
    """
    manifest = {}
    for file in sorted(p for p in folder.iterdir() if p.is_file() and p.name != RECORD_FILE):
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        manifest[file.name] = {"bytes": file.stat().st_size, "sha256": digest.hexdigest()}
    return manifest


def damage(folder: Path, manifest: dict[str, dict[str, Any]], *, deep: bool = False) -> str | None:
    """What is wrong with ``folder`` against its manifest (None: intact). ``deep`` also compares hashes."""
    for name, want in manifest.items():
        file = folder / name
        if not file.is_file():
            return f"{name} is missing"
        size = file.stat().st_size
        if size != want["bytes"]:
            return f"{name} has {size:,} bytes, {want['bytes']:,} were written"
    if deep:
        actual = file_manifest(folder)
        for name, want in manifest.items():
            if actual.get(name, {}).get("sha256") != want["sha256"]:
                return f"{name} does not match the checksum written with it"
    return None


@dataclass(frozen=True)
class VariantKey:
    """Everything that determines a fine-tuned variant's weights."""

    base_model: str
    revision: str
    strategy: str
    kept_layers: tuple[int, ...]
    num_layers: int
    dataset: str
    finetune: tuple[tuple[str, Any], ...]  # FinetuneConfig.to_dict() items, sorted (seed included)
    # Vocabulary pruning ({"corpus_sha256", "min_count"} items, sorted); None for the full vocabulary. Left out
    # of the dict (and so of the digest) when None: keys made before vocabulary pruning existed stay valid.
    vocab: tuple[tuple[str, Any], ...] | None = None

    @classmethod
    def create(
        cls,
        base_model: str,
        revision: str,
        strategy: str,
        kept: list[int],
        num_layers: int,
        finetune: dict,
        vocab: dict | None = None,
    ) -> VariantKey:
        items = tuple(sorted((k, v) for k, v in finetune.items()))
        vocab_items = tuple(sorted(vocab.items())) if vocab else None
        kept_layers = tuple(int(i) for i in kept)
        return cls(base_model, revision, strategy, kept_layers, num_layers, finetune["dataset"], items, vocab_items)

    def to_dict(self) -> dict:
        return {
            "base_model": self.base_model,
            "revision": self.revision,
            "strategy": self.strategy,
            "kept_layers": list(self.kept_layers),
            "num_layers": self.num_layers,
            "dataset": self.dataset,
            "finetune": dict(self.finetune),
            **({"vocab": dict(self.vocab)} if self.vocab else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> VariantKey:
        return cls.create(
            data["base_model"],
            data["revision"],
            data["strategy"],
            data["kept_layers"],
            data["num_layers"],
            data["finetune"],
            data.get("vocab"),
        )

    @property
    def digest(self) -> str:
        return hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:10]

    @property
    def dirname(self) -> str:
        seed = dict(self.finetune).get("seed", 0)
        kept = ".".join(map(str, self.kept_layers))
        name = self.base_model.rstrip("/").split("/")[-1]  # hub id or folder -> its last part
        vocab = "-vocab" if self.vocab else ""  # the digest tells corpora apart; the name says the vocabulary is cut
        layers = f"{self.strategy}-k{len(self.kept_layers)}-{kept}{vocab}"
        return f"{slug(name)}__{layers}__{self.dataset}__s{seed}__{self.digest}"


@dataclass
class CacheProblem:
    path: str
    reason: str


@dataclass
class CacheListing:
    records: list[dict] = field(default_factory=list)
    problems: list[CacheProblem] = field(default_factory=list)


class VariantCache:
    """Fine-tuned variants on disk. Safe to share between the app, the CLI and the sweep.

    Args:
        root (path, defaults to ``<cache root>/variants``): the user's variants, read and written.
        bundled (path, optional): a read-only folder of variants shipped with the project (the demo's
            ready-made models). They are listed and loaded like the user's, a user variant with the same
            name takes precedence, and nothing here ever writes to or deletes them.
    """

    def __init__(self, root: str | os.PathLike | None = None, bundled: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root else cache_dir("variants")
        self.bundled = Path(bundled) if bundled else None

    def _roots(self) -> list[Path]:
        return [self.root] + ([self.bundled] if self.bundled is not None and self.bundled.is_dir() else [])

    def path_for(self, key: VariantKey) -> Path:
        """Where the user's copy of ``key`` is (or would be) written."""
        return self.root / key.dirname

    def _existing(self, key: VariantKey) -> Path:
        """The readable folder of ``key``: the user's, else the bundled one; CacheEntryError if neither."""
        problems = []
        for root in self._roots():
            try:
                self.read_record(root / key.dirname)
                return root / key.dirname
            except CacheEntryError as exc:
                problems.append(exc)
        raise problems[0] if problems else VariantNotFoundError(f"no cached variant {key.dirname}")

    def contains(self, key: VariantKey) -> bool:
        try:
            self._existing(key)
            return True
        except CacheEntryError:
            return False

    def is_bundled(self, path: str | os.PathLike) -> bool:
        return self.bundled is not None and Path(path).parent.resolve() == self.bundled.resolve()

    def read_record(self, path: Path) -> dict:
        """The variant.json of a folder; CacheEntryError if missing, unreadable, incomplete or damaged."""
        if not path.is_dir():
            raise VariantNotFoundError(f"no cached variant at {path}")
        missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
        if missing:
            raise CacheEntryError(f"{path.name} is incomplete: missing {', '.join(missing)}")
        if not any(path.glob("*.safetensors")):
            raise CacheEntryError(f"{path.name} has no weights (*.safetensors)")
        try:
            record = json.loads((path / RECORD_FILE).read_text(encoding="utf-8"))
            VariantKey.from_dict(record["key"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CacheEntryError(f"{path.name}/{RECORD_FILE} is corrupt: {exc}") from exc
        problem = damage(path, record.get("files") or {})
        if problem:
            raise CacheEntryError(f"{path.name} is damaged: {problem}; delete or rebuild it")
        record["path"] = str(path)
        record["bundled"] = self.is_bundled(path)
        return record

    def _folders(self) -> list[Path]:
        """Variant folders, the user's first; a bundled folder whose name the user also has is hidden."""
        seen: set[str] = set()
        folders = []
        for root in (r for r in self._roots() if r.is_dir()):
            for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
                if path.name not in seen:
                    seen.add(path.name)
                    folders.append(path)
        return folders

    def verify(self, *, deep: bool = True) -> dict[str, str | None]:
        """Every variant folder -> None when intact, else what is wrong (hashes compared when ``deep``)."""
        report: dict[str, str | None] = {}
        for path in self._folders():
            try:
                record = self.read_record(path)
            except CacheEntryError as exc:
                report[path.name] = str(exc)
                continue
            problem = damage(path, record.get("files") or {}, deep=deep)
            report[path.name] = f"{path.name} is damaged: {problem}" if problem else None
        return report

    def save(self, key: VariantKey, model, tokenizer, record: dict, *, force: bool = False) -> Path:
        """Write a variant atomically into the user's cache; with force, replace an existing one."""
        final = self.path_for(key)
        if final.exists() and not force and self.contains(key):
            logger.info("variant %s already cached", final.name)
            return final
        with atomic_dir(final) as tmp:  # readers see the whole variant or none of it
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            full = {**record, "key": key.to_dict(), "name": final.name, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
            full.pop("path", None)
            full.pop("bundled", None)
            full["files"] = file_manifest(tmp)
            atomic_write_json(tmp / RECORD_FILE, full)
        return final

    def list(self) -> CacheListing:
        """All readable variants (newest first) and the folders that could not be read."""
        listing = CacheListing()
        for path in self._folders():
            try:
                listing.records.append(self.read_record(path))
            except CacheEntryError as exc:
                logger.warning("skipping cache entry: %s", exc)
                listing.problems.append(CacheProblem(str(path), str(exc)))
        listing.records.sort(key=lambda r: r.get("created", ""), reverse=True)
        return listing

    def find(self, name: str) -> Path:
        """A variant folder by full name or unique prefix, the user's before the bundled ones."""
        plain = bool(name) and "/" not in name and os.sep not in name and not any(c in name for c in "*?[")
        for root in self._roots() if plain else []:
            matches = [p for p in root.glob(f"{name}*") if p.is_dir() and not p.name.startswith(".")]
            exact = [p for p in matches if p.name == name]
            if len(exact) == 1 or len(matches) == 1:
                return (exact or matches)[0]
            if matches:
                raise CacheEntryError(f"{len(matches)} cached variants match {name!r}; give more of the name")
        raise VariantNotFoundError(f"no cached variant matches {name!r}; see `python -m pruning cache list`")

    def load(self, key_or_name: VariantKey | str):
        """(model, tokenizer, record) of a cached variant."""
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = self._existing(key_or_name) if isinstance(key_or_name, VariantKey) else self.find(key_or_name)
        record = self.read_record(path)
        try:
            with MODEL_INIT_LOCK:  # see models.loading: model construction is not thread-safe
                model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32).eval()
                tokenizer = AutoTokenizer.from_pretrained(path)
        except Exception as exc:  # safetensors, torch and tokenizers each raise their own types on bad bytes
            raise CacheEntryError(f"{path.name} is damaged and could not be loaded; delete or rebuild it") from exc
        return model, tokenizer, record

    def delete(self, name: str) -> Path:
        """Remove one of the user's variants (bundled ones are read-only)."""
        path = self.find(name)
        if self.is_bundled(path):
            raise CacheEntryError(f"{path.name} ships with the project and is read-only; it cannot be deleted")
        trash = self.root / f"{TMP_PREFIX}del-{path.name}"
        os.replace(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return path

    def sweep_temp(self, older_than_s: float = 3600) -> int:
        """Remove temp folders left by killed writers (older than ``older_than_s``); returns how many."""
        return sweep_temp(self.root, older_than_s)
