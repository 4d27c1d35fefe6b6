"""One dataclass per stage. Each validates itself and round-trips through a plain dict, which is
saved with every variant so a cached model says exactly how it was made."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .strategies import check_strategy

T = TypeVar("T", bound="_Config")

DATASETS = ("SHC", "LPC", "LDC")
# Longest useful input per dataset, in WordPiece tokens. Headlines are short (p99 < 40 tokens
# with MahaBERT's vocabulary), paragraphs run to a few hundred, documents to BERT's limit.
DEFAULT_MAX_LENGTH = {"SHC": 64, "LPC": 256, "LDC": 512}
# PruneConfig's vocabulary fields and their defaults: left out of its dict while they hold them.
VOCAB_DEFAULTS = {"vocab_corpus": None, "vocab_min_count": 1}
# FinetuneConfig fields that only a distilled fine-tune has in its cache key.
DISTIL_FIELDS = ("distil_from", "distil_alpha", "distil_temperature")


class _Config:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {unknown}; valid keys: {sorted(names)}")
        return cls(**data)

    def fingerprint(self) -> str:
        """Short stable hash of the settings, for cache keys."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


@dataclass
class PruneConfig(_Config):
    """How to cut a model.

    Args:
        strategy (str, defaults to "top"): a key of ``pruning.STRATEGIES``.
        keep (int, optional): layers to keep; required except for "custom".
        layers (list[int], optional): 0-based layers to keep, for "custom".
        score_pooling (str, defaults to "cls"): which importance score drives "contribution":
            "cls" (Poor Man's BERT) or "mean" (mean-pooled tokens).
        vocab_corpus (str, optional): a UTF-8 text file (one text a line); when given, the vocabulary is cut
            to the tokens of this corpus plus the training split before fine-tuning (``pruning.vocab``).
            The variant's key holds the file's SHA-256, not its path.
        vocab_min_count (int, defaults to 1): keep only tokens seen at least this often in that text.
    """

    strategy: str = "top"
    keep: int | None = None
    layers: list[int] | None = None
    score_pooling: str = "cls"
    vocab_corpus: str | None = None
    vocab_min_count: int = 1

    def __post_init__(self) -> None:
        check_strategy(self.strategy)
        if self.strategy == "custom" and not self.layers:
            raise ValueError("strategy 'custom' needs `layers`, the 0-based layers to keep")
        if self.strategy != "custom" and self.keep is None:
            raise ValueError(f"strategy {self.strategy!r} needs `keep`, the number of layers to keep")
        if self.keep is not None and (isinstance(self.keep, bool) or not isinstance(self.keep, int) or self.keep < 1):
            raise ValueError(f"keep must be a positive integer, got {self.keep!r}")
        if self.score_pooling not in ("cls", "mean"):
            raise ValueError(f"score_pooling must be 'cls' or 'mean', got {self.score_pooling!r}")
        if self.vocab_corpus is not None:
            if not isinstance(self.vocab_corpus, str | os.PathLike) or not str(self.vocab_corpus).strip():
                raise ValueError(f"vocab_corpus must be a text file path, got {self.vocab_corpus!r}")
            self.vocab_corpus = str(self.vocab_corpus)
        m = self.vocab_min_count
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"vocab_min_count must be a positive integer, got {m!r}")

    def to_dict(self) -> dict[str, Any]:
        """The settings; without the vocabulary fields while they hold their defaults.

        Saved records and job specs made before vocabulary pruning existed hold this dict, so a config
        that does not prune the vocabulary keeps exactly the dict it had then.
        """
        data = super().to_dict()
        for name, default in VOCAB_DEFAULTS.items():
            if data[name] == default:
                data.pop(name)
        return data


