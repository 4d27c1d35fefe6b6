"""GPU plumbing: ZeroGPU's ``spaces.GPU`` with a duration computed from the job, and ONNX Runtime's CUDA provider.

Why a module of its own: the GPU paths never run on the machines this project is built on (no GPU),
so everything that decides "GPU or not" lives here as small functions that tests drive with the
decision forced (a fake ``spaces`` module, a fake ``onnxruntime``), and a typo cannot hide until a GPU
appears.

* ZeroGPU (Hugging Face Spaces): a function decorated with ``spaces.GPU(duration=...)`` gets a GPU
  for at most ``duration`` seconds; a callable duration is called with the function's own arguments.
  A visitor's quota is checked against the request, so asking for what the job needs (not a fixed
  maximum) lets short jobs through. ``gpu_task`` applies it when the ``spaces`` package is importable
  (ZeroGPU Spaces install it) and is the identity elsewhere.
* ONNX Runtime CUDA: ``onnxruntime-gpu`` lists ``CUDAExecutionProvider`` even on machines with no GPU
  or no CUDA libraries, and a session asked for CUDA then silently runs on the CPU. ``ort_providers``
  preloads the CUDA/cuDNN libraries that the pinned torch installs and ``check_ort_session`` fails
  loudly when the session did not get the provider it asked for.
"""

from __future__ import annotations

import functools
import importlib
import logging
import math
from collections.abc import Callable
from typing import Any, TypeVar

from .config import DEFAULT_MAX_LENGTH

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# ZeroGPU refuses requests above about 300 s (logged-in visitors) and counts what a task really used.
MIN_GPU_SECONDS = 30
MAX_GPU_SECONDS = 300
# Official MahaNews training split sizes: the upper bound of a "0 = all samples" job.
TRAIN_EXAMPLES = {"SHC": 22014, "LPC": 42870, "LDC": 22014}
EVAL_EXAMPLES = {"SHC": 2750 + 2761, "LPC": 5357 + 5366, "LDC": 2750 + 2761}
# Training throughput of a BERT-base-width layer under bf16 autocast on one ZeroGPU slice, in
# (tokens x layers) per second, taken low on purpose: the H100 target (one 22k-headline SHC
# epoch of a 6-layer model in 5 s) is about 1.1M; half of that leaves room for a slower or shared GPU.
TOKEN_LAYERS_PER_SECOND = 0.5e6
# Moving a 238M-parameter model to the GPU, tokenizing, the CUDA context: paid once per task.
OVERHEAD_SECONDS = 20


def spaces_module() -> Any | None:
    """The ``spaces`` package (ZeroGPU), or None where it is not installed."""
    try:
        return importlib.import_module("spaces")
    except ImportError:
        return None


def clamp_seconds(seconds: float) -> int:
    """A duration ZeroGPU accepts: whole seconds within [MIN_GPU_SECONDS, MAX_GPU_SECONDS]."""
    return int(min(MAX_GPU_SECONDS, max(MIN_GPU_SECONDS, math.ceil(seconds))))


def gpu_task(duration: Callable[..., float] | float = 60) -> Callable[[F], F]:
    """Decorator: run the function under ``spaces.GPU`` with a duration computed from its arguments.

    Args:
        duration: seconds, or a function called with the decorated function's own arguments that
            returns them (ZeroGPU's dynamic duration). The result is clamped to what ZeroGPU accepts.

    Returns:
        A decorator; without the ``spaces`` package it returns the function unchanged (same object),
        so a CPU Space, CI and a laptop run exactly the code that was written.
    """

    def decorate(fn: F) -> F:
        spaces = spaces_module()
        if spaces is None:
            return fn
        if callable(duration):

            @functools.wraps(duration)
            def seconds(*args: Any, **kwargs: Any) -> int:
                return clamp_seconds(duration(*args, **kwargs))

            return spaces.GPU(duration=seconds)(fn)
        return spaces.GPU(duration=clamp_seconds(duration))(fn)

    return decorate


