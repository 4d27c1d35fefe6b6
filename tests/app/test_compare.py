"""pruning.app.compare: one table of every result, each row saying where it came from."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from pruning.app import compare, figures
from tests.app.conftest import HEADLINE


def test_compare_table_has_cache_and_paper_rows_with_source_and_device(registry, tmp_path):
    reference = compare.load_reference()
    rows = compare.comparison_rows(registry, reference, [], HEADLINE)
    frame = compare.compare_table(rows, "SHC")
    assert set(frame["source"]) >= {"cache", "paper"} and frame["source"].notna().all()
    cache = frame[frame["source"] == "cache"]
    assert len(cache) == 2 and cache["latency ms"].gt(0).all()
    assert cache["latency timed on"].str.startswith("cpu").all() and cache["trained on"].eq("cpu").all()
    paper = frame[frame["source"] == "paper"].iloc[0]
    assert (
        paper["test accuracy %"] == 91.2
        and "2404.18216" in paper["notes"]
        and paper["latency timed on"] == "not reported"
    )
    view = compare.build_comparison(rows, [], "SHC", tmp_path)
    assert all(isinstance(f, go.Figure) for f in (view.accuracy, view.pareto, view.size)) and view.latency is None
    assert "paper" in [t.name for t in view.accuracy.data] and "Pareto front" in [t.name for t in view.pareto.data]
    assert len(pd.read_csv(view.csv_path)) == len(compare.compare_table(rows))  # the CSV has every dataset
    assert "acc %" in view.table.columns and not view.table.isna().any().any()


def test_cache_rows_label_variants_built_this_run(registry):
    records = registry.records()
    rows = compare.cache_rows(records, {records[0]["name"]}, {})
    assert [r["source"] for r in rows] == ["this run", "cache"]
    assert all(r["latency timed on"] == "not timed yet" for r in rows)


def test_csv_download_is_written_in_the_temp_dir_by_default():
    frame = compare.compare_table(compare.reference_rows(compare.load_reference()))
    path = compare.write_csv(frame)
    assert path.is_relative_to(Path(tempfile.gettempdir())) and path.name == compare.CSV_NAME
    assert len(pd.read_csv(path)) == len(frame) and not list(path.parent.glob(".tmp-*"))


def test_reference_numbers_are_only_the_cited_ones():
    points = compare.load_reference()["points"]
    assert {(p["dataset"], p["accuracy_percent"]) for p in points} == {("SHC", 91.2), ("LPC", 86.7), ("LDC", 94.7)}
    assert all("arXiv 2404.18216" in p["citation"] for p in points)


def test_sweep_and_benchmark_rows_say_where_they_came_from(tmp_path):
    sweep = tmp_path / "results.csv"
    common = {  # the columns pruning.sweep writes
        "dataset": "SHC",
        "seed": 0,
        "test_macro_f1": 0.5,
        "dev_accuracy": 0.6,
        "majority_baseline": 0.12,
        "train_seconds": 10.0,
        "train_device": "cpu",
        "variant": "v",
        "from_cache": False,
        "latency_device": "cpu (AMD EPYC)",
    }
    columns = ["model", "role", "strategy", "layers", "kept_layers", "test_accuracy", "latency_ms", "params"]
    table = [
        ("offline-teacher", "pruned", "middle", 6, "0 1 2 9 10 11", 0.81, 3.2, 5_000_000),
        ("offline-small", "scratch", "full", 6, "0 1 2 3 4 5", 0.7, 3.0, 4_000_000),
        ("offline-teacher-random", "control", "full", 12, "", 0.6, 6.0, 8_000_000),
    ]
    pd.DataFrame([{**dict(zip(columns, row, strict=True)), **common} for row in table]).to_csv(sweep, index=False)
    rows = compare.sweep_rows(sweep)
    assert [(r["source"], r["role"], r["test accuracy %"]) for r in rows] == [
        ("sweep", "pruned", 81.0),
        ("sweep", "scratch", 70.0),
        ("sweep", "control", 60.0),
    ]
    assert rows[0]["latency timed on"] == "cpu (AMD EPYC)" and rows[0]["layers kept"] == 6
    bench_row = {
        "model": "offline-teacher",
        "variant": "t",
        "weights": "random-weights",
        "num_layers": 6,
        "latency_ms": 2.0,
        "device": "cpu",
        "backend": "torch",
        "batch": 1,
        "seq_len": 64,
        "params": None,
    }
    bench = compare.benchmark_rows_for_table([bench_row])
    assert bench[0]["role"] == "random weights (latency only)" and "cpu" in bench[0]["latency timed on"]
    frame = compare.compare_table(rows + bench, "SHC")
    fig = figures.pareto_figure(frame, "SHC")
    assert {t.name for t in fig.data} >= {"pruned", "scratch", "Pareto front"}
    bench_row = {
        "model": "m",
        "weights": "random-weights",
        "num_layers": 6,
        "latency_ms": 2.0,
        "device": "cpu",
        "backend": "torch",
        "batch": 1,
        "seq_len": 64,
    }
    assert figures.latency_layers_figure([bench_row]).data[0].name.endswith("random weights (latency only)")


def test_reduced_data_runs_form_their_own_series_never_averaged_with_full_data():
    def record(name, accuracy, samples):
        return {
            "name": name,
            "base_model": "m",
            "plan": {"strategy": "middle", "keep": 2, "num_layers": 4, "kept": [0, 3]},
            "finetune_config": {"dataset": "SHC", "max_train_samples": samples, "seed": 0},
            "test_metrics": {"accuracy": accuracy},
            "data_report": {"split_rows": {"train": 1900}},
        }

    records = [record("quick", 0.2, 64), record("capped-above-size", 0.7, 5000), record("full", 0.8, None)]
    rows = compare.cache_rows(records, set(), {})
    assert [r["training texts"] for r in rows] == ["64", "all", "all"]
    fig = figures.accuracy_layers_figure(compare.compare_table(rows, "SHC"), "SHC")
    traces = {t.name: list(t.y) for t in fig.data}
    assert traces == {"m · middle": [75.0], "m · middle · 64 training texts": [20.0]}
    pareto_rows = [{**r, "latency ms": 1.0} for r in rows]
    names = {t.name for t in figures.pareto_figure(compare.compare_table(pareto_rows, "SHC"), "SHC").data}
    assert {"pruned", "pruned · 64 training texts"} <= names


def test_distilled_and_vocabulary_cut_variants_are_series_of_their_own(recipe_cache, tmp_path):
    records = recipe_cache.list().records
    latencies = {r["name"]: {"median_ms": 1.0 + i, "device": "cpu"} for i, r in enumerate(records)}
    frame = compare.compare_table(compare.cache_rows(records, set(), latencies), "SHC")
    student = frame[frame["role"] == "pruned + distilled"].iloc[0]
    teacher = next(r for r in records if r["key"]["strategy"] == "full" and r["key"].get("vocab"))
    assert student["strategy"] == "middle" and f"distilled from {teacher['name']} (α 0.5, T 2.0)" in student["notes"]
    tokens = teacher["vocab"]
    assert student[compare.VOCAB_COLUMN] == f"{tokens['tokens_before']:,} → {tokens['tokens_after']:,}"
    assert frame[compare.VOCAB_COLUMN].isna().sum() == 2  # the plain full and pruned variants
    model, few = student["model"], " · 64 training texts"  # the tiny variants train on 64 texts
    accuracy = {t.name: list(t.x) for t in figures.accuracy_layers_figure(frame, "SHC").data}
    assert accuracy[f"{model} · middle{few}"] == [2, 4]  # the plain line ends at the plain full model
    assert accuracy[f"{model} · middle · pruned + distilled · vocabulary cut{few}"] == [2]  # apart, no full point
    assert accuracy[f"full (local) · vocabulary cut{few}"] == accuracy[f"full (local){few}"] == [4]
    pareto = {t.name.removesuffix(few) for t in figures.pareto_figure(frame, "SHC").data}
    assert {"pruned", "full", "pruned + distilled · vocabulary cut", "full · vocabulary cut"} <= pareto
    sizes = {t.name: list(t.y) for t in figures.size_figure(frame).data}
    cut = sizes["cache · vocabulary cut (vocabulary pruned to Marathi text)"]
    assert len(cut) == 2 and max(cut) < max(sizes["cache"])  # the cut full model is smaller than the plain one
    assert "pruned + distilled" in set(compare.table_for_display(frame)["role"])
    sweep = tmp_path / "results.csv"  # the offline-distil preset's results: only its distilled twins are added
    pd.DataFrame(
        [
            {"model": "offline-teacher", "role": role, "strategy": "middle", "layers": 6, "test_accuracy": acc}
            for role, acc in (("pruned", 0.7), ("distilled", 0.75))
        ]
    ).to_csv(sweep, index=False)
    rows = compare.sweep_rows(sweep, roles={"distilled"})
    assert [(r["role"], r["strategy"], r["test accuracy %"]) for r in rows] == [("pruned + distilled", "middle", 75.0)]
