"""pruning.app.bench: the app's classify path per backend, label agreement, and /classify over HTTP."""

from __future__ import annotations

from pruning import LABELS, VariantCache
from pruning.app import bench
from pruning.app.registry import ModelRegistry
from tests.app.conftest import HEADLINE


def test_app_path_rows_time_every_variant_and_backend_as_ratios_to_pytorch(tmp_path, bundled_variants, headlines):
    registry = ModelRegistry(VariantCache(tmp_path / "variants", bundled=bundled_variants))
    names = [r["name"] for r in registry.records()]
    rows = bench.app_path_rows(registry, names, headlines[:2], warmup=1, repeats=2)
    assert [(r["variant"], r["backend"]) for r in rows] == [
        (n, b) for n in names for b in ("torch", "onnx", "onnx-int8")
    ]
    assert all(r["runs"] == 4 and 0 < r["p50_ms"] <= r["p90_ms"] and r["speedup_vs_torch"] > 0 for r in rows)
    assert {r["speedup_vs_torch"] for r in rows if r["backend"] == "torch"} == {1.0}
    agreement = bench.agreement_rows(registry, names[:1], headlines[:8])
    assert [r["backend"] for r in agreement] == ["onnx", "onnx-int8"] and agreement[0]["agreement"] == 1.0


def test_http_rows_split_one_classify_call_into_server_and_http_time(launched_app, app_cache):
    _app, url = launched_app
    names = [r["name"] for r in app_cache.list().records]
    (call,) = bench.http_rows(url, names, HEADLINE, ["torch"], calls=1)
    assert 0 < call["server_ms"] < call["end_to_end_ms"] and call["overhead_ms"] > 0


def test_markdown_reports_ratios_agreement_and_the_http_share():
    report = {
        "meta": {
            "created": "now",
            "command": "python -m pruning.app.bench",
            "device": "cpu (test), 1 thread",
            "machine": {"cpu_model": "test cpu"},
            "threads": 1,
            "texts": 2,
            "texts_source": "SHC test headlines",
            "agreement_source": "SHC test headlines",
            "warmup": 1,
            "repeats": 2,
            "http_variants": ["a"],
        },
        "app_path": [
            {
                "variant": "a",
                "role": "pruned",
                "layers": 6,
                "backend": b,
                "p50_ms": ms,
                "p90_ms": ms,
                "speedup_vs_torch": s,
            }
            for b, ms, s in (("torch", 9.0, 1.0), ("onnx-int8", 3.0, 3.0))
        ],
        "agreement": [{"variant": "a", "backend": "onnx-int8", "agreement": 0.996, "texts": 239}],
        "http": [{"end_to_end_ms": 120.0, "server_ms": 100.0, "overhead_ms": 20.0}],
    }
    text = bench.markdown(report)
    assert "| a | pruned | 6 | ONNX Runtime INT8 | 3.00 | 3.00 | 3.00 |" in text
    assert "| a | ONNX Runtime INT8 | 99.6% |" in text and "| 120 | 100 | 20 | 17% |" in text
    assert all(label not in text for label in LABELS)


def test_bench_main_writes_json_and_markdown_for_the_bundled_variants(tmp_path, bundled_variants, monkeypatch):
    import json

    monkeypatch.setenv("MARATHI_PRUNE_BUNDLED", str(bundled_variants))
    assert bench.main(["--quick", "--no-http", "--out-dir", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "benchmark_app.json").read_text())
    assert len(report["app_path"]) == 9 and len(report["agreement"]) == 6 and report["http"] == []
    assert report["meta"]["texts_source"] == "SHC test headlines" and report["agreement"][0]["texts"] == 32
    assert "text in, label out" in (tmp_path / "benchmark_app.md").read_text()
    monkeypatch.setenv("MARATHI_PRUNE_BUNDLED", str(tmp_path / "none"))
    assert bench.main(["--quick", "--no-http", "--out-dir", str(tmp_path)]) == 2
