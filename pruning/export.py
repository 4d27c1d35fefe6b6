"""ONNX Runtime backends for a (pruned) classifier: fp32 with BERT fusions, INT8, and CUDA fp16.

Why: on a CPU, PyTorch eager runs each BERT op separately; ONNX Runtime with its BERT fusions
(EmbedLayerNormalization, Attention, SkipLayerNormalization, BiasGelu) runs a layer in a few
fused kernels, and dynamic INT8 quantization (VNNI ``MatMulInteger`` / ``QAttention``) cuts
both compute and the file: quantizing the 197k-word embedding as well (via
``QEmbedLayerNormalization``) is what makes a MahaBERT / MuRIL file shrink to about a quarter.
Pruning removes layers; these backends make each remaining layer cheaper. Together they decide
whether a pruned model is fast enough to serve.

Exporter choice: ``torch.onnx.export(..., dynamo=False)`` (the TorchScript tracer) with *eager*
attention produces the graph ORT's BERT fusion patterns recognise; the dynamo exporter (the torch
2.9+ default) and SDPA attention export correctly but leave attention unfused, so they are only a
fallback. Every export is checked against PyTorch (max |logit difference|, label agreement on
real MahaNews headlines) and cached beside the variant::

    <variant_dir>/onnx/model.onnx        traced fp32 graph
                      model.opt.onnx    + BERT fusions              (backend "onnx")
                      model.int8.onnx   + dynamic INT8 quantization (backend "onnx-int8")
                      model.fp16.onnx   GPU fusions + fp16          (backend "onnx-cuda-fp16")
                      export.json       source-weights hash, export config, checks

A stale export (weights or export settings changed) is redone. Every file is written to a temp
path and renamed, so an interrupted export never leaves a truncated model behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .config import ExportConfig
from .evaluate import length_sorted_batches
from .latency import TorchRunner, available_cpus, build_feed, disk_size_mb, library_versions

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
MANIFEST = "export.json"
RAW_FILE = "model.onnx"
FILES = {"onnx": "model.opt.onnx", "onnx-int8": "model.int8.onnx", "onnx-cuda-fp16": "model.fp16.onnx"}
ONNX_BACKENDS = tuple(FILES)
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
INSTALL_HINT = "pip install onnxruntime onnx onnxscript (GPU: onnxruntime-gpu)"
PROTOBUF_LIMIT_MB = 1900  # single-file ONNX models must stay under protobuf's 2 GB


def _require_ort():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(f"ONNX Runtime backends need onnxruntime: {INSTALL_HINT}") from exc
    return onnxruntime


def _require_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(f"ONNX export needs the onnx package: {INSTALL_HINT}") from exc
    return onnx


# --------------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------------


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temp path in the same folder, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8"))


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Silence what ONNX Runtime's quantizer logs through the *root* logger (one line per tensor).

    Without a handler on the root logger, those calls would also run ``logging.basicConfig()``.
    """
    ort_dir = str(Path(_require_ort().__file__).parent)
    root = logging.getLogger()
    handler = logging.NullHandler() if not root.handlers else None

    def not_from_ort(record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(ort_dir)

    if handler:
        root.addHandler(handler)
    root.addFilter(not_from_ort)
    try:
        yield
    finally:
        root.removeFilter(not_from_ort)
        if handler:
            root.removeHandler(handler)


def weights_hash(model: nn.Module) -> str:
    """SHA-256 of the model's architecture config and every tensor of its state dict.

    Two models hash the same exactly when an export of one is valid for the other. Volatile
    config keys (paths, library versions) are left out.
    """
    digest = hashlib.sha256()
    config = {k: v for k, v in model.config.to_dict().items() if not k.startswith("_") and k != "transformers_version"}
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()[:20]


@contextlib.contextmanager
def _eager_attention(model: nn.Module) -> Iterator[None]:
    """Switch to eager attention while exporting: SDPA exports fine but ORT cannot fuse it."""
    previous = getattr(model.config, "_attn_implementation", None)
    switched = False
    if previous not in (None, "eager") and hasattr(model, "set_attn_implementation"):
        try:
            model.set_attn_implementation("eager")
            switched = True
        except (ValueError, ImportError) as exc:
            logger.warning("could not switch to eager attention for export (%s); attention may stay unfused", exc)
    try:
        yield
    finally:
        if switched:
            model.set_attn_implementation(previous)


class _LogitsOnly(nn.Module):
    """input_ids, attention_mask, token_type_ids -> logits tensor (what the ONNX graph exposes)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        return self.model(**{k: v for k, v in inputs.items() if v is not None}).logits


def model_input_names(model: nn.Module) -> tuple[str, ...]:
    """ONNX inputs: input_ids, attention_mask and token_type_ids where the model takes them."""
    import inspect

    params = inspect.signature(model.forward).parameters
    names = tuple(n for n in INPUT_NAMES if n in params)
    if getattr(model.config, "type_vocab_size", 0) in (0, None):
        names = tuple(n for n in names if n != "token_type_ids")
    if names != INPUT_NAMES[: len(names)]:
        raise ValueError(f"cannot export a model taking {names}; expected a prefix of {INPUT_NAMES}")
    return names


# --------------------------------------------------------------------------------------------
# Export, fusion, quantization
# --------------------------------------------------------------------------------------------


def export_onnx(model: nn.Module, path: str | os.PathLike, *, opset: int = 17, exporter: str = "auto") -> str:
    """Export `model` (fp32, CPU) to an ONNX file with dynamic batch and sequence axes.

    Args:
        model: a transformers sequence classifier.
        path: the .onnx file to write (atomically).
        opset: ONNX opset.
        exporter: "torchscript", "dynamo", or "auto" (torchscript, then dynamo if it fails).

    Returns:
        The exporter that produced the file.

    Raises:
        ValueError: a model too large for a single-file ONNX model.
        RuntimeError: every exporter failed.
    """
    _require_onnx()
    size_mb = sum(p.numel() * 4 for p in model.parameters()) / 1e6
    if size_mb > PROTOBUF_LIMIT_MB:
        raise ValueError(f"model weights are {size_mb:.0f} MB in fp32; single-file ONNX export is limited to 2 GB")
    names = model_input_names(model)
    order = ["torchscript", "dynamo"] if exporter == "auto" else [exporter]
    errors = []
    was_training = model.training
    model.eval()
    try:
        with _eager_attention(model):
            wrapper = _LogitsOnly(model).eval()
            example = _example_inputs(model, names)
            for name in order:
                try:
                    _atomic_write(Path(path), lambda tmp, n=name: _run_exporter(n, wrapper, example, names, tmp, opset))
                    logger.info("exported %s with the %s exporter", path, name)
                    return name
                except Exception as exc:  # noqa: BLE001 - try the next exporter, report all at the end
                    logger.warning("%s ONNX export failed: %s", name, exc)
                    errors.append(f"{name}: {type(exc).__name__}: {exc}")
    finally:
        model.train(was_training)
    raise RuntimeError("ONNX export failed with every exporter: " + " | ".join(errors))


def _example_inputs(model: nn.Module, names: Sequence[str]) -> tuple[torch.Tensor, ...]:
    """Batch 2 x 16 tokens, the second row padded, on the model's device."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, max(6, model.config.vocab_size), (2, 16), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    return tuple(values[n].to(device) for n in names)


def _run_exporter(
    exporter: str, wrapper: nn.Module, example: tuple, names: Sequence[str], path: Path, opset: int
) -> None:
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-derived Python ints are expected
        if exporter == "torchscript":
            torch.onnx.export(wrapper, example, str(path), input_names=list(names), output_names=["logits"],
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=True, dynamo=False)  # fmt: skip
        elif exporter == "dynamo":
            max_len = getattr(wrapper.model.config, "max_position_embeddings", 512)
            batch, seq = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("sequence", min=1, max=max_len)
            torch.onnx.export(wrapper, example, str(path), input_names=list(names), output_names=["logits"],
                              dynamic_shapes={n: {0: batch, 1: seq} for n in names}, opset_version=max(opset, 18),
                              dynamo=True, external_data=False, verbose=False)  # fmt: skip
        else:
            raise ValueError(f"unknown exporter {exporter!r}; valid: auto, torchscript, dynamo")


def optimize_onnx(
    src: str | os.PathLike, dst: str | os.PathLike, *, num_heads: int, hidden_size: int, gpu_fp16: bool = False
) -> dict[str, Any]:
    """Apply ONNX Runtime's BERT fusions (``optimize_model(model_type="bert")``) and save.

    If the fusion script fails, the unfused graph is saved instead with a logged warning: ONNX
    Runtime still applies its built-in ORT_ENABLE_ALL optimizations when the session loads.

    Args:
        src: traced fp32 model.
        dst: optimized model to write.
        num_heads, hidden_size: attention shape (from the model config).
        gpu_fp16: optimize for the CUDA provider and convert weights to fp16 (inputs/outputs stay
            int64 / fp32). No fallback: fp16 without fusions is not worth serving.

    Returns:
        {"fused": bool, "fusions": {op: count}, "error": str (only when the fusions failed)}.
    """
    _require_ort()
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        with _quiet_root_logger():
            opt = optimize_model(str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                                 use_gpu=gpu_fp16)  # fmt: skip
            if gpu_fp16:
                opt.convert_float_to_float16(keep_io_types=True)
        fusions = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
        _atomic_write(Path(dst), lambda tmp: opt.save_model_to_file(str(tmp)))
    except Exception as exc:  # noqa: BLE001 - the fusion scripts raise anything from AssertionError up
        if gpu_fp16:
            raise
        logger.warning("ONNX Runtime BERT fusions failed (%s: %s); serving the unfused graph", type(exc).__name__, exc)
        _atomic_write(Path(dst), lambda tmp: shutil.copyfile(src, tmp))
        return {"fused": False, "fusions": {}, "error": f"{type(exc).__name__}: {exc}"}
    if not (fusions.get("Attention") or fusions.get("MultiHeadAttention")):
        logger.warning(
            "attention was not fused in %s (fusions: %s); expect slower ONNX Runtime inference", dst, fusions
        )
    return {"fused": True, "fusions": fusions}


QUANTIZED_OPS = ("MatMul", "Attention", "Gather", "EmbedLayerNormalization")


def quantize_onnx(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    per_channel: bool = False,
    reduce_range: bool = False,
    quantize_embeddings: bool = True,
) -> dict[str, Any]:
    """Dynamic INT8 quantization (``quantize_dynamic``, QInt8 weights, uint8 activations).

    Quantized op types: MatMul -> MatMulInteger, Attention -> QAttention and, with
    `quantize_embeddings`, the embedding lookups (EmbedLayerNormalization ->
    QEmbedLayerNormalization, plain Gather on an initializer) so that the word embedding, most of
    a 197k-vocabulary model, is stored in 8 bits too. The pooler and classifier Gemm stay fp32.

    Returns:
        {"op_types": [...], "quantized_nodes": {op: count}, "largest_initializer": {...},
         "embedding_quantized": bool}.
    """
    onnx = _require_onnx()
    _require_ort()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    op_types = list(QUANTIZED_OPS if quantize_embeddings else QUANTIZED_OPS[:2])
    with _quiet_root_logger(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _atomic_write(
            Path(dst),
            lambda tmp: quantize_dynamic(
                str(src), str(tmp), op_types_to_quantize=op_types, per_channel=per_channel, reduce_range=reduce_range,
                weight_type=QuantType.QInt8,
                # the fused contrib ops defeat ONNX shape inference; their outputs are float
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            ),
        )  # fmt: skip
    model = onnx.load(str(dst), load_external_data=False)
    ops = Counter(n.op_type for n in model.graph.node)
    quantized = {k: v for k, v in ops.items() if k in ("MatMulInteger", "QAttention", "QEmbedLayerNormalization")}
    biggest = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)) if t.dims else 1)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(biggest.data_type).name
    info = {
        "op_types": op_types,
        "quantized_nodes": quantized,
        "largest_initializer": {"name": biggest.name, "shape": list(biggest.dims), "dtype": dtype},
        "embedding_quantized": dtype in ("int8", "uint8"),
    }
    if quantize_embeddings and not info["embedding_quantized"]:
        logger.warning(
            "the largest tensor (%s, %s) stayed %s after INT8 quantization", biggest.name, list(biggest.dims), dtype
        )
    return info


