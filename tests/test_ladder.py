"""The pretraining ladder: rung discovery, validation-only strategy choice, intervals, and a tiny real run."""

import json
import shutil

import pandas as pd
import pytest
from scipy import stats

from pruning import VariantCache
from pruning.ladder import find_rungs, ladder_figure, ladder_table, run_ladder, scratch_models, to_markdown
from pruning.sweep import ci95, welch_ci95
from tests.conftest import MAHANEWS_DIR, make_tiny_bert


def _rung(root, name, folder, tokens, status="complete", loss=5.0):
    out = root / name / folder
    out.mkdir(parents=True)
    info = {"status": status, "tokens_seen": tokens, "heldout": {"mlm_loss": loss}}
    (out / "build_info.json").write_text(json.dumps(info))
    return out


def test_find_rungs_sorted_and_only_complete(tmp_path):
    _rung(tmp_path, "16M", "mini-teacher-12l", 16_000_000, loss=4.8)
    _rung(tmp_path, "8M", "mini-teacher-12l", 8_000_000)
    _rung(tmp_path, "32M", "mini-teacher-12l", 20_000_000, status="partial (intermediate checkpoint)")
    (tmp_path / "notes").mkdir()
    rungs = find_rungs(tmp_path)
    assert [r.label for r in rungs] == ["8M", "16M"] and rungs[1].heldout_loss == 4.8


def test_ci95_is_the_t_interval_and_welch_matches_scipy():
    values = [0.70, 0.74, 0.72]
    sd = pd.Series(values).std()
    assert ci95(values) == pytest.approx(stats.t.ppf(0.975, 2) * sd / 3**0.5)
    assert ci95([0.7]) == 0.0
    a, b = [0.80, 0.78, 0.83], [0.70, 0.74, 0.72]
    diff, half = welch_ci95(a, b)
    test = stats.ttest_ind(a, b, equal_var=False)
    low = test.confidence_interval(0.95).low
    assert diff == pytest.approx(0.80333 - 0.72, abs=1e-4) and diff - half == pytest.approx(low)


def _results(dev_best: str, test_best: str) -> pd.DataFrame:
    rows = []
    for seed in range(3):
        rows.append(dict(model="teacher-8M", role="full", strategy="full", layers=12, test=0.80, dev=0.80, seed=seed))
        for strategy in ("top", "middle"):
            rows.append(
                dict(
                    model="teacher-8M",
                    role="pruned",
                    strategy=strategy,
                    layers=6,
                    test=0.79 if strategy == test_best else 0.70,
                    dev=0.78 if strategy == dev_best else 0.71,
                    seed=seed,
                )
            )
        rows.append(
            dict(model="mini-scratch-6l", role="scratch", strategy="full", layers=6, test=0.74, dev=0.74, seed=seed)
        )
    frame = pd.DataFrame(rows).rename(columns={"test": "test_accuracy", "dev": "dev_accuracy"})
    frame["test_accuracy"] += frame.seed * 0.01
    return frame.assign(dataset="SHC", test_macro_f1=0.5, params=1, pretrain_tokens=8_000_000, teacher_heldout_loss=5.1)


def test_ladder_table_picks_strategy_on_validation_not_test():
    table = ladder_table(_results(dev_best="middle", test_best="top"))
    (row,) = table.itertuples()
    assert row.best_strategy == "middle" and row.layers == 6
    assert row.pruned_mean == pytest.approx(0.71) and row.diff == pytest.approx(0.71 - 0.75)
    assert "teacher tokens" in to_markdown(table) and "(middle)" in to_markdown(table)
    assert len(ladder_figure(table).data) == 1


