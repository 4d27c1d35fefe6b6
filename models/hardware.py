"""What the machine's arithmetic can do fast: the one place that decides whether bf16 autocast pays.

Why: bf16 autocast is 1.6-2.4x faster than fp32 on CPUs with AVX512-BF16 or AMX (measured on an EPYC
with AVX512-BF16), but on a CPU without them PyTorch emulates bf16 and a pretraining step became about
15x slower (an AVX2-only EPYC, 12-layer teacher: 56 s a step under bf16 against 3.7 s in fp32). Pretraining
(``models.build_offline``) and fine-tuning (``pruning.finetune``) both ask here, so neither hard-codes
a precision that only suits the machine it was written on.
"""

from __future__ import annotations

import functools

import torch


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when the CPU runs bf16 matmuls natively (AVX512-BF16 or AMX tiles)."""
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool((probe and probe()) or (amx and amx()))


def fast_bf16(device: torch.device) -> bool:
    """True when bf16 autocast is a speed-up on ``device`` (a bf16-capable GPU, or a CPU as above)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_fast_bf16()


def resolve_bf16(setting: bool | str, device: torch.device) -> bool:
    """A bf16 setting (True, False or "auto") for ``device``: "auto" means :func:`fast_bf16`."""
    if isinstance(setting, str):
        if setting.lower() != "auto":
            raise ValueError(f"bf16 must be true, false or 'auto', got {setting!r}")
        return fast_bf16(device)
    return bool(setting)
