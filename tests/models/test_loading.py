"""Loading: random controls, local folders, and plain errors when the hub is unreachable."""

import pytest

import models
from models.loading import ModelNotFoundError, random_classifier, resolve_source


def test_random_classifier_has_mahabert_v2_shape_and_is_labelled():
    model = random_classifier("mahabert-smaller")
    assert model.config.num_hidden_layers == 2 and model.config.vocab_size == 52000
    assert model.config.weights == "random-weights"


def test_load_classifier_hub_unreachable_points_to_offline_options():
    with pytest.raises(models.HubUnreachableError, match="cannot be reached.*offline-teacher.*local folder"):
        models.load_classifier("l3cube-pune/marathi-bert-v2")


def test_load_classifier_local_folder(tiny_base_dir):
    loaded = models.load_classifier(str(tiny_base_dir))
    assert loaded.model.config.num_labels == 12 and loaded.revision.startswith("local-")
    assert loaded.weights == "pretrained" and not loaded.model.training


@pytest.mark.parametrize(
    "name,match",
    [("", "no model given"), ("./missing/folder", "no model folder"), ("/tmp", "holds no config.json")],
)
def test_resolve_source_rejects_bad_names(name, match):
    with pytest.raises((ValueError, ModelNotFoundError), match=match):
        resolve_source(name)


def test_random_control_has_teacher_shape_fixed_init_and_label():
    spec = models.get_spec("offline-teacher-random")
    if not (models.catalog.OFFLINE_DIR / "mini-teacher-12l" / "config.json").is_file():
        pytest.skip("offline family not built")
    a, b = models.load_classifier(spec.name), models.load_classifier(spec.name)
    assert a.weights == "random-weights" and spec.role == "control"
    assert a.model.config.num_hidden_layers == models.get_spec("offline-teacher").num_layers
    for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True):
        assert (x == y).all()  # one fixed control, not a new random model per load


def test_load_pretrained_keeps_the_saved_head(tiny_base_dir):
    """A base keeps its masked-LM head (vocabulary pruning saves it back); a classifier folder stays one."""
    classifier = models.load_pretrained(str(tiny_base_dir))
    assert type(classifier.model).__name__ == "BertForSequenceClassification"
    assert classifier.revision.startswith("local-") and not classifier.model.training
    if not (models.catalog.OFFLINE_DIR / "mini-teacher-12l" / "config.json").is_file():
        pytest.skip("offline family not built")
    base = models.load_pretrained("offline-teacher")
    assert type(base.model).__name__ == "BertForMaskedLM" and base.weights == "pretrained"
    assert models.load_config("offline-teacher").num_hidden_layers == 12
