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
