"""What a Hugging Face Space reads before it runs a line of ours: README front matter and requirements.txt.

The full Space-exact run (a fresh venv from requirements.txt, app.py on 0.0.0.0:7860, a classification
through gradio_client) is ``make space-check``, which CI runs; these are its fast, static halves.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

from models import CATALOG
from scripts.space_check import ORT_DISTRIBUTIONS, required_ort

REPO = Path(__file__).resolve().parents[1]
# The values the Hub accepts for these front-matter keys (Spaces configuration reference).
SPACE_COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
SPACE_SDKS = {"gradio", "docker", "static", "streamlit"}


def requirement_pins(path: Path) -> dict[str, str]:
    """name -> pinned version of every requirement line (names normalised; `-r` lines skipped)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


@pytest.fixture(scope="module")
def front_matter() -> dict:
    from huggingface_hub import SpaceCard

    return SpaceCard.load(REPO / "README.md").data.to_dict()  # the Hub's own parser


def test_space_front_matter_has_the_keys_a_space_reads(front_matter):
    assert front_matter["sdk"] in SPACE_SDKS and front_matter["sdk"] == "gradio"
    assert front_matter["title"] and front_matter["emoji"]
    assert front_matter["colorFrom"] in SPACE_COLORS and front_matter["colorTo"] in SPACE_COLORS
    assert isinstance(front_matter.get("pinned", False), bool)
    assert len(front_matter["short_description"]) <= 60  # the Hub rejects longer ones
    assert front_matter["license"] == "cc-by-nc-sa-4.0"  # MahaNews' terms, which the fine-tuned variants inherit


def test_space_sdk_version_is_the_pinned_gradio(front_matter):
    assert front_matter["sdk_version"] == requirement_pins(REPO / "requirements.txt")["gradio"]


def test_space_app_file_exists_and_builds_a_module_level_demo(front_matter):
    app_file = REPO / front_matter["app_file"]
    assert app_file.is_file()
    source = app_file.read_text(encoding="utf-8")
    assert re.search(r"^with gr\.Blocks\(.*\) as demo:", source, re.M) and 'if __name__ == "__main__":' in source


def test_space_python_version_is_the_one_the_project_runs_on(front_matter):
    # Without the key a Space runs Python 3.10; torch, the lock of versions and CI are all on 3.11.
    assert str(front_matter.get("python_version", "3.10")) == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_space_models_are_the_catalog_hub_models(front_matter):
    hub_ids = [spec.source for spec in CATALOG.values() if spec.kind in ("base", "scratch")]
    assert front_matter["models"] == hub_ids


def test_requirements_pin_every_package_and_name_onnxruntime_gpu_once():
    pins = requirement_pins(REPO / "requirements.txt")
    assert all(pins.values()), [name for name, version in pins.items() if not version]
    assert pins["torch"] == "2.13.0"
    assert [name for name in pins if name in ORT_DISTRIBUTIONS] == ["onnxruntime-gpu"]
    assert required_ort(REPO / "requirements.txt") == "onnxruntime-gpu"
    assert "-r requirements.txt" in (REPO / "requirements-dev.txt").read_text(encoding="utf-8")


def test_required_ort_refuses_two_onnxruntime_distributions(tmp_path):
    both = tmp_path / "requirements.txt"
    both.write_text("onnxruntime==1.31.1\nonnxruntime_gpu==1.31.1\n")
    with pytest.raises(SystemExit, match="exactly one"):
        required_ort(both)


def test_exactly_one_onnxruntime_distribution_is_installed():
    """Both wheels own the ``onnxruntime`` folder: two installed means a file-by-file mix of them."""
    installed = sorted(
        {d.metadata["Name"].lower() for d in importlib.metadata.distributions()} & set(ORT_DISTRIBUTIONS)
    )
    assert installed == [required_ort(REPO / "requirements.txt")], (
        f"installed {installed}; run `make install-dev` (it swaps onnxruntime for onnxruntime-gpu)"
    )


def test_ci_runs_the_space_check():
    assert re.search(r"^space-check:", (REPO / "Makefile").read_text(encoding="utf-8"), re.M)
    assert "make space-check" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