def test_run_ladder_on_a_tiny_rung(tmp_path, tokenizer):
    root = tmp_path / "rungs"
    for folder, layers in (("mini-teacher-12l", 4), ("mini-scratch-2l", 2)):
        out = _rung(root, "8M", folder, 8_000_000)
        make_tiny_bert(len(tokenizer), layers=layers).save_pretrained(out)
        tokenizer.save_pretrained(out)
    assert list(scratch_models(root)) == [2]
    results = run_ladder(
        root,
        seeds=[0],
        cache=VariantCache(tmp_path / "cache"),
        data_dir=str(MAHANEWS_DIR),
        finetune={"epochs": 1, "max_train_samples": 48, "learning_rate": 1e-3},
    )
    assert len(results) == 1 + 6 + 1  # full, six strategies at 2 layers, the scratch model
    assert set(results.model) == {"teacher-8M", "mini-scratch-2l"} and (results.pretrain_tokens == 8_000_000).all()
    table = ladder_table(results)
    assert table.layers.tolist() == [2] and table.best_strategy.iloc[0] in results.strategy.values
    shutil.rmtree(root / "8M" / "mini-teacher-12l")
    with pytest.raises(ValueError, match="no finished teacher rungs"):
        run_ladder(root, seeds=[0])


def test_merge_results_keeps_rungs_measured_earlier(tmp_path):
    from pruning.ladder import merge_results

    first = _results("middle", "middle")
    second = first.assign(pretrain_tokens=16_000_000)
    (tmp_path / "results.csv").write_text(first.to_csv(index=False))
    merged = merge_results(tmp_path / "results.csv", second)
    assert sorted(merged.pretrain_tokens.unique()) == [8_000_000, 16_000_000]
    again = merge_results(tmp_path / "results.csv", first.assign(test_accuracy=0.5))
    assert len(again) == len(first) and (again.test_accuracy == 0.5).all()
    assert merge_results(tmp_path / "none.csv", first) is first


@pytest.mark.parametrize(
    ("diff", "half", "word"),
    [(0.03, 0.02, "beats"), (0.01, 0.02, "ties"), (-0.01, 0.02, "ties"), (-0.045, 0.023, "loses"), (0.0, 0.0, "ties")],
)
def test_verdict_reads_the_interval_not_the_mean(diff, half, word):
    from pruning.ladder import verdict

    assert verdict(diff, half) == word


def test_ladder_sentences_and_markdown_state_the_verdict_at_the_largest_rung():
    from pruning.ladder import ladder_sentences

    small = _results(dev_best="middle", test_best="middle")
    large = small.assign(pretrain_tokens=16_000_000, test_accuracy=small.test_accuracy + 0.1)
    table = ladder_table(pd.concat([small, large], ignore_index=True))
    (sentence,) = ladder_sentences(table)  # one depth, largest rung only
    assert sentence.startswith("At 16M teacher tokens, the best pruned 6-layer model (middle")
    assert " beats " in sentence and "95% CI" in sentence and "3 seeds" in sentence
    assert "| ties |" in to_markdown(table) or "| beats |" in to_markdown(table)
    assert ladder_sentences(table.iloc[0:0]) == []


def test_a_family_folder_is_its_own_rung_with_its_scratch_models(tmp_path):
    family = tmp_path / "offline"
    _rung(tmp_path, "offline", "mini-teacher-12l", 7_999_488, loss=5.2)
    for name in ("mini-scratch-6l", "mini-scratch-2l"):
        (family / name).mkdir()
        (family / name / "model.safetensors").write_bytes(b"")
    (rung,) = find_rungs(family)
    assert rung.label == "8M" and rung.heldout_loss == 5.2
    assert scratch_models(family) == {6: family / "mini-scratch-6l", 2: family / "mini-scratch-2l"}


def test_the_shipped_family_rung_uses_catalog_names():
    from models.catalog import OFFLINE_DIR
    from pruning.ladder import _catalog_name

    assert _catalog_name(OFFLINE_DIR / "mini-teacher-12l") == "offline-teacher"
    assert _catalog_name(OFFLINE_DIR / "mini-scratch-6l") == "offline-small"
    assert _catalog_name(OFFLINE_DIR / "elsewhere") == str(OFFLINE_DIR / "elsewhere")


def test_read_ladder_is_empty_without_results_and_reads_a_written_one(tmp_path):
    from pruning.ladder import read_ladder, write_ladder

    assert read_ladder(tmp_path).empty
    paths = write_ladder(_results("middle", "middle"), tmp_path / "out", "python -m pruning ladder")
    table = read_ladder(tmp_path / "out")
    assert table.best_strategy.tolist() == ["middle"]
    text = paths["ladder.md"].read_text()
    assert "python -m pruning ladder" in text and "6-layer" in text
