"""pruning.app.stack: the encoder-stack picture reads without colour and marks every layer."""

from __future__ import annotations

import re

import pytest

from pruning import STRATEGIES, select_layers
from pruning.app import stack


def _plan(strategy: str, depth: int = 12, keep: int = 6):
    scores = [0.5 + 0.03 * i for i in range(depth)]
    layers = [0, 3, 4, 11] if strategy == "custom" else None
    return select_layers(strategy, depth, keep=None if layers else keep, scores=scores, layers=layers)


def _attrs(picture: str, state: str | None) -> list[str]:
    pattern = rf'data-state="{state or "[a-z]+"}" data-layer="(\d+)"'
    return re.findall(pattern, picture)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_stack_svg_marks_kept_and_dropped_layers(strategy):
    plan = _plan(strategy)
    picture = stack.stack_svg(plan)
    kept = [int(x) for x in _attrs(picture, "kept")]
    dropped = [int(x) for x in _attrs(picture, "dropped")]
    assert sorted(kept) == [i + 1 for i in plan.kept] and sorted(dropped) == [i + 1 for i in plan.dropped]
    drawn = [int(x) for x in _attrs(picture, None)]
    assert drawn == list(range(12, 0, -1))  # drawn top to bottom: layer 1 ends up at the bottom
    assert f"kept ({plan.keep})" in picture and f"dropped ({len(plan.dropped)})" in picture  # readable without colour
    assert "✓ kept" in picture and ("✕ dropped" in picture) == bool(plan.dropped)


def test_error_box_escapes_the_message():
    box = stack.error_box("<b>no</b>")
    assert 'role="alert"' in box and "&lt;b&gt;no&lt;/b&gt;" in box
