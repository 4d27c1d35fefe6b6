"""Load any model the product can prune: a catalog name, a hub id or a local folder.

The branch on ``ModelSpec.kind`` mirrors nanoGPT's ``init_from``: hub models go through
``from_pretrained`` (and the local HF cache when the hub is down), offline models come from the
repository itself, and anything else is treated as a hub id or a folder.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)

from .catalog import CATALOG, ModelSpec, get_spec

logger = logging.getLogger(__name__)

HUB_HOST = "huggingface.co"
OFFLINE_HINT = (
    "Use an offline model instead ({offline}), a local folder with a saved model, or a machine whose "
    "Hugging Face cache (HF_HOME) already holds this model."
)


# transformers builds models under process-wide switches (skipped weight init, weight tying, default
# device); a `from_pretrained` in one thread changes models constructed at the same time in another
# (measured: BertForMaskedLM got 44 parameters instead of 42 while another thread loaded a variant).
# Every model construction in the library holds this lock, so a fine-tune job, a warm-up and a
# classify request can load models at the same time in one app process.
MODEL_INIT_LOCK = threading.RLock()


class HubUnreachableError(ConnectionError):
    """The model must come from the Hugging Face Hub, which cannot be reached, and no cached copy exists."""


class ModelNotFoundError(FileNotFoundError):
    """A local or offline model folder that does not exist (yet)."""


@dataclass
class LoadedModel:
    """A ready classifier with where it came from."""

    model: nn.Module
    tokenizer: PreTrainedTokenizerBase
    source: str
    spec: ModelSpec | None
    revision: str
    weights: str  # "pretrained" | "fine-tuned" | "random-weights"

    @property
    def name(self) -> str:
        return self.spec.name if self.spec else self.source


_hub_state: dict[str, tuple[float, bool]] = {}


def hub_reachable(timeout: float = 2.0, ttl: float = 60.0) -> bool:
    """Can we open a TCP connection to the hub? Cached for `ttl` seconds; HF_HUB_OFFLINE=1 means no."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    now = time.monotonic()
    cached = _hub_state.get(HUB_HOST)
    if cached and now - cached[0] < ttl:
        return cached[1]
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            reachable = True
    except OSError:
        reachable = False
    _hub_state[HUB_HOST] = (now, reachable)
    return reachable


def offline_names() -> list[str]:
    return [name for name, spec in CATALOG.items() if spec.kind == "offline"]


def resolve_source(name_or_path: str) -> tuple[str, ModelSpec | None, bool]:
    """Map a catalog name, hub id or folder to (source, spec, is_local)."""
    name_or_path = name_or_path.strip()
    if not name_or_path:
        raise ValueError("no model given: pick a catalog name, a Hugging Face id or a local folder")
    spec = get_spec(name_or_path)
    if spec is not None:
        if spec.is_local and not (Path(spec.source) / "config.json").is_file():
            raise ModelNotFoundError(
                f"offline model {spec.name!r} is not built yet ({spec.source} has no config.json); "
                "build the family with `python -m models.build_offline`"
            )
        return spec.source, spec, spec.is_local
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} exists but holds no config.json; expected a save_pretrained() folder")
        return str(path), None, True
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise ModelNotFoundError(f"no model folder at {name_or_path}")
    return name_or_path, None, False


def weights_hash(model: nn.Module) -> str:
    """SHA-256 of a model's architecture config and every tensor of its state dict (in memory).

    Two models hash the same exactly when an export or a score computed from one is valid for the other,
    so it keys the ONNX export cache and the layer-importance cache. Volatile config keys (paths,
    library versions) are left out. ``weights_fingerprint`` is its cheap on-disk sibling.
    """
    digest = hashlib.sha256()
    config = {k: v for k, v in model.config.to_dict().items() if not k.startswith("_") and k != "transformers_version"}
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()[:20]


def weights_fingerprint(folder: str | os.PathLike) -> str:
    """Cheap identity of local weights: size and the first/last MiB of each weights file."""
    digest = hashlib.sha1()
    for file in sorted(Path(folder).glob("*.safetensors")) + sorted(Path(folder).glob("*.bin")):
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with file.open("rb") as handle:
            digest.update(handle.read(1 << 20))
            handle.seek(max(0, size - (1 << 20)))
            digest.update(handle.read(1 << 20))
    return "local-" + digest.hexdigest()[:12]


def _from_hub(loader, source: str, **kwargs):
    """Call a from_pretrained, using the local cache only when the hub is down."""
    if hub_reachable():
        return loader(source, **kwargs)
    try:
        return loader(source, local_files_only=True, **kwargs)
    except OSError as exc:
        raise HubUnreachableError(
            f"The Hugging Face Hub cannot be reached from this machine and {source!r} is not in the local "
            f"cache. " + OFFLINE_HINT.format(offline=", ".join(offline_names()))
        ) from exc


def _cached_commit(source: str, revision: str) -> str:
    """The commit a Hub revision resolved to, read from the local cache it was just loaded from.

    transformers 5 no longer sets ``config._commit_hash``; without this every Hub model's revision would
    read "main", and variant cache keys would not change when the model on the Hub does.
    """
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(source, "config.json", revision=revision)
    return Path(found).parent.name if isinstance(found, str) else revision


