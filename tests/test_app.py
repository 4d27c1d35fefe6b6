"""The app: the functions behind the UI (pruning.app_*) directly, then the launched app via gradio_client."""

from __future__ import annotations

import copy
import importlib
import json
import socket
import sys
import threading

import pandas as pd
import plotly.graph_objects as go
import pytest

from pruning import (
    LABELS,
    STRATEGIES,
    FinetuneConfig,
    LayerScores,
    PruneConfig,
    VariantCache,
    app_compare,
    app_figures,
    app_format,
    app_jobs,
    app_registry,
    app_stack,
    app_startup,
    build_variant,
    prune_layers,
    select_layers,
)
from tests.conftest import MAHANEWS_DIR, make_tiny_bert

TINY_TRAIN = {"max_train_samples": 64, "epochs": 1, "learning_rate": 2e-3, "batch_size": 32, "seed": 0}
HEADLINE = "अंतिम सामन्यात पुण्याच्या संघाने मुंबईवर पाच गडी राखून विजय मिळवला"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_tiny_variants(cache: VariantCache, base_dir) -> None:
    """A full and a middle-pruned fine-tuned variant of the tiny 4-layer base (about 10 s each)."""
    for prune in (None, PruneConfig("middle", keep=2)):
        build_variant(str(base_dir), prune, FinetuneConfig(**TINY_TRAIN), cache=cache, data_dir=MAHANEWS_DIR,
                      show_progress=False)  # fmt: skip


def import_app(monkeypatch: pytest.MonkeyPatch, cache: VariantCache, base_dir):
    """Import (or re-import) app.py with its cache and default model pointing at the test's tiny ones."""
    monkeypatch.setenv("MARATHI_PRUNE_HOME", str(cache.root.parent))
    monkeypatch.setenv("MARATHI_PRUNE_DEFAULT_MODEL", str(base_dir))
    monkeypatch.setenv("MAHANEWS_DIR", str(MAHANEWS_DIR))
    monkeypatch.setattr(app_jobs, "TRAIN_THREADS", 1)  # the CI box is small and busy
    if "app" in sys.modules:
        return importlib.reload(sys.modules["app"])
    return importlib.import_module("app")


@pytest.fixture(scope="module")
def variant_cache(tmp_path_factory, tiny_base_dir) -> VariantCache:
    cache = VariantCache(tmp_path_factory.mktemp("app-variants"))
    build_tiny_variants(cache, tiny_base_dir)
    return cache


@pytest.fixture(scope="module")
def registry(variant_cache) -> app_registry.ModelRegistry:
    return app_registry.ModelRegistry(variant_cache)


# ------------------------------------------------------------------ stack picture and plans ----


def _plan(strategy: str, depth: int = 12, keep: int = 6):
    scores = [0.5 + 0.03 * i for i in range(depth)]
    layers = [0, 3, 4, 11] if strategy == "custom" else None
    return select_layers(strategy, depth, keep=None if layers else keep, scores=scores, layers=layers)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_stack_svg_marks_kept_and_dropped_layers(strategy):
    plan = _plan(strategy)
    picture = app_stack.stack_svg(plan)
    kept = [int(x) for x in _attrs(picture, "kept")]
    dropped = [int(x) for x in _attrs(picture, "dropped")]
    assert sorted(kept) == [i + 1 for i in plan.kept] and sorted(dropped) == [i + 1 for i in plan.dropped]
    drawn = [int(x) for x in _attrs(picture, None)]
    assert drawn == list(range(12, 0, -1))  # drawn top to bottom: layer 1 ends up at the bottom
    assert f"kept ({plan.keep})" in picture and f"dropped ({len(plan.dropped)})" in picture  # readable without colour
    assert "✓ kept" in picture and ("✕ dropped" in picture) == bool(plan.dropped)


def _attrs(picture: str, state: str | None) -> list[str]:
    import re

    pattern = rf'data-state="{state or "[a-z]+"}" data-layer="(\d+)"'
    return re.findall(pattern, picture)


