"""Nothing a visitor does breaks the app, loses a variant or reaches the server's files (issue 11).

app.py is launched over a cache with one damaged variant and called through its API names
(gradio_client), as a Space's visitors and scripts would. Fine-tunes here are slowed to 0.3 s a step,
so a test can act while one runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from models import CATALOG
from pruning import LABELS, VariantCache
from pruning.app import bases, compare, jobs, training
from tests.app.conftest import HEADLINE

STEP_S = 0.3


@pytest.fixture(scope="module")
def app_cache(tmp_path_factory, variant_cache) -> VariantCache:
    """A copy of the tiny variants whose pruned one has a truncated weights file."""
    root = tmp_path_factory.mktemp("app-home") / "variants"
    shutil.copytree(variant_cache.root, root)
    cache = VariantCache(root)
    _damage(cache, _pruned_name(cache))
    for stale in _leftovers(cache)[:3]:  # what killed runs leave behind, two hours old
        stale.parent.mkdir(parents=True, exist_ok=True)
        stale.write_text("x") if stale.suffix else stale.mkdir()
        os.utime(stale, (time.time() - 7200,) * 2)
    _leftovers(cache)[3].mkdir()  # a writer still at work
    return cache


def _leftovers(cache: VariantCache) -> list[Path]:
    """Stale: a killed run's temp folder, a Compare CSV, a stop file; fresh: a running writer's temp folder."""
    stop = jobs.stop_folder() / "session-left-by-a-killed-app"
    csv = compare.csv_folder() / ".tmp-marathi-prune-comparison.csv-killed"
    return [cache.root / ".tmp-killed-run", csv, stop.with_suffix(".stop"), cache.root / ".tmp-running-now"]


def _pruned_name(cache: VariantCache) -> str:
    return next(p.name for p in cache.root.iterdir() if "__middle-" in p.name)


def _damage(cache: VariantCache, name: str) -> None:
    weights = cache.root / name / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])


@pytest.fixture(scope="module")
def app(launched_app):
    return launched_app[0]


@pytest.fixture(scope="module")
def url(launched_app):
    return launched_app[1]


@pytest.fixture
def client(url):
    """A fresh page per test: widget state (a slider's range, say) does not leak from one test to the next."""
    from gradio_client import Client

    return Client(url, verbose=False)


@pytest.fixture(autouse=True)
def slow_steps(monkeypatch):
    """Every fine-tune step takes at least STEP_S, so a test can cancel or reload while a job runs."""
    real = training.build_variant

    def slow(*args, on_event=None, **kwargs):
        def event(e):
            if e.kind == "step":
                time.sleep(STEP_S)
            on_event(e)

        return real(*args, on_event=event, **kwargs)

    monkeypatch.setattr(training, "build_variant", slow)


def _finetune(client, browser: str, base, *, samples: int = 320, lr: float = 2e-4, epochs: int = 1):
    return client.submit(base, "top", 3, [], "SHC", epochs, lr, samples, browser, api_name="/finetune")


def _wait_for(job, text: str, timeout: float = 120) -> str:
    """The first streamed status containing `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for out in job.outputs():
            if text in out[0]:
                return out[0]
        time.sleep(0.1)
    raise AssertionError(f"no status with {text!r}; got {[o[0][:80] for o in job.outputs()]}")


def _finish(app) -> None:
    """Let every job of the app's board end (cancelled) before the next test."""
    for key in reversed(list(app.ctx.jobs._jobs)):  # the last queued first, so no waiting job gets a slot
        app.ctx.jobs.cancel(key, wait_s=60)


# ---------------------------------------------------------------- 1. layer controls follow the base ----


@pytest.mark.parametrize("name", [*CATALOG, "tiny-2l"])
def test_layer_controls_follow_every_catalog_model_and_local_folder(client, model_dirs, name):
    name = str(model_dirs / name) if name == "tiny-2l" else name
    depth = 2 if name.endswith("tiny-2l") else CATALOG[name].num_layers
    slider, toggles = client.predict(name, api_name="/load_base")
    assert slider["maximum"] == depth and 1 <= slider["value"] <= depth
    assert [value for _label, value in toggles["choices"]] == list(range(depth))
    assert toggles["value"] == list(range(depth))  # stale ticks from a deeper model would fail the next event
    stack, _figure, stats = client.predict(name, "custom", 1, list(range(depth)), api_name="/preview")
    assert f"{depth} of {depth} layers kept" in stack, stats


# ----------------------------------------------------------------- 2. a damaged variant stays apart ----


def test_damaged_variant_is_listed_apart_and_every_other_variant_keeps_working(client, app_cache):
    damaged = _pruned_name(app_cache)
    result = client.predict("SHC", api_name="/compare")
    rows = [dict(zip(result[4]["headers"], row, strict=True)) for row in result[4]["data"]]
    assert [r["variant"] for r in rows if r["source"] in ("cache", "this run")] != []
    assert damaged not in {r["variant"] for r in rows}
    assert damaged in result[6] and "delete or rebuild" in result[6] and result[7]["value"] == damaged
    answer = client.predict(HEADLINE, api_name="/classify")
    assert answer[0]["value"]["label"] in LABELS


def test_damaged_variant_is_rebuilt_with_one_click_and_lands_in_the_cache(client, app, app_cache):
    damaged = _pruned_name(app_cache)
    client.predict("SHC", api_name="/compare")  # the tab lists it first
    message = client.predict(damaged, "visitor-rebuild", api_name="/rebuild_damaged")
    assert message.startswith(f"Rebuilding `{damaged}`")
    final = client.predict("visitor-rebuild", api_name="/job_status")[0]
    assert final.startswith("**Done**") and damaged in final
    assert not app_cache.list().problems and damaged in {r["name"] for r in app_cache.list().records}


def test_damaged_variant_is_deleted_with_one_click(client, app_cache):
    damaged = _pruned_name(app_cache)
    _damage(app_cache, damaged)
    client.predict("SHC", api_name="/compare")
    assert client.predict(None, api_name="/delete_damaged").startswith("Pick a damaged variant")
    assert client.predict(damaged, api_name="/delete_damaged") == f"Deleted `{damaged}`."
    assert not (app_cache.root / damaged).exists() and len(app_cache.list().records) >= 1
    assert client.predict("SHC", api_name="/compare")[6] == ""  # nothing damaged left


# ------------------------------------------------- 3. and 4. no server paths, no existence oracle ----


def test_base_model_box_refuses_paths_with_one_message_whatever_exists(client, tmp_path):
    from gradio_client.exceptions import AppError

    elsewhere = tmp_path / "a-real-model"  # a folder with a config.json, outside $MARATHI_PRUNE_MODEL_DIRS
    elsewhere.mkdir()
    (elsewhere / "config.json").write_text("{}")
    names = ["/root/.ssh", "/etc/shadow", "/etc", "qwertyuiop", "/no/such/folder", str(elsewhere), "~/.ssh"]
    stats = {client.predict(n, "top", 2, [], api_name="/preview")[2] for n in names}
    assert stats == {bases.NOT_ALLOWED}
    for name in names:
        with pytest.raises(AppError) as caught:
            client.predict(name, "top", 2, [], "SHC", 1, 2e-4, 64, "visitor-paths", api_name="/finetune")
        assert str(caught.value) == bases.NOT_ALLOWED


def test_browser_messages_carry_no_server_paths(client, tiny_base_dir):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:  # no LDC files here
        client.predict(str(tiny_base_dir), "top", 3, [], "LDC", 1, 2e-4, 64, "visitor-ldc", api_name="/finetune")
    assert "LDC" in str(caught.value) and "/" not in str(caught.value).replace("mahanews/LDC", "")
    _stack, _figure, stats = client.predict("someone/not-a-model", "top", 2, [], api_name="/preview")
    assert "Hugging Face Hub" in stats and "/root" not in stats and "cache" not in stats.lower()


# -------------------------------------------------------------- 5. jobs belong to the server ----


def test_closing_the_tab_keeps_the_job_and_a_reload_shows_it_to_the_end(url, client, tiny_base_dir, app_cache):
    from gradio_client import Client

    job = _finetune(client, "visitor-reload", str(tiny_base_dir), lr=1e-4)
    _wait_for(job, "Fine-tuning ")
    job.cancel()  # the tab closes: its stream stops
    time.sleep(3 * STEP_S)
    reloaded = Client(url, verbose=False)  # a new page load, same browser id
    final = reloaded.predict("visitor-reload", api_name="/job_status")[0]
    assert final.startswith("**Done**"), final
    name = final.split("Saved as `")[1].split("`")[0]
    assert name in {r["name"] for r in app_cache.list().records}


def test_cancel_resolves_to_cancelled_within_seconds(client, tiny_base_dir, app):
    job = _finetune(client, "visitor-cancel", str(tiny_base_dir), samples=0, lr=3e-5)
    _wait_for(job, "Fine-tuning ")
    started = time.monotonic()
    message = client.predict("visitor-cancel", api_name="/cancel")
    assert message.startswith("**Cancelled** after step") and time.monotonic() - started < 10
    assert job.result(timeout=30)[0] == message  # the running stream ends on the same words
    assert client.predict("visitor-cancel", api_name="/cancel").startswith("No fine-tune of yours")


# ---------------------------------------- 6. estimate and reduced-data warnings, their own series ----


def test_finetune_shows_estimate_and_small_data_warning_before_it_starts(client, tiny_base_dir, app):
    job = _finetune(client, "visitor-estimate", str(tiny_base_dir), samples=96, lr=5e-5)
    first = _wait_for(job, "training texts")
    assert "96 training texts, 3 steps" in first and "Estimated time: about" in first
    assert "fewer than 1,000" in first and "majority-class baseline" in first
    _finish(app)


def test_compare_keeps_reduced_data_runs_in_their_own_series(client):
    accuracy = client.predict("SHC", api_name="/compare")[0]
    names = [trace.get("name", "") for trace in json.loads(accuracy["plot"])["data"]]
    reduced = [n for n in names if n.endswith("training texts")]
    assert reduced and all(re.search(r" · \d+ training texts$", n) for n in reduced)
    assert "offline-teacher · middle" in names  # the full-data sweep line, without the reduced runs in it


# ------------------------------------------------------------------------------ 9. capacity ----


def test_one_job_per_browser_and_the_queue_position_is_shown(client, tiny_base_dir, app):
    from gradio_client.exceptions import AppError

    first = _finetune(client, "visitor-queue-a", str(tiny_base_dir), samples=0, lr=1e-5)
    _wait_for(first, "Fine-tuning ")
    with pytest.raises(AppError, match="You already have a fine-tune running"):
        client.predict(str(tiny_base_dir), "top", 2, [], "SHC", 1, 1e-5, 0, "visitor-queue-a", api_name="/finetune")
    again = _finetune(client, "visitor-queue-a", str(tiny_base_dir), samples=0, lr=1e-5)  # same settings: re-attach
    _wait_for(again, "step")
    second = _finetune(client, "visitor-queue-b", str(tiny_base_dir), samples=0, lr=2e-5)
    assert "Queued: position 1 in line" in _wait_for(second, "Queued")
    _finish(app)
    assert second.result(timeout=30)[0].startswith("**Cancelled** before it started")


def test_fine_tune_slots_are_one_on_cpu_and_set_by_the_operator():
    assert jobs.train_slots({}) == 1 or jobs.torch.cuda.is_available()
    assert jobs.train_slots({jobs.SLOTS_ENV: "3"}) == 3


# ------------------------------------------------------------------------------ 10. leftovers ----


def test_app_start_removed_leftovers_older_than_an_hour_and_kept_fresh_ones(app, app_cache):
    *stale, fresh = _leftovers(app_cache)
    assert [p.exists() for p in stale] == [False, False, False] and fresh.is_dir()
    assert app.ctx.leftovers["cache temp folders"] >= 1 and app.ctx.leftovers["stop files"] >= 1
