"""A fresh start: no MahaNews data, no internet, an empty cache, only the bundled variants.

The app must work the moment it opens: ``/variants`` lists the bundled variants, ``/classify`` answers
on PyTorch and both ONNX Runtime backends, the importance chart is drawn from the demo headlines, and
the first page already shows a classified headline (browser screenshots in tests/artifacts/).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pruning import LABELS, VariantCache
from pruning import data as data_module
from tests.app.conftest import HEADLINE, import_app, serving
from tests.app.test_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS

BACKENDS = ["torch", "onnx", "onnx-int8"]


def _offline(mp: pytest.MonkeyPatch, tmp_path) -> None:
    """No MahaNews anywhere: MAHANEWS_DIR unset, no download, no sibling ../shared checkout."""
    mp.delenv("MAHANEWS_DIR", raising=False)
    mp.setattr(data_module, "SIBLING_DIR", tmp_path / "no-shared-checkout")
    mp.setattr(data_module, "_download", lambda name, split: None)


@pytest.fixture(scope="module")
def offline_app(tmp_path_factory, bundled_variants, tiny_base_dir) -> Iterator[tuple[object, str]]:
    home = tmp_path_factory.mktemp("fresh-clone")
    with pytest.MonkeyPatch.context() as mp:
        _offline(mp, home)
        app = import_app(mp, VariantCache(home / "variants"), tiny_base_dir, bundled=bundled_variants, mahanews=None)
        with serving(app) as url:
            yield app, url


@pytest.fixture(autouse=True)
def _still_offline(_isolated_home, monkeypatch, tmp_path):
    """The shared autouse fixture sets MAHANEWS_DIR for every test; this one takes it away again."""
    _offline(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def client(offline_app):
    from gradio_client import Client

    return Client(offline_app[1], verbose=False)


def test_offline_start_variants_endpoint_lists_the_bundled_variants(client, bundled_variants):
    variants = client.predict(api_name="/variants")
    assert sorted(v["name"] for v in variants) == sorted(p.name for p in bundled_variants.iterdir())
    assert sorted(v["role"] for v in variants) == ["full", "pruned", "scratch"]
    for v in variants:
        assert v["bundled"] and v["parameters"] > 0 and 0 <= v["test_accuracy"] <= 1
        assert v["layers"] == len(v["kept_layers"]) and set(BACKENDS) <= set(v["backends"])


def test_offline_start_api_schema_knows_the_variants_and_backends(client, bundled_variants):
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/classify"]["parameters"]
    assert [p["parameter_name"] for p in params] == ["text", "names", "backends"]
    names, backends = params[1], params[2]
    assert set(names["type"]["items"]["enum"]) == {p.name for p in bundled_variants.iterdir()}
    assert names["parameter_has_default"] and backends["parameter_default"] == BACKENDS


def test_offline_start_classify_answers_on_pytorch_and_both_onnx_runtime_backends(client):
    names = [v["name"] for v in client.predict(api_name="/variants")]
    result = client.predict(HEADLINE, names, BACKENDS, api_name="/classify")
    answer = result[-1]
    assert [p["variant"] for p in answer["predictions"]] == names and answer["backends"] == BACKENDS
    for p in answer["predictions"]:
        assert list(p["results"]) == BACKENDS
        for r in p["results"].values():
            assert r["label"] in LABELS and r["runs"] >= 3 and 0 < r["p10_ms"] <= r["median_ms"] <= r["p90_ms"]
        assert p["labels_agree"] == (len({r["label"] for r in p["results"].values()}) == 1)
    assert result[0]["value"]["label"] in LABELS and "ORT INT8" in result[1]["value"]
    chart = json.loads(result[-2]["plot"])
    assert {t["name"] for t in chart["data"]} == {"PyTorch eager", "ONNX Runtime fp32", "ONNX Runtime INT8"}


def test_offline_start_classify_with_defaults_still_takes_two_arguments(client):
    answer = client.predict(HEADLINE, [], api_name="/classify")[-1]  # the endpoint's first two inputs, as before
    assert {p["role"] for p in answer["predictions"]} == {"full", "pruned", "scratch"}
    assert answer["backends"] == BACKENDS


def test_offline_start_importance_chart_is_drawn_from_the_demo_headlines(client, tiny_base_dir):
    _stack, figure, _stats = client.predict(str(tiny_base_dir), "middle", 2, [], api_name="/preview")
    chart = json.loads(figure["plot"])
    assert sum(len(t["x"]) for t in chart["data"] if t["type"] == "bar") == 4  # one bar per layer
    assert "/" not in json.dumps(chart["layout"].get("annotations", []))  # no server path in the chart


# ------------------------------------------------------------------------------ browser ----


@pytest.fixture(scope="module")
def page(offline_app):
    if not CHROMIUM.is_file():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (make browser)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(90_000)
        page.goto(offline_app[1], wait_until="domcontentloaded")
        yield page
        browser.close()


def test_offline_start_browser_classify_is_filled_on_first_load(page):
    page.get_by_role("tab", name="② Classify").click()
    page.locator("#label-2").wait_for(state="visible")  # three variants classified without a click
    page.wait_for_selector("#classify-latency .js-plotly-plot")
    assert any(name in page.locator("#label-0").inner_text() for name in LABELS)
    table = page.locator("#latency-0").inner_text()
    assert "ORT INT8" in table and "PyTorch" in table and "ORT fp32" in table
    assert page.locator("#classify-text textarea").input_value() != ""
    page.wait_for_timeout(1000)  # let plotly finish drawing
    page.screenshot(path=ARTIFACTS / "10-classify-first-load.png", full_page=True)


def test_offline_start_browser_prune_tab_draws_the_importance_chart(page):
    page.get_by_role("tab", name="① Prune & fine-tune").click()
    page.wait_for_selector("#importance-plot .js-plotly-plot .bars path")
    page.wait_for_timeout(1000)
    page.screenshot(path=ARTIFACTS / "11-prune-offline.png", full_page=True)
