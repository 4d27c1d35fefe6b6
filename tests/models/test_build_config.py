"""PretrainConfig: validation names the bad value, and the dict form round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.build_offline.config import SHARED_DIR, PretrainConfig


def test_config_validates_and_round_trips() -> None:
    cfg = PretrainConfig(hidden_size=128, num_attention_heads=4)
    assert PretrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="num_attention_heads"):
        PretrainConfig(hidden_size=100, num_attention_heads=3)
    with pytest.raises(ValueError, match="mask_prob=1.5"):
        PretrainConfig(mask_prob=1.5)
    with pytest.raises(ValueError, match="budget_tokens"):
        PretrainConfig(budget_tokens=10)
    with pytest.raises(ValueError, match="unknown PretrainConfig keys"):
        PretrainConfig.from_dict({"hiden_size": 3})


def test_config_news_datasets_upper_cased_and_checked() -> None:
    assert PretrainConfig(news_datasets=["shc"]).news_datasets == ["SHC"]
    with pytest.raises(ValueError, match="news_datasets"):
        PretrainConfig(news_datasets=["XYZ"])


def test_config_default_paths_point_beside_the_checkout() -> None:
    cfg = PretrainConfig()
    assert SHARED_DIR == Path(__file__).resolve().parents[3] / "shared"  # <repo>/../shared, as before the move
    assert cfg.corpus == str(SHARED_DIR / "data" / "marathi-corpus" / "corpus.txt")
    assert cfg.news_dir == str(SHARED_DIR / "data" / "mahanews")
