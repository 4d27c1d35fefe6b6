"""How fast and how big a (pruned) model is, measured: timing, ONNX Runtime backends, the bench.

Layer pruning is only worth its accuracy cost if the smaller model really is faster, so this
package measures instead of estimating. Modules, bottom up (each imports only those above it):

* ``machine``, ``timing``, ``sizes``, ``feeds``: what a number was measured on, the clock
  (warm-up, repeats, p50 / p90), parameter / disk / FLOP counts, and the padded input batches.
* ``onnx_session`` (open an export), ``runners`` (PyTorch and ONNX Runtime behind one interface),
  ``onnx_export`` (trace, fuse, quantize), ``onnx_check`` (parity with PyTorch), ``onnx_cache``
  (a variant's exports, rebuilt when stale).
* ``measure`` (a runner into rows), ``sources`` and ``bench`` (the ``bench`` command),
  ``figures``, ``report_markdown`` and ``report`` (``python -m pruning.speed.report``, `make bench`).
"""

from .bench import add_bench_parser, run_bench, write_rows
from .feeds import build_feed, check_shapes, load_headlines
from .figures import latency_figure
from .machine import available_cpus, device_name, library_versions, machine_info
from .measure import ROW_KEYS, benchmark_runner, benchmark_torch
from .onnx_cache import ExportResult, export_variant
from .onnx_check import check_export
from .onnx_export import export_onnx, optimize_onnx, quantize_onnx
from .onnx_session import ONNX_BACKENDS, OnnxClassifier, make_session
from .report_markdown import add_speedups
from .runners import OnnxRunner, TorchRunner
from .sizes import count_parameters, disk_size_mb, encoder_flops_per_token, estimated_size_mb, flops_per_token
from .sources import BenchSource, load_source
from .timing import summarize, time_callable, time_single_request, torch_threads

__all__ = [
    "ONNX_BACKENDS",
    "ROW_KEYS",
    "BenchSource",
    "ExportResult",
    "OnnxClassifier",
    "OnnxRunner",
    "TorchRunner",
    "add_bench_parser",
    "add_speedups",
    "available_cpus",
    "benchmark_runner",
    "benchmark_torch",
    "build_feed",
    "check_export",
    "check_shapes",
    "count_parameters",
    "device_name",
    "disk_size_mb",
    "encoder_flops_per_token",
    "estimated_size_mb",
    "export_onnx",
    "export_variant",
    "flops_per_token",
    "latency_figure",
    "library_versions",
    "load_headlines",
    "load_source",
    "machine_info",
    "make_session",
    "optimize_onnx",
    "quantize_onnx",
    "run_bench",
    "summarize",
    "time_callable",
    "time_single_request",
    "torch_threads",
    "write_rows",
]
