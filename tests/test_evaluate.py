"""Predictions and metrics: order restored after length-sorted batching, sklearn-consistent metrics."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from pruning import LABELS, classification_metrics, evaluate_model, majority_baseline, predict_logits
from pruning.evaluate import length_sorted_batches


def test_length_sorted_batches_cover_every_index_once_shortest_first():
    texts = ["ccc", "a", "bbbbb", "dd", "", "eeee"]
    batches = list(length_sorted_batches(texts, 4))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(texts))) and [len(b) for b in batches] == [4, 2]
    assert [len(texts[i]) for i in flat] == sorted(len(t) for t in texts)


def test_predict_logits_keeps_input_order(tiny_bert, tokenizer, headlines):
    batched = predict_logits(tiny_bert, tokenizer, headlines, batch_size=3)
    single = np.stack([predict_logits(tiny_bert, tokenizer, [t], batch_size=1)[0] for t in headlines])
    assert batched.shape == (len(headlines), len(LABELS))
    np.testing.assert_allclose(batched, single, atol=1e-4)


def test_predict_logits_restores_training_mode(tiny_bert, tokenizer, headlines):
    tiny_bert.train()
    predict_logits(tiny_bert, tokenizer, headlines[:2])
    assert tiny_bert.training


def test_classification_metrics_match_sklearn():
    labels, preds = [0, 1, 2, 2, 1, 0, 3], [0, 2, 2, 2, 1, 1, 3]
    names = LABELS[:4]
    metrics = classification_metrics(labels, preds, names)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, preds))
    assert metrics["macro_f1"] == pytest.approx(f1_score(labels, preds, average="macro"))
    assert metrics["confusion_matrix"][0] == [1, 1, 0, 0] and metrics["num_examples"] == 7
    assert set(metrics["per_class_f1"]) == set(names)


def test_evaluate_model_on_real_split_and_rejects_empty(tiny_bert, tokenizer, shc):
    data, _ = shc
    metrics = evaluate_model(tiny_bert, tokenizer, data["validation"].select(range(20)))
    assert metrics["num_examples"] == 20 and 0 <= metrics["accuracy"] <= 1
    with pytest.raises(ValueError, match="empty split"):
        evaluate_model(tiny_bert, tokenizer, data["validation"].select([]))


def test_majority_baseline_is_share_of_most_frequent_training_label():
    assert majority_baseline([3, 3, 1], [3, 1, 3, 3]) == pytest.approx(0.75)
