"""What a timing was measured on: names and versions every row carries."""

from __future__ import annotations

import torch

from pruning.speed.machine import available_cpus, device_name, library_versions, load_average, machine_info


def test_machine_info_and_cpu_name():
    info = machine_info()
    assert info["logical_cpus"] == available_cpus() >= 1
    assert set(info["isa"]) <= {
        "avx2",
        "fma",
        "avx512f",
        "avx512_vnni",
        "avx_vnni",
        "avx512_bf16",
        "amx_tile",
        "amx_int8",
    }
    name = device_name("cpu")
    assert f"{available_cpus()} CPUs" in name and name.startswith(str(info["cpu_model"]))


def test_library_versions_name_the_timed_kernels():
    versions = library_versions()
    assert versions["torch"] == torch.__version__
    assert {"transformers", "onnxruntime", "onnx", "numpy", "python"} <= set(versions)


def test_load_average_is_a_number_here():
    assert load_average() is None or load_average() >= 0
