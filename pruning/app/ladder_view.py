"""The Compare tab's pretraining-ladder box: what the ladder found, or one plain sentence while it is unmeasured.

Why apart from ``compare``: the ladder is not one more row source but the answer to the paper's second claim
(pruned beats scratch at equal depth) for this project's own family, with intervals, so it gets its own box.
The numbers, sentences, table and figure all come from ``pruning.ladder``; this module only decides what the
box shows. ``LADDER_DIR`` is read at call time, so a fresh ``make ladder`` shows on the next Compare view.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go

from ..ladder import DEFAULT_OUTPUT, ladder_figure, ladder_sentences, read_ladder, to_markdown
from .wording import LADDER_INTRO, NO_LADDER

logger = logging.getLogger(__name__)

LADDER_DIR = DEFAULT_OUTPUT  # assets/ladder (ladder.csv; written by `make ladder`)
UNREADABLE = "The ladder's result file could not be read; run `make ladder` again to rewrite it."


@dataclass(frozen=True)
class LadderView:
    """What the ladder box shows: Markdown (sentences and table, or why there is none) and a figure, if any."""

    markdown: str
    figure: go.Figure | None


def ladder_view(folder: Path | None = None) -> LadderView:
    """The ladder box for the table in `folder` (default ``LADDER_DIR``); no figure while nothing is measured."""
    try:
        table = read_ladder(Path(folder or LADDER_DIR))
        if table.empty:
            return LadderView(NO_LADDER, None)
        sentences = "\n".join(f"- {line}" for line in ladder_sentences(table))
        figure = ladder_figure(table)
        figure.update_layout(height=380, margin={"t": 30}, showlegend=True)  # names the depth even for one line
        return LadderView(f"{LADDER_INTRO}\n\n{sentences}\n\n{to_markdown(table)}", figure)
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:  # a half-written or older file
        logger.warning("cannot show the ladder: %s", exc)
        return LadderView(UNREADABLE, None)
