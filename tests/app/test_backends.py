"""pruning.app.backends: each variant on PyTorch and ONNX Runtime, ONNX files cached where they belong."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from models.store import cache_dir
from pruning import VariantCache
from pruning.app import backends
from pruning.app.registry import ModelRegistry
from tests.app.conftest import HEADLINE


def _snapshot(folder):
    return sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_backends_export_bundled_variants_to_the_exports_cache_and_never_write_the_bundle(tmp_path, bundled_variants):
    registry = ModelRegistry(VariantCache(tmp_path / "variants", bundled=bundled_variants))
    before = _snapshot(bundled_variants)
    record = next(r for r in registry.records() if r["bundle"]["role"] == "pruned")
    variant, torch_logits = registry.backend(record["name"], "torch")
    _, int8_logits = registry.backend(record["name"], "onnx-int8")
    arrays, _ = variant.encode(HEADLINE)
    assert torch_logits(arrays).shape == int8_logits(arrays).shape == (1, len(variant.label_names()))
    exports = cache_dir("exports") / record["name"] / "onnx"
    assert (exports / "model.int8.onnx").is_file() and (exports / "export.json").is_file()
    assert _snapshot(bundled_variants) == before
    assert registry.backend(record["name"], "onnx-int8")[1] is int8_logits  # opened once


def test_backends_use_an_onnx_export_shipped_with_a_bundled_variant(tmp_path, bundled_variants):
    shipped = tmp_path / "bundle"
    shutil.copytree(bundled_variants, shipped)
    name = next(p.name for p in shipped.iterdir())
    first = ModelRegistry(VariantCache(tmp_path / "variants", bundled=shipped))
    first.backend(name, "onnx")
    shutil.copytree(cache_dir("exports") / name / "onnx", shipped / name / "onnx")  # as `make variants` could ship
    shutil.rmtree(cache_dir("exports"))
    record = VariantCache(tmp_path / "variants", bundled=shipped).read_record(shipped / name)
    variant = ModelRegistry(VariantCache(tmp_path / "variants", bundled=shipped)).variant(name)
    path = backends.onnx_file(variant.model, variant.tokenizer, record, "onnx")
    assert path == shipped / name / "onnx" / "model.opt.onnx" and not cache_dir("exports").exists()


def test_backends_keep_a_user_variants_exports_in_its_folder(variant_cache, tmp_path):
    cache = VariantCache(tmp_path / "variants")
    shutil.copytree(variant_cache.root, cache.root, dirs_exist_ok=True)
    registry = ModelRegistry(cache)
    name = registry.records()[0]["name"]
    variant, fp32 = registry.backend(name, "onnx")
    _, eager = registry.backend(name, "torch")
    arrays, _ = variant.encode(HEADLINE)
    np.testing.assert_allclose(fp32(arrays), eager(arrays), atol=1e-4)
    assert (cache.root / name / "onnx" / "model.opt.onnx").is_file() and not cache_dir("exports").exists()
    assert not cache.list().problems  # the export does not damage the variant's manifest


def test_check_backends_defaults_to_every_cpu_backend_and_rejects_unknown_ones():
    assert backends.check_backends(None) == ["torch", "onnx", "onnx-int8"]
    assert backends.check_backends(["onnx-int8", "torch"]) == ["torch", "onnx-int8"]  # display order
    assert backends.check_backends("onnx") == ["onnx"]
    with pytest.raises(ValueError, match="'tpu'.*choose from torch, onnx, onnx-int8"):
        backends.check_backends(["tpu"])


def test_backends_export_several_variants_at_once_without_clobbering(tmp_path, bundled_variants):
    """Warm-up and requests export concurrently; torch.onnx.export is not thread-safe, so exports take turns."""
    registry = ModelRegistry(VariantCache(tmp_path / "variants", bundled=bundled_variants))
    names = [r["name"] for r in registry.records()]
    errors = []

    def open_backend(name, backend):
        try:
            registry.backend(name, backend)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_backend, args=(n, b)) for n in names for b in ("onnx-int8", "onnx")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors
    for name in names:
        manifest = json.loads((cache_dir("exports") / name / "onnx" / "export.json").read_text())
        assert manifest["exporter"] == "torchscript" and set(manifest["artifacts"]) == {"onnx", "onnx-int8"}
