"""The soak benchmark's harness on a tiny launched app: calls counted, a fine-tune running beside them."""

from pruning.app import soak


def test_soak_counts_calls_and_writes_its_section(launched_app, tiny_base_dir, app_cache, tmp_path):
    app, url = launched_app
    variant = app_cache.list().records[0]["name"]
    finetune = [str(tiny_base_dir), "top", 1, [], "SHC", 1, 2e-4, 64]
    report = soak.soak(url, calls=6, threads=2, variant=variant, backend="torch", finetune=finetune)
    assert report["calls"] == 6 and report["errors"] == 0 and report["p50_ms"] > 0
    (tmp_path / "benchmark.md").write_text("# Benchmark\n")
    soak.write(report, tmp_path)
    soak.write(report, tmp_path)  # a second run replaces the section
    text = (tmp_path / "benchmark.md").read_text()
    assert text.startswith("# Benchmark") and text.count(soak.BEGIN) == 1 and "| 6 | 2 | 0 |" in text
