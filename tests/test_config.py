import pytest

from pruning import BenchConfig, FinetuneConfig, PruneConfig


def test_finetune_config_round_trips_and_defaults_max_length():
    config = FinetuneConfig(dataset="shc", epochs=2, seed=7)
    assert config.dataset == "SHC" and config.effective_max_length == 64
    assert FinetuneConfig.from_dict(config.to_dict()) == config
    assert FinetuneConfig(dataset="LPC").effective_max_length == 256
    assert config.fingerprint() != FinetuneConfig(dataset="SHC", epochs=2, seed=8).fingerprint()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dataset": "XNLI"}, "valid datasets: SHC, LPC, LDC"),
        ({"epochs": 0}, "epochs must be > 0, got 0"),
        ({"learning_rate": 2}, "learning_rate"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
        ({"max_train_samples": 0}, "max_train_samples"),
        ({"mixed_precision": "int4"}, "int4"),
    ],
)
def test_finetune_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FinetuneConfig(**kwargs)


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown FinetuneConfig keys \['lr'\]"):
        FinetuneConfig.from_dict({"lr": 1e-4})


def test_prune_config_validates_strategy_and_keep():
    assert PruneConfig("custom", layers=[0, 3]).layers == [0, 3]
    with pytest.raises(ValueError, match="valid strategies"):
        PruneConfig("random", keep=3)
    with pytest.raises(ValueError, match="needs `keep`"):
        PruneConfig("top")
    with pytest.raises(ValueError, match="needs `layers`"):
        PruneConfig("custom")
    with pytest.raises(ValueError, match="positive integer"):
        PruneConfig("top", keep=0)


def test_bench_config_rejects_bad_values():
    with pytest.raises(ValueError, match="unknown backend"):
        BenchConfig(backends=["tensorrt"])
    with pytest.raises(ValueError, match="batch sizes must be >= 1"):
        BenchConfig(batch_sizes=[0])


def test_prune_config_without_vocabulary_keeps_its_old_dict():
    """Saved records and Ray job specs hold this dict: the vocabulary fields must not appear by default."""
    assert PruneConfig("middle", keep=6).to_dict() == {
        "strategy": "middle",
        "keep": 6,
        "layers": None,
        "score_pooling": "cls",
    }
    assert PruneConfig("middle", keep=6).fingerprint() == "6d5243450d"  # computed by the code before vocabulary pruning


def test_prune_config_with_vocabulary_round_trips_and_validates(tmp_path):
    config = PruneConfig("top", keep=2, vocab_corpus=tmp_path / "c.txt", vocab_min_count=3)
    assert config.vocab_corpus == str(tmp_path / "c.txt")  # a path is stored as text, JSON-ready
    assert config.to_dict()["vocab_min_count"] == 3 and PruneConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="vocab_min_count must be a positive integer, got 0"):
        PruneConfig("top", keep=2, vocab_corpus="c.txt", vocab_min_count=0)
    with pytest.raises(ValueError, match="vocab_corpus must be a text file path"):
        PruneConfig("top", keep=2, vocab_corpus="  ")


def test_finetune_epochs_have_one_spelling_in_the_cache_key():
    """`--epochs 4` (4.0) and a preset's 4 are the same run: they must hash to the same variant."""
    from pruning.config import FinetuneConfig

    assert FinetuneConfig(epochs=4.0).to_dict() == FinetuneConfig(epochs=4).to_dict()
    assert FinetuneConfig(epochs=4.0).fingerprint() == FinetuneConfig(epochs=4).fingerprint()
    assert FinetuneConfig(epochs=2.5).epochs == 2.5
