"""The catalog: the paper's four models by name and role, and the committed offline family it points to."""

from __future__ import annotations

import json

import pytest
import torch

import models
from models.build_offline.config import FAMILY
from models.catalog import CATALOG, OFFLINE_DIR


def test_catalog_lists_the_papers_four_models_with_roles_and_shapes():
    hub = {name: spec for name, spec in models.CATALOG.items() if spec.kind in ("base", "scratch")}
    assert {s.source for s in hub.values()} == {
        "l3cube-pune/marathi-bert-v2",
        "google/muril-base-cased",
        "l3cube-pune/marathi-bert-small",
        "l3cube-pune/marathi-bert-smaller",
    }
    assert models.get_spec("l3cube-pune/marathi-bert-v2").vocab_size == 197285
    assert [(s.role, s.num_layers) for s in hub.values()] == [
        ("base", 12),
        ("base", 12),
        ("scratch", 6),
        ("scratch", 2),
    ]


@pytest.mark.parametrize("name", list(FAMILY))
def test_catalog_offline_family_is_committed_and_loads_offline(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = OFFLINE_DIR / FAMILY[name][0]
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{folder} not built yet (python -m models.build_offline)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    total = sum(f.stat().st_size for f in OFFLINE_DIR.rglob("*") if f.is_file())
    assert total <= 40 * 2**20, f"models/offline is {total / 2**20:.1f} MB > 40 MB"
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=12)
    tok = AutoTokenizer.from_pretrained(folder)
    spec = CATALOG[f"offline-{name}"]
    conf = model.config
    shape = (conf.num_hidden_layers, conf.hidden_size, conf.vocab_size, conf.intermediate_size)
    assert shape == (spec.num_layers, spec.hidden_size, spec.vocab_size, spec.intermediate_size)
    assert (conf.num_attention_heads, conf.max_position_embeddings) == (
        spec.num_attention_heads,
        spec.max_position_embeddings,
    )
    assert len(tok) == conf.vocab_size
    info = json.loads((folder / "build_info.json").read_text())
    for key in ("commands", "seed", "data", "token_budget", "steps", "wall_seconds", "device", "heldout"):
        assert key in info, key
    assert info["heldout"]["ppl"] < info["heldout"]["unigram_ppl"]
    with torch.no_grad():
        logits = model(**tok(["शेतकऱ्यांना मदत जाहीर"], return_tensors="pt")).logits
    assert logits.shape == (1, 12)
