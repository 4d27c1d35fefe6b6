import json
import os

import pytest

from pruning import CacheEntryError, VariantCache, VariantKey
from tests.conftest import make_tiny_bert


def key(seed=42, lr=5e-5):
    return VariantKey.create(
        "offline-teacher", "local-abc", "middle", [0, 3], 4, {"dataset": "SHC", "seed": seed, "learning_rate": lr}
    )


def test_variant_key_dirname_is_readable_and_unique():
    assert key().dirname.startswith("offline-teacher__middle-k2-0.3__SHC__s42__")
    assert key().dirname == key().dirname
    assert key(lr=1e-4).dirname != key().dirname


def test_cache_save_list_load_delete(tmp_path, tokenizer):
    cache = VariantCache(tmp_path)
    model = make_tiny_bert(len(tokenizer), layers=2)
    path = cache.save(key(), model, tokenizer, {"test_metrics": {"accuracy": 0.5}})
    assert path.name == key().dirname and cache.contains(key())
    listing = cache.list()
    assert [r["name"] for r in listing.records] == [key().dirname] and not listing.problems
    loaded, _, record = cache.load(key())
    assert record["test_metrics"]["accuracy"] == 0.5 and loaded.config.num_hidden_layers == 2
    cache.delete(key().dirname[:30])
    assert not cache.contains(key()) and cache.list().records == []


def test_cache_interrupted_write_leaves_cache_readable(tmp_path, tokenizer, monkeypatch):
    cache = VariantCache(tmp_path)
    model = make_tiny_bert(len(tokenizer), layers=2)
    cache.save(key(seed=1), model, tokenizer, {"test_metrics": {"accuracy": 0.4}})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(tokenizer, "save_pretrained", crash)
    with pytest.raises(KeyboardInterrupt):
        cache.save(key(seed=2), model, tokenizer, {})
    monkeypatch.undo()
    assert not cache.contains(key(seed=2))
    assert [p.name for p in tmp_path.iterdir()] == [key(seed=1).dirname]  # no half-written folder
    assert len(cache.list().records) == 1


def test_cache_corrupt_entry_is_reported_and_skipped(tmp_path, tokenizer):
    cache = VariantCache(tmp_path)
    model = make_tiny_bert(len(tokenizer), layers=2)
    good = cache.save(key(seed=1), model, tokenizer, {})
    bad = cache.save(key(seed=2), model, tokenizer, {})
    (bad / "variant.json").write_text("{not json")
    (tmp_path / "stray-folder").mkdir()
    listing = cache.list()
    assert [r["name"] for r in listing.records] == [good.name]
    reasons = sorted(p.reason for p in listing.problems)
    assert "corrupt" in reasons[0] and "missing" in reasons[1]
    with pytest.raises(CacheEntryError, match="corrupt"):
        cache.load(key(seed=2))


def test_cache_force_replaces_existing_entry(tmp_path, tokenizer):
    cache = VariantCache(tmp_path)
    model = make_tiny_bert(len(tokenizer), layers=2)
    cache.save(key(), model, tokenizer, {"run": 1})
    cache.save(key(), model, tokenizer, {"run": 2})
    assert json.loads((cache.path_for(key()) / "variant.json").read_text())["run"] == 1
    cache.save(key(), model, tokenizer, {"run": 2}, force=True)
    assert json.loads((cache.path_for(key()) / "variant.json").read_text())["run"] == 2
    assert sorted(os.listdir(tmp_path)) == [key().dirname]


def _truncate(path):
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def test_cache_damaged_entry_is_reported_and_others_keep_working(tmp_path, tokenizer):
    cache = VariantCache(tmp_path)
    model = make_tiny_bert(len(tokenizer), layers=2)
    good = cache.save(key(seed=1), model, tokenizer, {"test_metrics": {"accuracy": 0.4}})
    bad = cache.save(key(seed=2), model, tokenizer, {"test_metrics": {"accuracy": 0.5}})
    _truncate(bad)
    listing = cache.list()
    assert [r["name"] for r in listing.records] == [good.name]
    assert len(listing.problems) == 1 and "damaged" in listing.problems[0].reason
    assert not cache.contains(key(seed=2))  # so a rebuild overwrites it instead of trusting it
    with pytest.raises(CacheEntryError, match="damaged"):
        cache.load(key(seed=2))
    assert cache.load(key(seed=1))[2]["test_metrics"]["accuracy"] == 0.4
    assert cache.verify() == {good.name: None, bad.name: pytest.approx(cache.verify()[bad.name])}
    assert "model.safetensors has" in cache.verify()[bad.name]
    cache.save(key(seed=2), model, tokenizer, {"test_metrics": {"accuracy": 0.6}})  # the rebuild
    assert cache.verify() == {good.name: None, bad.name: None}


