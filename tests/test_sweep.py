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


def test_offline_distil_grid_preset_twins_every_pruned_offline_shc_cell():
    from pruning.sweep import PRESETS, default_output, describe_cells
    from pruning.sweep.grid import DEFAULT_OUTPUT, OFFLINE_RECIPE, PRUNE_STRATEGIES

    shc, distil = SweepConfig.from_dict(PRESETS["offline-shc"]), SweepConfig.from_dict(PRESETS["offline-distil-grid"])
    assert shc.scratch == ["offline-small", "offline-smaller", "offline-teacher-random"] and not shc.distil
    assert shc.distilled_cells() == []
    # the same teacher grid: offline-distil's plain cells are offline-shc's, so they come from its cache
    assert distil.cells() == [c for c in shc.cells() if c[0] == "offline-teacher"]
    assert distil.finetune == OFFLINE_RECIPE and distil.seeds == [0, 1, 2] and distil.keeps == [6, 2]
    assert distil.scratch == [] and distil.strategies == PRUNE_STRATEGIES
    twins = distil.distilled_cells()
    assert len(twins) == 3 * 2 * len(PRUNE_STRATEGIES) and all(prune is not None for _, prune, _, _ in twins)
    described = describe_cells(distil)
    assert len(described) == len(distil.cells()) + len(twins)
    assert described[-1]["teacher"] == "offline-teacher full, SHC, seed 2" and described[0]["teacher"] is None
    assert default_output("offline-distil-grid") == DEFAULT_OUTPUT.parent / "distil-grid"
    assert default_output("offline-shc") == DEFAULT_OUTPUT


def test_offline_distil_preset_is_the_best_cut_per_depth_with_the_bundled_teacher():
    """The cheap preset's plain cells are offline-shc's (cache hits) and its teacher is the bundled full variant."""
    from pruning.sweep import PRESETS, default_output
    from pruning.sweep.grid import DEFAULT_OUTPUT

    shc, distil = SweepConfig.from_dict(PRESETS["offline-shc"]), SweepConfig.from_dict(PRESETS["offline-distil"])
    assert all(cell in shc.cells() for cell in distil.cells()) and distil.teacher_seed == 0
    assert distil.pruned_cuts() == [(6, "middle"), (2, "top")] and len(distil.distilled_cells()) == 6
    assert default_output("offline-distil") == DEFAULT_OUTPUT.parent / "distil"


def test_sweep_config_refuses_a_fixed_teacher():
    with pytest.raises(ValueError, match="drop distil_from from finetune and set distil"):
        SweepConfig(bases=["a"], finetune={"distil_from": "some-variant"}, distil=True)


def test_cli_sweep_dry_run_lists_cells_without_building(capsys, tmp_path):
    code = main(["sweep", "--preset", "offline-distil", "--dry-run", "--cache-dir", str(tmp_path / "cache")])
    listing = json.loads(capsys.readouterr().out)
    assert code == 0 and listing["runs"] == 1 + 6 + 6 and listing["output"].endswith("assets/distil")
    assert not (tmp_path / "cache").exists()