# --------------------------------------------------------------------------------------------
# Sessions and the classifier the app serves
# --------------------------------------------------------------------------------------------


def make_session(path: str | os.PathLike, *, threads: int | None = None, device: str = "cpu", spinning: bool = True):
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
    """
    ort = _require_ort()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cpus()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers: list[Any] = ["CPUExecutionProvider"]
    if str(device).startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ValueError(
                f"ONNX Runtime has no CUDA provider here ({ort.get_available_providers()}); pip install onnxruntime-gpu"
            )
        index = int(str(device).partition(":")[2] or 0)
        providers = [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
    return ort.InferenceSession(str(path), options, providers=providers)


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
        """Open a cached export of a saved variant, with its tokenizer and label names."""
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
        """The session's inputs from a tokenizer-style dict, cast to the graph's integer type."""
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
        """Logits for `texts` in order; batched by length like ``pruning.evaluate.predict_logits``."""
        if self.tokenizer is None:
            raise ValueError("OnnxClassifier needs a tokenizer to classify texts")
        texts = list(texts)
        out: np.ndarray | None = None
        for idx in length_sorted_batches(texts, batch_size):
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="np")  # fmt: skip
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


class OnnxRunner:
    """Timing adapter (``latency.Runner``) around an OnnxClassifier."""

    def __init__(self, classifier: OnnxClassifier, backend: str, dtype: str):
        self.classifier = classifier
        self.backend, self.dtype = backend, dtype
        self.device, self.threads = classifier.device, classifier.threads
        self.disk_mb = disk_size_mb(classifier.path)
        self.disk_mb_source = f"file {classifier.path.name}"
        self._binding = None

    def prepare(self, feed: Mapping[str, np.ndarray]) -> Any:
        arrays = self.classifier.feed(feed)
        if not self.device.startswith("cuda"):
            return arrays
        ort = _require_ort()
        index = int(self.device.partition(":")[2] or 0)
        session = self.classifier.session
        binding = session.io_binding()
        for name, value in arrays.items():  # copied to the GPU once, outside the timed region
            binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value, "cuda", index))
        binding.bind_output(self.classifier.output_name, "cuda", index)
        self._binding = binding
        return binding

    def __call__(self, prepared: Any) -> Any:
        session = self.classifier.session
        if self.device.startswith("cuda"):
            return session.run_with_iobinding(prepared)
        return session.run([self.classifier.output_name], prepared)

    def synchronize(self) -> None:
        if self._binding is not None:
            self._binding.synchronize_outputs()

    def scope(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()


# --------------------------------------------------------------------------------------------
# Checks against PyTorch
# --------------------------------------------------------------------------------------------


def _check_batches(tokenizer: Any | None, texts: Sequence[str], config: ExportConfig, vocab_size: int):
    """Tokenized check batches of real texts, or seeded random ids when there is no tokenizer."""
    if tokenizer is not None and texts:
        texts = list(texts)[: config.check_texts]
        for start in range(0, len(texts), 32):
            enc = tokenizer(texts[start : start + 32], padding=True, truncation=True, max_length=config.check_max_length,
                            return_tensors="np")  # fmt: skip
            yield {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in INPUT_NAMES}
        return
    for i in range(max(1, config.check_texts // 32)):
        yield build_feed(None, None, 32, min(32, config.check_max_length), vocab_size=vocab_size, seed=i)


def check_export(
    model: nn.Module,
    classifier: OnnxClassifier,
    backend: str,
    *,
    tokenizer: Any | None = None,
    texts: Sequence[str] | None = None,
    weights: str = "pretrained",
    config: ExportConfig | None = None,
) -> dict[str, Any]:
    """Compare an ONNX model with the fp32 PyTorch model on the same inputs.

    fp32 passes when max |logit difference| <= ``config.fp32_tolerance``; INT8 and fp16 pass
    when at least ``config.int8_min_agreement`` of the predicted labels are unchanged. On random
    weights the logits are nearly uniform, so label agreement is reported but says little.

    Returns:
        A JSON-serialisable dict that travels with the benchmark rows.
    """
    config = config or ExportConfig()
    reference = TorchRunner(model, threads=classifier.threads)
    diffs, agree, total = [], 0, 0
    for batch in _check_batches(tokenizer, texts or [], config, model.config.vocab_size):
        ref = reference.logits(batch)
        out = classifier.logits(batch)
        diffs.append(np.abs(out - ref).max(axis=-1))
        agree += int((out.argmax(-1) == ref.argmax(-1)).sum())
        total += len(ref)
    diff = np.concatenate(diffs)
    result: dict[str, Any] = {
        "backend": backend,
        "file": classifier.path.name,
        "reference": "torch float32 (cpu)",
        "inputs": "MahaNews SHC headlines" if tokenizer is not None and texts else "random token ids",
        "n": total,
        "weights": weights,
        "max_abs_logit_diff": float(diff.max()),
        "mean_abs_logit_diff": float(diff.mean()),
        "label_agreement": agree / total,
    }
    if backend == "onnx":
        result.update(
            criterion=f"max_abs_logit_diff <= {config.fp32_tolerance}", passed=bool(diff.max() <= config.fp32_tolerance)
        )
    else:
        result.update(criterion=f"label_agreement >= {config.int8_min_agreement}",
                      passed=bool(agree / total >= config.int8_min_agreement))  # fmt: skip
    if weights == "random-weights":
        result["note"] = (
            "random weights: near-uniform logits make label agreement a weak signal; check a fine-tuned model"
        )
    level = logging.INFO if result["passed"] or weights == "random-weights" else logging.WARNING
    logger.log(level, "%s check: max|dlogit| %.2e, agreement %.4f (%s)", backend, diff.max(), agree / total,
               "passed" if result["passed"] else "FAILED")  # fmt: skip
    return result


# --------------------------------------------------------------------------------------------
# Cached exports of a variant
# --------------------------------------------------------------------------------------------


@dataclass
class ExportResult:
    """Where a variant's ONNX files are, how they were made and how they compare with PyTorch."""

    directory: Path
    paths: dict[str, Path]
    checks: dict[str, dict[str, Any]]
    manifest: dict[str, Any]
    from_cache: bool
    built: list[str] = field(default_factory=list)

    def classifier(self, backend: str, tokenizer: Any | None = None, **kwargs: Any) -> OnnxClassifier:
        """An OnnxClassifier on one of the exported files."""
        if backend not in self.paths:
            raise ValueError(f"backend {backend!r} was not exported here; have {sorted(self.paths)}")
        return OnnxClassifier(self.paths[backend], tokenizer, **kwargs)


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

    The cache is valid when export.json records the same source-weights hash and export settings
    and the files exist; otherwise the folder's export files are deleted and rebuilt.

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
    _require_ort()
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
    built: list[str] = []
    ctx = {"model": model, "out": out, "manifest": manifest, "config": config, "tokenizer": tokenizer,
           "texts": texts, "weights": weights, "threads": threads, "device": str(device)}  # fmt: skip
    for backend in backends:
        _ensure(backend, ctx, built)
    paths = {b: out / manifest["artifacts"][b]["file"] for b in backends}
    checks = {b: manifest["artifacts"][b]["check"] for b in backends}
    return ExportResult(out, paths, checks, manifest, from_cache=not built, built=built)


