"""Which base models a visitor may name, and how deep each one is.

In the app the base-model box takes a catalog name or a Hugging Face id (``owner/name``). A local
folder is accepted only inside the directories the operator lists in ``$MARATHI_PRUNE_MODEL_DIRS``
(``os.pathsep``-separated), plus the operator's own ``$MARATHI_PRUNE_DEFAULT_MODEL``. Anything else
gets one fixed message, so typing ``/root/.ssh``, ``/etc/shadow`` or ``qwerty`` tells a visitor
nothing about the server's disk: a refused name is never looked up. (The CLI loads any folder.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from models import CATALOG, get_spec

MODEL_DIRS_ENV = "MARATHI_PRUNE_MODEL_DIRS"
DEFAULT_MODEL_ENV = "MARATHI_PRUNE_DEFAULT_MODEL"
_HUB_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
NOT_ALLOWED = (
    "This app can't load that model. Pick one from the list, or type a Hugging Face id such as "
    "l3cube-pune/marathi-bert-v2."
)


class BaseNotAllowedError(ValueError):
    """A base-model name the app refuses; its message is the same whatever was typed."""

    def __init__(self) -> None:
        super().__init__(NOT_ALLOWED)


class HubOnlyError(OSError):
    """A Hub id that also names a folder next to the server: it is never read as that folder."""


def model_dirs(env: Mapping[str, str] = os.environ) -> list[Path]:
    """The operator's model directories from $MARATHI_PRUNE_MODEL_DIRS, resolved; [] when unset."""
    raw = env.get(MODEL_DIRS_ENV, "")
    return [Path(part).expanduser().resolve() for part in raw.split(os.pathsep) if part.strip()]


def is_hub_id(name: str) -> bool:
    """``owner/name`` with Hub-legal characters: one slash, no dot at the start of either part, no '..'."""
    parts = name.split("/")
    return len(parts) == 2 and ".." not in name and all(_HUB_PART.fullmatch(p) for p in parts)


def check_base_name(name: str | None, env: Mapping[str, str] = os.environ) -> str:
    """The name to load if visitors may load it; raises otherwise without touching the named path.

    Accepted: a catalog name (or the Hub id of a catalog model), a Hub id, a folder listed in (or inside one of)
    $MARATHI_PRUNE_MODEL_DIRS, or exactly $MARATHI_PRUNE_DEFAULT_MODEL.

    Raises:
        ValueError: an empty name.
        BaseNotAllowedError: anything else (the same message for every such name).
        HubOnlyError: a Hub id that would be read as a folder relative to the server's working
            directory; the wording layer words it exactly like a Hub id that does not load.
    """
    name = (name or "").strip()
    if not name:
        raise ValueError("Pick a base model first.")
    spec = get_spec(name)
    if name in CATALOG or (spec is not None and not spec.is_local):
        return name
    if name == env.get(DEFAULT_MODEL_ENV, "").strip():
        return name
    if is_hub_id(name):
        if Path(name).exists():  # the library would load it as a folder; it gets the Hub's answer instead
            raise HubOnlyError(f"{name} is a Hub id here")
        return name
    dirs = model_dirs(env)
    if dirs and not name.startswith("~"):
        try:
            target = Path(name).resolve()  # follows links and '..', so nothing escapes the listed folders
        except (OSError, ValueError):  # a NUL byte, a link loop: refused like any other name
            raise BaseNotAllowedError() from None
        if any(target.is_relative_to(d) for d in dirs):
            return name
    raise BaseNotAllowedError()


def base_depth(name: str, anatomy: Callable[[str], object]) -> int:
    """Encoder layers of a base: from the catalog when it is there (no download), else from the model.

    Args:
        name: a name that passed ``check_base_name``.
        anatomy: loads a model's anatomy (``ModelRegistry.anatomy``); called only off the catalog.
    """
    spec = get_spec(name)
    if spec is not None:
        return spec.num_layers
    return anatomy(name).num_layers
