"""Fine-tuning loop: learning, best-checkpoint choice, cancellation and reproducibility on real headlines."""

import pytest
import torch

from pruning import FinetuneCancelled, FinetuneConfig, finetune
from tests.conftest import make_tiny_bert

FAST = {"epochs": 1, "learning_rate": 2e-3, "batch_size": 32, "seed": 0, "max_train_samples": 200}


def test_finetune_cancel_raises_and_writes_nothing(tiny_bert, tokenizer, shc):
    data, _ = shc
    calls = iter(range(100))
    with pytest.raises(FinetuneCancelled, match="cancelled at step 3"):
        finetune(
            tiny_bert,
            tokenizer,
            data,
            FinetuneConfig(**FAST),
            should_stop=lambda: next(calls) >= 3,
            show_progress=False,
        )


def test_finetune_reports_steps_and_returns_best_dev_weights(tokenizer, shc):
    data, _ = shc
    events = []
    result = finetune(
        make_tiny_bert(len(tokenizer), layers=2),
        tokenizer,
        data,
        FinetuneConfig(**{**FAST, "epochs": 2}),
        on_event=events.append,
        show_progress=False,
    )
    steps = [e for e in events if e.kind == "step"]
    evals = [e for e in events if e.kind == "eval"]
    assert steps and evals and steps[-1].step == steps[-1].total_steps == len(steps)
    best = max(evals, key=lambda e: e.dev_accuracy)
    assert result.dev_metrics["accuracy"] == pytest.approx(best.dev_accuracy)
    assert result.best_step == best.step and not result.model.training


def test_finetune_same_seed_same_weights(tokenizer, shc):
    data, _ = shc
    config = FinetuneConfig(**{**FAST, "max_train_samples": 64})
    runs = [
        finetune(make_tiny_bert(len(tokenizer), layers=1), tokenizer, data, config, show_progress=False)
        for _ in range(2)
    ]
    first, second = (r.model.classifier.weight for r in runs)
    assert torch.equal(first, second)


def test_finetune_rejects_missing_validation_split(tiny_bert, tokenizer, shc):
    data, _ = shc
    with pytest.raises(ValueError, match="validation"):
        finetune(tiny_bert, tokenizer, {"train": data["train"]}, FinetuneConfig(**FAST), show_progress=False)
