"""GPU code paths exercised on a CPU: ZeroGPU durations, autocast choice, ONNX Runtime's CUDA provider.

No test here needs a GPU: each one forces the decision (a fake ``spaces`` package, a CUDA device
object, a fake ``onnxruntime``) so that the branch a GPU machine takes runs here too.
"""

from __future__ import annotations

import sys
import types

import pytest
import torch

from pruning import FinetuneConfig, gpu
from pruning.finetune import autocast_dtype
from pruning.speed import onnx_session


class FakeSpaces(types.ModuleType):
    """Stands in for the ``spaces`` package: records what ``spaces.GPU`` was given."""

    def __init__(self):
        super().__init__("spaces")
        self.durations: list = []

    def GPU(self, fn=None, *, duration=60):  # noqa: N802 (the real name)
        def wrap(func):
            def run(*args, **kwargs):
                self.durations.append(duration(*args, **kwargs) if callable(duration) else duration)
                return func(*args, **kwargs)

            run.__wrapped__ = func
            return run

        return wrap(fn) if fn is not None else wrap


def handler(base, strategy, keep, layers, dataset, epochs, lr, samples, request=None, progress=None):
    return f"{base}:{keep}"


def handler_duration(base, strategy, keep, layers, dataset, epochs, lr, samples, *rest, **kwargs):
    kept = len(layers) if strategy == "custom" else keep
    return gpu.finetune_seconds(kept, dataset, epochs, samples)


