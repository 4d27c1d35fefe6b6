"""The runtimes Classify runs a variant on: PyTorch eager and ONNX Runtime fp32 / INT8 (and CUDA when present).

Each backend is opened once per variant as one function, tokenized batch (numpy) -> float32 logits, so
that Classify times the same text-in, label-out path on every backend. ONNX files are made on first use
by the library's ``export_variant`` (checked against PyTorch, written atomically) and then reused:

- a user's variant keeps them in its own folder (``<variant>/onnx``), so they are deleted with it;
- a bundled variant is read-only, so its files go to ``<cache root>/exports/<name>/onnx``, unless the
  bundle ships an ``onnx/`` folder made from the same weights, which is then opened as it is.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import inspect
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.loading import weights_hash
from models.store import cache_dir

from ..speed import OnnxClassifier, export_variant, torch_threads
from ..speed.onnx_session import FILES, MANIFEST, ONNX_DIR

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

logger = logging.getLogger(__name__)

LOCK_FILE = ".export.lock"

# What the UI and the API call each backend; the keys are what /classify accepts.
BACKEND_LABELS = {
    "torch": "PyTorch eager",
    "onnx": "ONNX Runtime fp32",
    "onnx-int8": "ONNX Runtime INT8",
    "torch-cuda": "PyTorch eager (CUDA)",
    "onnx-cuda-fp16": "ONNX Runtime fp16 (CUDA)",
}
SHORT_LABELS = {"torch": "PyTorch", "onnx": "ORT fp32", "onnx-int8": "ORT INT8", "torch-cuda": "PyTorch CUDA"}
SHORT_LABELS["onnx-cuda-fp16"] = "ORT CUDA fp16"
CPU_BACKENDS = ("torch", "onnx", "onnx-int8")

Logits = Callable[[Mapping[str, np.ndarray]], np.ndarray]


@functools.cache
def available_backends() -> tuple[str, ...]:
    """The backends this machine can run, in display order: PyTorch always, ONNX Runtime when installed, CUDA."""
    have_ort = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))
    backends = ["torch", *(("onnx", "onnx-int8") if have_ort else ())]
    if torch.cuda.is_available():
        backends.append("torch-cuda")
        if have_ort:
            import onnxruntime

            if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
                backends.append("onnx-cuda-fp16")
    return tuple(backends)


def check_backends(backends: Sequence[str] | str | None) -> list[str]:
    """The requested backends in display order; none means every CPU backend this machine has.

    Raises:
        ValueError: an unknown backend, or one this machine cannot run, naming the valid ones.
    """
    if isinstance(backends, str):
        backends = [backends]
    wanted = [b for b in (backends or []) if b]
    here = available_backends()
    if not wanted:
        return [b for b in here if b in CPU_BACKENDS]
    bad = [b for b in wanted if b not in here]
    if bad:
        raise ValueError(f"Unknown or unavailable backend {', '.join(map(repr, bad))}; choose from {', '.join(here)}.")
    return [b for b in here if b in wanted]


def export_root(record: Mapping[str, Any]) -> Path:
    """Where a variant's ONNX files are written: its own folder, or the exports cache for bundled ones."""
    if record.get("bundled"):
        return cache_dir("exports") / record["name"]
    return Path(record["path"])


def _shipped(record: Mapping[str, Any], backend: str, source_hash: str) -> Path | None:
    """A bundled variant's own ONNX file for `backend`, if the bundle ships one made from these weights."""
    folder = Path(record["path"]) / ONNX_DIR
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = folder / FILES[backend]
    return path if path.is_file() and manifest.get("source_hash") == source_hash else None


# torch.onnx.export keeps global state (two exports at once fail: "GLOBALS.in_onnx_export must be False"),
# so this process exports one variant at a time, whichever folder it goes to.
_EXPORT_LOCK = threading.Lock()


@contextlib.contextmanager
def _export_lock(folder: Path) -> Iterator[None]:
    """One export at a time in this process, and one writer per ONNX folder across processes (where flock exists).

    Every backend of a variant shares the folder and the fp32 graph INT8 is quantized from, so two
    writers at once (the app and the bench, two app workers) would overwrite each other's files.
    """
    with _EXPORT_LOCK:
        if fcntl is None:  # Windows: threads of this process are still serialised
            yield
            return
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def onnx_file(model: torch.nn.Module, tokenizer: Any, record: Mapping[str, Any], backend: str, **kwargs: Any) -> Path:
    """The ONNX file of a variant for `backend`, exported (and parity-checked) on first use.

    Args:
        model, tokenizer: the loaded fp32 variant.
        record: its cache record (``path``, ``name``, ``bundled``).
        backend: "onnx", "onnx-int8" or "onnx-cuda-fp16".
        kwargs: ``texts`` for the parity check and ``threads``, passed to ``export_variant``.
    """
    if record.get("bundled"):
        shipped = _shipped(record, backend, weights_hash(model))
        if shipped is not None:
            return shipped
    root = export_root(record)
    with _export_lock(root / ONNX_DIR):
        # Export from a copy: tracing switches the attention implementation, and other requests use `model`.
        result = export_variant(
            copy.deepcopy(model),
            root,
            backends=[backend],
            tokenizer=tokenizer,
            weights="fine-tuned",
            device="cuda" if backend == "onnx-cuda-fp16" else "cpu",
            **kwargs,
        )
    if result.built:
        check = result.checks[backend]
        logger.info("exported %s to %s: %s", record["name"], backend, {k: check.get(k) for k in ("passed", "n")})
    return result.paths[backend]


def open_backend(
    model: torch.nn.Module,
    tokenizer: Any,
    record: Mapping[str, Any],
    backend: str,
    *,
    threads: int,
    check_texts: Sequence[str] = (),
) -> Logits:
    """One variant on one backend as a function: tokenized numpy batch -> float32 logits (batch, labels).

    Raises:
        ImportError: onnxruntime / onnx missing, with the pip command.
        RuntimeError, OSError, ValueError: the export or the session could not be made.
    """
    if backend in ("torch", "torch-cuda"):
        device = "cuda" if backend == "torch-cuda" else "cpu"
        net = model if device == "cpu" else copy.deepcopy(model).to(device)
        takes = set(inspect.signature(net.forward).parameters)

        def torch_logits(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
            feed = {
                k: torch.from_numpy(np.asarray(v, dtype=np.int64)).to(device) for k, v in arrays.items() if k in takes
            }
            with torch_threads(threads), torch.inference_mode():
                return net(**feed).logits.float().cpu().numpy()  # .cpu() waits for CUDA work

        return torch_logits
    path = onnx_file(model, tokenizer, record, backend, texts=list(check_texts), threads=threads)
    device = "cuda" if backend == "onnx-cuda-fp16" else "cpu"
    # No spinning: idle ORT threads would steal the cores that concurrent requests (and PyTorch) need.
    return OnnxClassifier(path, tokenizer, threads=threads, device=device, spinning=False).logits
