"""Opening an exported model: where its files live, session options tuned for latency, the classifier.

Why a module of its own: serving an ONNX file needs only ONNX Runtime, not the exporter, the
onnx package or PyTorch's tracer. The app and the timing loop open files through here; only
``onnx_export`` and ``onnx_cache`` write them. The file layout is named here because this is the
lowest module that reads it::

    <variant_dir>/onnx/model.onnx        traced fp32 graph
                      model.opt.onnx    + BERT fusions              (backend "onnx")
                      model.int8.onnx   + dynamic INT8 quantization (backend "onnx-int8")
                      model.fp16.onnx   GPU fusions + fp16          (backend "onnx-cuda-fp16")
                      export.json       source-weights hash, export config, checks
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..evaluate import length_sorted_batches
from ..gpu import check_ort_session, ort_providers
from .machine import available_cpus

if TYPE_CHECKING:  # onnxruntime is optional; it is imported where a session is made
    import onnxruntime

ONNX_DIR = "onnx"
MANIFEST = "export.json"
RAW_FILE = "model.onnx"
FILES = {"onnx": "model.opt.onnx", "onnx-int8": "model.int8.onnx", "onnx-cuda-fp16": "model.fp16.onnx"}
ONNX_BACKENDS = tuple(FILES)
INSTALL_HINT = "pip install onnxruntime onnx onnxscript (GPU: onnxruntime-gpu)"


def require_ort() -> Any:
    """The onnxruntime module, or ImportError with the pip command (it is an optional dependency)."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(f"ONNX Runtime backends need onnxruntime: {INSTALL_HINT}") from exc
    return onnxruntime


