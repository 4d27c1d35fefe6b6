"""The Space's path at the real shape: MahaBERT-v2 (238M parameters, 197,285-token vocabulary) end to end.

The model is the random-weight stand-in of ``models.hub_snapshots`` (shape only: no accuracy is read),
loaded by its Hub id from a Hugging Face cache with ``HF_HUB_OFFLINE=1``, exactly as a Space loads the
real one. Library/CLI: prune -> fine-tune -> save -> load from the cache -> classify -> ONNX fp32 and
INT8. App: ``python app.py`` in a subprocess, Prune & fine-tune and Classify through ``gradio_client``,
then the app's peak memory (RSS high-water mark) while it holds the full model and two pruned variants.

Minutes, not seconds: marked ``slow`` (deselect with ``-m "not slow"``); CI runs it. A few dozen
examples and one epoch keep it as short as the path allows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from models.hub_snapshots import build_all
from pruning import LABELS, VariantCache, export_variant, predict_logits
from pruning.speed import OnnxClassifier
from tests.app.conftest import HEADLINE, free_port
from tests.conftest import MAHANEWS_DIR

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
HUB_ID = "l3cube-pune/marathi-bert-v2"
SPACE_MEMORY_GB = 16  # a free CPU Space
TEXTS = [HEADLINE, "राज्यात आजपासून पावसाचा जोर वाढणार", "नवीन स्मार्टफोन भारतीय बाजारात दाखल"]
# 32 training headlines, one epoch, 32 for each evaluation: the path, not the accuracy.
TRAIN = {"max_train_samples": 32, "max_eval_samples": 32, "epochs": 1, "batch_size": 32}


@pytest.fixture(scope="module")
def space_env(tmp_path_factory) -> dict[str, str]:
    """Environment of a Space whose Hub cache holds the MahaBERT-v2 stand-in (built once per session)."""
    hf_home = tmp_path_factory.mktemp("hf-home")
    build_all(hf_home, ["mahabert-v2"])
    home = tmp_path_factory.mktemp("marathi-prune-home")
    env = os.environ | {
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "MARATHI_PRUNE_HOME": str(home),
        "MAHANEWS_DIR": str(MAHANEWS_DIR),
        "TOKENIZERS_PARALLELISM": "false",
    }
    for key in ("HF_HUB_CACHE", "MARATHI_PRUNE_DEFAULT_MODEL", "MARATHI_PRUNE_CACHE"):
        env.pop(key, None)
    return env


@pytest.fixture(scope="module")
def cli_variant(space_env, tmp_path_factory) -> dict:
    """`python -m pruning finetune` on the stand-in: middle-pruned to 2 layers, fine-tuned, cached."""
    config = tmp_path_factory.mktemp("cli") / "config.json"
    config.write_text(json.dumps({"finetune": TRAIN}))
    cmd = [sys.executable, "-m", "pruning", "finetune", "--model", "mahabert-v2", "--strategy", "middle"]
    cmd += ["--keep", "2", "--config", str(config)]
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=REPO, env=space_env, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads(out.stdout)
    result["wall_s"] = time.perf_counter() - started
    return result


def test_real_shape_cli_prunes_and_fine_tunes_the_hub_model(cli_variant, space_env):
    assert cli_variant["kept_layers"] == [0, 11] and not cli_variant["from_cache"]
    record = json.loads((Path(cli_variant["path"]) / "variant.json").read_text(encoding="utf-8"))
    assert record["base_model"] in ("mahabert-v2", HUB_ID)
    snapshot = next((Path(space_env["HF_HOME"]) / "hub").glob("models--l3cube-pune--marathi-bert-v2/snapshots/*"))
    assert record["revision"] == snapshot.name  # the commit the Hub cache resolved, not "main"


def test_real_shape_variant_loads_from_the_cache_classifies_and_exports(cli_variant):
    cache = VariantCache(Path(cli_variant["path"]).parent)
    model, tokenizer, record = cache.load(cli_variant["variant"])
    assert model.config.num_hidden_layers == 2 and model.config.vocab_size == 197285
    assert model.config.stand_in_for == HUB_ID  # the random-weights label travels with the variant
    reference = predict_logits(model, tokenizer, TEXTS, max_length=64)
    assert reference.shape == (len(TEXTS), len(LABELS)) and np.isfinite(reference).all()

    result = export_variant(model, cli_variant["path"], tokenizer=tokenizer, texts=TEXTS, weights="random-weights")
    assert set(result.paths) == {"onnx", "onnx-int8"} and result.checks["onnx"]["passed"]
    fp32 = OnnxClassifier(result.paths["onnx"], tokenizer, threads=2, max_length=64).predict_logits(TEXTS)
    assert np.abs(fp32 - reference).max() < 1e-3 and (fp32.argmax(-1) == reference.argmax(-1)).all()
    int8 = OnnxClassifier(result.paths["onnx-int8"], tokenizer, threads=2, max_length=64).predict_logits(TEXTS)
    assert int8.shape == reference.shape and np.isfinite(int8).all()
    sizes = {b: p.stat().st_size / 2**20 for b, p in result.paths.items()}
    assert sizes["onnx-int8"] < 0.4 * sizes["onnx"]  # the 197k-word embedding is quantized too


def _vm_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


@pytest.fixture(scope="module")
def space_app(space_env, cli_variant, tmp_path_factory) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python app.py` as a Space starts it, on the stand-in, sharing the CLI's variant cache."""
    port = free_port()
    env = space_env | {
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "MARATHI_PRUNE_DEFAULT_MODEL": "mahabert-v2",
    }
    log = tmp_path_factory.mktemp("app-log") / "app.log"
    with log.open("w") as out:
        app = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        while True:
            assert app.poll() is None, log.read_text()[-4000:]
            try:
                from gradio_client import Client

                Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:
                assert time.monotonic() < deadline, log.read_text()[-4000:]
                time.sleep(2)
        yield app, f"http://127.0.0.1:{port}/"
    finally:
        app.terminate()
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()


