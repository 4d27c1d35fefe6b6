"""Which encoder layers to keep: pure functions of (depth, target size, scores).

Layers are 0-based here (layer 0 is the bottom, next to the embeddings). Poor Man's BERT
(Sajjad et al., 2020) numbers them 1..L; every rule below is stated so that for L=12 it drops
exactly the sets of that paper.

Rules for any depth L and any k (1 <= k <= L), with d = L - k layers dropped:

- ``top``: drop the d highest layers; keep ``0..k-1``.
- ``bottom``: drop the d lowest layers; keep ``d..L-1``.
- ``middle`` (symmetric): keep ``ceil(k/2)`` bottom layers and ``floor(k/2)`` top layers and drop
  the contiguous block between them; when k is odd the extra layer is kept at the bottom.
  L=12, k=6 keeps [0,1,2,9,10,11]; k=10 drops {5,6} (PMB's {6,7}).
- ``alternate-even``: drop PMB's even layers (1-based 2, 4, ...; 0-based odd indices), highest
  first: L=12, d=4 drops {5,7,9,11}. ``alternate-odd`` drops PMB's odd layers (1-based 1, 3, ...;
  0-based even indices), highest first: L=12, d=4 drops {4,6,8,10}. When d exceeds the number of
  layers of that parity (L=12: 6 each), all of them go and the remaining ones are dropped from
  the top of what is left, as ``top`` would: L=12, k=4 with ``alternate-even`` keeps [0,2,4,6].
- ``contribution``: given one score per layer (mean cosine similarity between the layer's input
  and output, see ``importance.py``), drop the d layers with the *highest* similarity, i.e. the
  ones that change the representation least; ties drop the higher layer.
- ``custom``: the caller lists the layers to keep.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["STRATEGIES", "LayerPlan", "check_strategy", "parse_int_list", "select_layers"]


@dataclass(frozen=True)
class LayerPlan:
    """The outcome of a strategy: which layers survive and which go."""

    strategy: str
    num_layers: int
    kept: list[int]
    dropped: list[int] = field(default_factory=list)

    @property
    def keep(self) -> int:
        return len(self.kept)

    def to_dict(self) -> dict:
        return {
            "strategy": self.strategy,
            "num_layers": self.num_layers,
            "keep": self.keep,
            "kept": list(self.kept),
            "dropped": list(self.dropped),
        }


def _top(num_layers: int, keep: int, scores: Sequence[float] | None = None) -> list[int]:
    return list(range(keep))


def _bottom(num_layers: int, keep: int, scores: Sequence[float] | None = None) -> list[int]:
    return list(range(num_layers - keep, num_layers))


def _middle(num_layers: int, keep: int, scores: Sequence[float] | None = None) -> list[int]:
    low = math.ceil(keep / 2)  # the extra layer of an odd split stays at the bottom
    high = keep - low
    return list(range(low)) + list(range(num_layers - high, num_layers))


def _drop_parity_then_top(num_layers: int, keep: int, parity: int) -> list[int]:
    """Drop layers whose 0-based index has `parity`, highest first; then fall back to top."""
    to_drop = num_layers - keep
    candidates = [i for i in reversed(range(num_layers)) if i % 2 == parity]
    dropped = set(candidates[:to_drop])
    remaining = [i for i in range(num_layers) if i not in dropped]
    extra = to_drop - len(dropped)
    if extra > 0:  # more to drop than layers of that parity: drop from the top of the rest
        dropped.update(remaining[len(remaining) - extra :])
    return [i for i in range(num_layers) if i not in dropped]


def _alternate_even(num_layers: int, keep: int, scores: Sequence[float] | None = None) -> list[int]:
    # PMB "even" layers are 1-based 2, 4, ..., i.e. 0-based odd indices (parity 1).
    return _drop_parity_then_top(num_layers, keep, parity=1)


def _alternate_odd(num_layers: int, keep: int, scores: Sequence[float] | None = None) -> list[int]:
    # PMB "odd" layers are 1-based 1, 3, ..., i.e. 0-based even indices (parity 0). For L=12 the
    # highest of them is 0-based 10, so d=4 drops {4, 6, 8, 10} as in the paper.
    return _drop_parity_then_top(num_layers, keep, parity=0)


def _contribution(num_layers: int, keep: int, scores: Sequence[float] | None = None) -> list[int]:
    if scores is None:
        raise ValueError(
            "strategy 'contribution' needs one importance score per layer; compute them with "
            "pruning.layer_scores(...) or `python -m pruning scores`"
        )
    if len(scores) != num_layers:
        raise ValueError(f"got {len(scores)} scores for a model with {num_layers} layers; expected one per layer")
    # Highest similarity = least change = least contribution; dropped first. Ties: higher layer first.
    order = sorted(range(num_layers), key=lambda i: (scores[i], i), reverse=True)
    dropped = set(order[: num_layers - keep])
    return [i for i in range(num_layers) if i not in dropped]


StrategyFn = Callable[[int, int, Sequence[float] | None], list[int]]

STRATEGIES: dict[str, StrategyFn | None] = {
    "top": _top,
    "bottom": _bottom,
    "middle": _middle,
    "alternate-even": _alternate_even,
    "alternate-odd": _alternate_odd,
    "contribution": _contribution,
    "custom": None,  # the caller gives the kept layers explicitly
}


def validate_custom_layers(num_layers: int, layers: Sequence[int]) -> list[int]:
    """Check an explicit kept-layer list and return it sorted."""
    layers = list(layers)
    if not layers:
        raise ValueError("custom strategy needs at least one layer to keep, got an empty list")
    bad = [i for i in layers if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < num_layers]
    if bad:
        raise ValueError(f"custom layers {bad} are out of range: valid 0-based indices are 0..{num_layers - 1}")
    dupes = sorted({i for i in layers if layers.count(i) > 1})
    if dupes:
        raise ValueError(f"custom layers list {dupes} more than once; list each kept layer once")
    return sorted(layers)


def select_layers(
    strategy: str,
    num_layers: int,
    keep: int | None = None,
    scores: Sequence[float] | None = None,
    layers: Sequence[int] | None = None,
) -> LayerPlan:
    """Pick the layers to keep.

    Args:
        strategy: a key of ``STRATEGIES``.
        num_layers: depth L of the model.
        keep: number of layers to keep, 1..L (ignored for ``custom``, which keeps ``layers``).
        scores: one similarity score per layer, required by ``contribution``.
        layers: the 0-based layers to keep, required by ``custom``.

    Returns:
        A ``LayerPlan`` with sorted kept and dropped indices.

    Raises:
        ValueError: unknown strategy, k out of range, or a bad custom list.
    """
    check_strategy(strategy)
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
    if strategy == "custom":
        if layers is None:
            raise ValueError("strategy 'custom' needs the list of layers to keep (e.g. --layers-kept 0,1,5)")
        kept = validate_custom_layers(num_layers, layers)
        if keep is not None and keep != len(kept):
            raise ValueError(f"keep={keep} disagrees with the {len(kept)} custom layers given")
    else:
        if keep is None:
            raise ValueError(f"strategy {strategy!r} needs the number of layers to keep")
        if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= num_layers:
            raise ValueError(f"keep must be between 1 and {num_layers} (the model's depth), got {keep!r}")
        kept = STRATEGIES[strategy](num_layers, keep, scores)
    dropped = [i for i in range(num_layers) if i not in set(kept)]
    return LayerPlan(strategy=strategy, num_layers=num_layers, kept=kept, dropped=dropped)


def check_strategy(name: str) -> str:
    """Return ``name`` if it is a key of ``STRATEGIES``.

    Raises:
        ValueError: listing the valid names, so a typo is fixed in one go.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; valid strategies: {', '.join(STRATEGIES)}")
    return name


def parse_int_list(text: str | Sequence[int] | None, what: str = "value") -> list[int]:
    """Parse ``"0, 1,5"`` (or an int sequence) into ``[0, 1, 5]``: the one parser for layer and size lists.

    Args:
        text: comma-separated integers; spaces and empty items are ignored.
        what: the flag or field name, for the error message.

    Raises:
        ValueError: an item is not an integer, or the list is empty.
    """
    if text is None:
        raise ValueError(f"{what} needs at least one integer")
    items = [str(x) for x in text] if not isinstance(text, str) else text.replace(" ", "").split(",")
    try:
        values = [int(x) for x in items if x != ""]
    except ValueError:
        raise ValueError(f"{what} expects comma-separated integers (e.g. 0,1,5), got {text!r}") from None
    if not values:
        raise ValueError(f"{what} needs at least one integer, got {text!r}")
    return values
