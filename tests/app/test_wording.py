"""pruning.app.wording: how the app names layers, sizes and variants."""

from __future__ import annotations

from pruning.app import wording


def test_format_layers_gives_one_based_ranges():
    assert wording.format_layers([0, 1, 2, 9, 10, 11]) == "1–3, 10–12"
    assert wording.format_layers([4, 6, 7]) == "5, 7, 8"
    assert wording.format_layers([]) == "none"


def test_format_count_and_size_mb_read_as_people_write_them():
    assert wording.format_count(1_234_567) == "1.23 M" and wording.format_count(12_345) == "12.3 k"
    assert wording.format_count(None) == "–" and wording.format_count(float("nan")) == "–"
    assert wording.size_mb(1_000_000) == 4.0


def test_finetune_result_says_trained_or_loaded_and_where_it_is_saved():
    record = {
        "name": "v1",
        "device": "cpu",
        "majority_baseline_test": 0.125,
        "test_metrics": {"accuracy": 0.5, "macro_f1": 0.25, "num_examples": 8},
    }
    done = wording.finetune_result(record, from_cache=False, seconds=12.4)
    assert done.startswith("**Done** in 12 s on cpu") and "50.0%" in done and "Saved as `v1`" in done
    assert wording.finetune_result(record, from_cache=True, seconds=0).startswith("**Loaded from cache**")
