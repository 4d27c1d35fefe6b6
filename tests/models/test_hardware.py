"""bf16 is chosen per machine: emulated bf16 on a CPU without AVX512-BF16/AMX is far slower than fp32."""

import pytest
import torch

from models import hardware
from models.build_offline.config import PretrainConfig
from models.build_offline.pretrain import autocast


@pytest.fixture
def cpu_bf16(monkeypatch):
    """Pretend the CPU does (True) or does not (False) run bf16 natively."""

    def set_to(value: bool) -> None:
        monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: value)

    return set_to


@pytest.mark.parametrize("native", [True, False])
def test_resolve_bf16_auto_follows_the_cpu(cpu_bf16, native):
    cpu_bf16(native)
    assert hardware.resolve_bf16("auto", torch.device("cpu")) is native
    assert hardware.resolve_bf16(True, torch.device("cpu")) is True  # an explicit choice wins
    assert hardware.resolve_bf16(False, torch.device("cpu")) is False


def test_resolve_bf16_rejects_other_words():
    with pytest.raises(ValueError, match="true, false or 'auto'"):
        hardware.resolve_bf16("fast", torch.device("cpu"))


def test_pretrain_config_defaults_to_auto_and_checks_the_value():
    assert PretrainConfig().bf16 == "auto"
    assert PretrainConfig(bf16=True).bf16 is True
    with pytest.raises(ValueError, match="bf16"):
        PretrainConfig(bf16="yes")


@pytest.mark.parametrize("native", [True, False])
def test_pretraining_autocast_is_bf16_only_where_native(cpu_bf16, native):
    cpu_bf16(native)
    with autocast(torch.device("cpu"), "auto"):
        out = torch.ones(2, 2) @ torch.ones(2, 2)
    assert out.dtype == (torch.bfloat16 if native else torch.float32)