def finetune_seconds(
    layers: int,
    dataset: str = "SHC",
    epochs: float = 3,
    samples: int | None = None,
    *,
    hidden_size: int = 768,
) -> int:
    """GPU seconds to ask for one fine-tune job: load, train, evaluate dev and test; clamped.

    Tokens are counted at the dataset's truncation length (texts are shorter, so this errs high),
    times the layers that remain, at ``TOKEN_LAYERS_PER_SECOND``; evaluation (no backward pass)
    costs a third of training per token.

    Args:
        layers: encoder layers the fine-tuned model keeps.
        dataset: "SHC", "LPC" or "LDC" (sets the length and, when `samples` is 0/None, the size).
        epochs: passes over the training examples.
        samples: training examples; 0 or None means the whole official training split.
        hidden_size: the model's width; a layer's compute grows with its square (BERT-base is 768, the
            offline family 256, about a ninth of the work).

    Raises:
        ValueError: an unknown dataset or a non-positive layer count.
    """
    if dataset not in TRAIN_EXAMPLES:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(TRAIN_EXAMPLES)}")
    if layers < 1:
        raise ValueError(f"layers must be at least 1, got {layers}")
    examples = min(samples or TRAIN_EXAMPLES[dataset], TRAIN_EXAMPLES[dataset])
    per_text = DEFAULT_MAX_LENGTH[dataset] * layers * (hidden_size / 768) ** 2 / TOKEN_LAYERS_PER_SECOND
    train = examples * max(epochs, 0) * per_text
    evaluate = EVAL_EXAMPLES[dataset] * per_text / 3
    wanted = OVERHEAD_SECONDS + train + evaluate
    if wanted > MAX_GPU_SECONDS:
        logger.warning("fine-tune needs ~%.0f s of GPU, more than ZeroGPU's %d s", wanted, MAX_GPU_SECONDS)
    return clamp_seconds(wanted)


# ------------------------------------------------------------------------ ONNX Runtime CUDA ---


_preloaded: list[Any] = []  # onnxruntime modules whose CUDA libraries are loaded (once per process)


def _preload_cuda_libraries(ort: Any) -> None:
    """Load CUDA/cuDNN from the pip-installed NVIDIA wheels (the pinned torch's) once per process."""
    preload = getattr(ort, "preload_dlls", None)  # onnxruntime-gpu >= 1.21
    if preload is None or any(seen is ort for seen in _preloaded):
        return
    _preloaded.append(ort)
    try:
        preload()
    except Exception as exc:  # a missing library surfaces as a CPU fallback, which check_ort_session reports
        logger.warning("onnxruntime.preload_dlls failed: %s", exc)


def ort_providers(ort: Any, device: str = "cpu") -> list[Any]:
    """The execution providers to open a session with on `device` ("cpu" or "cuda[:N]").

    For CUDA it first makes the CUDA libraries loadable (``onnxruntime.preload_dlls``, which finds the
    CUDA 13 / cuDNN 9 wheels the pinned torch installs), then asks for the CUDA provider on GPU N with
    the CPU provider behind it for the few operators CUDA lacks.

    Raises:
        ValueError: CUDA asked for but this onnxruntime build has no CUDA provider (the CPU-only
            ``onnxruntime`` package).
    """
    device = str(device)
    if not device.startswith("cuda"):
        return ["CPUExecutionProvider"]
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise ValueError(f"ONNX Runtime has no CUDA provider here ({available}); pip install onnxruntime-gpu")
    _preload_cuda_libraries(ort)
    index = int(device.partition(":")[2] or 0)
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


def check_ort_session(session: Any, device: str = "cpu") -> Any:
    """Return `session`, or raise when it was asked for CUDA and ONNX Runtime fell back to the CPU.

    onnxruntime-gpu only logs when the CUDA provider cannot load (no GPU, missing libcublas/cuDNN)
    and runs on the CPU instead, which would put CPU timings in GPU rows.

    Raises:
        RuntimeError: CUDA asked for, CUDA provider absent from the session.
    """
    if str(device).startswith("cuda") and "CUDAExecutionProvider" not in session.get_providers():
        raise RuntimeError(
            f"ONNX Runtime could not start its CUDA provider (session runs on {session.get_providers()}): "
            "it needs a GPU plus CUDA 13 and cuDNN 9 (installed with the pinned torch); see the log above"
        )
    return session