def test_cache_verify_deep_catches_same_size_corruption(tmp_path, tokenizer):
    cache = VariantCache(tmp_path)
    path = cache.save(key(), make_tiny_bert(len(tokenizer), layers=2), tokenizer, {})
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert cache.contains(key())  # sizes match: listing stays cheap
    assert "checksum" in cache.verify(deep=True)[path.name]


def test_cache_find_unknown_name_is_not_found_error(tmp_path):
    from pruning import VariantNotFoundError

    with pytest.raises(VariantNotFoundError, match="no cached variant matches 'nope'"):
        VariantCache(tmp_path).find("nope")


def test_cache_bundled_variants_are_listed_loaded_and_read_only(tmp_path, tokenizer):
    shipped = VariantCache(tmp_path / "shipped")
    model = make_tiny_bert(len(tokenizer), layers=2)
    bundled_path = shipped.save(key(seed=7), model, tokenizer, {"test_metrics": {"accuracy": 0.7}})
    cache = VariantCache(tmp_path / "user", bundled=tmp_path / "shipped")
    assert cache.list().records[0]["bundled"] is True and cache.contains(key(seed=7))
    assert cache.load(bundled_path.name)[2]["test_metrics"]["accuracy"] == 0.7
    with pytest.raises(CacheEntryError, match="read-only"):
        cache.delete(bundled_path.name)
    cache.save(key(seed=7), model, tokenizer, {"test_metrics": {"accuracy": 0.9}}, force=True)  # the user's own
    (record,) = cache.list().records
    assert record["bundled"] is False and record["test_metrics"]["accuracy"] == 0.9
    assert cache.delete(bundled_path.name).parent == tmp_path / "user"
    assert cache.list().records[0]["bundled"] is True and bundled_path.is_dir()


def test_variant_key_without_vocabulary_keeps_the_bundled_digest():
    """The key of the bundled offline-teacher middle-k6 variant, built as build_variant builds it today."""
    from pruning import FinetuneConfig

    train = FinetuneConfig(epochs=4, learning_rate=3e-4, seed=0).to_dict()
    key = VariantKey.create("offline-teacher", "local-2da5de05c00b", "middle", [0, 1, 2, 9, 10, 11], 12, train)
    assert "vocab" not in key.to_dict()
    assert key.dirname == "offline-teacher__middle-k6-0.1.2.9.10.11__SHC__s0__ff45afca3e"


def test_bundled_variants_are_found_by_the_keys_their_configs_make(tmp_path):
    from models import BUNDLED_DIR
    from pruning import FinetuneConfig, PruneConfig

    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(BUNDLED_DIR.glob("*/variant.json"))]
    if not records:
        pytest.skip("no bundled variants in this checkout")
    cache = VariantCache(tmp_path, bundled=BUNDLED_DIR)
    for record in records:
        prune, plan = PruneConfig.from_dict(record["prune_config"]), record["plan"]
        assert prune.to_dict() == record["prune_config"]
        strategy = "full" if plan["keep"] == plan["num_layers"] else plan["strategy"]
        train = FinetuneConfig.from_dict(record["finetune_config"]).to_dict()
        key = VariantKey.create(
            record["base_model"], record["revision"], strategy, plan["kept"], plan["num_layers"], train
        )
        assert key.to_dict() == record["key"] and cache.contains(key), record["name"]


def test_variant_key_with_vocabulary_has_its_own_digest_and_round_trips():
    vocab = {"corpus_sha256": "ab" * 32, "min_count": 1}
    plain = key()
    cut = VariantKey.create("offline-teacher", "local-abc", "middle", [0, 3], 4, dict(plain.finetune), vocab)
    assert cut.digest != plain.digest and cut.to_dict()["vocab"] == vocab
    assert cut.dirname.startswith("offline-teacher__middle-k2-0.3-vocab__SHC__s42__")
    assert VariantKey.from_dict(cut.to_dict()) == cut and VariantKey.from_dict(plain.to_dict()) == plain
    other = VariantKey.create(
        "offline-teacher", "local-abc", "middle", [0, 3], 4, dict(plain.finetune), vocab | {"min_count": 2}
    )
    assert other.digest != cut.digest
