"""Backends behind one small interface, so that one timing loop serves PyTorch and ONNX Runtime.

A *runner* turns a numpy feed into backend inputs once (``prepare``, outside the timed region:
host-to-device copies and IO binding are not inference), then runs only the forward pass
(``__call__``). ``synchronize`` waits for queued CUDA work and ``scope`` holds the state timing
needs (threads fixed, eval and inference mode). A runner also says how big its model is on disk.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from .feeds import INPUT_NAMES
from .machine import available_cpus
from .onnx_session import OnnxClassifier, require_ort
from .sizes import disk_size_mb, estimated_size_mb
from .timing import torch_threads

TORCH_BACKENDS = {"torch": torch.float32, "torch-fp16": torch.float16, "torch-bf16": torch.bfloat16}
ONNX_DTYPES = {"onnx": "float32", "onnx-int8": "int8", "onnx-cuda-fp16": "float16"}
DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


class Runner(Protocol):
    """What the timing loop needs from a backend."""

    backend: str
    dtype: str
    device: str
    threads: int
    disk_mb: float
    disk_mb_source: str

    def prepare(self, feed: Mapping[str, np.ndarray]) -> Any:
        """Convert a numpy feed to backend inputs (done once, outside the timed region)."""

    def __call__(self, prepared: Any) -> Any:
        """One forward pass on prepared inputs."""

    def synchronize(self) -> None:
        """Wait for queued device work (CUDA); a no-op on CPU."""

    def scope(self) -> contextlib.AbstractContextManager:
        """Context in which timing happens (threads set, eval / inference mode on)."""


class TorchRunner:
    """PyTorch eager forward of a classifier, in fp32 / fp16 / bf16, on CPU or CUDA.

    Half-precision or other-device runs work on a copy, so the caller's model is never changed.
    """

    def __init__(self, model: nn.Module, *, backend: str = "torch", device: str = "cpu", threads: int | None = None):
        """Args:
        model: a transformers classifier.
        backend: "torch", "torch-fp16" or "torch-bf16".
        device: "cpu" or "cuda[:N]".
        threads: torch intra-op threads while timing; defaults to all available CPUs.

        Raises:
            ValueError: unknown backend, fp16 on CPU, or CUDA asked for but absent.
        """
        if backend not in TORCH_BACKENDS:
            raise ValueError(f"unknown torch backend {backend!r}; valid: {', '.join(TORCH_BACKENDS)}")
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but torch.cuda.is_available() is False on this machine")
        if backend == "torch-fp16" and not str(device).startswith("cuda"):
            raise ValueError("backend torch-fp16 needs --device cuda (fp16 matmuls are slow on CPU); use torch-bf16")
        dtype = TORCH_BACKENDS[backend]
        current = next(model.parameters())
        same = current.dtype == dtype and current.device == torch.device(device)
        self.model = model if same else copy.deepcopy(model).to(device=device, dtype=dtype)
        self.backend, self.device, self.dtype = backend, str(device), DTYPE_NAMES[dtype]
        self.threads = threads or available_cpus()
        params = inspect.signature(self.model.forward).parameters
        self.input_names = tuple(n for n in INPUT_NAMES if n in params)
        self.disk_mb = estimated_size_mb(self.model)
        self.disk_mb_source = f"estimate ({self.dtype} weights)"

    def prepare(self, feed: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {
            k: torch.from_numpy(np.ascontiguousarray(v)).to(self.device)
            for k, v in feed.items()
            if k in self.input_names
        }

    def __call__(self, prepared: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.model(**prepared).logits

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(torch.device(self.device))

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Threads fixed, eval mode and inference mode on; the previous state is restored after."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch_threads(self.threads), torch.inference_mode():
                yield
        finally:
            self.model.train(was_training)

    def logits(self, feed: Mapping[str, np.ndarray]) -> np.ndarray:
        """Float32 logits of one feed (the reference of the export checks)."""
        with self.scope():
            return self(self.prepare(feed)).float().cpu().numpy()


class OnnxRunner:
    """ONNX Runtime forward of an exported file, via an ``OnnxClassifier``'s session."""

    def __init__(self, classifier: OnnxClassifier, backend: str):
        """Args:
        classifier: the opened export.
        backend: "onnx", "onnx-int8" or "onnx-cuda-fp16" (sets the dtype reported in rows).
        """
        self.classifier = classifier
        self.backend, self.dtype = backend, ONNX_DTYPES[backend]
        self.device, self.threads = classifier.device, classifier.threads
        self.disk_mb = disk_size_mb(classifier.path)
        self.disk_mb_source = f"file {classifier.path.name}"
        self._binding = None

    def prepare(self, feed: Mapping[str, np.ndarray]) -> Any:
        arrays = self.classifier.feed(feed)
        if not self.device.startswith("cuda"):
            return arrays
        ort = require_ort()
        index = int(self.device.partition(":")[2] or 0)
        binding = self.classifier.session.io_binding()
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
