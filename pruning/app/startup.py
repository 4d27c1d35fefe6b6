"""What the app settles once at start-up: the default base model, a banner when it runs degraded, examples,
and the folder of bundled variants.

The app must start even with no network and no models built yet: it picks the first base model that
loads, and the banner says plainly what is missing and what still works.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from models import CATALOG

from .wording import LOAD_ERRORS

logger = logging.getLogger(__name__)

EXAMPLES_FILE = Path(__file__).resolve().parents[2] / "assets" / "examples.json"


def pick_default_model(load: Callable[[str], Any], env: Mapping[str, str] = os.environ) -> tuple[str | None, list[str]]:
    """$MARATHI_PRUNE_DEFAULT_MODEL, else offline-teacher, else the first catalog model that loads.

    Args:
        load: loads a base model by name, raising one of ``LOAD_ERRORS`` (``ModelRegistry.base``).
        env: where to read $MARATHI_PRUNE_DEFAULT_MODEL.

    Returns:
        (name or None, the reasons why earlier candidates could not be loaded).
    """
    wanted = env.get("MARATHI_PRUNE_DEFAULT_MODEL", "").strip()
    candidates = ([wanted] if wanted else []) + ["offline-teacher"] + [n for n in CATALOG if n != "offline-teacher"]
    problems = []
    for name in dict.fromkeys(candidates):
        try:
            load(name)
            return name, problems
        except LOAD_ERRORS as exc:
            problems.append(f"{name}: {exc}")
            logger.info("default model candidate %s not available: %s", name, exc)
    return None, problems


def startup_banner(hub_ok: bool, default_model: str | None, problems: Sequence[str]) -> str:
    """Markdown shown above the tabs when the app runs degraded; '' when all is well."""
    lines = []
    if not hub_ok:
        lines.append(
            "**Hugging Face Hub unreachable: running on the offline models and local data.** The paper's "
            "models (MahaBERT-v2, MuRIL, MahaBERT-Small/-Smaller) need the Hub; this project's offline family "
            "(offline-teacher, offline-small, offline-smaller) and local MahaNews files work without it."
        )
    if default_model is None:
        lines.append(
            "**No base model could be loaded**, so pruning and fine-tuning are unavailable until you enter a "
            "model that loads (a local folder, or a Hub id when online). Cached variants can still classify. "
            "Reasons: " + "; ".join(problems[:4])
        )
    return "\n\n".join(lines)


def load_examples(path: Path = EXAMPLES_FILE) -> list[str]:
    """The demo headlines (written for this app, not taken from MahaNews)."""
    try:
        return [e["text"] for e in json.loads(Path(path).read_text(encoding="utf-8"))["examples"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("no examples (%s): %s", path, exc)
        return []