def test_format_layers_gives_one_based_ranges():
    assert app_format.format_layers([0, 1, 2, 9, 10, 11]) == "1–3, 10–12"
    assert app_format.format_layers([4, 6, 7]) == "5, 7, 8"
    assert app_format.format_layers([]) == "none"


@pytest.mark.parametrize(
    ("strategy", "keep", "layers", "message"),
    [
        ("custom", 2, [], "at least one layer"),
        ("top", 0, None, "between 1 and 4"),
        ("top", 9, None, "between 1 and 4"),
        ("contribution", 2, None, "importance scores"),
        ("sideways", 2, None, "unknown strategy"),
    ],
)
def test_plan_preview_explains_impossible_choices_without_raising(strategy, keep, layers, message):
    anatomy = app_stack.anatomy_of(make_tiny_bert(3000, layers=4))
    view = app_stack.plan_preview(anatomy, "tiny", strategy, keep, layers, scores=None)
    assert view.plan is None and message in view.error and "stack-error" in view.stack_html


def test_plan_stats_counts_parameters_and_labels_speedup_as_estimate_or_measured(tmp_path):
    model = make_tiny_bert(3000, layers=4)
    anatomy = app_stack.anatomy_of(model)
    plan = select_layers("top", 4, keep=2)
    pruned = prune_layers(copy.deepcopy(model), plan.kept)
    assert anatomy.params_after(plan.kept) == sum(p.numel() for p in pruned.parameters())
    bench = tmp_path / "benchmark.json"
    keys = {"model": "tiny", "weights": "random-weights", "device": "cpu", "device_name": "Test CPU", "backend": "torch",
            "batch": 1, "seq_len": 64, "disk_mb": 1.0, "threads": 1, "params": {"total": 1000}}  # fmt: skip
    rows = [{**keys, "variant": f"tiny-{n}", "num_layers": n, "p50_ms": n, "p90_ms": n + 0.5, "throughput": 100 / n}
            for n in (4, 2)]  # fmt: skip
    bench.write_text(json.dumps({"rows": rows}))
    text = app_stack.plan_stats(anatomy, plan, "tiny", app_compare.load_benchmark_rows(bench))
    assert "Expected speed-up ≈ 2.0×" in text and "estimate" in text
    assert "Measured: 2.0×" in text and "Test CPU" in text
    assert "Measured" not in app_stack.plan_stats(anatomy, plan, "other-model", app_compare.load_benchmark_rows(bench))
    figure = app_figures.latency_layers_figure(app_compare.load_benchmark_rows(bench))
    assert "random weights (latency only)" in figure.layout.title.text


# --------------------------------------------------------------------------- classification ----


def test_classify_returns_labels_and_latency_from_each_default_variant(registry):
    outcome = app_registry.classify(registry, [], HEADLINE)
    assert {p.kind for p in outcome.predictions} == {"full", "pruned"} and not outcome.notices
    for p in outcome.predictions:
        assert set(p.probabilities) == set(LABELS) and sum(p.probabilities.values()) == pytest.approx(1, abs=1e-4)
        assert len(p.top(5)) == 5 and p.forward_ms > 0 and p.tokenize_ms > 0 and p.device.startswith("cpu")
        assert "ms" in p.summary_markdown() and "this request" in p.summary_markdown()


def test_classify_empty_text_gives_message_without_calling_a_model(registry, monkeypatch):
    monkeypatch.setattr(registry, "variant", lambda name: pytest.fail("no model call expected"))
    for text in ("", "   ", None, "\u200b"):
        with pytest.raises(ValueError, match="enter some Marathi text"):
            app_registry.classify(registry, [], text)


def test_classify_warns_on_text_without_devanagari_but_still_answers(registry):
    outcome = app_registry.classify(registry, [], "Cricket: India beat Australia")
    assert any("no Devanagari" in n for n in outcome.notices) and outcome.predictions


def test_classify_truncates_overlong_text_and_says_so(registry):
    outcome = app_registry.classify(registry, [], " ".join([HEADLINE] * 20))
    assert all(p.truncated and p.num_tokens > p.max_length == 64 for p in outcome.predictions)
    assert any("truncated" in n and "64" in n for n in outcome.notices)


