"""pruning.app.startup: the default model and the degraded-mode banner."""

from __future__ import annotations

from models.loading import ModelNotFoundError
from pruning.app import startup


def test_startup_banner_explains_offline_and_missing_models():
    text = startup.startup_banner(False, None, ["offline-teacher: not built yet"])
    assert "Hugging Face Hub unreachable: running on the offline models and local data" in text
    assert "No base model could be loaded" in text and "not built yet" in text
    assert startup.startup_banner(True, "offline-teacher", []) == ""


def test_pick_default_model_takes_the_first_that_loads_and_says_why_others_did_not():
    def load(name: str) -> None:
        if name != "offline-small":
            raise ModelNotFoundError(f"{name} is not built")

    name, problems = startup.pick_default_model(load, env={"MARATHI_PRUNE_DEFAULT_MODEL": "mine"})
    assert name == "offline-small"
    assert problems[:2] == ["mine: mine is not built", "offline-teacher: offline-teacher is not built"]


def test_bundled_dir_is_models_variants_unless_the_environment_says_otherwise(tmp_path):
    from models import BUNDLED_DIR, bundled_dir

    assert bundled_dir({}) == BUNDLED_DIR
    assert bundled_dir({"MARATHI_PRUNE_BUNDLED": str(tmp_path)}) == tmp_path
