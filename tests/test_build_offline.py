"""Tests of the offline family builder: learning, exact resume, export format, and the committed family.

Tiny models (2 layers, hidden 64) on a few thousand corpus lines keep the whole file well under 30 s.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from models.build_offline import (
    CHECKPOINT_NAME,
    DEFAULT_CORPUS,
    DEFAULT_OUT_DIR,
    FAMILY,
    PretrainConfig,
    PretrainData,
    export_model,
    load_tokenizer,
    lr_multiplier,
    prepare_data,
    resolve_config,
    train_model,
)

TINY = {
    "news_datasets": [],
    "vocab_size": 600,
    "hidden_size": 64,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "max_position_embeddings": 64,
    "seq_len": 32,
    "batch_size": 16,
    "lr": 2e-3,
    "heldout_fraction": 0.05,
    "eval_sequences": 48,
    "eval_times": 0,
    "checkpoint_minutes": 60.0,
    "seed": 7,
}


def _synthetic_lines(n: int) -> list[str]:
    """Marathi-looking sentences with learnable structure, for machines without ../shared."""
    rng = random.Random(0)
    subjects = ["मी", "तो", "ती", "आम्ही", "शेतकरी", "मंत्री", "विद्यार्थी", "पोलीस"]
    objects = ["शाळेत", "बाजारात", "घरी", "मुंबईत", "पुण्यात", "कार्यालयात"]
    verbs = ["गेलो", "गेला", "गेली", "आलो", "आले", "राहिले"]
    return [f"{rng.choice(subjects)} आज {rng.choice(objects)} {rng.choice(verbs)} आणि परत आले ।" for _ in range(n)]


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 lines of the shared corpus (or synthetic lines when it is absent)."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    if DEFAULT_CORPUS.is_file():
        with open(DEFAULT_CORPUS, encoding="utf-8") as handle:
            lines = [next(handle).strip() for _ in range(3000)]
    else:
        lines = _synthetic_lines(3000)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_setup(
    tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PretrainConfig, PretrainData, Path]:
    """Config, packed data and tokenizer folder of a tiny run (tokenizer trained once per module)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("family")
    cfg = PretrainConfig.from_dict({**TINY, "corpus": str(tiny_corpus), "budget_tokens": 16 * 32 * 60})
    data = prepare_data(cfg, root / "tokenizer", cache_dir=root / "cache")
    return cfg, data, root / "tokenizer"


def _train(cfg: PretrainConfig, data: PretrainData, tok_dir: Path, ckpt: Path, **kwargs) -> dict:
    return train_model("smaller", cfg, data, load_tokenizer(tok_dir), ckpt, device=torch.device("cpu"),
                       progress=False, command="pytest", **kwargs)  # fmt: skip


def _history(ckpt: Path) -> list[list[float]]:
    return torch.load(ckpt / CHECKPOINT_NAME, weights_only=False)["state"]["history"]


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


def test_resolve_config_keeps_run_and_allows_only_extension(tmp_path: Path) -> None:
    cfg = resolve_config(tmp_path, {"budget_tokens": 10_000, "hidden_size": 128})
    assert resolve_config(tmp_path, {}).hidden_size == 128  # saved config wins over defaults
    assert resolve_config(tmp_path, {"budget_tokens": 20_000}).budget_tokens == 20_000
    with pytest.raises(ValueError, match="hidden_size"):
        resolve_config(tmp_path, {"hidden_size": 64})
    with pytest.raises(ValueError, match="below"):
        resolve_config(tmp_path, {"budget_tokens": cfg.budget_tokens})


