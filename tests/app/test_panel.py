"""pruning.app.panel: panel values -> plan and configs, and what a plan costs and saves."""

from __future__ import annotations

import copy
import json

import pytest

from models import CATALOG, HubUnreachableError
from pruning import FinetuneConfig, PruneConfig, prune_layers, select_layers
from pruning.app import bases, panel, wording
from pruning.app.compare import load_benchmark_rows
from pruning.app.figures import latency_layers_figure
from pruning.app.registry import BaseSummary, anatomy_of
from pruning.app.wording import PICK_A_BASE
from tests.conftest import make_tiny_bert


def _tiny(name: str = "tiny") -> BaseSummary:
    return BaseSummary(name, anatomy_of(make_tiny_bert(3000, layers=4)))


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
    view = panel.plan_preview(_tiny(), strategy, keep, layers)
    assert view.plan is None and message in view.error and "stack-error" in view.stack_html


def test_plan_stats_counts_parameters_and_labels_speedup_as_estimate_or_measured(tmp_path):
    model = make_tiny_bert(3000, layers=4)
    anatomy = anatomy_of(model)
    plan = select_layers("top", 4, keep=2)
    pruned = prune_layers(copy.deepcopy(model), plan.kept)
    assert anatomy.params_after(plan.kept) == sum(p.numel() for p in pruned.parameters())
    bench = tmp_path / "benchmark.json"
    keys = {
        "model": "tiny",
        "weights": "random-weights",
        "device": "cpu",
        "device_name": "Test CPU",
        "backend": "torch",
        "batch": 1,
        "seq_len": 64,
        "disk_mb": 1.0,
        "threads": 1,
        "params": {"total": 1000},
    }
    rows = [
        {**keys, "variant": f"tiny-{n}", "num_layers": n, "p50_ms": n, "p90_ms": n + 0.5, "throughput": 100 / n}
        for n in (4, 2)
    ]
    bench.write_text(json.dumps({"rows": rows}))
    text = panel.plan_stats(BaseSummary("tiny", anatomy), plan, load_benchmark_rows(bench))
    assert "Expected speed-up ≈ 2.0×" in text and "estimate" in text
    assert "Measured: 2.0×" in text and "Test CPU" in text
    assert "Measured" not in panel.plan_stats(BaseSummary("other-model", anatomy), plan, load_benchmark_rows(bench))
    figure = latency_layers_figure(load_benchmark_rows(bench))
    assert "random weights (latency only)" in figure.layout.title.text


def test_ui_values_become_configs_or_clear_errors():
    assert panel.read_panel("middle", 4.0, None, 4).prune_config() is None  # all layers: the full reference
    assert panel.read_panel("middle", 2.0, None, 4).prune_config() == PruneConfig("middle", keep=2)
    assert panel.read_panel("custom", None, [3, 0], 4).prune_config() == PruneConfig("custom", layers=[0, 3])
    with pytest.raises(ValueError, match="at least one layer"):
        panel.read_panel("custom", 2, [], 4)
    with pytest.raises(ValueError, match="between 1 and 4"):
        panel.read_panel("top", 5, None, 4)
    assert panel.finetune_config("LPC", 2, 1e-4, 0).max_train_samples is None
    with pytest.raises(ValueError, match="epochs"):
        panel.finetune_config("SHC", 0, 1e-4, 10)


