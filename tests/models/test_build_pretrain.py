"""Pretraining: the schedule, learning, exact resume, budget extension, and what a session records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from build_helpers import history, train

from models.build_offline.checkpoint import STATE_NAME
from models.build_offline.config import PretrainConfig
from models.build_offline.pretrain import device_name, lr_multiplier, pick_device


def test_lr_schedule_warms_up_holds_and_cools_down() -> None:
    cfg = PretrainConfig(warmup_fraction=0.1, decay_fraction=0.2, min_lr_ratio=0.05)
    factors = [lr_multiplier(s, 100, cfg) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[50] == 1.0 and factors[79] == 1.0
    assert factors[99] < 0.1 and all(a >= b for a, b in zip(factors[80:], factors[81:], strict=False))
    assert lr_multiplier(100, 200, cfg, rewarm_start=100) < 0.2  # extension re-warms from the cool-down
    rewarm = [lr_multiplier(s, 200, cfg, rewarm_start=100, rewarm_from=0.5) for s in range(100, 125)]
    assert 0.5 < rewarm[0] < rewarm[10] < rewarm[-1] == 1.0  # ... starting where the old schedule stopped


def test_short_pretraining_lowers_heldout_loss(tiny_setup, tmp_path: Path) -> None:
    cfg, data, tok_dir = tiny_setup
    state = train(cfg, data, tok_dir, tmp_path / "run")
    assert state["done"] and state["step"] == cfg.total_steps == 60
    first, last = state["evals"][0], state["evals"][-1]
    assert first["mlm_loss"] > 6.0  # ~ln(600) at random init
    assert last["mlm_loss"] < first["mlm_loss"] - 0.5
    assert last["mlm_loss"] < last["unigram_loss"] + 0.3  # at least about as good as the unigram baseline


def test_resume_reproduces_uninterrupted_run_and_budget_extends(tiny_setup, tmp_path: Path) -> None:
    cfg, data, tok_dir = tiny_setup
    short = PretrainConfig.from_dict({**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 12})
    train(short, data, tok_dir, tmp_path / "straight")
    part = train(short, data, tok_dir, tmp_path / "resumed", max_steps_this_call=5)
    assert not part["done"] and part["step"] == 5
    whole = train(short, data, tok_dir, tmp_path / "resumed")
    assert whole["done"] and whole["step"] == 12 and whole["sequences_seen"] == 12 * short.batch_size
    straight, resumed = history(tmp_path / "straight"), history(tmp_path / "resumed")
    assert [s for s, _ in resumed] == list(range(1, 13))
    assert [loss for _, loss in resumed] == pytest.approx([loss for _, loss in straight], abs=2e-3)
    longer = PretrainConfig.from_dict({**short.to_dict(), "budget_tokens": short.tokens_per_step * 15})
    extended = train(longer, data, tok_dir, tmp_path / "resumed")
    assert extended["done"] and extended["step"] == 15 and extended["budget_tokens"] == longer.budget_tokens


def test_lower_family_budget_keeps_a_models_larger_budget(tiny_setup, tmp_path: Path) -> None:
    cfg, data, tok_dir = tiny_setup
    big = PretrainConfig.from_dict({**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 6})
    train(big, data, tok_dir, tmp_path / "run", max_steps_this_call=2)
    small = PretrainConfig.from_dict({**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 3})
    state = train(small, data, tok_dir, tmp_path / "run")  # the ladder's scratch stage after the teacher's
    assert state["step"] == 6 and state["budget_tokens"] == big.budget_tokens


def test_sessions_record_device_speed_and_wall_time(tiny_setup, tmp_path: Path) -> None:
    cfg, data, tok_dir = tiny_setup
    short = PretrainConfig.from_dict({**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 6})
    train(short, data, tok_dir, tmp_path / "run", max_steps_this_call=2)
    state = train(short, data, tok_dir, tmp_path / "run")
    sessions = state["sessions"]
    assert [(s["start_step"], s["end_step"]) for s in sessions] == [(0, 2), (2, 6)]
    assert all(s["tokens_per_second"] > 0 and s["wall_seconds"] >= 0 for s in sessions)
    assert sessions[-1]["device"] == "cpu" and "threads" in sessions[-1]["device_name"]
    assert state["tokens_per_second"] == sessions[-1]["tokens_per_second"] and state["wall_seconds"] > 0
    summary = json.loads((tmp_path / "run" / STATE_NAME).read_text())  # readable without torch
    assert summary["step"] == 6 and summary["done"] and summary["history_len"] == 6 and "history" not in summary


def test_pick_device_and_device_name() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device().type in ("cpu", "cuda")
    assert device_name(torch.device("cpu")).endswith(f"({torch.get_num_threads()} threads)")
