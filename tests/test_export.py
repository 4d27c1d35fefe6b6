"""ONNX Runtime backends: the exports agree with PyTorch, INT8 shrinks, the cache knows when it is stale."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
import torch

from pruning.config import BenchConfig, ExportConfig
from pruning.evaluate import predict_logits
from pruning.export import MANIFEST, OnnxClassifier, export_variant, weights_hash


@pytest.fixture(scope="module")
def trained(tokenizer, shc):
    """A 2-layer tiny BERT briefly trained on SHC headlines, so its logits are not near-uniform."""
    from conftest import make_tiny_bert

    data, _ = shc
    model = make_tiny_bert(len(tokenizer), layers=2, seed=1)
    texts, labels = list(data["train"]["text"]), torch.tensor(data["train"]["label"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small ops: one thread is faster, and immune to a busy shared CPU
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            for idx in torch.randperm(len(texts), generator=generator).split(64):
                batch = tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True, max_length=32, return_tensors="pt"
                )
                model(**batch, labels=labels[idx]).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


@pytest.fixture(scope="module")
def test_texts(shc) -> list[str]:
    data, _ = shc
    return list(data["test"]["text"])


@pytest.fixture(scope="module")
def exported(trained, tokenizer, test_texts, tmp_path_factory):
    folder = tmp_path_factory.mktemp("variant")
    result = export_variant(trained, folder, tokenizer=tokenizer, texts=test_texts, weights="fine-tuned", threads=1)
    return folder, result


def test_fp32_export_matches_pytorch_on_real_headlines(exported, trained, tokenizer, test_texts):
    _, result = exported
    reference = predict_logits(trained, tokenizer, test_texts, max_length=64)
    onnx = OnnxClassifier(result.paths["onnx"], tokenizer, threads=1, max_length=64).predict_logits(test_texts)
    assert np.abs(onnx - reference).max() <= 1e-3
    assert (onnx.argmax(-1) == reference.argmax(-1)).all()
    check = result.checks["onnx"]
    assert check["passed"] and check["max_abs_logit_diff"] <= 1e-3 and check["label_agreement"] == 1.0
    assert (
        check["inputs"] == "MahaNews SHC headlines"
        and check["n"] == len(test_texts)
        and check["weights"] == "fine-tuned"
    )
    fusions = result.manifest["artifacts"]["onnx"]["fusions"]
    assert fusions.get("Attention") == 2 and fusions.get("EmbedLayerNormalization") == 1  # ORT's BERT fusions applied
    assert result.manifest["exporter"] == "torchscript"


def test_int8_export_loads_classifies_and_shrinks(exported, trained, tokenizer, test_texts):
    folder, result = exported
    fp32, int8 = result.paths["onnx"], result.paths["onnx-int8"]
    assert int8.stat().st_size < 0.4 * fp32.stat().st_size
    info = result.manifest["artifacts"]["onnx-int8"]
    assert info["embedding_quantized"] and "word_embeddings" in info["largest_initializer"]["name"]
    assert info["quantized_nodes"].get("QAttention") == 2 and info["quantized_nodes"].get("MatMulInteger")
    classifier = OnnxClassifier.from_variant(folder, "onnx-int8", tokenizer=tokenizer, id2label=trained.config.id2label)
    proba = classifier.predict_proba(test_texts[:40])
    assert proba.shape == (40, 12) and np.allclose(proba.sum(-1), 1, atol=1e-5)
    labels = classifier.predict(test_texts[:5])
    assert all(label in trained.config.id2label.values() for label in labels)
    check = result.checks["onnx-int8"]
    assert check["label_agreement"] >= 0.95, check  # the real target (>= 0.99) is reported on real fine-tuned models
    assert check["max_abs_logit_diff"] > 0  # it really is a different (quantized) model


def test_export_cache_reused_until_weights_change(exported, trained, tokenizer, test_texts):
    folder, first = exported
    stamp = first.paths["onnx-int8"].stat().st_mtime_ns
    again = export_variant(trained, folder, tokenizer=tokenizer, texts=test_texts, weights="fine-tuned", threads=1)
    assert again.from_cache and again.built == []
    assert again.paths["onnx-int8"].stat().st_mtime_ns == stamp

    changed = json.loads(json.dumps(trained.config.to_dict()))  # same architecture, new weights
    from transformers import BertConfig, BertForSequenceClassification

    other = BertForSequenceClassification(BertConfig(**changed)).eval()
    other.load_state_dict(trained.state_dict())
    with torch.no_grad():
        other.classifier.bias += 0.5
    assert weights_hash(other) != weights_hash(trained)
    redone = export_variant(other, folder, tokenizer=tokenizer, texts=test_texts[:32], weights="fine-tuned", threads=1)
    assert not redone.from_cache and redone.built == ["onnx", "onnx-int8"]
    assert json.loads((folder / "onnx" / MANIFEST).read_text())["source_hash"] == weights_hash(other)
    assert redone.checks["onnx"]["passed"]  # checked against the *new* weights
    settings = export_variant(other, folder, backends=["onnx"], texts=test_texts[:32], tokenizer=tokenizer,
                              config=ExportConfig(check_texts=16), threads=1)  # fmt: skip
    assert not settings.from_cache and settings.checks["onnx"]["n"] == 16  # new export settings: redone too


def test_bench_rows_carry_export_checks(trained, tokenizer, test_texts, tmp_path):
    from pruning.bench import run_bench

    bench = BenchConfig(backends=["torch", "onnx", "onnx-int8"], batch_sizes=[2], seq_lengths=[32], warmup=1,
                        repeats=3, threads=1)  # fmt: skip
    rows = run_bench(trained, keep=[2, 1], bench=bench, tokenizer=tokenizer, texts=test_texts[:64],
                     export_root=tmp_path, label="tiny", weights="fine-tuned")  # fmt: skip
    assert [(r["num_layers"], r["backend"]) for r in rows] == [
        (2, "torch"), (2, "onnx"), (2, "onnx-int8"), (1, "torch"), (1, "onnx"), (1, "onnx-int8"),
    ]  # fmt: skip
    by = {(r["num_layers"], r["backend"]): r for r in rows}
    assert by[(2, "torch")]["export_check"] is None
    assert by[(1, "onnx")]["export_check"]["passed"] and by[(1, "onnx")]["dtype"] == "float32"
    assert by[(1, "onnx-int8")]["export_check"]["backend"] == "onnx-int8"
    assert by[(1, "onnx-int8")]["disk_mb"] < by[(1, "onnx")]["disk_mb"]
    assert by[(1, "onnx")]["disk_mb"] < by[(2, "onnx")]["disk_mb"]
    assert by[(1, "torch")]["variant"] == "tiny-top-k1" and by[(1, "torch")]["kept_layers"] == [0]
    assert all(r["threads"] == 1 and r["weights"] == "fine-tuned" for r in rows)
    json.dumps(rows)


def test_export_config_validation_and_install_hint(monkeypatch):
    with pytest.raises(ValueError, match="unknown exporter 'tflite'"):
        ExportConfig(exporter="tflite")
    with pytest.raises(ValueError, match="opset"):
        ExportConfig(opset=7)
    with pytest.raises(ValueError, match="int8_min_agreement"):
        ExportConfig(int8_min_agreement=1.5)
    from pruning import export

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install onnxruntime"):
        export.make_session("model.onnx")


def test_exporter_fallback_order(trained, tmp_path, monkeypatch):
    from pruning import export

    calls = []

    def fake(name, wrapper, example, names, path, opset):
        calls.append(name)
        if name == "torchscript":
            raise RuntimeError("tracer broke")
        path.write_bytes(b"onnx")

    monkeypatch.setattr(export, "_run_exporter", fake)
    assert export.export_onnx(trained, tmp_path / "m.onnx") == "dynamo" and calls == ["torchscript", "dynamo"]
    assert (tmp_path / "m.onnx").read_bytes() == b"onnx" and not list(tmp_path.glob(".*tmp*"))  # atomic, no leftovers
    monkeypatch.setattr(export, "_run_exporter", lambda *a: (_ for _ in ()).throw(RuntimeError("nope")))
    with pytest.raises(RuntimeError, match=re.escape("every exporter: torchscript: RuntimeError: nope | dynamo")):
        export.export_onnx(trained, tmp_path / "n.onnx")
    assert not (tmp_path / "n.onnx").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the guards of a machine without CUDA")
def test_gpu_paths_are_guarded_on_cpu(trained, tmp_path):
    from pruning import export
    from pruning.bench import run_bench

    with pytest.raises(ValueError, match="cuda"):
        run_bench(trained, bench=BenchConfig(device="cuda"))
    with pytest.raises(ValueError, match="onnx-cuda-fp16 runs on the GPU only"):
        run_bench(trained, bench=BenchConfig(backends=["onnx-cuda-fp16"]))
    with pytest.raises(ValueError, match="needs --device cuda"):
        export.export_variant(trained, tmp_path, backends=["onnx-cuda-fp16"])
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(ValueError, match="onnxruntime-gpu"):
            export.make_session(tmp_path / "model.onnx", device="cuda")