def test_the_vocabulary_box_and_the_teacher_reach_the_configs():
    corpus = "/srv/corpus.txt"  # the server's corpus (recipe.vocab_corpus); a visitor only ticks a box
    full = panel.read_panel("middle", 4, None, 4)
    assert full.prune_config(corpus) == PruneConfig("top", keep=4, vocab_corpus=corpus)  # every layer, fewer tokens
    assert panel.read_panel("middle", 2, None, 4).prune_config(corpus) == PruneConfig(
        "middle", keep=2, vocab_corpus=corpus
    )
    custom = panel.read_panel("custom", None, [3, 0], 4).prune_config(corpus)
    assert custom == PruneConfig("custom", layers=[0, 3], vocab_corpus=corpus)
    taught = panel.finetune_config("SHC", 1, 5e-5, 64, "teacher-variant", 0.3, 4.0)
    assert (taught.distil_from, taught.distil_alpha, taught.distil_temperature) == ("teacher-variant", 0.3, 4.0)
    defaults = panel.finetune_config("SHC", 1, 5e-5, 64, "teacher-variant")
    assert (defaults.distil_alpha, defaults.distil_temperature) == (FinetuneConfig().distil_alpha, 2.0)
    # no teacher: the sliders are ignored, so the cache key is plain fine-tuning's (bundled variants match it)
    plain = panel.finetune_config("SHC", 1, 5e-5, 64, None, 0.3, 4.0)
    assert (
        plain.to_dict() == panel.finetune_config("SHC", 1, 5e-5, 64).to_dict() and "distil_alpha" not in plain.to_dict()
    )
    with pytest.raises(ValueError, match="distil_alpha"):
        panel.finetune_config("SHC", 1, 5e-5, 64, "teacher-variant", 1.5)


def test_preview_and_finetune_read_the_panel_the_same_way():
    setting = panel.read_panel("custom", None, [3, 0, 3], 4)  # a repeated tick counts once
    assert setting.plan().kept == [0, 3] and setting.prune_config().layers == [0, 3]
    contribution = panel.read_panel("contribution", 2.4, None, 4)
    assert contribution.prune_config() == PruneConfig("contribution", keep=2)  # build_variant scores layers itself
    with pytest.raises(ValueError, match="importance scores"):
        contribution.plan(scores=None)


def test_panel_view_resolves_the_base_once_and_turns_problems_into_messages():
    calls = []

    def lookup(name):
        calls.append(name)
        return _tiny(name)

    view, figure = panel.panel_view(lookup, "someone/tiny", "top", 2, None)
    assert calls == ["someone/tiny"] and view.plan.kept == [0, 1] and "Keeping 2 of 4" in view.stats_markdown
    assert "not available" in figure.layout.annotations[0].text  # no scores: the chart says so
    view, _ = panel.panel_view(lookup, "  ", "top", 2, None)
    assert view.error == PICK_A_BASE and calls == ["someone/tiny"]

    def broken(name):
        raise OSError("no such model on the Hub at /srv/secret/path")

    view, _ = panel.panel_view(broken, "someone/nowhere", "top", 2, None)
    assert view.plan is None and view.error == wording.HUB_MISS and "/srv" not in view.stack_html


def test_panel_view_draws_a_catalog_model_it_cannot_load_from_the_catalog_depth():
    def hub_down(name):
        raise HubUnreachableError("hub down, see /root/.cache/huggingface")

    for name in CATALOG:
        view, _ = panel.panel_view(hub_down, name, "top", 1, None)
        assert view.plan is not None and view.plan.num_layers == CATALOG[name].num_layers, name
        assert (
            f'data-dropped="{CATALOG[name].num_layers - 1}"' in view.stack_html and "/root" not in view.stats_markdown
        )
    view, _ = panel.panel_view(hub_down, "mahabert-smaller", "custom", None, [0, 1])
    assert view.plan.kept == [0, 1]


def test_panel_view_refuses_paths_outside_the_model_dirs_with_one_message(tmp_path, monkeypatch):
    monkeypatch.setenv(bases.MODEL_DIRS_ENV, str(tmp_path / "allowed"))
    monkeypatch.delenv(bases.DEFAULT_MODEL_ENV, raising=False)
    outside = tmp_path / "outside-model"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    looked = []
    errors = set()
    for name in ("/root/.ssh", "/etc/shadow", "qwertyuiop", "/no/such/dir", str(outside), "../../etc", "~/.ssh"):
        view, _ = panel.panel_view(looked.append, name, "top", 2, None)
        errors.add(view.error)
    assert errors == {bases.NOT_ALLOWED} and looked == []  # nothing was looked up
