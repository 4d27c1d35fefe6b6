"""Hub-format snapshots: the cache layout huggingface_hub reads, and the product loading them by Hub id.

A tiny stand-in (2 layers, 32 wide) is built here; the real shapes are exercised in
``tests/test_real_shape.py`` (marked slow).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models import hub_snapshots
from models.catalog import ModelSpec

REPO = Path(__file__).resolve().parents[2]
TINY = ModelSpec(
    name="tiny-hub",
    source="tester/tiny-marathi-bert",
    kind="base",
    role="base",
    num_layers=2,
    hidden_size=32,
    vocab_size=120,
    intermediate_size=37,
    num_attention_heads=2,
    max_position_embeddings=64,
)
TEXTS = ["मराठी बातमी आज सकाळी आली", "पुण्याच्या संघाने सामना जिंकला", "नवीन मोबाइल फोन बाजारात आला"] * 20


@pytest.fixture(scope="module")
def tiny_hub(tmp_path_factory) -> tuple[Path, Path]:
    """(HF_HOME, snapshot folder) of the tiny stand-in."""
    root = tmp_path_factory.mktemp("hf-home")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    tokens = hub_snapshots.trained_vocab(corpus, TINY.vocab_size)
    snap = hub_snapshots.build_snapshot(TINY, root / "hub", tokens, vocab_note="test corpus")
    return root, snap


def test_snapshot_has_the_hub_cache_layout(tiny_hub):
    root, snap = tiny_hub
    repo = root / "hub" / "models--tester--tiny-marathi-bert"
    assert (repo / "refs" / "main").read_text() == snap.name  # no newline: the Hub client reads it verbatim
    assert len(snap.name) == 40 and snap.parent == repo / "snapshots"
    assert sorted(p.name for p in snap.iterdir()) == sorted(hub_snapshots.SNAPSHOT_FILES)
    for file in snap.iterdir():
        target = os.readlink(file)
        assert target.startswith("../../blobs/") and file.resolve().parent == repo / "blobs"
    weights_blob = Path(os.readlink(snap / "model.safetensors")).name
    assert len(weights_blob) == 64  # LFS files are stored under their sha256, text files under a git sha1
    assert len(Path(os.readlink(snap / "config.json")).name) == 40


def test_snapshot_is_read_by_huggingface_hub_itself(tiny_hub):
    from huggingface_hub import scan_cache_dir, try_to_load_from_cache

    root, snap = tiny_hub
    info = scan_cache_dir(root / "hub")
    assert not info.warnings
    (repo,) = [r for r in info.repos if r.repo_id == TINY.source]
    (revision,) = repo.revisions
    assert revision.commit_hash == snap.name and revision.refs == frozenset({"main"})
    found = try_to_load_from_cache(TINY.source, "config.json", cache_dir=root / "hub")
    assert found == str(snap / "config.json")


def test_snapshot_config_and_card_say_random_weights(tiny_hub):
    _, snap = tiny_hub
    config = json.loads((snap / "config.json").read_text())
    assert config["num_hidden_layers"] == 2 and config["vocab_size"] == 120 and config["hidden_size"] == 32
    assert config["weights"] == "random-weights" and config["stand_in_for"] == TINY.source
    first_line = (snap / "README.md").read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("**Random weights (shape only).**") and "weights are random" in first_line
    assert TINY.source in first_line and "loading, memory and speed" in first_line
    tokenizer_config = json.loads((snap / "tokenizer_config.json").read_text())
    assert tokenizer_config["do_lower_case"] is False  # lower-casing would strip Devanagari vowel signs


def test_rebuilding_gives_the_same_revision(tiny_hub, tmp_path):
    root, snap = tiny_hub
    tokens = (snap / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    again = hub_snapshots.build_snapshot(TINY, tmp_path / "hub", tokens, vocab_note="test corpus")
    assert again.name == snap.name  # same seed, same files, same commit hash


def test_trained_vocab_is_padded_to_the_model_size(tiny_hub):
    _, snap = tiny_hub
    tokens = (snap / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(tokens) == TINY.vocab_size and len(set(tokens)) == TINY.vocab_size
    assert tokens[:5] == hub_snapshots.SPECIAL_TOKENS and tokens[-1].startswith("[unused")


def test_the_product_loads_the_snapshot_by_hub_id_offline(tiny_hub):
    """The normal path: HF_HOME + HF_HUB_OFFLINE=1, `load_classifier("owner/name")`, no special case."""
    root, snap = tiny_hub
    code = (
        "import json\n"
        "from models import hub_reachable, load_classifier\n"
        f"m = load_classifier({TINY.source!r}, num_labels=3)\n"
        "enc = m.tokenizer(['मराठी बातमी'], return_tensors='pt')\n"
        "print(json.dumps({'reachable': hub_reachable(), 'revision': m.revision, 'weights': m.weights,\n"
        "  'layers': m.model.config.num_hidden_layers, 'logits': list(m.model(**enc).logits.shape),\n"
        "  'unk': m.tokenizer.unk_token_id in enc['input_ids'][0].tolist()}))\n"
    )
    env = os.environ | {"HF_HOME": str(root), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {
        "reachable": False,
        "revision": snap.name,
        "weights": "random-weights",
        "layers": 2,
        "logits": [1, 3],
        "unk": False,
    }


def test_muril_vocabulary_has_the_documented_special_tokens():
    tokens = hub_snapshots.read_vocab(hub_snapshots.MURIL_VOCAB, 197285)
    assert [tokens[i] for i in (0, 100, 103, 104, 105)] == ["[PAD]", "[UNK]", "[MASK]", "[CLS]", "[SEP]"]


def test_read_vocab_refuses_a_wrong_size(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n")
    with pytest.raises(ValueError, match="holds 2 tokens, expected 3"):
        hub_snapshots.read_vocab(vocab, 3)
    with pytest.raises(FileNotFoundError, match="not found"):
        hub_snapshots.read_vocab(tmp_path / "missing.txt", 3)


def test_hub_specs_are_the_catalog_hub_models_and_unknown_names_are_listed(tmp_path):
    assert [s.name for s in hub_snapshots.hub_specs()] == ["mahabert-v2", "muril", "mahabert-small", "mahabert-smaller"]
    with pytest.raises(ValueError, match="valid: mahabert-v2, muril"):
        hub_snapshots.hub_specs(["offline-teacher"])
    assert hub_snapshots.main([str(tmp_path / "hf"), "--models", "nope"]) == 2
    assert not (tmp_path / "hf").exists()