def test_classify_without_fine_tuned_variants_asks_to_fine_tune_first(tmp_path):
    empty = app_registry.ModelRegistry(VariantCache(tmp_path / "none"))
    with pytest.raises(ValueError, match="Fine-tune one"):
        app_registry.classify(empty, [], HEADLINE)


def test_classify_is_thread_safe_and_loads_each_variant_once(variant_cache):
    registry = app_registry.ModelRegistry(variant_cache)
    loads = []
    original = registry.cache.load
    registry.cache.load = lambda name: loads.append(name) or original(name)
    results, errors = [], []

    def call():
        try:
            results.append(app_registry.classify(registry, [], HEADLINE))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 20 and len(loads) == 2
    tops = {tuple(next(iter(p.top(1))) for p in r.predictions) for r in results}
    assert len(tops) == 1  # same answer whatever the interleaving


def test_default_variant_names_pick_newest_of_each_kind():
    def record(name, keep, role="base", dataset="SHC"):
        return {"name": name, "base_role": role, "plan": {"keep": keep, "num_layers": 4},
                "finetune_config": {"dataset": dataset}}  # fmt: skip

    records = [
        record("c1", 4, "control"),  # the random-init control is never the default "full" model
        record("p2", 2),
        record("f2", 4),
        record("s1", 2, "scratch"),
        record("p1", 3),
        record("x", 4, dataset="LPC"),
    ]
    assert app_registry.default_variant_names(records) == ["f2", "p2", "s1"]
    assert [app_format.variant_kind(r) for r in records[:4]] == ["control", "pruned", "full", "scratch"]


# -------------------------------------------------------------------------------- fine-tune ----


def test_ui_values_become_configs_or_clear_errors():
    assert app_jobs.prune_config_from_ui("middle", 4.0, None, 4) is None  # all layers: the full reference
    assert app_jobs.prune_config_from_ui("middle", 2.0, None, 4) == PruneConfig("middle", keep=2)
    assert app_jobs.prune_config_from_ui("custom", None, [3, 0], 4) == PruneConfig("custom", layers=[0, 3])
    with pytest.raises(ValueError, match="at least one layer"):
        app_jobs.prune_config_from_ui("custom", 2, [], 4)
    with pytest.raises(ValueError, match="between 1 and 4"):
        app_jobs.prune_config_from_ui("top", 5, None, 4)
    assert app_jobs.finetune_config_from_ui("LPC", 2, 1e-4, 0).max_train_samples is None
    with pytest.raises(ValueError, match="epochs"):
        app_jobs.finetune_config_from_ui("SHC", 0, 1e-4, 10)


def test_finetune_job_cancel_stops_after_a_step_and_saves_nothing(registry, tiny_base_dir, tmp_path):
    train = FinetuneConfig(**{**TINY_TRAIN, "seed": 1})
    job = app_jobs.FinetuneJob(registry, str(tiny_base_dir), None, train, stop_file=tmp_path / "stop")
    original = job._on_event
    job._on_event = lambda event: (original(event), (tmp_path / "stop").touch())  # like the Cancel button
    snaps = list(job.start().stream(interval=0.05))
    assert snaps[-1].state == "cancelled" and "nothing was saved" in snaps[-1].message
    assert [e["kind"] for e in snaps[-1].events] == ["step"]
    assert len(registry.records()) == 2


def test_finetune_job_missing_dataset_fails_with_data_message(registry, tiny_base_dir):
    job = app_jobs.FinetuneJob(registry, str(tiny_base_dir), None, FinetuneConfig(**{**TINY_TRAIN, "dataset": "LDC"}))
    final = list(job.start().stream(interval=0.05))[-1]
    assert final.state == "failed" and "LDC" in final.message and "MAHANEWS_DIR" in final.message


def test_training_figure_draws_loss_and_dev_accuracy():
    events = [{"kind": "step", "step": s, "total_steps": 4, "loss": 2.5 - s / 4} for s in (1, 2)]
    events.append({"kind": "eval", "step": 2, "total_steps": 4, "dev_accuracy": 0.3})
    fig = app_figures.training_figure(events)
    assert [t.name for t in fig.data] == ["training loss", "dev accuracy %"] and list(fig.data[1].y) == [30.0]