def test_real_shape_app_fine_tunes_classifies_and_fits_a_free_space(space_app, cli_variant, record_property):
    from gradio_client import Client

    app, url = space_app
    client = Client(url, verbose=False)
    started = time.perf_counter()
    status, _curve = client.submit("mahabert-v2", "top", 1, [], "SHC", 1, 2e-4, 32, api_name="/finetune").result(
        timeout=1200
    )
    finetune_s = time.perf_counter() - started
    assert status.startswith("**Done**"), status
    name = status.split("Saved as `")[1].split("`")[0]
    assert name.startswith("mahabert-v2__top-k1-0__SHC")

    started = time.perf_counter()
    result = client.predict(HEADLINE, [cli_variant["variant"], name], api_name="/classify")
    classify_s = time.perf_counter() - started
    answer = result[-1]  # the JSON result: each variant on each of the Space's CPU backends
    assert [p["variant"] for p in answer["predictions"]] == [cli_variant["variant"], name]
    assert all(r["label"] in LABELS for p in answer["predictions"] for r in p["results"].values()), answer

    # the app now holds the full model (its base, for the panel) and both pruned variants
    peak_gb, rss_gb = _vm_kib(app.pid, "VmHWM") / 2**20, _vm_kib(app.pid, "VmRSS") / 2**20
    figures = {"peak_rss_gb": round(peak_gb, 2), "rss_after_gb": round(rss_gb, 2)}
    figures |= {"app_finetune_s": round(finetune_s, 1), "app_classify_s": round(classify_s, 2)}
    figures |= {"cli_finetune_s": round(cli_variant["wall_s"], 1)}
    for key, value in figures.items():
        record_property(key, value)
    print(f"\nreal-shape figures (random weights, shape only): {json.dumps(figures)}")
    assert peak_gb < SPACE_MEMORY_GB
