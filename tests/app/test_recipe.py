"""pruning.app.recipe: vocabulary pruning and distillation as the prune tab offers them."""

from __future__ import annotations

import pytest

from pruning import size_preview
from pruning.app import recipe
from pruning.app.wording import scrub_paths
from pruning.vocab import corpus_sha256


@pytest.fixture
def corpus_here(monkeypatch, small_corpus):
    """The app's vocabulary corpus is the small test corpus."""
    monkeypatch.setattr(recipe, "CORPUS_FILE", small_corpus)
    return small_corpus


def _by_kind(cache) -> dict[str, str]:
    """Variant names of `recipe_cache` by what they are."""
    names = {}
    for r in cache.list().records:
        key = r["key"]
        cut = "cut" if key.get("vocab") else "plain"
        kind = "full" if key["strategy"] == "full" else "distilled" if key["finetune"].get("distil_from") else "pruned"
        names[f"{kind}-{cut}"] = r["name"]
    return names


def test_without_the_corpus_the_box_is_disabled_with_a_reason_and_no_path(monkeypatch, tmp_path):
    monkeypatch.setattr(recipe, "CORPUS_FILE", tmp_path / "shared" / "corpus.txt")
    offer = recipe.vocab_offer()
    assert not offer.available and offer.note.startswith("Not available on this server")
    assert str(tmp_path) not in offer.note and scrub_paths(offer.note) == offer.note  # no absolute path at all
    assert recipe.vocab_corpus(False) is None
    with pytest.raises(ValueError, match="not available on this server") as err:
        recipe.vocab_corpus(True)  # an API call can tick the disabled box
    assert str(tmp_path) not in str(err.value)
    assert recipe.VocabSizes().ready("offline-teacher", "SHC")  # no "computing…" before saying why not
    with pytest.raises(ValueError, match="not available on this server"):
        recipe.VocabSizes().sizes("offline-teacher", "SHC", 6)


def test_with_the_corpus_the_box_gives_the_servers_file_and_its_key(corpus_here):
    assert recipe.vocab_offer() == recipe.VocabOffer(True, recipe.VOCAB_INFO)
    assert recipe.vocab_corpus(True) == str(corpus_here)
    assert recipe.vocab_key(str(corpus_here)) == {"corpus_sha256": corpus_sha256(corpus_here), "min_count": 1}
    assert recipe.vocab_key(None) is None


def test_vocab_sizes_count_once_and_match_size_preview_at_every_depth(corpus_here, tiny_base_dir):
    texts = recipe.training_texts("SHC")
    asked = []
    sizes = recipe.VocabSizes(texts=lambda dataset: asked.append(dataset) or texts)
    base = str(tiny_base_dir)
    assert texts and not sizes.ready(base, "SHC")
    two = sizes.sizes(base, "SHC", 2)
    assert sizes.ready(base, "SHC") and not sizes.ready(base, "LPC")
    three = sizes.sizes(base, "SHC", 3)
    assert asked == ["SHC"]  # the slow part once per base and dataset
    assert three == size_preview(base, corpus_here, keep=3, extra_texts=texts)  # the library's numbers, exactly
    assert two["tokens"] == three["tokens"] and three["tokens"]["after"] < three["tokens"]["before"]
    mb = three["bytes_fp32"]
    assert mb["full"] > mb["layers"] > mb["layers_and_vocab"] and two["bytes_fp32"]["layers"] < mb["layers"]
    text = recipe.vocab_markdown(three, "SHC")
    assert f"**{three['tokens']['after']:,} tokens**" in text and f"**{mb['layers_and_vocab'] / 1e6:.1f} MB**" in text
    assert "3 of 4 layers" in text and "SHC training split" in text
    with pytest.raises(ValueError, match="between 1 and 4"):
        sizes.sizes(base, "SHC", 9)


def test_vocab_markdown_says_honestly_when_the_cut_saves_little():
    def sizes(tokens_after: int, cut_mb: float) -> dict:
        return {
            "layers": {"before": 12, "after": 6},
            "tokens": {"before": 197_285 if cut_mb < 300 else 8000, "after": tokens_after},
            "bytes_fp32": {"full": 950e6, "layers": 667e6, "layers_and_vocab": cut_mb * 1e6},
        }

    small = recipe.vocab_markdown(sizes(7650, 660.0), "SHC")
    assert "saves little" in small and "8,000 → **7,650 tokens**" in small
    big = recipe.vocab_markdown(sizes(41_000, 255.0), "LPC")
    assert "saves little" not in big and "**255.0 MB**" in big and "412.0 MB more, 62%" in big


def test_teacher_choices_are_full_variants_of_the_same_base_dataset_and_vocabulary(
    recipe_cache, tiny_base_dir, small_corpus, tmp_path
):
    names, base = _by_kind(recipe_cache), str(tiny_base_dir)
    cut = recipe.vocab_key(str(small_corpus))

    def values(*args) -> list[str]:
        return [value for _label, value in recipe.teacher_choices(recipe_cache, *args)]

    assert values(base, "SHC", None) == [recipe.NO_TEACHER, names["full-plain"]]
    assert values(base, "SHC", cut) == [recipe.NO_TEACHER, names["full-cut"]]  # never the pruned or distilled ones
    assert values(base, "LPC", None) == [recipe.NO_TEACHER]
    assert values(str(tmp_path / "another-base"), "SHC", None) == [recipe.NO_TEACHER]
    label = recipe.teacher_choices(recipe_cache, base, "SHC", None)[1][0]
    assert "4 layers · SHC · seed 0 · test acc" in label
    assert "No teacher yet" in recipe.teacher_note([recipe.LABELS_ONLY], "LPC", True)
    assert "same vocabulary cut" in recipe.teacher_note(
        recipe.teacher_choices(recipe_cache, base, "SHC", cut), "SHC", True
    )


def test_check_teacher_refuses_what_cannot_teach_and_says_why(recipe_cache, tiny_base_dir, small_corpus, tmp_path):
    names, base = _by_kind(recipe_cache), str(tiny_base_dir)
    cut = recipe.vocab_key(str(small_corpus))

    def check(name, vocab=None, dataset="SHC", on=base):
        return recipe.check_teacher(recipe_cache, name, on, dataset, vocab)

    assert check(recipe.NO_TEACHER) is None and check("") is None
    assert check(names["full-plain"]) == names["full-plain"] and check(names["full-cut"], cut) == names["full-cut"]
    assert check(names["full-plain"][:-4]) == names["full-plain"]  # a unique prefix becomes the full name
    refusals = [
        ((names["full-plain"], cut), "has its full vocabulary but this model's vocabulary is cut"),
        ((names["full-cut"], None), "a vocabulary cut to another text but this model's vocabulary is not cut"),
        ((names["pruned-plain"],), "is pruned itself"),
        ((names["full-plain"], None, "LPC"), "fine-tuned on SHC, the student on LPC"),
        ((names["full-plain"], None, "SHC", str(tmp_path / "other")), "not from other"),
        (("no-such-variant",), "cannot be used"),
    ]
    for args, why in refusals:
        with pytest.raises(ValueError, match=why) as err:
            check(*args)
        assert str(tmp_path) not in scrub_paths(str(err.value))
