"""What a timing was measured on: CPU or GPU name, usable CPUs, load, library versions.

A latency number means nothing without the machine behind it: the same 6-layer model is 3x faster
on a CPU with VNNI than without, and twice as slow when another process shares the cores. Every
benchmark row therefore carries these facts, read here and nowhere else.
"""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

# ISA extensions that decide which fp32 / INT8 kernels oneDNN and MLAS can use.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8")


def available_cpus() -> int:
    """CPUs this process may run on (respects taskset / cgroup affinity, unlike ``os.cpu_count``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS / Windows
        return os.cpu_count() or 1


def _cpuinfo() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo ({} where there is none)."""
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
    return {
        "cpu_model": info.get("model name") or platform.processor() or platform.machine(),
        "cpu_family": info.get("cpu family"),
        "cpu_model_id": info.get("model"),
        "logical_cpus": available_cpus(),
        "isa": [f for f in ISA_FLAGS if f in flags],
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
    """Versions of the libraries whose kernels are being timed (None for one not installed)."""
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


def load_average() -> float | None:
    """1-minute load average now: above the thread count, other work competed for the CPU."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None
