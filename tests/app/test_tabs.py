"""The tabs' handlers (pruning.app.tabs), called on an imported app.py: what the widgets send reaches the job.

The vocabulary box and the teacher go through the prune tab's ``finetune`` into the server's job board; the
trainer is replaced by one that only records what it was given, so no test here trains.
"""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import gradio as gr
import pytest

from pruning import PruneConfig, VariantCache
from pruning.app import ladder_view, recipe
from pruning.app.training import Trained
from pruning.app.wording import LADDER_INTRO, NO_LADDER
from pruning.ladder import write_ladder
from tests.app.conftest import import_app
from tests.test_ladder import _results


@pytest.fixture
def cache(tmp_path, recipe_cache) -> VariantCache:
    root = tmp_path / "home" / "variants"
    shutil.copytree(recipe_cache.root, root)
    return VariantCache(root)


def _component(app, elem_id: str):
    return next(b for b in app.demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def _names(cache: VariantCache) -> dict[str, str]:
    """The full variants: plain and vocabulary-cut."""
    full = [r for r in cache.list().records if r["key"]["strategy"] == "full"]
    return {"cut" if r["key"].get("vocab") else "plain": r["name"] for r in full}


def test_the_vocab_box_and_the_teacher_reach_the_job(monkeypatch, cache, tiny_base_dir, small_corpus, tmp_path):
    monkeypatch.setattr(recipe, "CORPUS_FILE", small_corpus)
    monkeypatch.setattr(ladder_view, "LADDER_DIR", tmp_path / "no-ladder")
    app = import_app(monkeypatch, cache, tiny_base_dir)
    box = _component(app, "vocab-prune")
    assert box.interactive is not False and box.info == recipe.VOCAB_INFO
    seen = []
    student = next(r for r in cache.list().records if r["key"]["finetune"].get("distil_from"))

    def trainer(base, prune, train, cache, stop_file):  # what the job would train, recorded
        seen.append((base, prune, train))
        yield Trained(student, from_cache=True)

    app.ctx.jobs.trainer = trainer
    base, names, request = str(tiny_base_dir), _names(cache), SimpleNamespace(session_hash="tabs")
    panel = [base, "middle", 2, [], "SHC", 1, 2e-3, 64]
    out = list(app.prune.finetune(*panel, "tab-a", True, names["cut"], 0.3, 4.0, request=request))
    ((_, prune, train),) = seen
    assert prune == PruneConfig("middle", keep=2, vocab_corpus=str(small_corpus))
    assert (train.distil_from, train.distil_alpha, train.distil_temperature) == (names["cut"], 0.3, 4.0)
    assert out[-1][2] == student["name"] and "Distilled from" in out[-1][0]
    with pytest.raises(gr.Error, match="has its full vocabulary but this model's vocabulary is cut") as err:
        list(app.prune.finetune(*panel, "tab-b", True, names["plain"], 0.5, 2.0, request=request))
    assert str(tmp_path) not in str(err.value) and len(seen) == 1  # refused before any job
    menu = app.prune.teacher_menu(base, "SHC", True, names["plain"])  # the plain teacher no longer fits
    assert [v for _l, v in menu.choices] == [recipe.NO_TEACHER, names["cut"]] and menu.value == recipe.NO_TEACHER
    assert app.prune.teacher_menu(base, "SHC", False, names["plain"]).value == names["plain"]
    assert [v for _l, v in app.prune.teacher_menu(base, "LPC", False, "none").choices] == [recipe.NO_TEACHER]
    assert "has not been measured yet" in _component(app, "ladder-text").value


def test_without_the_corpus_the_box_is_disabled_and_a_measured_ladder_shows(
    monkeypatch, cache, tiny_base_dir, tmp_path
):
    monkeypatch.setattr(recipe, "CORPUS_FILE", tmp_path / "no-shared" / "corpus.txt")
    write_ladder(_results("middle", "middle"), tmp_path / "ladder", "python -m pruning ladder")
    monkeypatch.setattr(ladder_view, "LADDER_DIR", tmp_path / "ladder")
    app = import_app(monkeypatch, cache, tiny_base_dir)
    box = _component(app, "vocab-prune")
    assert box.interactive is False and box.info == recipe.NO_CORPUS and str(tmp_path) not in box.info
    request = SimpleNamespace(session_hash="tabs")
    with pytest.raises(gr.Error, match="not available on this server") as err:  # an API call ticks it anyway
        list(app.prune.finetune(str(tiny_base_dir), "middle", 2, [], "SHC", 1, 2e-3, 64, "t", True, request=request))
    assert str(tmp_path) not in str(err.value)
    hidden = next(app.prune.vocab_view(False, str(tiny_base_dir), [0, 3], "SHC"))
    assert hidden.visible is False
    (why,) = list(app.prune.vocab_view(True, str(tiny_base_dir), [0, 3], "SHC"))
    assert "not available on this server" in why.value and str(tmp_path) not in why.value
    assert _component(app, "ladder-text").value.startswith(LADDER_INTRO)
    *_, text, plot = app.compare.compare("SHC")
    assert "At 8M teacher tokens, the best pruned 6-layer model" in text and plot.visible is True
    monkeypatch.setattr(ladder_view, "LADDER_DIR", tmp_path / "none-yet")  # the ladder is read on every redraw
    *_, text, plot = app.compare.compare("SHC")
    assert text == NO_LADDER and plot.visible is False


def test_the_vocab_sizes_show_computing_first_then_the_numbers(monkeypatch, cache, tiny_base_dir, small_corpus):
    monkeypatch.setattr(recipe, "CORPUS_FILE", small_corpus)
    app = import_app(monkeypatch, cache, tiny_base_dir)
    first = [m.value for m in app.prune.vocab_view(True, str(tiny_base_dir), [0, 3], "SHC")]
    assert first[0] == recipe.COMPUTING and "**Vocabulary cut to Marathi text**" in first[1] and len(first) == 2
    again = [m.value for m in app.prune.vocab_view(True, str(tiny_base_dir), [0, 1, 3], "SHC")]
    assert len(again) == 1 and "3 of 4 layers" in again[0]  # counted once: no "computing…" the second time