def test_lr_schedule_warms_up_holds_and_cools_down() -> None:
    cfg = PretrainConfig(warmup_fraction=0.1, decay_fraction=0.2, min_lr_ratio=0.05)
    factors = [lr_multiplier(s, 100, cfg) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[50] == 1.0 and factors[79] == 1.0
    assert factors[99] < 0.1 and all(a >= b for a, b in zip(factors[80:], factors[81:], strict=False))
    assert lr_multiplier(100, 200, cfg, rewarm_start=100) < 0.2  # extension re-warms from the cool-down
    rewarm = [lr_multiplier(s, 200, cfg, rewarm_start=100, rewarm_from=0.5) for s in range(100, 125)]
    assert 0.5 < rewarm[0] < rewarm[10] < rewarm[-1] == 1.0  # ... starting where the old schedule stopped


def test_tokenizer_keeps_devanagari_marks_and_normalises_nfc(tiny_setup) -> None:
    _, _, tok_dir = tiny_setup
    tok = load_tokenizer(tok_dir)
    text = "मंत्र्यांनी शाळेत"
    decoded = tok.decode(tok(text)["input_ids"], skip_special_tokens=True)
    assert "ं" in decoded and "ी" in decoded  # anusvara (Mn) and vowel signs survive: no accent stripping
    precomposed, decomposed = "\u0958", "\u0915\u093c"  # QA vs KA + NUKTA: NFC maps the first to the second
    assert tok(precomposed)["input_ids"] == tok(decomposed)["input_ids"]


def test_short_pretraining_lowers_heldout_loss(tiny_setup, tmp_path: Path) -> None:
    cfg, data, tok_dir = tiny_setup
    state = _train(cfg, data, tok_dir, tmp_path / "run")
    assert state["done"] and state["step"] == cfg.total_steps == 60
    first, last = state["evals"][0], state["evals"][-1]
    assert first["mlm_loss"] > 6.0  # ~ln(600) at random init
    assert last["mlm_loss"] < first["mlm_loss"] - 0.5
    assert last["mlm_loss"] < last["unigram_loss"] + 0.3  # at least about as good as the unigram baseline


def test_resume_reproduces_uninterrupted_run_and_budget_extends(tiny_setup, tmp_path: Path) -> None:
    cfg, data, tok_dir = tiny_setup
    short = PretrainConfig.from_dict({**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 12})
    _train(short, data, tok_dir, tmp_path / "straight")
    part = _train(short, data, tok_dir, tmp_path / "resumed", max_steps_this_call=5)
    assert not part["done"] and part["step"] == 5
    whole = _train(short, data, tok_dir, tmp_path / "resumed")
    assert whole["done"] and whole["step"] == 12 and whole["sequences_seen"] == 12 * short.batch_size
    straight, resumed = _history(tmp_path / "straight"), _history(tmp_path / "resumed")
    assert [s for s, _ in resumed] == list(range(1, 13))
    assert [loss for _, loss in resumed] == pytest.approx([loss for _, loss in straight], abs=2e-3)
    longer = PretrainConfig.from_dict({**short.to_dict(), "budget_tokens": short.tokens_per_step * 15})
    extended = _train(longer, data, tok_dir, tmp_path / "resumed")
    assert extended["done"] and extended["step"] == 15 and extended["budget_tokens"] == longer.budget_tokens


def test_export_writes_fp16_safetensors_that_load_for_classification(tiny_setup, tmp_path: Path) -> None:
    from safetensors import safe_open
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    cfg, data, tok_dir = tiny_setup
    short = PretrainConfig.from_dict({**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 4})
    _train(short, data, tok_dir, tmp_path / "ckpt", max_steps_this_call=2)  # an intermediate checkpoint
    out = export_model("smaller", tmp_path / "ckpt", tok_dir, tmp_path / "offline", data.info)
    assert out.name == FAMILY["smaller"][0]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"):
        assert (out / name).is_file(), name
    with safe_open(out / "model.safetensors", "pt") as handle:
        dtypes = {handle.get_tensor(k).dtype for k in handle.keys()}
    assert dtypes == {torch.float16}
    info = json.loads((out / "build_info.json").read_text())
    assert info["steps"] == 2 and info["status"].startswith("partial") and info["seed"] == cfg.seed
    assert info["data"]["corpus_sha256"] and info["commands"] == ["pytest"]
    model = AutoModelForSequenceClassification.from_pretrained(out, num_labels=12)
    tok = AutoTokenizer.from_pretrained(out)
    assert next(model.parameters()).dtype == torch.float32
    assert model.config.num_hidden_layers == 2 and model.config.vocab_size == cfg.vocab_size
    logits = model(**tok(["आज पाऊस पडला", "मुंबई"], padding=True, return_tensors="pt")).logits
    assert logits.shape == (2, 12) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", list(FAMILY))
def test_committed_family_loads_offline(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from models.catalog import CATALOG

    folder = DEFAULT_OUT_DIR / FAMILY[name][0]
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{folder} not built yet (python -m models.build_offline)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    total = sum(f.stat().st_size for f in DEFAULT_OUT_DIR.rglob("*") if f.is_file())
    assert total <= 40 * 2**20, f"models/offline is {total / 2**20:.1f} MB > 40 MB"
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=12)
    tok = AutoTokenizer.from_pretrained(folder)
    spec = CATALOG[f"offline-{name}"]
    conf = model.config
    assert (conf.num_hidden_layers, conf.hidden_size, conf.vocab_size, conf.intermediate_size) == (
        spec.num_layers, spec.hidden_size, spec.vocab_size, spec.intermediate_size)  # fmt: skip
    assert (conf.num_attention_heads, conf.max_position_embeddings) == (
        spec.num_attention_heads, spec.max_position_embeddings)  # fmt: skip
    assert len(tok) == conf.vocab_size
    info = json.loads((folder / "build_info.json").read_text())
    for key in ("commands", "seed", "data", "token_budget", "steps", "wall_seconds", "device", "heldout"):
        assert key in info, key
    assert info["heldout"]["ppl"] < info["heldout"]["unigram_ppl"]
    with torch.no_grad():
        logits = model(**tok(["शेतकऱ्यांना मदत जाहीर"], return_tensors="pt")).logits
    assert logits.shape == (1, 12)
