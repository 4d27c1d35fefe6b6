"""benchmark.md from rows: speed-up ratios, the issue's targets, tables that stay tables."""

from __future__ import annotations

from pathlib import Path

from pruning.speed.report_markdown import NO_GPU_LINE, add_speedups, markdown_report, target_checks

from .rows import rows as _rows


def _meta(targets: list[dict]) -> dict:
    versions = {k: "1" for k in ("torch", "transformers", "onnxruntime", "onnx", "python")}
    return {
        "machine": {"platform": "linux"},
        "versions": versions,
        "created": "now",
        "command": "python -m pruning.speed.report --quick",
        "device_name": "cpu",
        "threads": 2,
        "spinning": True,
        "method": "m",
        "cpu_load_1m": [1.0],
        "notes": ["n"],
        "targets": targets,
    }


def test_speedups_against_baseline_and_own_torch():
    rows = {(r["variant"], r["backend"], r["batch"]): r for r in add_speedups(_rows())}
    onnx = rows[("base-top-k6", "onnx", 1)]
    assert onnx["speedup_vs_baseline"] == 4.0 and onnx["speedup_vs_torch"] == 2.2
    assert rows[("small", "torch", 1)]["speedup_vs_baseline"] == 2.0  # scratch models compare with 12-layer base
    assert rows[("base", "torch", 32)]["speedup_vs_baseline"] == 1.0  # same shape only


def test_target_checks_measure_the_issue_targets():
    targets = target_checks(add_speedups(_rows()), base="base")
    assert {
        "target": "torch 6-layer <= (6/12 + 0.08) x 12-layer latency (b1/s64)",
        "measured": "0.550 x (bound 0.580)",
        "met": True,
    } in targets
    assert any(t["target"].startswith("onnx-int8 >= 2.5x") and t["met"] for t in targets)
    assert any(t["target"].startswith("INT8 file <= 30%") and t["measured"].endswith("26%") for t in targets)
    assert any(t["target"].startswith("6-layer MahaBERT-v2 <= 15 ms") and not t["met"] for t in targets)


def test_markdown_report_tables_and_agreement_note():
    rows = add_speedups(_rows())
    text = markdown_report(rows, [], _meta(target_checks(rows, base="base")))
    assert "python -m pruning.speed.report --quick" in text and "--agreement-model" in text
    table_lines = [line for line in text.splitlines() if line.startswith("| base |")]
    assert table_lines and all(line.count("|") == 11 for line in table_lines)  # no '|' leaking into cells
    assert "indicative (random weights)" in text
    assert "## Batch 32, sequence 128 tokens (cpu)" in text


def test_markdown_report_with_agreement_rows():
    rows = add_speedups(_rows())
    check = {"backend": "onnx-int8", "weights": "fine-tuned", "passed": True, "max_abs_logit_diff": 0.089}
    check |= {"label_agreement": 0.9958, "n": 239, "inputs": "MahaNews SHC headlines"}
    agreement = [{**rows[3], "model": "teacher-k6", "weights": "fine-tuned", "export_check": check}]
    text = markdown_report(rows, agreement, _meta([]))
    assert "- teacher-k6 (6 layers, fine-tuned): 99.58% of 239 MahaNews SHC headlines keep their label" in text
    assert "ok: max abs dlogit 8.9e-02, labels kept 99.6%" in text


def test_markdown_report_says_gpu_rows_are_not_measured_until_there_are_some():
    rows = add_speedups(_rows())
    meta = _meta(target_checks(rows, base="base"))
    header = markdown_report(rows, [], meta).split("## Batch")[0]
    assert f"- {NO_GPU_LINE}\n" in header and "not measured on GPU yet" in NO_GPU_LINE
    cuda = [dict(r, device="cuda") for r in rows[:1]]
    assert NO_GPU_LINE not in markdown_report(rows + cuda, [], meta)
    assert NO_GPU_LINE in (Path(__file__).resolve().parents[2] / "assets" / "benchmark.md").read_text(encoding="utf-8")