# -------------------------------------------------------------------------------- compare ------


def test_compare_table_has_cache_and_paper_rows_with_source_and_device(registry, tmp_path):
    reference = app_compare.load_reference()
    rows = app_compare.comparison_rows(registry, reference, [], HEADLINE)
    frame = app_compare.compare_table(rows, "SHC")
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
    view = app_compare.build_comparison(rows, [], "SHC", tmp_path)
    assert all(isinstance(f, go.Figure) for f in (view.accuracy, view.pareto, view.size)) and view.latency is None
    assert "paper" in [t.name for t in view.accuracy.data] and "Pareto front" in [t.name for t in view.pareto.data]
    assert len(pd.read_csv(view.csv_path)) == len(app_compare.compare_table(rows))  # the CSV has every dataset
    assert "acc %" in view.table.columns and not view.table.isna().any().any()


def test_reference_numbers_are_only_the_cited_ones():
    points = app_compare.load_reference()["points"]
    assert {(p["dataset"], p["accuracy_percent"]) for p in points} == {("SHC", 91.2), ("LPC", 86.7), ("LDC", 94.7)}
    assert all("arXiv 2404.18216" in p["citation"] for p in points)


def test_sweep_and_benchmark_rows_say_where_they_came_from(tmp_path):
    sweep = tmp_path / "results.csv"
    common = {"dataset": "SHC", "seed": 0, "test_macro_f1": 0.5, "dev_accuracy": 0.6, "majority_baseline": 0.12,
              "train_seconds": 10.0, "train_device": "cpu", "variant": "v", "from_cache": False,
              "latency_device": "cpu (AMD EPYC)"}  # the columns pruning.sweep writes  # fmt: skip
    pd.DataFrame([
        {"model": "offline-teacher", "role": "pruned", "strategy": "middle", "layers": 6, "kept_layers": "0 1 2 9 10 11",
         "test_accuracy": 0.81, "latency_ms": 3.2, "params": 5_000_000, **common},
        {"model": "offline-small", "role": "scratch", "strategy": "full", "layers": 6, "kept_layers": "0 1 2 3 4 5",
         "test_accuracy": 0.7, "latency_ms": 3.0, "params": 4_000_000, **common},
        {"model": "offline-teacher-random", "role": "control", "strategy": "full", "layers": 12, "kept_layers": "",
         "test_accuracy": 0.6, "latency_ms": 6.0, "params": 8_000_000, **common},
    ]).to_csv(sweep, index=False)  # fmt: skip
    rows = app_compare.sweep_rows(sweep)
    assert [(r["source"], r["role"], r["test accuracy %"]) for r in rows] == [
        ("sweep", "pruned", 81.0),
        ("sweep", "scratch", 70.0),
        ("sweep", "control", 60.0),
    ]
    assert rows[0]["latency timed on"] == "cpu (AMD EPYC)" and rows[0]["layers kept"] == 6
    bench = app_compare.benchmark_rows_for_table([{"model": "offline-teacher", "variant": "t", "weights": "random-weights",
                                               "num_layers": 6, "latency_ms": 2.0, "device": "cpu", "backend": "torch",
                                               "batch": 1, "seq_len": 64, "params": None}])  # fmt: skip
    assert bench[0]["role"] == "random weights (latency only)" and "cpu" in bench[0]["latency timed on"]
    frame = app_compare.compare_table(rows + bench, "SHC")
    fig = app_figures.pareto_figure(frame, "SHC")
    assert {t.name for t in fig.data} >= {"pruned", "scratch", "Pareto front"}
    bench_row = {"model": "m", "weights": "random-weights", "num_layers": 6, "latency_ms": 2.0, "device": "cpu",
                 "backend": "torch", "batch": 1, "seq_len": 64}  # fmt: skip
    assert app_figures.latency_layers_figure([bench_row]).data[0].name.endswith("random weights (latency only)")


