"""pruning.app.ladder_view: the Compare tab's ladder box, measured or not yet."""

from __future__ import annotations

import plotly.graph_objects as go

from pruning.app import ladder_view
from pruning.app.wording import NO_LADDER
from pruning.ladder import write_ladder
from tests.test_ladder import _results


def test_no_ladder_yet_is_one_plain_sentence_and_no_plot(tmp_path):
    view = ladder_view.ladder_view(tmp_path)
    assert view == ladder_view.LadderView(NO_LADDER, None) and "make ladder" in view.markdown


def test_a_measured_ladder_shows_its_sentences_table_and_figure(tmp_path, monkeypatch):
    write_ladder(_results("middle", "top"), tmp_path / "ladder", "python -m pruning ladder")
    monkeypatch.setattr(ladder_view, "LADDER_DIR", tmp_path / "ladder")  # what the Compare tab reads by default
    view = ladder_view.ladder_view()
    assert "At 8M teacher tokens, the best pruned 6-layer model (middle, chosen on validation)" in view.markdown
    assert "| teacher tokens |" in view.markdown and "(middle)" in view.markdown
    assert isinstance(view.figure, go.Figure) and [t.name for t in view.figure.data] == ["6 layers"]


def test_an_unreadable_ladder_says_so_instead_of_failing(tmp_path):
    (tmp_path / "ladder.csv").write_text("pretrain_tokens,layers\n8000000\n")  # an older or cut-off file
    assert ladder_view.ladder_view(tmp_path) == ladder_view.LadderView(ladder_view.UNREADABLE, None)
