"""Logit distillation: a fine-tuned full model teaches its pruned copy while the copy is fine-tuned.

Why: both layer-pruning papers (Shirke et al. 2025; Sajjad et al., "Poor Man's BERT") fine-tune the pruned
model on labels alone. Matching the fine-tuned full model's softened class distribution as well
(Hinton et al. 2015; DistilBERT's logit loss) is the standard way to win back part of what the cut layers
knew, at no cost at inference time: only training runs the teacher.

The teacher is a cached (or bundled) fine-tuned variant, named like every variant. A student's cache key
holds the teacher's full variant name, which ends in the digest of the teacher's own key, so the key
says exactly which weights taught it and never depends on where the cache lives on disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from .cache import CacheEntryError, VariantCache, VariantKey
from .data import LABELS

if TYPE_CHECKING:
    from .config import FinetuneConfig

logger = logging.getLogger(__name__)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 0.5,
    temperature: float = 2.0,
) -> torch.Tensor:
    """``alpha * CE(student, labels) + (1 - alpha) * T^2 * KL(teacher_T || student_T)``, a scalar.

    ``teacher_T`` and ``student_T`` are the softmax of the logits divided by ``T``. The KL term is averaged
    over the batch (``batchmean``: the true KL per example, the same scale as the mean cross-entropy), and
    multiplied by ``T^2`` because softening by ``T`` shrinks its gradients by ``1/T^2`` (Hinton et al. 2015):
    with the factor, ``alpha`` weighs the two terms the same way whatever ``T`` is. Computed in fp32 even
    under bf16 autocast, where a softmax over 12 classes would lose the small probabilities it is about.

    Args:
        student_logits: (batch, classes), with gradients.
        teacher_logits: (batch, classes), the teacher's logits on the same batch (no gradients needed).
        labels: (batch,) class ids.
        alpha: weight of the label loss; 1 is plain fine-tuning, 0 is pure distillation.
        temperature: softening ``T`` of both distributions.

    Returns:
        The loss, a 0-d fp32 tensor.
    """
    student, teacher = student_logits.float(), teacher_logits.float()
    hard = F.cross_entropy(student, labels)
    soft = F.kl_div(
        F.log_softmax(student / temperature, dim=-1),
        F.log_softmax(teacher / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    return alpha * hard + (1.0 - alpha) * temperature**2 * soft


def teacher_logits(teacher: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The teacher's logits (batch, classes) on a training batch, as an ordinary tensor the loss may save.

    The forward runs under ``inference_mode`` (no graph, no activations kept); the (batch x 12) result is
    cloned outside it into an ordinary tensor, because autograd refuses to save inference tensors for a
    backward pass, which any loss that used the logits as they are (an MSE on logits, say) would need.
    """
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.inference_mode():
        logits = teacher(**inputs).logits
    return logits.clone()


