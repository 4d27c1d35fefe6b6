"""Provenance of an exported model: ``build_info.json`` (machine-readable) and ``README.md`` (model card).

Why both: the experiments read the record (token budget, held-out loss, data hashes) to label results;
a person opening ``models/offline/<folder>`` reads the card to learn what the weights are and are not.
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from .config import FAMILY, PretrainConfig
from .corpus import sha256_file

LICENSE_NOTE = (
    "Pretraining data: the Marathi corpus in ../shared/data/marathi-corpus (tweets and sentences, "
    "CC BY-NC-SA 4.0) and the training split of L3Cube-MahaNews SHC/LPC (CC BY-NC-SA 4.0). "
    "The weights are derived from this data and are therefore for non-commercial research use, "
    "shared alike (CC BY-NC-SA 4.0)."
)


def minimal_data_info(cfg: PretrainConfig) -> dict[str, Any]:
    """Data description for checkpoints written before the full one was stored."""
    corpus = Path(cfg.corpus)
    sha = sha256_file(corpus) if corpus.is_file() else None
    return {"corpus": str(corpus), "corpus_sha256": sha, "news_datasets": cfg.news_datasets}


def devices_used(state: dict[str, Any]) -> str:
    """The machines a run trained on, in order (older checkpoints only know the torch device)."""
    names = [s["device_name"] for s in state.get("sessions", []) if s.get("device_name")]
    return ", ".join(dict.fromkeys(names)) or str(state.get("device_name") or state.get("device"))


def build_info(
    name: str, cfg: PretrainConfig, state: dict[str, Any], data_info: dict[str, Any], model: Any
) -> dict[str, Any]:
    """The provenance record written next to the weights.

    Args:
        name: a key of ``FAMILY``.
        cfg: the run's config.
        state: the checkpoint state (step, evals, commands, sessions, ...).
        data_info: data description from ``prepare_data``.
        model: the model (for its parameter count).

    Returns:
        A JSON-safe dict.
    """
    folder, layers = FAMILY[name]
    final = state["evals"][-1] if state.get("evals") else {}
    tokens_seen = state["step"] * cfg.tokens_per_step
    wall = state.get("wall_seconds", 0.0)
    return {
        "model": folder,
        "role": name,
        "status": "complete" if state.get("done") else "partial (intermediate checkpoint)",
        "num_layers": layers,
        "parameters": sum(p.numel() for p in model.parameters()),
        "commands": state.get("commands", []),
        "seed": cfg.seed,
        "data": data_info,
        "token_budget": state.get("budget_tokens", cfg.budget_tokens),
        "tokens_seen": tokens_seen,
        "steps": state["step"],
        "wall_seconds": round(wall, 1),
        "tokens_per_second": round(tokens_seen / wall, 1) if wall > 0 else None,
        "device": devices_used(state),
        "sessions": state.get("sessions", []),
        "heldout": final,
        "eval_history": state.get("evals", []),
        "config": cfg.to_dict(),
        "versions": {"torch": torch.__version__, "python": platform.python_version(), **_lib_versions()},
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _lib_versions() -> dict[str, str]:
    import tokenizers
    import transformers

    return {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def model_card(info: dict[str, Any]) -> str:
    """A short model card (README.md) from a ``build_info`` dict."""
    cfg = info["config"]
    ho = info.get("heldout") or {}
    data = info.get("data") or {}
    ev = "not evaluated yet"
    if ho:
        ev = (
            f"at step {ho['step']}: held-out MLM loss {ho['mlm_loss']:.3f}, perplexity {ho['ppl']:.1f} "
            f"(unigram baseline perplexity {ho['unigram_ppl']:.1f}) on {ho['predicted_tokens']} masked tokens"
        )
    speed = f", {info['tokens_per_second']:,.0f} tokens/s" if info.get("tokens_per_second") else ""
    cmds = "\n".join(f"    {c}" for c in info.get("commands") or ["(unknown)"])
    return f"""---
language: mr
license: cc-by-nc-sa-4.0
tags: [bert, fill-mask, marathi, offline, marathi-prune]
---

# {info["model"]} — miniature Marathi BERT (marathi-prune offline family)

**What.** A {info["num_layers"]}-layer BERT (hidden {cfg["hidden_size"]}, {cfg["num_attention_heads"]} heads,
FFN {cfg["intermediate_size"]}, vocabulary {cfg["vocab_size"]} WordPiece, {info["parameters"] / 1e6:.1f}M parameters)
pretrained from scratch with masked-language modelling. It is one of three models built by
`python -m models.build_offline` — a 12-layer teacher and 6- and 2-layer models trained on the **same data
with the same token budget and width** — so that "pruned teacher vs. model pretrained at that depth"
(as in the MahaBERT layer-pruning paper) can be studied fully offline. Role here: **{info["role"]}**.
Status: **{info["status"]}**.

**How trained.** Masked LM ({cfg["mask_prob"]:.0%} of tokens, 80/10/10), loss on masked positions only,
packed sequences of {cfg["seq_len"]} tokens, batch {cfg["batch_size"]}, AdamW (lr {cfg["lr"]}, betas
({cfg["beta1"]}, {cfg["beta2"]}), weight decay {cfg["weight_decay"]}), {cfg["warmup_fraction"]:.0%} warm-up and a
linear cool-down over the last {cfg["decay_fraction"]:.0%} of steps, no dropout in pretraining
(config sets {cfg["export_dropout"]} for fine-tuning). {info["steps"]} steps, {info["tokens_seen"]:,} tokens
(budget {info["token_budget"]:,}), seed {info["seed"]}, {info["wall_seconds"] / 60:.0f} min on {info["device"]}{speed}.
Weights are stored in float16; `config.json` asks for float32 compute.

Command(s):

{cmds}

**Evaluation.** {ev}. The held-out slice is {cfg["heldout_fraction"]:.0%} of the corpus lines (fixed seed
{cfg["heldout_seed"]}), never trained on. See `build_info.json` for the full record.

**Data.** `{Path(data.get("corpus", "?")).name}` (sha256 `{data.get("corpus_sha256", "?")}`,
{data.get("train_lines", "?")} training lines) and {data.get("news_texts", 0)} MahaNews training-split texts
({", ".join(data.get("news_datasets") or []) or "none"}; sha256 `{data.get("news_sha256")}`), repeated
{cfg["news_repeat"]}x. No MahaNews validation or test text was used. {LICENSE_NOTE}

**Limits.** Tiny budget (minutes of CPU): far weaker than MahaBERT/MuRIL, meant for offline demos, tests and
relative comparisons inside this project, not for production. Positions beyond {cfg["seq_len"]} were never
trained. Tweets in the corpus contain abusive language; the model may reproduce it.

**Use.**

```python
from transformers import AutoModelForSequenceClassification, AutoTokenizer
tok = AutoTokenizer.from_pretrained("models/offline/{info["model"]}")
model = AutoModelForSequenceClassification.from_pretrained("models/offline/{info["model"]}", num_labels=12)
```
"""
