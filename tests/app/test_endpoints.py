"""app.py launched and called through its API names (gradio_client), as a Space's users would."""

from __future__ import annotations

import pytest

from pruning import LABELS
from tests.app.conftest import HEADLINE


@pytest.fixture(scope="module")
def app_client(launched_app, tiny_base_dir):
    from gradio_client import Client

    app, url = launched_app
    assert app.ctx.default_model == str(tiny_base_dir) and app.ctx.depth == 4
    return Client(url, verbose=False)


def _label(update: dict) -> str:
    return update["value"]["label"]


def test_app_classify_returns_labels_and_latency(app_client):
    result = app_client.predict(HEADLINE, [], api_name="/classify")
    first_label, first_info = result[0], result[1]
    assert _label(first_label) in LABELS and len(first_label["value"]["confidences"]) == 5
    assert " ms" in first_info["value"] and "ORT INT8" in first_info["value"]
    assert result[4]["visible"] is False and result[-3] == ""  # unused slots hidden, no notices
    answer = result[-1]  # the same result as JSON: every variant on every CPU backend
    assert answer["device"].startswith("cpu") and answer["backends"] == ["torch", "onnx", "onnx-int8"]
    assert all(
        r["label"] in LABELS and r["median_ms"] > 0 for p in answer["predictions"] for r in p["results"].values()
    )


def test_app_bad_input_gets_a_message_and_the_app_keeps_serving(app_client, tiny_base_dir):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="enter some Marathi text"):
        app_client.predict("  ", [], api_name="/classify")
    with pytest.raises(AppError, match="LDC"):
        app_client.predict(str(tiny_base_dir), "top", 3, [], "LDC", 1, 2e-4, 64, api_name="/finetune")
    assert _label(app_client.predict(HEADLINE, [], api_name="/classify")[0]) in LABELS


def test_app_serves_20_concurrent_classify_calls(app_client):
    jobs = [app_client.submit(HEADLINE, [], api_name="/classify") for _ in range(20)]
    results = [job.result(timeout=120) for job in jobs]
    assert all(_label(r[0]) in LABELS and " ms" in r[1]["value"] for r in results)


def test_app_preview_draws_the_plan_for_the_panel_values(app_client, tiny_base_dir):
    stack_html, _figure, stats = app_client.predict(str(tiny_base_dir), "middle", 2, [], api_name="/preview")
    assert 'data-dropped="2"' in stack_html and "Keeping 2 of 4" in stats  # the kept-layers State is not in the API
    stack_html, _figure, stats = app_client.predict(str(tiny_base_dir), "custom", 2, [], api_name="/preview")
    assert "stack-error" in stack_html and "at least one layer" in stats


def test_app_finetune_completes_and_appears_in_compare(app_client, tiny_base_dir):
    job = app_client.submit(str(tiny_base_dir), "top", 3, [], "SHC", 1, 2e-4, 64, api_name="/finetune")
    status, _curve = job.result(timeout=300)
    assert status.startswith("**Done**") and "test accuracy" in status
    name = status.split("Saved as `")[1].split("`")[0]
    assert name.startswith(f"{tiny_base_dir.name}__top-k3-0.1.2__SHC")
    table = app_client.predict("SHC", api_name="/compare")[4]
    rows = [dict(zip(table["headers"], row, strict=True)) for row in table["data"]]
    mine = [r for r in rows if r["variant"] == name]
    assert mine and mine[0]["source"] == "this run" and mine[0]["latency timed on"].startswith("cpu")
    assert any(r["source"] == "paper" for r in rows)
    again = app_client.submit(str(tiny_base_dir), "top", 3, [], "SHC", 1, 2e-4, 64, api_name="/finetune")
    assert again.result(timeout=120)[0].startswith("**Loaded from cache**")
