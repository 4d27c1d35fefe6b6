"""Shared pieces of the app tests: two fine-tuned tiny variants, a registry over them, a launched app.

The variants take ~20 s to build, so they are built once per session into a cache that tests only
read; a test that fine-tunes through the launched app gets its own copy (``app_cache``).
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pruning import FinetuneConfig, PruneConfig, VariantCache, build_variant
from pruning.app import training
from pruning.app.bases import MODEL_DIRS_ENV
from pruning.app.registry import ModelRegistry
from tests.conftest import MAHANEWS_DIR, make_tiny_bert

TINY_TRAIN = {"max_train_samples": 64, "epochs": 1, "learning_rate": 2e-3, "batch_size": 32, "seed": 0}
HEADLINE = "अंतिम सामन्यात पुण्याच्या संघाने मुंबईवर पाच गडी राखून विजय मिळवला"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_tiny_variants(cache: VariantCache, base_dir: Path) -> None:
    """A full and a middle-pruned fine-tuned variant of the tiny 4-layer base (about 10 s each)."""
    for prune in (None, PruneConfig("middle", keep=2)):
        build_variant(
            str(base_dir), prune, FinetuneConfig(**TINY_TRAIN), cache=cache, data_dir=MAHANEWS_DIR, show_progress=False
        )


def import_app(
    monkeypatch: pytest.MonkeyPatch,
    cache: VariantCache,
    base_dir: Path,
    *,
    bundled: Path | None = None,
    mahanews: Path | None = MAHANEWS_DIR,
    model_dirs: Path | None = None,
):
    """Import (or re-import) app.py with its cache and default model pointing at the test's tiny ones.

    app.py opens the default cache, ``$MARATHI_PRUNE_HOME/variants``, so `cache` must be a folder named
    ``variants``. `bundled` is the folder of bundled variants (default: none, so that the real
    ``models/variants`` never enters a test); `mahanews` None unsets MAHANEWS_DIR. Visitors may name
    local folders only inside `model_dirs` (``$MARATHI_PRUNE_MODEL_DIRS``; default: `base_dir` itself).
    """
    assert cache.root.name == "variants", cache.root
    monkeypatch.setenv("MARATHI_PRUNE_HOME", str(cache.root.parent))
    monkeypatch.setenv("MARATHI_PRUNE_DEFAULT_MODEL", str(base_dir))
    monkeypatch.setenv(MODEL_DIRS_ENV, str(model_dirs or base_dir))
    monkeypatch.setenv("MARATHI_PRUNE_BUNDLED", str(bundled or cache.root.parent / "no-bundled-variants"))
    if mahanews is None:
        monkeypatch.delenv("MAHANEWS_DIR", raising=False)
    else:
        monkeypatch.setenv("MAHANEWS_DIR", str(mahanews))
    monkeypatch.setattr(training, "TRAIN_THREADS", 1)  # the CI box is small and busy
    if "app" in sys.modules:
        return importlib.reload(sys.modules["app"])
    return importlib.import_module("app")


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory, tokenizer) -> Path:
    """The operator's model folder for launched apps ($MARATHI_PRUNE_MODEL_DIRS): a 2-layer tiny base, ``tiny-2l``."""
    root = tmp_path_factory.mktemp("allowed-models")
    make_tiny_bert(len(tokenizer), layers=2).save_pretrained(root / "tiny-2l")
    tokenizer.save_pretrained(root / "tiny-2l")
    return root


@pytest.fixture(scope="session")
def variant_cache(tmp_path_factory, tiny_base_dir) -> VariantCache:
    """The two tiny variants; read-only for the tests (copy it with ``app_cache`` to add variants)."""
    cache = VariantCache(tmp_path_factory.mktemp("app-home") / "variants")
    build_tiny_variants(cache, tiny_base_dir)
    return cache


@pytest.fixture(scope="module")
def app_cache(tmp_path_factory, variant_cache) -> VariantCache:
    """A copy of `variant_cache` that a launched app may add variants to."""
    root = tmp_path_factory.mktemp("app-home") / "variants"
    shutil.copytree(variant_cache.root, root)
    return VariantCache(root)


@pytest.fixture(scope="session")
def bundled_variants(tmp_path_factory, tokenizer, tiny_base_dir, variant_cache) -> Path:
    """A tiny bundled folder made by ``build_bundle``: full (4 layers), pruned to 2 and scratch 2-layer.

    Only the middle strategy competes (``test_bundle`` covers the choice among all six), so the full and
    pruned runs come from `variant_cache` and only the scratch model is fine-tuned here.
    """
    from pruning import bundle

    root = tmp_path_factory.mktemp("bundle")
    scratch = root / "tiny-scratch-2l"
    make_tiny_bert(len(tokenizer), layers=2, seed=1).save_pretrained(scratch)
    tokenizer.save_pretrained(scratch)
    runs = VariantCache(root / "runs")
    shutil.copytree(variant_cache.root, runs.root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bundle, "PRUNE_STRATEGIES", ["middle"])
        bundle.build_bundle(
            root / "variants",
            teacher=str(tiny_base_dir),
            scratch={2: str(scratch)},
            keeps=(2,),
            finetune=TINY_TRAIN,
            cache=runs,
            data_dir=str(MAHANEWS_DIR),
            command="pytest",
        )
    return root / "variants"


@pytest.fixture(scope="module")
def registry(variant_cache) -> ModelRegistry:
    return ModelRegistry(variant_cache)


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Launch an imported app.py's demo on a free port without blocking; yields its URL, closes it after."""
    port = free_port()
    app.demo.launch(**app.LAUNCH_KWARGS, prevent_thread_lock=True, server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()


@pytest.fixture(scope="module")
def launched_app(app_cache, tiny_base_dir, model_dirs) -> Iterator[tuple[object, str]]:
    """app.py imported against `app_cache` and launched without blocking: (module, url)."""
    with pytest.MonkeyPatch.context() as mp:
        app = import_app(mp, app_cache, tiny_base_dir, model_dirs=model_dirs)
        with serving(app) as url:
            yield app, url


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, corpus_lines) -> Path:
    """400 real Marathi corpus lines: the app's vocabulary corpus in tests (the shared one takes minutes to count)."""
    path = tmp_path_factory.mktemp("vocab-corpus") / "corpus.txt"
    path.write_text("\n".join(corpus_lines[:400]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def recipe_cache(tmp_path_factory, variant_cache, tiny_base_dir, small_corpus) -> VariantCache:
    """`variant_cache` plus two vocabulary-cut variants (~25 s): the full model, and a middle-2 cut distilled from it.

    Read-only for the tests, like `variant_cache`. The full one is the only teacher a vocabulary-cut student can
    have (distillation needs the same token ids).
    """
    root = tmp_path_factory.mktemp("recipe-home") / "variants"
    shutil.copytree(variant_cache.root, root)
    cache = VariantCache(root)
    base, corpus = str(tiny_base_dir), str(small_corpus)
    common = {"cache": cache, "data_dir": MAHANEWS_DIR, "show_progress": False}
    teacher = build_variant(
        base, PruneConfig("top", keep=4, vocab_corpus=corpus), FinetuneConfig(**TINY_TRAIN), **common
    )
    taught = FinetuneConfig(**TINY_TRAIN, distil_from=teacher.record["name"])
    build_variant(base, PruneConfig("middle", keep=2, vocab_corpus=corpus), taught, **common)
    return cache
