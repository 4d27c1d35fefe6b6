"""Model loading is safe across threads: the app loads variants while a fine-tune job builds its model."""

import threading

from transformers import BertConfig, BertForMaskedLM

from models.loading import MODEL_INIT_LOCK
from pruning import VariantCache
from tests.conftest import make_tiny_bert


def test_concurrent_loads_build_identical_models(tmp_path, tokenizer):
    """Measured before the lock: 42 or 44 parameters, and loads failing as if the variant were damaged."""
    from pruning import VariantKey

    cache = VariantCache(tmp_path)
    key = VariantKey.create("offline-smaller", "r", "top", [0, 1], 2, {"dataset": "SHC", "seed": 0})
    cache.save(key, make_tiny_bert(len(tokenizer), layers=2), tokenizer, {})
    stop, errors = threading.Event(), []

    def loader() -> None:
        while not stop.is_set():
            try:
                cache.load(key)
            except Exception as exc:  # noqa: BLE001 - any failure here is the bug under test
                errors.append(exc)

    thread = threading.Thread(target=loader)
    thread.start()
    try:
        shapes = set()
        config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2)
        for _ in range(100):
            with MODEL_INIT_LOCK:  # what every model construction in the library does
                model = BertForMaskedLM(config)  # tied weights: the construction a concurrent load disturbs
            shapes.add(len(list(model.parameters())))
    finally:
        stop.set()
        thread.join()
    assert not errors and len(shapes) == 1