@dataclass
class FinetuneConfig(_Config):
    """How to fine-tune a (pruned) model on a MahaNews task.

    Args:
        dataset (str, defaults to "SHC"): "SHC" (headlines), "LPC" (paragraphs) or "LDC" (documents).
        epochs (float, defaults to 3): passes over the training split.
        learning_rate (float, defaults to 5e-5): peak AdamW learning rate (BERT fine-tuning range).
        batch_size (int, defaults to 32): examples per step.
        max_length (int, optional): token limit; defaults to the dataset's (64 / 256 / 512).
        warmup_ratio (float, defaults to 0.1): share of steps with linear warm-up.
        weight_decay (float, defaults to 0.01): AdamW decay, not applied to biases and LayerNorm.
        seed (int, defaults to 42): seed for shuffling, dropout and the classifier head.
        max_train_samples (int, optional): cap on training examples (stratified), for quick runs.
        max_eval_samples (int, optional): cap on dev examples used to pick the best epoch.
        eval_steps (int, optional): also evaluate every this many steps; by default once an epoch.
        mixed_precision (str, defaults to "auto"): "auto" (bf16 autocast where the hardware runs it
            natively: recent GPUs and AVX512-BF16/AMX CPUs; fp16 on older GPUs; else fp32), "bf16",
            "fp16" (GPU only) or "no".
        distil_from (str, optional): a cached fine-tuned variant (name or unique prefix) whose logits teach the
            model while it trains (``pruning.distil``); None trains on labels alone.
        distil_alpha (float, defaults to 0.5): weight of the label loss; the teacher's gets ``1 - alpha``. An
            even split: the teacher is itself only as good as its test accuracy, so the labels keep the
            student anchored where the teacher is wrong.
        distil_temperature (float, defaults to 2.0): softening ``T`` of both distributions. 2 lifts the
            teacher's ranking of the wrong topics into view without flattening 12 classes to near-uniform,
            at the low end of Hinton et al.'s 2-5 (a small student cannot follow a very soft target).
    """

    dataset: str = "SHC"
    epochs: float = 3.0
    learning_rate: float = 5e-5
    batch_size: int = 32
    max_length: int | None = None
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    seed: int = 42
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    eval_steps: int | None = None
    mixed_precision: str = "auto"
    distil_from: str | None = None
    distil_alpha: float = 0.5
    distil_temperature: float = 2.0

    def __post_init__(self) -> None:
        self.dataset = str(self.dataset).upper()
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; valid datasets: {', '.join(DATASETS)}")
        if not self.epochs > 0:
            raise ValueError(f"epochs must be > 0, got {self.epochs}")
        # One spelling per value in the cache key: `--epochs 4` parses as 4.0 while presets and the bundled
        # variants say 4, and the two spellings hashed to different variants (the same run trained twice).
        if float(self.epochs).is_integer():
            self.epochs = int(self.epochs)
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_length is not None and not 8 <= self.max_length <= 8192:
            raise ValueError(f"max_length must be between 8 and 8192 tokens, got {self.max_length}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        for name in ("max_train_samples", "max_eval_samples", "eval_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 when given, got {value}")
        if self.mixed_precision not in ("auto", "bf16", "fp16", "no"):
            raise ValueError(f"mixed_precision must be auto, bf16, fp16 or no, got {self.mixed_precision!r}")
        if self.distil_from is not None and (not isinstance(self.distil_from, str) or not self.distil_from.strip()):
            raise ValueError(f"distil_from must be a cached variant name, got {self.distil_from!r}")
        if isinstance(self.distil_alpha, bool) or not 0 <= self.distil_alpha <= 1:
            raise ValueError(f"distil_alpha must be in [0, 1], got {self.distil_alpha!r}")
        if isinstance(self.distil_temperature, bool) or not self.distil_temperature > 0:
            raise ValueError(f"distil_temperature must be > 0, got {self.distil_temperature!r}")

    def to_dict(self) -> dict[str, Any]:
        """The settings; without the distillation fields when there is no teacher.

        This dict is the variant cache key (``VariantKey``), so plain fine-tuning must keep the dict it had
        before distillation existed: the bundled variants and every user's cache are keyed by it.
        """
        data = super().to_dict()
        if self.distil_from is None:
            for name in DISTIL_FIELDS:
                data.pop(name)
        return data

    @property
    def effective_max_length(self) -> int:
        return self.max_length or DEFAULT_MAX_LENGTH[self.dataset]

    def max_length_for(self, model) -> int:
        """The token limit for `model`: this run's limit, capped at the positions the model has."""
        return min(self.effective_max_length, model.config.max_position_embeddings)


BACKENDS = ("torch", "onnx", "onnx-int8", "torch-fp16", "torch-bf16", "onnx-cuda-fp16")


@dataclass
class BenchConfig(_Config):
    """What to time.

    Args:
        backends (list[str], defaults to ["torch"]): any of ``BACKENDS``.
        batch_sizes (list[int], defaults to [1]): batch sizes to time.
        seq_lengths (list[int], defaults to [64]): padded sequence lengths to time.
        warmup (int, defaults to 5): untimed runs first (allocator, oneDNN kernel selection).
        repeats (int, defaults to 30): timed runs; p50/p90 are taken over these.
        threads (int, optional): torch / ONNX Runtime intra-op threads; defaults to all cores.
        device (str, defaults to "cpu"): "cpu" or "cuda".
    """

    backends: list[str] = field(default_factory=lambda: ["torch"])
    batch_sizes: list[int] = field(default_factory=lambda: [1])
    seq_lengths: list[int] = field(default_factory=lambda: [64])
    warmup: int = 5
    repeats: int = 30
    threads: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        unknown = [b for b in self.backends if b not in BACKENDS]
        if unknown or not self.backends:
            raise ValueError(f"unknown backend(s) {unknown}; valid backends: {', '.join(BACKENDS)}")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise ValueError(f"batch sizes must be >= 1, got {self.batch_sizes}")
        if not self.seq_lengths or any(s < 1 for s in self.seq_lengths):
            raise ValueError(f"sequence lengths must be >= 1, got {self.seq_lengths}")
        if self.warmup < 0 or self.repeats < 1:
            raise ValueError(f"need warmup >= 0 and repeats >= 1, got {self.warmup} and {self.repeats}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")


EXPORTERS = ("auto", "torchscript", "dynamo")


@dataclass
class ExportConfig(_Config):
    """How to export a variant to ONNX Runtime and check it against PyTorch.

    Args:
        opset (int, defaults to 17): ONNX opset of the exported graph (the dynamo exporter uses at least 18).
        exporter (str, defaults to "auto"): "torchscript" (``torch.onnx.export(dynamo=False)``: the graph ORT's
            BERT fusions recognise), "dynamo" (torch.export based; exports fine, attention stays unfused) or
            "auto" (torchscript, then dynamo if it fails).
        optimize (bool, defaults to True): apply ONNX Runtime's BERT fusions (attention, LayerNorm, GELU, embedding).
        quantize_embeddings (bool, defaults to True): INT8-quantize the embedding lookups too, so that the word
            embedding (most of a 197k-vocabulary model) shrinks; False quantizes only MatMul / Attention.
        per_channel (bool, defaults to False): per-channel INT8 weight scales.
        reduce_range (bool, defaults to False): 7-bit weights (for CPUs without VNNI that saturate in u8s8 maths).
        check_texts (int, defaults to 256): real headlines classified to compare ONNX with PyTorch.
        check_max_length (int, defaults to 64): token limit for those texts.
        fp32_tolerance (float, defaults to 1e-3): largest allowed |logit difference| of the fp32 export.
        int8_min_agreement (float, defaults to 0.99): smallest share of unchanged labels for INT8 / fp16 exports.
    """

    opset: int = 17
    exporter: str = "auto"
    optimize: bool = True
    quantize_embeddings: bool = True
    per_channel: bool = False
    reduce_range: bool = False
    check_texts: int = 256
    check_max_length: int = 64
    fp32_tolerance: float = 1e-3
    int8_min_agreement: float = 0.99

    def __post_init__(self) -> None:
        if isinstance(self.opset, bool) or not isinstance(self.opset, int) or not 14 <= self.opset <= 23:
            raise ValueError(f"opset must be an integer between 14 and 23, got {self.opset!r}")
        if self.exporter not in EXPORTERS:
            raise ValueError(f"unknown exporter {self.exporter!r}; valid exporters: {', '.join(EXPORTERS)}")
        if self.check_texts < 1:
            raise ValueError(f"check_texts must be >= 1, got {self.check_texts}")
        if not 8 <= self.check_max_length <= 8192:
            raise ValueError(f"check_max_length must be between 8 and 8192 tokens, got {self.check_max_length}")
        if not 0 < self.fp32_tolerance < 1:
            raise ValueError(f"fp32_tolerance must be in (0, 1), got {self.fp32_tolerance}")
        if not 0 < self.int8_min_agreement <= 1:
            raise ValueError(f"int8_min_agreement must be in (0, 1], got {self.int8_min_agreement}")
