"""The sweep on tiny models: grid, resume from the cache, well-formed results files."""

import json

import pandas as pd
import pytest

from pruning.cli import main
from pruning.sweep import SweepConfig, summarise, to_markdown
from tests.conftest import make_tiny_bert


@pytest.fixture(scope="module")
def scratch_dir(tmp_path_factory, tokenizer):
    out = tmp_path_factory.mktemp("tiny-scratch-2l")
    make_tiny_bert(len(tokenizer), layers=2, seed=1).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_sweep_config_cells_cover_the_grid():
    config = SweepConfig(bases=["a"], strategies=["top", "middle"], keeps=[2, 1], scratch=["s"], seeds=[0, 1])
    cells = config.cells()
    assert len(cells) == 2 * (1 + 2 * 2 + 1)
    assert sum(c[1] is None for c in cells) == 4  # unpruned base and scratch, per seed
    with pytest.raises(ValueError, match="unknown sweep strategies"):
        SweepConfig(bases=["a"], strategies=["custom"])


def test_sweep_resumes_from_cache_and_writes_results(capsys, tiny_base_dir, scratch_dir, tmp_path):
    argv = [
        "sweep",
        "--bases",
        str(tiny_base_dir),
        "--strategies",
        "middle",
        "--keeps",
        "2",
        "--scratch",
        str(scratch_dir),
        "--seeds",
        "0,1",
        "--epochs",
        "1",
        "--lr",
        "1e-3",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--output",
        str(tmp_path / "out"),
    ]
    config = tmp_path / "sweep.json"
    config.write_text(json.dumps({"finetune": {"max_train_samples": 48, "batch_size": 16}}))
    assert main([*argv, "--config", str(config)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["runs"] == 6 and first["cached"] == 0

    assert main([*argv, "--config", str(config)]) == 0  # resumed: nothing is trained again
    second = json.loads(capsys.readouterr().out)
    assert second["runs"] == 6 and second["cached"] == 6

    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(results.role) == {"full", "pruned", "scratch"} and len(results) == 6
    assert results.test_accuracy.between(0, 1).all() and (results.latency_ms > 0).all()
    assert set(results[results.role == "pruned"].kept_layers) == {"0 3"}
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert (summary.seeds == 2).all() and len(summary) == 3
    md = (tmp_path / "out" / "summary.md").read_text()
    assert md.startswith("Command: `python -m pruning sweep --bases") and md.count("\n| SHC |") == 3
    assert json.loads((tmp_path / "out" / "accuracy.json").read_text())["data"]


def test_summarise_reports_mean_and_spread():
    results = pd.DataFrame(
        {
            "dataset": "SHC",
            "model": "m",
            "role": "pruned",
            "strategy": "top",
            "layers": 2,
            "seed": [0, 1],
            "test_accuracy": [0.5, 0.7],
            "dev_accuracy": [0.55, 0.65],
            "test_macro_f1": [0.4, 0.6],
            "params": 10,
        }
    )
    summary = summarise(results)
    assert summary.test_accuracy_mean[0] == pytest.approx(0.6) and summary.test_accuracy_std[0] == pytest.approx(
        0.1414, 1e-3
    )
    assert summary.dev_accuracy_mean[0] == pytest.approx(0.6)
    # 95% t-interval over 2 seeds: t(0.975, 1) = 12.71 times the standard error 0.1
    assert summary.test_accuracy_ci95[0] == pytest.approx(1.2706, 1e-3)
    assert "60.0 ± 127.1" in to_markdown(summary)


def test_variant_depends_on_its_seed_not_on_what_the_process_ran_before(tokenizer, tmp_path):
    """What lets a sweep resume on either engine: the new head is drawn from the fine-tuning seed."""
    import torch

    from pruning import FinetuneConfig, VariantCache, build_variant

    base = tmp_path / "headless"  # a pretrained encoder without a classifier, like the offline and hub models
    make_tiny_bert(len(tokenizer), layers=2).bert.save_pretrained(base)
    tokenizer.save_pretrained(base)
    train = FinetuneConfig(epochs=1, learning_rate=1e-3, max_train_samples=32, max_eval_samples=32, seed=5)
    states = []
    for before in (1, 2):  # a different global RNG state, as after other cells or in a fresh Ray worker
        torch.manual_seed(before)
        variant = build_variant(str(base), None, train, cache=VariantCache(tmp_path / str(before)))
        states.append(variant.model.state_dict())
    assert all(torch.equal(states[0][name], states[1][name]) for name in states[0])
