"""`python -m pruning.speed.report`: portable names in what it writes, and the files it writes."""

from __future__ import annotations

import json
from pathlib import Path

from pruning.speed import report
from pruning.speed.report_markdown import add_speedups

from .rows import rows as _rows


def test_portable_names_variants_repo_and_cache_paths(monkeypatch, tmp_path):
    monkeypatch.delenv("MARATHI_PRUNE_HOME")
    cache = Path.home() / ".cache" / "marathi-prune"
    assert report.portable(str(cache / "variants" / "teacher__middle-k6__SHC")) == "teacher__middle-k6__SHC"
    assert (
        report.portable(str(cache / "exports" / "m__random-weights"))
        == "~/.cache/marathi-prune/exports/m__random-weights"
    )
    assert report.portable(str(report.ROOT / "assets")) == "assets"
    assert report.portable("google/muril-base-cased") == "google/muril-base-cased"  # a name, not a path
    assert report.portable(str(tmp_path)) == str(tmp_path)  # elsewhere: left as is
    monkeypatch.setenv("MARATHI_PRUNE_HOME", str(tmp_path / "home"))
    assert report.portable(str(tmp_path / "home" / "exports")) == "$MARATHI_PRUNE_HOME/exports"
    assert report.portable(str(tmp_path / "home" / "variants" / "v1")) == "v1"


def test_portable_command_is_the_one_in_benchmark_md():
    variant = report.cache_dir("variants") / "offline-teacher__middle-k6-0.1.2.9.10.11__SHC__s0__ff45afca3e"
    command = report.portable_command(["--agreement-model", str(variant), f"--out-dir={report.ROOT / 'assets'}"])
    assert command == (
        "python -m pruning.speed.report --agreement-model "
        "offline-teacher__middle-k6-0.1.2.9.10.11__SHC__s0__ff45afca3e --out-dir=assets"
    )
    markdown = (report.ROOT / "assets" / "benchmark.md").read_text(encoding="utf-8")
    assert f"    {command.rpartition(' --out-dir')[0]}\n" in markdown


def test_write_outputs_json_markdown_and_figure(tmp_path):
    rows = add_speedups(_rows())
    rows[0]["export_dir"] = str(report.cache_dir("exports") / "base__random-weights" / "full" / "onnx")
    meta = {
        "machine": {"platform": "linux"},
        "versions": dict.fromkeys(("torch", "transformers", "onnxruntime", "onnx", "python"), "1"),
        "created": "now",
        "command": "python -m pruning.speed.report --quick",
        "device_name": "cpu",
        "threads": 2,
        "spinning": True,
        "method": "m",
        "cpu_load_1m": [1.0],
        "notes": ["n"],
        "targets": [],
    }
    written = report.write_outputs(tmp_path / "assets", rows, [], meta)
    assert [p.name for p in written] == ["benchmark.json", "benchmark.md", "benchmark_latency.html"]
    payload = json.loads(written[0].read_text(encoding="utf-8"))
    assert payload["rows"][0]["export_dir"] == "$MARATHI_PRUNE_HOME/exports/base__random-weights/full/onnx"
    assert written[1].read_text(encoding="utf-8").startswith("# Latency and size of layer-pruned MahaBERT-v2")
    assert "plotly" in written[2].read_text(encoding="utf-8")