@functools.lru_cache(maxsize=8)
def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """The model's tokenizer (fast version), loaded once per process."""
    source, _, is_local = resolve_source(name_or_path)
    with MODEL_INIT_LOCK:
        if is_local:
            return AutoTokenizer.from_pretrained(source)
        return _from_hub(AutoTokenizer.from_pretrained, source)


def load_classifier(
    name_or_path: str,
    num_labels: int = 12,
    id2label: dict[int, str] | None = None,
    revision: str = "main",
) -> LoadedModel:
    """Load a model with a sequence-classification head (new head if the checkpoint has none).

    Args:
        name_or_path: catalog name, Hub id or local folder.
        num_labels: size of the classification head.
        id2label: label names of a new head (the dataset's, passed in by the caller: this layer knows
            models, not datasets). None keeps the checkpoint's names, or ``LABEL_i`` for a new head.
        revision: Hub revision.

    Raises:
        HubUnreachableError: hub model, hub down, not cached; the message lists offline options.
        ModelNotFoundError: a folder or offline model that does not exist.
    """
    source, spec, is_local = resolve_source(name_or_path)
    # dtype: the offline family ships fp16 weights, which transformers 5 would keep as fp16; CPU
    # fine-tuning and the latency baseline both want fp32 master weights.
    kwargs: dict = {"num_labels": num_labels, "dtype": torch.float32}
    if id2label:
        kwargs |= {"id2label": dict(id2label), "label2id": {v: k for k, v in id2label.items()}}
    with MODEL_INIT_LOCK:
        model, rev = _load(source, spec, is_local, revision, kwargs)
    tokenizer = load_tokenizer(name_or_path)
    fine_tuned = bool(getattr(model.config, "finetuned_on", None))
    weights = "fine-tuned" if fine_tuned else getattr(model.config, "weights", None) or "pretrained"
    model.eval()
    return LoadedModel(model, tokenizer, source, spec, rev, weights)


def load_config(name_or_path: str, revision: str = "main") -> PretrainedConfig:
    """A model's config alone (kilobytes): its shape, for sizes shown before any weights are loaded."""
    source, _, is_local = resolve_source(name_or_path)
    if is_local:
        return AutoConfig.from_pretrained(source)
    return _from_hub(AutoConfig.from_pretrained, source, revision=revision)


def load_pretrained(name_or_path: str, revision: str = "main") -> LoadedModel:
    """A model with the head it was saved with: masked-LM for a pretrained base, classifier for a fine-tuned one.

    Tools that rewrite a model for later use (vocabulary pruning) need this: ``load_classifier`` would trade a
    base's pretrained MLM head for a random classifier head, and that head would then be saved as if trained.
    """
    source, spec, is_local = resolve_source(name_or_path)
    if spec is not None and spec.kind == "random":
        return load_classifier(name_or_path)
    masked = any(a.endswith("ForMaskedLM") for a in load_config(name_or_path, revision).architectures or ())
    auto = AutoModelForMaskedLM if masked else AutoModelForSequenceClassification
    with MODEL_INIT_LOCK:
        model, rev = _load(source, spec, is_local, revision, {"dtype": torch.float32}, auto)
    weights = "fine-tuned" if getattr(model.config, "finetuned_on", None) else None
    weights = weights or getattr(model.config, "weights", None) or "pretrained"
    return LoadedModel(model.eval(), load_tokenizer(name_or_path), source, spec, rev, weights)


def _load(
    source: str,
    spec: ModelSpec | None,
    is_local: bool,
    revision: str,
    kwargs: dict,
    auto=AutoModelForSequenceClassification,
) -> tuple[nn.Module, str]:
    """The model and its revision key, by kind (random control, local folder, Hub); ``auto`` picks the head."""
    if spec is not None and spec.kind == "random":
        config = AutoConfig.from_pretrained(source, **{k: v for k, v in kwargs.items() if k != "dtype"})
        with torch.random.fork_rng():
            torch.manual_seed(0)  # the control is one fixed random model, not a new one per load
            model = AutoModelForSequenceClassification.from_config(config)
        model.config.weights = "random-weights"
        rev = "random-init-seed0"
    elif is_local:
        model = auto.from_pretrained(source, **kwargs)
        rev = weights_fingerprint(source)
    else:
        model = _from_hub(auto.from_pretrained, source, revision=revision, **kwargs)
        rev = getattr(model.config, "_commit_hash", None) or _cached_commit(source, revision)
    return model, rev


def random_classifier(spec_or_name: ModelSpec | str, num_labels: int = 12) -> nn.Module:
    """A random-weight model with a catalog model's shape: valid for latency, never for accuracy."""
    spec = spec_or_name if isinstance(spec_or_name, ModelSpec) else CATALOG[spec_or_name]
    config = BertConfig(**spec.bert_config_kwargs(), num_labels=num_labels)
    config.weights = "random-weights"
    with MODEL_INIT_LOCK:
        return BertForSequenceClassification(config).eval()