def _ensure(backend: str, ctx: dict[str, Any], built: list[str]) -> None:
    """Build one backend's file (and what it is derived from) unless the manifest already has it."""
    out, manifest = ctx["out"], ctx["manifest"]
    artifact = manifest["artifacts"].get(backend)
    if artifact and (out / artifact["file"]).is_file():
        return
    model, config = ctx["model"], ctx["config"]
    raw = out / RAW_FILE
    if not raw.is_file() or "exporter" not in manifest:
        start = time.perf_counter()
        manifest["exporter"] = export_onnx(model, raw, opset=config.opset, exporter=config.exporter)
        manifest.update(raw_size_mb=round(disk_size_mb(raw), 3), versions=library_versions(),
                        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), export_seconds=round(time.perf_counter() - start, 2))  # fmt: skip
    heads, hidden = model.config.num_attention_heads, model.config.hidden_size
    path = out / FILES[backend]
    device = "cpu"
    if backend == "onnx":
        info: dict[str, Any] = optimize_onnx(raw, path, num_heads=heads, hidden_size=hidden) if config.optimize else {}
        if not config.optimize:
            _atomic_write(path, lambda tmp: shutil.copyfile(raw, tmp))
    elif backend == "onnx-int8":
        _ensure("onnx", ctx, built)
        source = out / FILES["onnx"]
        info = quantize_onnx(source, path, per_channel=config.per_channel, reduce_range=config.reduce_range,
                             quantize_embeddings=config.quantize_embeddings)  # fmt: skip
        info["size_ratio_vs_fp32"] = round(disk_size_mb(path) / disk_size_mb(source), 4)
    else:  # onnx-cuda-fp16
        info = optimize_onnx(raw, path, num_heads=heads, hidden_size=hidden, gpu_fp16=True)
        device = ctx["device"]
    classifier = OnnxClassifier(path, ctx["tokenizer"], threads=ctx["threads"], device=device)
    check = check_export(model, classifier, backend, tokenizer=ctx["tokenizer"], texts=ctx["texts"],
                         weights=ctx["weights"], config=config)  # fmt: skip
    del classifier
    manifest["artifacts"][backend] = {
        "file": path.name,
        "size_mb": round(disk_size_mb(path), 3),
        **info,
        "check": check,
    }
    _write_json(out / MANIFEST, manifest)
    built.append(backend)
