"""The ONNX files of one variant, built once and rebuilt only when they went stale.

An export takes minutes for a 197k-vocabulary model, so it is cached beside the variant
(``<variant_dir>/onnx``, layout in ``onnx_session``) with a manifest, export.json, that records
the source-weights hash, the export settings and each file's parity check. The cache is valid
while the hash and settings match and the files exist; otherwise the export files are deleted and
rebuilt. Each backend is built on demand, with what it derives from (INT8 is quantized from the
fused fp32 graph).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from models.loading import weights_hash
from models.store import atomic_write_json

from ..config import ExportConfig
from .machine import library_versions
from .onnx_check import check_export
from .onnx_export import export_onnx, optimize_onnx, quantize_onnx, staged_file
from .onnx_session import FILES, MANIFEST, ONNX_DIR, RAW_FILE, OnnxClassifier, require_ort
from .sizes import disk_size_mb

logger = logging.getLogger(__name__)


@dataclass
class ExportResult:
    """Where a variant's ONNX files are, how they were made and how they compare with PyTorch.

    Args:
        directory (Path): the ``onnx/`` folder.
        paths (dict[str, Path]): file per requested backend.
        checks (dict[str, dict]): parity check per requested backend (``onnx_check.check_export``).
        manifest (dict): export.json as written (hash, settings, exporter, every built file).
        from_cache (bool): nothing had to be built.
        built (list[str], defaults to []): backends built by this call, in build order.
    """

    directory: Path
    paths: dict[str, Path]
    checks: dict[str, dict[str, Any]]
    manifest: dict[str, Any]
    from_cache: bool
    built: list[str] = field(default_factory=list)


@dataclass
class _Job:
    """What every backend build of one ``export_variant`` call shares."""

    model: nn.Module
    out: Path
    manifest: dict[str, Any]
    config: ExportConfig
    tokenizer: Any | None
    texts: Sequence[str] | None
    weights: str
    threads: int | None
    device: str
    built: list[str] = field(default_factory=list)


def _load_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _clear(folder: Path) -> None:
    for name in (RAW_FILE, MANIFEST, *FILES.values()):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()


def export_variant(
    model: nn.Module,
    variant_dir: str | os.PathLike,
    *,
    backends: Sequence[str] = ("onnx", "onnx-int8"),
    tokenizer: Any | None = None,
    texts: Sequence[str] | None = None,
    weights: str = "pretrained",
    config: ExportConfig | None = None,
    threads: int | None = None,
    device: str = "cpu",
    force: bool = False,
) -> ExportResult:
    """Export, optimize, quantize and check `model` into ``<variant_dir>/onnx``, reusing a valid cache.

    Args:
        model: the (pruned) classifier, fp32.
        variant_dir: the variant's folder; exports go to its ``onnx/`` subfolder.
        backends: any of "onnx", "onnx-int8", "onnx-cuda-fp16" (the last needs device "cuda").
        tokenizer, texts: tokenizer and real texts for the checks (random ids without them).
        weights: "pretrained" | "fine-tuned" | "random-weights", recorded with the checks.
        config: export settings.
        threads: ORT threads for the checks.
        device: "cpu" or "cuda".
        force: rebuild even if the cache is valid.

    Returns:
        ExportResult with per-backend file paths and checks.

    Raises:
        ValueError: unknown backend, or a CUDA backend without CUDA.
        ImportError: onnx / onnxruntime missing (with the pip command).
    """
    config = config or ExportConfig()
    unknown = [b for b in backends if b not in FILES]
    if unknown:
        raise ValueError(f"unknown ONNX backend(s) {unknown}; valid: {', '.join(FILES)}")
    if "onnx-cuda-fp16" in backends and not str(device).startswith("cuda"):
        raise ValueError("backend onnx-cuda-fp16 needs --device cuda")
    require_ort()
    out = Path(variant_dir) / ONNX_DIR
    source = weights_hash(model)
    manifest = _load_manifest(out)
    settings = config.to_dict()
    fresh = bool(manifest) and manifest.get("source_hash") == source and manifest.get("export_config") == settings
    if force or not fresh:
        if manifest:
            logger.info("export in %s is stale (weights or export settings changed); rebuilding", out)
        _clear(out)
        manifest = {"source_hash": source, "export_config": settings, "artifacts": {}}
    job = _Job(model, out, manifest, config, tokenizer, texts, weights, threads, str(device))
    for backend in backends:
        _ensure(backend, job)
    paths = {b: out / manifest["artifacts"][b]["file"] for b in backends}
    checks = {b: manifest["artifacts"][b]["check"] for b in backends}
    return ExportResult(out, paths, checks, manifest, from_cache=not job.built, built=job.built)


def _ensure_raw(job: _Job) -> Path:
    """The traced fp32 graph every backend derives from, exported unless the manifest has it."""
    raw = job.out / RAW_FILE
    if raw.is_file() and "exporter" in job.manifest:
        return raw
    start = time.perf_counter()
    job.manifest["exporter"] = export_onnx(job.model, raw, opset=job.config.opset, exporter=job.config.exporter)
    job.manifest.update(
        raw_size_mb=round(disk_size_mb(raw), 3),
        versions=library_versions(),
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        export_seconds=round(time.perf_counter() - start, 2),
    )
    return raw


def _ensure(backend: str, job: _Job) -> None:
    """Build one backend's file (and what it is derived from) unless the manifest already has it."""
    artifact = job.manifest["artifacts"].get(backend)
    if artifact and (job.out / artifact["file"]).is_file():
        return
    raw = _ensure_raw(job)
    heads, hidden = job.model.config.num_attention_heads, job.model.config.hidden_size
    path = job.out / FILES[backend]
    device = "cpu"
    info: dict[str, Any] = {}
    if backend == "onnx" and job.config.optimize:
        info = optimize_onnx(raw, path, num_heads=heads, hidden_size=hidden)
    elif backend == "onnx":
        with staged_file(path) as staged:
            shutil.copyfile(raw, staged)
    elif backend == "onnx-int8":
        _ensure("onnx", job)
        source = job.out / FILES["onnx"]
        info = quantize_onnx(
            source,
            path,
            per_channel=job.config.per_channel,
            reduce_range=job.config.reduce_range,
            quantize_embeddings=job.config.quantize_embeddings,
        )
        info["size_ratio_vs_fp32"] = round(disk_size_mb(path) / disk_size_mb(source), 4)
    else:  # onnx-cuda-fp16
        info = optimize_onnx(raw, path, num_heads=heads, hidden_size=hidden, gpu_fp16=True)
        device = job.device
    classifier = OnnxClassifier(path, job.tokenizer, threads=job.threads, device=device)
    check = check_export(
        job.model, classifier, backend, tokenizer=job.tokenizer, texts=job.texts, weights=job.weights, config=job.config
    )
    del classifier  # release the session (and its memory) before the next backend is built
    job.manifest["artifacts"][backend] = {
        "file": path.name,
        "size_mb": round(disk_size_mb(path), 3),
        **info,
        "check": check,
    }
    atomic_write_json(job.out / MANIFEST, job.manifest)
    job.built.append(backend)
