"""Which models the product knows about and how to load them (hub, local folder, offline)."""

from .catalog import BUNDLED_DIR, CATALOG, ModelSpec, bundled_dir, get_spec
from .loading import (
    HubUnreachableError,
    LoadedModel,
    hub_reachable,
    load_classifier,
    load_config,
    load_pretrained,
    load_tokenizer,
    resolve_source,
)

__all__ = [
    "BUNDLED_DIR",
    "CATALOG",
    "HubUnreachableError",
    "LoadedModel",
    "ModelSpec",
    "bundled_dir",
    "get_spec",
    "hub_reachable",
    "load_classifier",
    "load_config",
    "load_pretrained",
    "load_tokenizer",
    "resolve_source",
]
