"""Turning a (pruned) PyTorch classifier into ONNX graphs: trace, fuse for BERT, quantize to INT8.

Why: on a CPU, PyTorch eager runs each BERT op separately; ONNX Runtime with its BERT fusions
(EmbedLayerNormalization, Attention, SkipLayerNormalization, BiasGelu) runs a layer in a few
fused kernels, and dynamic INT8 quantization (VNNI ``MatMulInteger`` / ``QAttention``) cuts
both compute and the file: quantizing the 197k-word embedding as well (via
``QEmbedLayerNormalization``) is what makes a MahaBERT / MuRIL file shrink to about a quarter.
Pruning removes layers; these backends make each remaining layer cheaper.

Exporter choice: ``torch.onnx.export(..., dynamo=False)`` (the TorchScript tracer) with *eager*
attention produces the graph ORT's BERT fusion patterns recognise; the dynamo exporter (the torch
2.9+ default) and SDPA attention export correctly but leave attention unfused, so they are only a
fallback. Each file is staged in a temporary sibling and renamed, so an interrupted export never
leaves a truncated model behind. ``onnx_cache`` decides which files to (re)build; ``onnx_check``
compares them with PyTorch.

Why not optimum-onnx (tried with optimum-onnx 0.1.0, its newest release, and optimum 2.1 / 2.3):
it requires ``transformers<4.58`` and ``optimum~=2.1``, so installing it would downgrade our
transformers 5.23; installed beside 5.23 without its pins, ``optimum.onnxruntime`` and
``optimum.exporters.onnx`` fail on import (``is_offline_mode`` and ``_CAN_RECORD_REGISTRY`` are
gone from transformers 5), so neither ``ORTModelForSequenceClassification`` export nor
``ORTOptimizer`` / ``ORTQuantizer`` can run. Those two wrap the same ``optimize_model`` and
``quantize_dynamic`` calls used here, so adopting them later would change the plumbing, not the graphs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.store import TMP_PREFIX

from .feeds import INPUT_NAMES
from .onnx_session import require_onnx, require_ort

logger = logging.getLogger(__name__)

PROTOBUF_LIMIT_MB = 1900  # single-file ONNX models must stay under protobuf's 2 GB
# Op types handed to quantize_dynamic; the last two are the embedding lookups (see quantize_onnx).
QUANTIZED_OPS = ("MatMul", "Attention", "Gather", "EmbedLayerNormalization")


@contextlib.contextmanager
def staged_file(path: str | os.PathLike) -> Iterator[Path]:
    """A path to write `path`'s new content to; renamed over `path` only if the block succeeds.

    For writers that insist on a file name (the exporters, ``quantize_dynamic``,
    ``save_model_to_file``), where ``models.store.atomic_write_bytes`` would need the whole model
    in memory first. The staging folder carries the store's temp prefix, so ``sweep_temp`` removes
    what a killed process leaves.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=TMP_PREFIX) as folder:
        staged = Path(folder) / path.name
        yield staged
        os.replace(staged, path)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Silence what ONNX Runtime's quantizer logs through the *root* logger (one line per tensor).

    Without a handler on the root logger, those calls would also run ``logging.basicConfig()``.
    """
    ort_dir = str(Path(require_ort().__file__).parent)
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
    """ONNX inputs: input_ids, attention_mask and token_type_ids where the model takes them.

    Raises:
        ValueError: a model whose inputs are not a prefix of ``INPUT_NAMES``.
    """
    import inspect

    params = inspect.signature(model.forward).parameters
    names = tuple(n for n in INPUT_NAMES if n in params)
    if getattr(model.config, "type_vocab_size", 0) in (0, None):
        names = tuple(n for n in names if n != "token_type_ids")
    if names != INPUT_NAMES[: len(names)]:
        raise ValueError(f"cannot export a model taking {names}; expected a prefix of {INPUT_NAMES}")
    return names


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
    require_onnx()
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
                    with staged_file(path) as staged:
                        _run_exporter(name, wrapper, example, names, staged, opset)
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
    """One exporter call writing `path`; batch and sequence axes stay dynamic."""
    common = {"input_names": list(names), "output_names": ["logits"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-derived Python ints are expected
        if exporter == "torchscript":
            axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
            torch.onnx.export(
                wrapper,
                example,
                str(path),
                **common,
                dynamic_axes=axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        elif exporter == "dynamo":
            max_len = getattr(wrapper.model.config, "max_position_embeddings", 512)
            batch, seq = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("sequence", min=1, max=max_len)
            torch.onnx.export(
                wrapper,
                example,
                str(path),
                **common,
                dynamic_shapes={n: {0: batch, 1: seq} for n in names},
                opset_version=max(opset, 18),
                dynamo=True,
                external_data=False,
                verbose=False,
            )
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
    require_ort()
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        with _quiet_root_logger():
            opt = optimize_model(
                str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, use_gpu=gpu_fp16
            )
            if gpu_fp16:
                opt.convert_float_to_float16(keep_io_types=True)
        fusions = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
        with staged_file(dst) as staged:
            opt.save_model_to_file(str(staged))
    except Exception as exc:  # noqa: BLE001 - the fusion scripts raise anything from AssertionError up
        if gpu_fp16:
            raise
        logger.warning("ONNX Runtime BERT fusions failed (%s: %s); serving the unfused graph", type(exc).__name__, exc)
        with staged_file(dst) as staged:
            shutil.copyfile(src, staged)
        return {"fused": False, "fusions": {}, "error": f"{type(exc).__name__}: {exc}"}
    if not (fusions.get("Attention") or fusions.get("MultiHeadAttention")):
        logger.warning(
            "attention was not fused in %s (fusions: %s); expect slower ONNX Runtime inference", dst, fusions
        )
    return {"fused": True, "fusions": fusions}


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
    onnx = require_onnx()
    require_ort()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    op_types = list(QUANTIZED_OPS if quantize_embeddings else QUANTIZED_OPS[:2])
    with _quiet_root_logger(), warnings.catch_warnings(), staged_file(dst) as staged:
        warnings.simplefilter("ignore")
        quantize_dynamic(
            str(src),
            str(staged),
            op_types_to_quantize=op_types,
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            # the fused contrib ops defeat ONNX shape inference; their outputs are float
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
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
