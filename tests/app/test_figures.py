"""pruning.app.figures: training curve, importance bars and the Pareto front."""

from __future__ import annotations

from pruning import LayerScores, select_layers
from pruning.app import figures


def test_training_figure_draws_loss_and_dev_accuracy():
    events = [{"kind": "step", "step": s, "total_steps": 4, "loss": 2.5 - s / 4} for s in (1, 2)]
    events.append({"kind": "eval", "step": 2, "total_steps": 4, "dev_accuracy": 0.3})
    fig = figures.training_figure(events)
    assert [t.name for t in fig.data] == ["training loss", "dev accuracy %"] and list(fig.data[1].y) == [30.0]


def test_pareto_indices_keep_only_undominated_points():
    assert figures.pareto_indices([1.0, 2.0, 3.0, 1.5], [50, 70, 60, 40]) == [0, 1]


def test_importance_scores_figure_follows_the_plan():
    scores = LayerScores(
        cls=[0.9, 0.5, 0.8, 0.95], mean=[0.9] * 4, num_texts=8, model_fingerprint="x", texts_fingerprint="y"
    )
    fig = figures.importance_figure(scores, select_layers("contribution", 4, keep=2, scores=scores.cls))
    kept, dropped = fig.data
    assert list(kept.y) == ["Layer 2", "Layer 3"] and list(dropped.y) == ["Layer 1", "Layer 4"]


def test_importance_figure_says_where_its_text_came_from():
    scores = LayerScores(cls=[0.9, 0.5], mean=[0.9] * 2, num_texts=8, model_fingerprint="x", texts_fingerprint="y")
    assert "On 8 dev headlines." in figures.importance_figure(scores, None).layout.title.text
    offline = figures.importance_figure(scores, None, note="Scored on the 8 demo headlines (no MahaNews data here).")
    assert "demo headlines" in offline.layout.title.text and "dev headlines" not in offline.layout.title.text
