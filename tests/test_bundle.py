"""Bundled variants: chosen on validation, stored fp16 with provenance, listed read-only next to the cache."""

import json

import torch
from safetensors import safe_open

from pruning import VariantCache
from pruning.bundle import build_bundle
from tests.conftest import MAHANEWS_DIR, make_tiny_bert


def test_build_bundle_writes_fp16_variants_with_provenance(tmp_path, tokenizer):
    bases = {}
    for name, layers in (("teacher", 4), ("scratch", 2)):
        bases[name] = tmp_path / name
        make_tiny_bert(len(tokenizer), layers=layers).save_pretrained(bases[name])
        tokenizer.save_pretrained(bases[name])
    out = tmp_path / "bundled"
    records = build_bundle(
        out,
        teacher=str(bases["teacher"]),
        scratch={2: str(bases["scratch"])},
        keeps=(2,),
        finetune={"epochs": 1, "max_train_samples": 48, "learning_rate": 1e-3},
        cache=VariantCache(tmp_path / "cache"),
        data_dir=str(MAHANEWS_DIR),
        command="pytest",
    )
    assert [r["bundle"]["role"] for r in records] == ["full", "pruned", "scratch"]
    pruned = records[1]
    dev = pruned["bundle"]["candidates_dev"]
    assert len(dev) == 6 and dev[pruned["plan"]["strategy"]] == max(dev.values())  # picked on validation
    assert all(r["bundle"]["command"] == "pytest" and "CC BY-NC-SA" in r["bundle"]["license"] for r in records)
    assert all(r["test_metrics"]["num_examples"] == 716 for r in records)

    listing = VariantCache(tmp_path / "user", bundled=out).list()
    assert len(listing.records) == 3 and all(r["bundled"] for r in listing.records) and not listing.problems
    folder = out / records[0]["name"]
    with safe_open(folder / "model.safetensors", "pt") as weights:
        assert weights.get_tensor(next(iter(weights.keys()))).dtype == torch.float16
    assert json.loads((folder / "variant.json").read_text())["weights_dtype"] == "float16"
    assert not list(out.glob(".tmp-*"))
