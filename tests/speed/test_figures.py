"""The latency figure: a line per backend of the pruned family, a panel per shape."""

from __future__ import annotations

import pytest

from pruning.speed.figures import latency_figure
from pruning.speed.report_markdown import add_speedups

from .rows import rows


def test_latency_figure_lines_and_panels():
    fig = latency_figure(add_speedups(rows()))
    names = {t.name for t in fig.data}
    assert {"base · torch", "base · onnx", "base · onnx-int8", "small · torch"} <= names
    assert "random weights" in fig.layout.title.text and len(fig.layout.annotations) == 2  # one panel per shape
    line = next(t for t in fig.data if t.name == "base · torch" and len(t.x) == 2)
    assert list(line.x) == [6, 12] and list(line.y) == [55.0, 100.0]
    assert next(t for t in fig.data if t.name == "small · torch").mode == "markers"  # not the pruned family


def test_latency_figure_needs_rows():
    with pytest.raises(ValueError, match="no benchmark rows"):
        latency_figure([])
