"""pruning.app.preflight: a fine-tune's size, estimated time and warnings, before it starts."""

from __future__ import annotations

from pruning import FinetuneConfig, PruneConfig
from pruning.app import preflight
from tests.app.conftest import TINY_TRAIN


def test_preflight_counts_texts_and_estimates_from_earlier_runs_of_the_same_base(registry, tiny_base_dir):
    records = registry.records()  # the tiny full and pruned variants: 64 texts, 2 steps each, on cpu
    train = FinetuneConfig(**{**TINY_TRAIN, "max_train_samples": 320, "epochs": 2})
    checked = preflight.preflight(str(tiny_base_dir), PruneConfig("top", keep=2), train, records, device="cpu")
    assert (checked.train_texts, checked.steps) == (320, 20) and checked.estimate_s > 0
    assert "Estimated time: about" in checked.estimate_note and "2 earlier fine-tunes" in checked.estimate_note
    assert "Only 320 training texts" in checked.notices[0] and "majority-class baseline" in checked.notices[0]
    unknown = preflight.preflight("someone/other", None, FinetuneConfig(), records, device="cpu")
    assert unknown.estimate_s is None and "after a few steps" in unknown.estimate_note and not unknown.notices
    slower = preflight.estimate_seconds(records, str(tiny_base_dir), train, 4, 20, "cpu")[0]
    assert slower > preflight.estimate_seconds(records, str(tiny_base_dir), train, 1, 20, "cpu")[0]  # scaled by depth