def test_pareto_indices_keep_only_undominated_points():
    assert app_figures.pareto_indices([1.0, 2.0, 3.0, 1.5], [50, 70, 60, 40]) == [0, 1]


def test_startup_banner_explains_offline_and_missing_models():
    text = app_startup.startup_banner(False, None, ["offline-teacher: not built yet"])
    assert "Hugging Face Hub unreachable: running on the offline models and local data" in text
    assert "No base model could be loaded" in text and "not built yet" in text
    assert app_startup.startup_banner(True, "offline-teacher", []) == ""


def test_importance_scores_figure_follows_the_plan():
    scores = LayerScores(
        cls=[0.9, 0.5, 0.8, 0.95], mean=[0.9] * 4, num_texts=8, model_fingerprint="x", texts_fingerprint="y"
    )
    fig = app_figures.importance_figure(scores, select_layers("contribution", 4, keep=2, scores=scores.cls))
    kept, dropped = fig.data
    assert list(kept.y) == ["Layer 2", "Layer 3"] and list(dropped.y) == ["Layer 1", "Layer 4"]


# ---------------------------------------------------------------------------- launched app -----


@pytest.fixture(scope="module")
def app_client(variant_cache, tiny_base_dir):
    from gradio_client import Client

    with pytest.MonkeyPatch.context() as mp:
        app = import_app(mp, variant_cache, tiny_base_dir)
        assert app.DEFAULT_MODEL == str(tiny_base_dir) and app.DEPTH == 4
        port = free_port()
        app.demo.launch(**app.LAUNCH_KWARGS, prevent_thread_lock=True, server_port=port, quiet=True)
        try:
            yield Client(f"http://127.0.0.1:{port}/", verbose=False)
        finally:
            app.demo.close()


def _label(update: dict) -> str:
    return update["value"]["label"]


def test_app_classify_returns_labels_and_latency(app_client):
    result = app_client.predict(HEADLINE, [], api_name="/classify")
    first_label, first_info = result[0], result[1]
    assert _label(first_label) in LABELS and len(first_label["value"]["confidences"]) == 5
    assert " ms" in first_info["value"] and "cpu" in first_info["value"]
    assert result[4]["visible"] is False and result[-1] == ""  # unused slots hidden, no notices


def test_app_bad_input_gets_a_message_and_the_app_keeps_serving(app_client, tiny_base_dir):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="enter some Marathi text"):
        app_client.predict("  ", [], api_name="/classify")
    with pytest.raises(AppError, match="LDC"):
        app_client.predict(str(tiny_base_dir), "top", 3, [], "LDC", 1, 2e-4, 64, api_name="/finetune")
    assert _label(app_client.predict(HEADLINE, [], api_name="/classify")[0]) in LABELS


def test_app_serves_20_concurrent_classify_calls(app_client):
    jobs = [app_client.submit(HEADLINE, [], api_name="/classify") for _ in range(20)]
    results = [job.result(timeout=120) for job in jobs]
    assert all(_label(r[0]) in LABELS and " ms" in r[1]["value"] for r in results)


def test_app_finetune_completes_and_appears_in_compare(app_client, tiny_base_dir):
    job = app_client.submit(str(tiny_base_dir), "top", 3, [], "SHC", 1, 2e-4, 64, api_name="/finetune")
    status, _curve = job.result(timeout=300)
    assert status.startswith("**Done**") and "test accuracy" in status
    name = status.split("Saved as `")[1].split("`")[0]
    assert name.startswith(f"{tiny_base_dir.name}__top-k3-0.1.2__SHC")
    table = app_client.predict("SHC", api_name="/compare")[4]
    rows = [dict(zip(table["headers"], row, strict=True)) for row in table["data"]]
    mine = [r for r in rows if r["variant"] == name]
    assert mine and mine[0]["source"] == "this run" and mine[0]["latency timed on"].startswith("cpu")
    assert any(r["source"] == "paper" for r in rows)
    again = app_client.submit(str(tiny_base_dir), "top", 3, [], "SHC", 1, 2e-4, 64, api_name="/finetune")
    assert again.result(timeout=120)[0].startswith("**Loaded from cache**")
