"""Measured speed and size of a model: the numbers that justify pruning.

Layer pruning is only worth its accuracy cost if the smaller model is really faster and smaller,
so this module measures instead of estimating: p50 / p90 latency and throughput of repeated
forward passes at a fixed batch size, sequence length and thread count, with warm-up runs first
(allocator, oneDNN / MLAS kernel selection) and tokenization timed on its own, so that a
pruned encoder is not hidden behind a constant tokenizer cost. Size is counted three ways
(parameters split embedding / encoder / head, bytes on disk, encoder FLOPs per token) because for
MahaBERT and MuRIL most parameters sit in the 197k-word embedding, which pruning never touches,
while most compute sits in the encoder, which it does.

Everything here is backend-neutral: a *runner* (``TorchRunner`` here, ``export.OnnxRunner`` for
ONNX Runtime) turns a numpy feed into backend tensors once, outside the timed region, and then
runs the forward pass. Rows are plain JSON-serialisable dicts (``ROW_KEYS``). The library never
prints; it logs.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

R = TypeVar("R")

# Every benchmark row carries these keys (values may be None where not applicable).
ROW_KEYS: tuple[str, ...] = (
    "model", "variant", "weights", "num_layers", "kept_layers", "strategy",
    "device", "device_name", "backend", "dtype", "threads",
    "batch", "seq_len", "p50_ms", "p90_ms", "mean_ms", "min_ms", "throughput", "repeats", "warmup",
    "tokenizer", "tokenize_ms_p50", "params", "disk_mb", "disk_mb_source", "flops_per_token",
    "versions", "export_check", "cpu_load_1m", "timestamp",
)  # fmt: skip
MB = 1_000_000  # sizes are reported in decimal megabytes (10^6 bytes), as file managers show them
DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


class Runner(Protocol):
    """What the timing loop needs from a backend."""

    backend: str
    dtype: str
    device: str
    threads: int

    def prepare(self, feed: Mapping[str, np.ndarray]) -> Any:
        """Convert a numpy feed to backend inputs (done once, outside the timed region)."""

    def __call__(self, prepared: Any) -> Any:
        """One forward pass on prepared inputs."""

    def synchronize(self) -> None:
        """Wait for queued device work (CUDA); a no-op on CPU."""

    def scope(self) -> contextlib.AbstractContextManager:
        """Context in which timing happens (threads set, eval / inference mode on)."""


# --------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------


def available_cpus() -> int:
    """CPUs this process may run on (respects taskset / cgroup affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS / Windows
        return os.cpu_count() or 1


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key and key not in info:
                info[key] = value.strip()
            if not line.strip() and info:
                break  # the first processor is enough
    return info


def machine_info() -> dict[str, Any]:
    """CPU model, family, ISA extensions that matter for fp32 / INT8 kernels, and platform."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    interesting = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8")
    return {
        "cpu_model": info.get("model name") or platform.processor() or platform.machine(),
        "cpu_family": info.get("cpu family"),
        "cpu_model_id": info.get("model"),
        "logical_cpus": available_cpus(),
        "isa": [f for f in interesting if f in flags],
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def device_name(device: str = "cpu") -> str:
    """Human-readable name of the device rows are measured on.

    Args:
        device: "cpu" or "cuda" / "cuda:N".

    Returns:
        e.g. "AMD EPYC (family 26 model 2, 2 CPUs, avx512_vnni)" or "NVIDIA H100 80GB HBM3".
    """
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    m = machine_info()
    details = []
    if m["cpu_family"]:
        details.append(f"family {m['cpu_family']} model {m['cpu_model_id']}")
    details.append(f"{m['logical_cpus']} CPUs")
    vnni = [f for f in m["isa"] if "vnni" in f or "amx" in f]
    details.append(
        vnni[0] if vnni else ("avx512f" if "avx512f" in m["isa"] else ("avx2" if "avx2" in m["isa"] else ""))
    )
    return f"{m['cpu_model']} ({', '.join(d for d in details if d)})"


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries whose kernels are being timed."""
    import transformers

    versions: dict[str, str | None] = {"torch": torch.__version__, "transformers": transformers.__version__}
    for name in ("onnxruntime", "onnx"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    versions["numpy"] = np.__version__
    versions["python"] = platform.python_version()
    return versions


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Fix torch's intra-op thread count for the block, then restore it.

    Args:
        threads: threads to use; None keeps the current setting.

    Yields:
        The thread count in effect.
    """
    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------
# Size and compute
# --------------------------------------------------------------------------------------------


def _unique_params(module: nn.Module) -> dict[int, nn.Parameter]:
    return {id(p): p for p in module.parameters()}


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Parameters split into embedding / encoder / head.

    ``embedding`` is the base model's embedding block (word, position, token-type embeddings and
    their LayerNorm), ``encoder`` the transformer layers, ``head`` everything else (pooler and
    classifier). Tied weights are counted once.

    Args:
        model: a transformers model (bare or with a task head).

    Returns:
        {"embedding": n, "encoder": n, "head": n, "total": n, "word_embedding": n}.
    """
    everything = _unique_params(model)
    base = getattr(model, "base_model", model)
    embeddings = getattr(base, "embeddings", None)
    emb = _unique_params(embeddings) if isinstance(embeddings, nn.Module) else {}
    encoder = getattr(base, "encoder", None) or getattr(base, "transformer", None)
    enc = {k: v for k, v in _unique_params(encoder).items() if k not in emb} if isinstance(encoder, nn.Module) else {}
    word = getattr(embeddings, "word_embeddings", None)
    counts = {
        "embedding": sum(p.numel() for p in emb.values()),
        "encoder": sum(p.numel() for p in enc.values()),
        "total": sum(p.numel() for p in everything.values()),
        "word_embedding": word.weight.numel() if isinstance(word, nn.Embedding) else 0,
    }
    counts["head"] = counts["total"] - counts["embedding"] - counts["encoder"]
    return counts


def disk_size_mb(path: str | os.PathLike) -> float:
    """Size on disk of a file, or of all files under a folder, in MB (10^6 bytes)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size / MB
    if not path.is_dir():
        raise FileNotFoundError(f"no file or folder at {path}")
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / MB


def estimated_size_mb(model: nn.Module, dtype: torch.dtype | None = None) -> float:
    """Bytes the weights would take in a safetensors file, from parameter and buffer dtypes.

    Args:
        model: the model.
        dtype: pretend floating-point tensors are stored in this dtype (e.g. float16).
    """
    total = 0
    seen: set[int] = set()
    for tensor in list(model.parameters()) + list(model.buffers()):
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        size = tensor.element_size()
        if dtype is not None and tensor.is_floating_point():
            size = torch.empty((), dtype=dtype).element_size()
        total += tensor.numel() * size
    return total / MB


def encoder_flops_per_token(
    num_layers: int, hidden_size: int, intermediate_size: int, seq_len: int, *, include_attention: bool = True
) -> int:
    """Analytic forward FLOPs of the encoder per token (1 multiply-add = 2 FLOPs).

    Per layer and token: the Q, K, V and output projections are 4·h² multiply-adds, the
    feed-forward block 2·h·ffn, and attention itself (scores QKᵀ and the weighted sum of V)
    2·seq·h. So ``flops = L · (2·(4h² + 2·h·ffn) + 2·2·seq·h)``. Softmax, LayerNorm, GELU,
    biases and the embedding lookup are ignored (< 1 % for BERT-base); padding tokens count,
    since a padded batch computes them too.

    Args:
        num_layers: encoder layers L.
        hidden_size: h.
        intermediate_size: ffn (3072 for BERT-base).
        seq_len: padded sequence length.
        include_attention: add the seq-dependent attention term.

    Returns:
        FLOPs per token.
    """
    dense = 2 * (4 * hidden_size * hidden_size + 2 * hidden_size * intermediate_size)
    attention = 2 * 2 * seq_len * hidden_size if include_attention else 0
    return int(num_layers * (dense + attention))


def flops_per_token(config: Any, seq_len: int) -> int:
    """``encoder_flops_per_token`` from a transformers config."""
    hidden = config.hidden_size
    ffn = getattr(config, "intermediate_size", None) or 4 * hidden
    return encoder_flops_per_token(config.num_hidden_layers, hidden, ffn, seq_len)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / mean / min of timing samples in ms (linear-interpolated percentiles)."""
    if not samples_ms:
        raise ValueError("no timing samples to summarize")
    arr = np.asarray(samples_ms, dtype=float)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p90_ms": float(np.percentile(arr, 90)),
        "mean_ms": float(arr.mean()),
        "min_ms": float(arr.min()),
    }


def time_callable(
    fn: Callable[[], Any],
    *,
    warmup: int = 5,
    repeats: int = 30,
    synchronize: Callable[[], None] | None = None,
    time_budget_s: float | None = None,
    min_repeats: int = 3,
) -> list[float]:
    """Wall-clock samples (ms) of `fn()`, after `warmup` untimed calls.

    The garbage collector is paused while timing. With a CUDA backend pass `synchronize`
    (e.g. ``torch.cuda.synchronize``) so that each sample covers the device work, not just the launch.

    Args:
        fn: the work to time.
        warmup: untimed calls first.
        repeats: timed calls.
        synchronize: called before starting and before stopping each sample's clock.
        time_budget_s: stop early once timed calls have taken this long (at least `min_repeats`).
        min_repeats: lower bound on samples when a budget cuts the run short.

    Returns:
        One sample per timed call, in ms.
    """
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    sync = synchronize or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        spent = 0.0
        for i in range(repeats):
            start = time.perf_counter_ns()
            fn()
            sync()
            elapsed = (time.perf_counter_ns() - start) / 1e6
            samples.append(elapsed)
            spent += elapsed / 1000
            if time_budget_s is not None and spent > time_budget_s and i + 1 >= min_repeats:
                logger.info("time budget %.1fs reached after %d of %d repeats", time_budget_s, i + 1, repeats)
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def time_single_request(fn: Callable[..., R], *args: Any, **kwargs: Any) -> tuple[R, float]:
    """Run `fn(*args, **kwargs)` once and return (result, wall-clock ms): for the app's live demo.

    If the result is a CUDA tensor the device is synchronized before the clock stops.
    """
    start = time.perf_counter_ns()
    result = fn(*args, **kwargs)
    if isinstance(result, torch.Tensor) and result.is_cuda:
        torch.cuda.synchronize(result.device)
    return result, (time.perf_counter_ns() - start) / 1e6


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def check_shapes(config: Any, batch_sizes: Sequence[int], seq_lengths: Sequence[int]) -> None:
    """Reject batch sizes < 1 and sequences the model cannot embed, with a one-line reason.

    Raises:
        ValueError: naming the bad value and the allowed range.
    """
    bad_batch = [b for b in batch_sizes if isinstance(b, bool) or not isinstance(b, int) or b < 1]
    if bad_batch or not batch_sizes:
        raise ValueError(f"batch sizes must be integers >= 1, got {list(batch_sizes)}")
    limit = getattr(config, "max_position_embeddings", None)
    too_long = [s for s in seq_lengths if limit is not None and s > limit]
    if too_long or not seq_lengths or any(s < 1 for s in seq_lengths):
        raise ValueError(
            f"sequence lengths must be between 1 and the model's max_position_embeddings ({limit}), "
            f"got {list(seq_lengths)}"
        )


def build_feed(
    tokenizer: Any | None,
    texts: Sequence[str] | None,
    batch_size: int,
    seq_len: int,
    *,
    vocab_size: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """A (batch_size, seq_len) int64 feed: real texts padded / truncated to `seq_len`, or random ids.

    Texts are cycled if there are fewer than `batch_size`. Without a tokenizer (random-weight
    stand-ins whose tokenizer is not available offline) token ids are drawn uniformly from the
    vocabulary with a full attention mask; the model's latency does not depend on the ids.

    Returns:
        {"input_ids", "attention_mask", "token_type_ids"} as int64 numpy arrays.

    Raises:
        ValueError: no texts for a tokenizer, or token ids outside the model's vocabulary.
    """
    if tokenizer is None:
        if not vocab_size:
            raise ValueError("random token ids need the model's vocab_size")
        rng = np.random.default_rng(seed)
        ids = rng.integers(min(1000, vocab_size - 1), vocab_size, size=(batch_size, seq_len), dtype=np.int64)
        return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    if not texts:
        raise ValueError("tokenized inputs need at least one text")
    batch = [texts[i % len(texts)] for i in range(batch_size)]
    enc = tokenizer(batch, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np")
    feed = {
        k: np.asarray(v, dtype=np.int64)
        for k, v in enc.items()
        if k in ("input_ids", "attention_mask", "token_type_ids")
    }
    feed.setdefault("token_type_ids", np.zeros_like(feed["input_ids"]))
    if vocab_size is not None and int(feed["input_ids"].max()) >= vocab_size:
        raise ValueError(
            f"the tokenizer produced id {int(feed['input_ids'].max())} but the model's vocabulary has only "
            f"{vocab_size} entries; use the model's own tokenizer"
        )
    return feed


def time_tokenization(
    tokenizer: Any, texts: Sequence[str], batch_size: int, seq_len: int, *, warmup: int = 2, repeats: int = 10
) -> list[float]:
    """ms per call of the tokenizer on one batch of `batch_size` texts padded to `seq_len`."""
    batch = [texts[i % len(texts)] for i in range(batch_size)]
    return time_callable(
        lambda: tokenizer(batch, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np"),
        warmup=warmup,
        repeats=repeats,
    )


# --------------------------------------------------------------------------------------------
# PyTorch backend
# --------------------------------------------------------------------------------------------

TORCH_BACKENDS = {"torch": torch.float32, "torch-fp16": torch.float16, "torch-bf16": torch.bfloat16}


def _forward_inputs(model: nn.Module) -> tuple[str, ...]:
    import inspect

    params = inspect.signature(model.forward).parameters
    return tuple(n for n in ("input_ids", "attention_mask", "token_type_ids") if n in params)


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
        self.model = model if same else _copy_to(model, device, dtype)
        self.backend, self.device, self.dtype = backend, str(device), DTYPE_NAMES[dtype]
        self.threads = threads or available_cpus()
        self.input_names = _forward_inputs(self.model)
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
        """Float32 logits of one feed (for export checks)."""
        with self.scope():
            return self(self.prepare(feed)).float().cpu().numpy()


def _copy_to(model: nn.Module, device: str, dtype: torch.dtype) -> nn.Module:
    import copy

    return copy.deepcopy(model).to(device=device, dtype=dtype)


# --------------------------------------------------------------------------------------------
# Measuring and rows
# --------------------------------------------------------------------------------------------


def measure_runner(
    runner: Runner,
    feed: Mapping[str, np.ndarray],
    *,
    warmup: int = 5,
    repeats: int = 30,
    time_budget_s: float | None = None,
) -> dict[str, float]:
    """Latency statistics of `runner` on one feed.

    Throughput is sequences per second over the timed calls: ``batch · 1000 / mean_ms``.

    Returns:
        p50_ms, p90_ms, mean_ms, min_ms, throughput, repeats (samples actually taken), warmup.
    """
    batch = int(next(iter(feed.values())).shape[0])
    prepared = runner.prepare(feed)
    with runner.scope():
        samples = time_callable(
            lambda: runner(prepared),
            warmup=warmup,
            repeats=repeats,
            synchronize=runner.synchronize,
            time_budget_s=time_budget_s,
        )
    stats: dict[str, float] = summarize(samples)
    stats["throughput"] = batch * 1000.0 / stats["mean_ms"]
    stats["repeats"] = len(samples)
    stats["warmup"] = warmup
    return stats


def model_meta(
    model: nn.Module,
    *,
    label: str,
    weights: str,
    variant: str | None = None,
    strategy: str | None = None,
    tokenizer_name: str | None = None,
) -> dict[str, Any]:
    """Row fields that depend only on the model (not on backend or shape)."""
    from .surgery import num_layers, provenance

    if weights not in ("pretrained", "fine-tuned", "random-weights"):
        raise ValueError(f"weights must be 'pretrained', 'fine-tuned' or 'random-weights', got {weights!r}")
    depth = num_layers(model)
    record = provenance(model) or {}
    return {
        "model": label,
        "variant": variant or label,
        "weights": weights,
        "num_layers": depth,
        "kept_layers": list(record.get("kept_layers") or range(depth)),
        "strategy": strategy or record.get("strategy"),
        "tokenizer": tokenizer_name,
        "params": count_parameters(model),
        "versions": library_versions(),
        "_config": model.config,  # removed by make_row; used for FLOPs per sequence length
    }


def _load_average() -> float | None:
    """1-minute load average when the row is made: above the thread count, other work competed for the CPU."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def make_row(
    meta: Mapping[str, Any],
    runner: Runner,
    batch: int,
    seq_len: int,
    stats: Mapping[str, float],
    *,
    tokenize_ms_p50: float | None = None,
    export_check: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One JSON-serialisable benchmark row with every key of ``ROW_KEYS``."""
    config = meta.get("_config")
    row: dict[str, Any] = {k: v for k, v in meta.items() if not k.startswith("_")}
    row.update(
        device=runner.device,
        device_name=device_name(runner.device),
        backend=runner.backend,
        dtype=runner.dtype,
        threads=runner.threads,
        batch=batch,
        seq_len=seq_len,
        tokenize_ms_p50=tokenize_ms_p50,
        disk_mb=round(float(getattr(runner, "disk_mb", math.nan)), 3),
        disk_mb_source=getattr(runner, "disk_mb_source", None),
        flops_per_token=flops_per_token(config, seq_len) if config is not None else None,
        export_check=dict(export_check) if export_check else None,
        cpu_load_1m=_load_average(),
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    row.update({k: (round(v, 4) if isinstance(v, float) else v) for k, v in stats.items()})
    if extra:
        row.update(extra)
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:  # a programming error, not a user one
        raise RuntimeError(f"benchmark row is missing {missing}")
    return {k: row[k] for k in ROW_KEYS} | {k: v for k, v in row.items() if k not in ROW_KEYS}


def benchmark_runner(
    runner: Runner,
    meta: Mapping[str, Any],
    *,
    tokenizer: Any | None = None,
    texts: Sequence[str] | None = None,
    batch_sizes: Sequence[int] = (1,),
    seq_lengths: Sequence[int] = (64,),
    warmup: int = 5,
    repeats: int = 30,
    time_budget_s: float | None = None,
    export_check: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Rows for one runner over every (batch, seq_len) pair; tokenization is timed separately.

    Raises:
        ValueError: bad batch size or a sequence longer than the model's positions.
    """
    config = meta.get("_config")
    check_shapes(config, batch_sizes, seq_lengths)
    vocab = getattr(config, "vocab_size", None)
    rows = []
    for batch in batch_sizes:
        for seq_len in seq_lengths:
            feed = build_feed(tokenizer, texts, batch, seq_len, vocab_size=vocab)
            tok_ms = None
            if tokenizer is not None:
                tok_ms = statistics.median(
                    time_tokenization(tokenizer, texts, batch, seq_len, repeats=max(3, repeats // 3))
                )
            stats = measure_runner(runner, feed, warmup=warmup, repeats=repeats, time_budget_s=time_budget_s)
            logger.info(
                "%s %s b=%d s=%d: p50 %.2f ms", meta.get("variant"), runner.backend, batch, seq_len, stats["p50_ms"]
            )
            rows.append(
                make_row(
                    meta, runner, batch, seq_len, stats, tokenize_ms_p50=tok_ms, export_check=export_check, extra=extra
                )
            )
    return rows


def benchmark_torch(
    model: nn.Module,
    tokenizer: Any | None = None,
    texts: Sequence[str] | None = None,
    *,
    label: str = "model",
    weights: str = "pretrained",
    backend: str = "torch",
    device: str = "cpu",
    threads: int | None = None,
    batch_sizes: Sequence[int] = (1,),
    seq_lengths: Sequence[int] = (64,),
    warmup: int = 5,
    repeats: int = 30,
    time_budget_s: float | None = None,
) -> list[dict[str, Any]]:
    """Latency rows of a PyTorch model: the one-call entry point for the app.

    Args:
        model: a transformers sequence classifier (left in the train/eval mode it came in).
        tokenizer: its tokenizer; None times random token ids and leaves tokenize_ms_p50 None.
        texts: real texts to tokenize (MahaNews headlines); required with a tokenizer.
        label: model name for the rows.
        weights: "pretrained", "fine-tuned" or "random-weights".
        backend: "torch", "torch-fp16" (CUDA) or "torch-bf16".
        device: "cpu" or "cuda".
        threads: torch intra-op threads; defaults to all available CPUs.
        batch_sizes, seq_lengths: shapes to time.
        warmup, repeats: untimed and timed calls per shape.
        time_budget_s: stop a shape early after this much timed work.

    Returns:
        One row per (batch, seq_len), each with every key of ``ROW_KEYS``.

    Raises:
        ValueError: bad shapes, unknown backend, CUDA asked for but absent.
    """
    check_shapes(model.config, batch_sizes, seq_lengths)
    runner = TorchRunner(model, backend=backend, device=device, threads=threads)
    meta = model_meta(model, label=label, weights=weights, tokenizer_name=getattr(tokenizer, "name_or_path", None))
    return benchmark_runner(
        runner, meta, tokenizer=tokenizer, texts=texts, batch_sizes=batch_sizes, seq_lengths=seq_lengths,
        warmup=warmup, repeats=repeats, time_budget_s=time_budget_s,
    )  # fmt: skip


def load_headlines(
    n: int = 256, data_dir: str | os.PathLike | None = None, *, split: str = "test", seed: int = 0
) -> list[str]:
    """Real MahaNews SHC headlines (cleaned by ``pruning.data``) for tokenization timing and export checks.

    A seeded sample of `n` texts, spread over all labels. The test split is used because
    fine-tuned variants never saw it. Returns [] (and logs why) when the data is not available
    locally; nothing is downloaded.
    """
    from .data import DataNotFoundError, load_mahanews

    try:
        data, _ = load_mahanews("SHC", data_dir, download=False)
    except (DataNotFoundError, OSError, ValueError) as exc:
        logger.warning("no MahaNews headlines available (%s); falling back to random token ids", exc)
        return []
    texts = list(data[split]["text"])
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))[:n]
    return [texts[i] for i in sorted(order)]