def test_sweep_distil_builds_twins_taught_by_the_full_variant_of_their_seed(capsys, tiny_base_dir, tmp_path):
    argv = ["sweep", "--bases", str(tiny_base_dir), "--strategies", "middle", "--keeps", "2", "--seeds", "0"]
    argv += ["--epochs", "1", "--lr", "1e-3", "--distil", "--no-latency"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--output", str(tmp_path / "out"), "--config"]
    config = tmp_path / "sweep.json"
    config.write_text(json.dumps({"finetune": {"max_train_samples": 48, "max_eval_samples": 48, "batch_size": 16}}))
    assert main([*argv, str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == 3
    assert main([*argv, str(config)]) == 0  # resumed: the twin's key names its teacher, which is cached too
    assert json.loads(capsys.readouterr().out)["cached"] == 3

    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(results.role) == ["full", "pruned", "distilled"]
    full, pruned, twin = (results.iloc[i] for i in range(3))
    assert twin.teacher == full.variant and twin.kept_layers == pruned.kept_layers == "0 3"
    assert twin.variant != pruned.variant and pd.isna(pruned.teacher)
    table = pd.read_csv(tmp_path / "out" / "distil.csv")
    assert table.plain_mean[0] == pytest.approx(pruned.test_accuracy)
    assert table.distilled_mean[0] == pytest.approx(twin.test_accuracy)
    assert table.gain_mean[0] == pytest.approx(twin.test_accuracy - pruned.test_accuracy)
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "## Distilled vs plain" in md and "| full (teacher) | plain | distilled | gain (points) |" in md
    assert md.count("\n| SHC |") == 3 + 1  # full, pruned, distilled; then the side-by-side row


def test_distil_comparison_pairs_each_twin_with_the_plain_cell_of_its_seed():
    from pruning.sweep import distil_comparison, distil_markdown

    def rows(role: str, strategy: str, layers: int, accuracies: list[float]) -> pd.DataFrame:
        seeds = range(len(accuracies))
        return pd.DataFrame(
            {"dataset": "SHC", "model": "m", "role": role, "strategy": strategy, "layers": layers, "seed": seeds}
        ).assign(test_accuracy=accuracies)

    results = pd.concat(
        [
            rows("full", "full", 4, [0.80, 0.82, 0.84]),
            rows("pruned", "top", 2, [0.60, 0.70, 0.65]),
            rows("distilled", "top", 2, [0.62, 0.73, 0.66]),
        ]
    )
    table = distil_comparison(results)
    assert len(table) == 1 and table.seeds[0] == 3
    assert table.full_mean[0] == pytest.approx(0.82) and table.gain_mean[0] == pytest.approx(0.02)
    # paired: the per-seed gains 0.02, 0.03, 0.01 have sd 0.01; t(0.975, 2) = 4.303 -> 4.303 * 0.01 / sqrt(3)
    assert table.gain_ci95[0] == pytest.approx(0.02484, abs=1e-4)
    assert "| SHC | m | top | 2 | 3 | 82.0 | 65.0 ± 12.4 | 67.0 ± 13.8 | +2.0 ± 2.5 |" in distil_markdown(table)
    assert distil_comparison(results[results.role != "distilled"]).empty


def test_cuts_and_one_teacher_seed_make_the_cheap_distil_grid():
    from pruning.sweep.grid import SweepConfig

    config = SweepConfig(
        bases=["offline-teacher"], cuts=[[6, "middle"], [2, "top"]], seeds=[0, 1, 2], distil=True, teacher_seed=0
    )
    cells = config.cells()
    full = [c for c in cells if c[1] is None]
    assert [c[3] for c in full] == [0]  # the one teacher is the only full fine-tune
    assert [(c[1].keep, c[1].strategy) for c in cells if c[1] is not None] == [(6, "middle"), (2, "top")] * 3
    assert len(config.distilled_cells()) == 6 and {config.teacher_of(s) for s in (0, 1, 2)} == {0}
    assert SweepConfig(bases=["b"], seeds=[0, 1], distil=True).teacher_of(1) == 1  # default: the twin's own seed


@pytest.mark.parametrize(
    "fields",
    [
        {"cuts": [[6, "sideways"]]},
        {"cuts": [[0, "top"]]},
        {"cuts": []},
        {"teacher_seed": 0},  # without distil
        {"teacher_seed": 5, "distil": True},  # not one of the seeds
    ],
)
def test_bad_cuts_and_teacher_seeds_are_refused(fields):
    from pruning.sweep.grid import SweepConfig

    with pytest.raises(ValueError, match="cuts|teacher_seed"):
        SweepConfig(bases=["offline-teacher"], seeds=[0, 1, 2], **fields)