def require_onnx() -> Any:
    """The onnx module, or ImportError with the pip command."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(f"ONNX export needs the onnx package: {INSTALL_HINT}") from exc
    return onnx


def make_session(
    path: str | os.PathLike, *, threads: int | None = None, device: str = "cpu", spinning: bool = True
) -> onnxruntime.InferenceSession:
    """An InferenceSession tuned for latency: ORT_ENABLE_ALL, fixed intra-op threads, 1 inter-op thread.

    Args:
        path: .onnx file.
        threads: intra-op threads; defaults to all available CPUs.
        device: "cpu" or "cuda[:N]" (needs onnxruntime-gpu).
        spinning: let idle ORT worker threads spin (ORT's default; lowest latency on a quiet
            machine). Turn off on a CPU shared with other busy processes, where spinning
            threads steal the cores the work needs.

    Raises:
        ValueError: CUDA asked for but the installed onnxruntime has no CUDA provider.
        RuntimeError: CUDA asked for but the session fell back to the CPU (no GPU, CUDA libraries missing).
        ImportError: onnxruntime missing (with the pip command).
    """
    ort = require_ort()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cpus()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ort_providers(ort, device)  # CUDA: preloads the CUDA libraries, CPU provider behind
    return check_ort_session(ort.InferenceSession(str(path), options, providers=providers), device)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class OnnxClassifier:
    """An ONNX Runtime classifier with the torch path's interface: texts -> logits / probabilities.

    On CUDA, inputs and outputs go through IO binding so the timed region holds only the run.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        tokenizer: Any | None = None,
        *,
        threads: int | None = None,
        device: str = "cpu",
        max_length: int = 128,
        id2label: Mapping[int, str] | None = None,
        spinning: bool = True,
    ):
        """Args:
        path: .onnx file (model.opt.onnx / model.int8.onnx / model.fp16.onnx).
        tokenizer: the model's tokenizer (needed for texts; not for raw arrays).
        threads: ORT intra-op threads; defaults to all available CPUs.
        device: "cpu" or "cuda[:N]".
        max_length: truncation length for texts.
        id2label: label names for ``predict``.
        spinning: see ``make_session``.
        """
        self.path = Path(path)
        self.tokenizer = tokenizer
        self.device = str(device)
        self.threads = threads or available_cpus()
        self.max_length = max_length
        self.session = make_session(self.path, threads=self.threads, device=self.device, spinning=spinning)
        self.spinning = spinning
        inputs = self.session.get_inputs()
        self.input_names = tuple(i.name for i in inputs)
        self._dtypes = {i.name: np.int32 if "int32" in i.type else np.int64 for i in inputs}
        self.output_name = self.session.get_outputs()[0].name
        self.id2label = dict(id2label) if id2label else None

    @classmethod
    def from_variant(cls, variant_dir: str | os.PathLike, backend: str = "onnx-int8", **kwargs: Any) -> OnnxClassifier:
        """Open a cached export of a saved variant, with its tokenizer and label names.

        Raises:
            ValueError: unknown backend.
            FileNotFoundError: the variant has no export for `backend` (with the command that makes one).
        """
        variant_dir = Path(variant_dir)
        if backend not in FILES:
            raise ValueError(f"unknown ONNX backend {backend!r}; valid: {', '.join(FILES)}")
        path = variant_dir / ONNX_DIR / FILES[backend]
        if not path.is_file():
            raise FileNotFoundError(
                f"no {backend} export at {path}; run `python -m pruning bench --model {variant_dir}`"
            )
        if "tokenizer" not in kwargs:
            from transformers import AutoTokenizer

            kwargs["tokenizer"] = AutoTokenizer.from_pretrained(variant_dir)
        if "id2label" not in kwargs and (variant_dir / "config.json").is_file():
            config = json.loads((variant_dir / "config.json").read_text(encoding="utf-8"))
            kwargs["id2label"] = {int(k): v for k, v in (config.get("id2label") or {}).items()} or None
        return cls(path, **kwargs)

    def feed(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The session's inputs from a tokenizer-style dict, cast to the graph's integer type.

        Raises:
            ValueError: a required input is missing (token_type_ids defaults to zeros).
        """
        missing = [n for n in self.input_names if n not in arrays and n != "token_type_ids"]
        if missing:
            raise ValueError(f"inputs {missing} are missing; the ONNX model takes {list(self.input_names)}")
        ids = np.asarray(arrays["input_ids"])
        out = {}
        for name in self.input_names:
            value = arrays.get(name)
            out[name] = np.ascontiguousarray(np.zeros_like(ids) if value is None else value, dtype=self._dtypes[name])
        return out

    def logits(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Float32 logits (batch, num_labels) of one tokenized batch."""
        feed = self.feed(arrays)
        if not self.device.startswith("cuda"):
            return np.asarray(self.session.run([self.output_name], feed)[0], dtype=np.float32)
        binding = self.session.io_binding()
        for name, value in feed.items():
            binding.bind_cpu_input(name, value)
        binding.bind_output(self.output_name, "cuda")
        self.session.run_with_iobinding(binding)
        return np.asarray(binding.copy_outputs_to_cpu()[0], dtype=np.float32)

    def predict_logits(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Logits for `texts` in order; batched by length like ``pruning.evaluate.predict_logits``.

        Raises:
            ValueError: the classifier was opened without a tokenizer.
        """
        if self.tokenizer is None:
            raise ValueError("OnnxClassifier needs a tokenizer to classify texts")
        texts = list(texts)
        out: np.ndarray | None = None
        for idx in length_sorted_batches(texts, batch_size):
            enc = self.tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
            )
            logits = self.logits(enc)
            if out is None:
                out = np.zeros((len(texts), logits.shape[-1]), dtype=np.float32)
            out[idx] = logits
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)

    def predict_proba(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Class probabilities (softmax of the logits), shape (len(texts), num_labels)."""
        return _softmax(self.predict_logits(texts, batch_size=batch_size))

    def predict(self, texts: Sequence[str], *, batch_size: int = 64) -> list[str]:
        """The most probable label name (or index as a string) per text."""
        best = self.predict_logits(texts, batch_size=batch_size).argmax(-1)
        return [self.id2label.get(int(i), str(int(i))) if self.id2label else str(int(i)) for i in best]