def test_gpu_task_is_the_identity_without_spaces(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # as if it were not installed
    assert gpu.spaces_module() is None
    assert gpu.gpu_task(handler_duration)(handler) is handler
    assert gpu.gpu_task(120)(handler) is handler


def test_gpu_task_asks_zerogpu_for_the_duration_of_each_job(monkeypatch):
    fake = FakeSpaces()
    monkeypatch.setitem(sys.modules, "spaces", fake)
    wrapped = gpu.gpu_task(handler_duration)(handler)
    assert wrapped is not handler
    assert wrapped("mahabert-v2", "middle", 6, [], "SHC", 1, 5e-5, 500) == "mahabert-v2:6"
    assert wrapped("mahabert-v2", "middle", 12, [], "LDC", 10, 5e-5, 0) == "mahabert-v2:12"
    small, huge = fake.durations
    assert gpu.MIN_GPU_SECONDS <= small < 60 and huge == gpu.MAX_GPU_SECONDS  # clamped to what ZeroGPU accepts
    gpu.gpu_task(90.4)(handler)("m", "top", 1, [], "SHC", 1, 1e-4, 1)
    assert fake.durations[-1] == 91


def test_finetune_seconds_grows_with_the_job_and_is_clamped():
    one = gpu.finetune_seconds(6, "SHC", 1, 0)
    assert one < gpu.finetune_seconds(6, "SHC", 3, 0) < gpu.finetune_seconds(12, "SHC", 3, 0)
    assert gpu.finetune_seconds(6, "SHC", 3, 5000) < gpu.finetune_seconds(6, "SHC", 3, 20000)
    assert gpu.finetune_seconds(6, "SHC", 1, 0) == gpu.finetune_seconds(6, "SHC", 1, 10**9)  # 0 = the whole split
    assert gpu.finetune_seconds(1, "SHC", 1, 32) == gpu.MIN_GPU_SECONDS
    assert gpu.finetune_seconds(12, "LDC", 10, 0) == gpu.MAX_GPU_SECONDS
    assert gpu.finetune_seconds(12, "LPC", 3, 0, hidden_size=256) < gpu.finetune_seconds(12, "LPC", 3, 0)
    # the target epoch (22k SHC headlines, 6 layers) fits one ZeroGPU task with room to spare
    assert gpu.finetune_seconds(6, "SHC", 1, 0) < gpu.MAX_GPU_SECONDS
    with pytest.raises(ValueError, match="unknown dataset"):
        gpu.finetune_seconds(6, "XYZ")
    with pytest.raises(ValueError, match="at least 1"):
        gpu.finetune_seconds(0)


@pytest.mark.parametrize(
    ("precision", "bf16_ok", "expected"),
    [
        ("auto", True, torch.bfloat16),
        ("auto", False, torch.float16),
        ("bf16", False, torch.bfloat16),
        ("fp16", True, torch.float16),
        ("no", True, None),
    ],
)
def test_autocast_dtype_on_a_cuda_device(monkeypatch, precision, bf16_ok, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_ok)
    config = FinetuneConfig(mixed_precision=precision)
    assert autocast_dtype(config, torch.device("cuda")) is expected


def test_fp16_autocast_is_refused_on_cpu():
    with pytest.raises(ValueError, match="fp16 mixed precision needs a GPU"):
        autocast_dtype(FinetuneConfig(mixed_precision="fp16"), torch.device("cpu"))


class FakeSession:
    def __init__(self, path, options, providers):
        self.path, self.options, self.asked = path, options, providers
        wanted = [p[0] if isinstance(p, tuple) else p for p in providers]
        self.providers = [p for p in wanted if p in FakeOrt.working]

    def get_providers(self):
        return self.providers


class FakeOrt(types.SimpleNamespace):
    """An onnxruntime-gpu whose CUDA provider loads (or not): what a GPU Space (or a CPU machine) has."""

    working = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def fake_ort(monkeypatch, *, listed=True, loads=True):
    import onnxruntime

    preloads: list = []
    ort = FakeOrt(
        SessionOptions=onnxruntime.SessionOptions,
        ExecutionMode=onnxruntime.ExecutionMode,
        GraphOptimizationLevel=onnxruntime.GraphOptimizationLevel,
        get_available_providers=lambda: (["CUDAExecutionProvider"] if listed else []) + ["CPUExecutionProvider"],
        preload_dlls=lambda: preloads.append(True),
        InferenceSession=FakeSession,
    )
    monkeypatch.setattr(FakeOrt, "working", FakeOrt.working if loads else ["CPUExecutionProvider"])
    monkeypatch.setattr(onnx_session, "require_ort", lambda: ort)
    return ort, preloads


def test_cuda_session_asks_for_the_cuda_provider_on_the_right_gpu(monkeypatch):
    _, preloads = fake_ort(monkeypatch)
    session = onnx_session.make_session("model.onnx", device="cuda:1", threads=1)
    assert session.asked == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    assert session.get_providers()[0] == "CUDAExecutionProvider"
    assert preloads == [True]  # the CUDA libraries were preloaded once for this onnxruntime
    onnx_session.make_session("model.onnx", device="cuda", threads=1)
    assert preloads == [True]


def test_cpu_session_never_touches_cuda(monkeypatch):
    _, preloads = fake_ort(monkeypatch)
    session = onnx_session.make_session("model.onnx", device="cpu", threads=1)
    assert session.asked == ["CPUExecutionProvider"] and preloads == []


def test_cuda_session_that_fell_back_to_cpu_fails_loudly(monkeypatch):
    fake_ort(monkeypatch, loads=False)  # onnxruntime-gpu without a GPU or without libcublas/cuDNN
    with pytest.raises(RuntimeError, match="could not start its CUDA provider"):
        onnx_session.make_session("model.onnx", device="cuda", threads=1)


def test_cuda_session_without_onnxruntime_gpu_names_the_package(monkeypatch):
    fake_ort(monkeypatch, listed=False)  # the CPU-only onnxruntime build
    with pytest.raises(ValueError, match="pip install onnxruntime-gpu"):
        onnx_session.make_session("model.onnx", device="cuda", threads=1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")
def test_real_onnxruntime_gpu_without_a_gpu_is_caught(tmp_path):
    """The installed onnxruntime-gpu lists CUDA here but cannot run it: the session must not pretend."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("CPU-only onnxruntime installed")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, tmp_path / "relu.onnx")
    assert onnx_session.make_session(tmp_path / "relu.onnx", threads=1).get_providers() == ["CPUExecutionProvider"]
    with pytest.raises(RuntimeError, match="CUDA provider"):
        onnx_session.make_session(tmp_path / "relu.onnx", device="cuda", threads=1)
