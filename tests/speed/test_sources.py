"""What the bench measures: loading, random-weight stand-ins, pruned copies, export folders."""

from __future__ import annotations

import pytest

from pruning.speed.sources import BenchSource, export_dir, load_source, pruned_models, weights_files


def test_load_source_needs_exactly_one_of_model_or_config(tiny_bert):
    with pytest.raises(ValueError, match="give exactly one of --model"):
        load_source()
    with pytest.raises(ValueError, match="give exactly one of --model"):
        load_source(tiny_bert, config_name="mahabert-v2")
    with pytest.raises(ValueError, match="unknown architecture 'bert-huge'; catalog names: "):
        load_source(config_name="bert-huge")


def test_load_source_labels_modules_and_folders(tiny_bert, tiny_base_dir):
    source = load_source(tiny_bert, label="tiny", weights="fine-tuned")
    assert (source.label, source.weights, source.folder) == ("tiny", "fine-tuned", None)
    loaded = load_source(str(tiny_base_dir))
    assert loaded.folder == tiny_base_dir and loaded.label == tiny_base_dir.name and loaded.tokenizer is not None
    assert [f.name for f in weights_files(loaded)] == ["model.safetensors"]


def test_pruned_models_are_copies(tiny_bert):
    source = BenchSource(tiny_bert, None, "tiny", "pretrained")
    seen = [(keep, kept, model is tiny_bert) for keep, kept, model in pruned_models(source, [4, 2], "top")]
    assert seen == [(4, [0, 1, 2, 3], True), (2, [0, 1], False)]
    assert len(tiny_bert.bert.encoder.layer) == 4


def test_export_dir_is_readable_and_unique(tiny_bert, tmp_path):
    root = tmp_path / "exports"
    source = BenchSource(tiny_bert, None, "google/muril-base-cased", "random-weights")
    assert export_dir(source, 4, "top", root) == root / "google-muril-base-cased__random-weights" / "full"
    assert export_dir(source, 2, "middle", root).name == "middle-k2"
    a = BenchSource(tiny_bert, None, "model", "pretrained", folder=tmp_path / "a" / "model")
    b = BenchSource(tiny_bert, None, "model", "pretrained", folder=tmp_path / "b" / "model")
    assert export_dir(a, 4, "top", root) != export_dir(b, 4, "top", root)  # same label, different folders
    variant = tmp_path / "variant"
    variant.mkdir()
    (variant / "variant.json").write_text("{}")
    cached = BenchSource(tiny_bert, None, "v", "fine-tuned", folder=variant)
    assert export_dir(cached, 4, "top", root) == variant  # beside a cached variant
    assert export_dir(cached, 2, "top", root).parent.parent == root  # a pruned copy is not that variant


def test_export_dir_never_writes_into_a_bundled_variant(tiny_bert, tmp_path, monkeypatch):
    """Bundled variants ship read-only in the repository: a bench of one must export under the cache root."""
    import pruning.speed.sources as sources

    bundled = tmp_path / "variants"
    variant = bundled / "offline-teacher__full-k4__SHC__s0__0000000000"
    variant.mkdir(parents=True)
    (variant / "variant.json").write_text("{}")
    monkeypatch.setattr(sources, "bundled_dir", lambda: bundled)
    root = tmp_path / "exports"
    folder = export_dir(BenchSource(tiny_bert, None, "v", "fine-tuned", folder=variant), 4, "top", root)
    assert folder.is_relative_to(root) and not folder.is_relative_to(bundled)