def vocabulary_digest(tokenizer: Any) -> str:
    """A hash of ``tokenizer``'s vocabulary (token -> id, added tokens included): equal means same input ids."""
    vocab = sorted(tokenizer.get_vocab().items())
    return hashlib.sha1(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()[:12]


@dataclass
class Teacher:
    """A cached fine-tuned variant chosen to teach, checked against the dataset's labels.

    Args:
        name (str): its full variant folder name (ends in its key digest).
        path (Path): the folder it was found in (the user's cache or the bundled one).
        record (dict): its variant.json.
    """

    name: str
    path: Path
    record: dict

    @property
    def digest(self) -> str:
        return VariantKey.from_dict(self.record["key"]).digest

    def provenance(self, config: FinetuneConfig) -> dict:
        """What a distilled variant's record says about how it was taught."""
        key = self.record["key"]
        return {
            "teacher": self.name,
            "teacher_digest": self.digest,
            "teacher_base_model": key["base_model"],
            "teacher_strategy": key["strategy"],
            "teacher_layers": len(key["kept_layers"]),
            "teacher_test_accuracy": (self.record.get("test_metrics") or {}).get("accuracy"),
            "alpha": config.distil_alpha,
            "temperature": config.distil_temperature,
        }

    def check_student(self, tokenizer: Any, max_length: int) -> None:
        """Raise ValueError unless the teacher reads the student's inputs as the student does.

        Distillation compares logits on the same token ids: a teacher with another vocabulary would be
        scoring different text, and one with fewer positions than the batches would fail mid-training.
        """
        from transformers import AutoConfig, AutoTokenizer

        theirs = AutoTokenizer.from_pretrained(self.path)
        if vocabulary_digest(theirs) != vocabulary_digest(tokenizer):
            raise ValueError(
                f"teacher {self.name} has another vocabulary ({len(theirs):,} tokens) than the student's base "
                f"({len(tokenizer):,} tokens): logits on the same input ids would not describe the same text; "
                "pick a teacher fine-tuned from the same base (see pruning.teacher_candidates)"
            )
        positions = AutoConfig.from_pretrained(self.path).max_position_embeddings
        if positions < max_length:
            raise ValueError(
                f"teacher {self.name} reads at most {positions} tokens but the student trains on up to "
                f"{max_length}; lower --max-length to {positions} or pick another teacher"
            )

    def load(self, cache: VariantCache) -> nn.Module:
        """The teacher model, fp32, in eval mode."""
        model, _, _ = cache.load(self.name)
        return model.eval()


def resolve_teacher(name: str, dataset: str, cache: VariantCache) -> Teacher:
    """The cached variant ``name`` (full name or unique prefix), checked to be a fit teacher for ``dataset``.

    Cheap: reads the record and config.json only, so a bad teacher fails before any model is loaded.

    Raises:
        ValueError: no such variant (or an ambiguous prefix), or it was fine-tuned on another dataset or
            predicts other labels than MahaNews's.
    """
    try:
        path = cache.find(name)
        record = cache.read_record(path)
    except CacheEntryError as exc:
        raise ValueError(
            f"teacher variant {name!r} cannot be used: {exc}; fine-tune the full model first "
            "(`python -m pruning finetune --model BASE --dataset ...`) and pass its variant name"
        ) from None
    trained_on = record["key"]["dataset"]
    if trained_on != dataset:
        raise ValueError(
            f"teacher {path.name} was fine-tuned on {trained_on}, the student on {dataset}: its logits are for "
            f"another task; pick a teacher fine-tuned on {dataset}"
        )
    labels = _labels(path)
    if labels != list(LABELS):
        raise ValueError(
            f"teacher {path.name} predicts labels {labels}, not MahaNews's {list(LABELS)} in that order; "
            "pick a teacher fine-tuned by this project"
        )
    return Teacher(path.name, path, record)


def _labels(folder: Path) -> list[str]:
    """The class names of a saved classifier, in logit order (from its config.json)."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    id2label = config.get("id2label") or {}
    return [id2label[k] for k in sorted(id2label, key=int)]


def teacher_candidates(base: str, dataset: str, cache: VariantCache | None = None) -> list[dict]:
    """Cached variants that can teach a pruned ``base`` on ``dataset``: its full (unpruned) fine-tuned ones.

    Only variants trained on labels (not distilled themselves) are listed, best test accuracy first; each
    record's ``name`` is what ``FinetuneConfig.distil_from`` takes.

    Args:
        base: the base model as the variants were built from it (catalog name, hub id or folder).
        dataset: "SHC", "LPC" or "LDC".
        cache: where to look; the default cache when None (pass one with ``bundled`` to include those).
    """
    cache = cache or VariantCache()
    found = [
        r
        for r in cache.list().records
        if r["key"]["base_model"] == base
        and r["key"]["strategy"] == "full"
        and r["key"]["dataset"] == str(dataset).upper()
        and not r["key"]["finetune"].get("distil_from")
    ]
    return sorted(found, key=lambda r: (-(r.get("test_metrics") or {}).get("accuracy", 0.0), r["name"]))
