"""Layer pruning of BERT models for Marathi text classification: the public API.

``app.py`` and ``pruning.cli`` import only from here and from ``models``.
"""

__version__ = "0.4.0"

from .cache import CacheEntryError, VariantCache, VariantKey, VariantNotFoundError
from .config import BACKENDS, DATASETS, BenchConfig, ExportConfig, FinetuneConfig, PruneConfig
from .data import (
    LABELS,
    CleaningReport,
    DataFileError,
    DataNotFoundError,
    load_mahanews,
    normalise_text,
    repair_mojibake,
)
from .distil import distillation_loss, teacher_candidates
from .evaluate import classification_metrics, evaluate_model, majority_baseline, predict_logits
from .finetune import FinetuneCancelled, FinetuneResult, TrainEvent, finetune
from .gpu import finetune_seconds, gpu_task
from .importance import LayerScores, compute_layer_scores
from .pipeline import Variant, build_variant, plan_for
from .speed import OnnxClassifier, benchmark_torch, count_parameters, export_variant, time_single_request
from .strategies import STRATEGIES, LayerPlan, check_strategy, parse_int_list, select_layers
from .surgery import UnsupportedModelError, encoder_layers, num_layers, provenance, prune_layers
from .vocab import CorpusError, VocabReport, prune_vocabulary, read_corpus, size_preview, unchanged_share

__all__ = [
    "BACKENDS",
    "DATASETS",
    "LABELS",
    "STRATEGIES",
    "BenchConfig",
    "CacheEntryError",
    "CleaningReport",
    "CorpusError",
    "ExportConfig",
    "OnnxClassifier",
    "DataFileError",
    "DataNotFoundError",
    "FinetuneCancelled",
    "FinetuneConfig",
    "FinetuneResult",
    "LayerPlan",
    "LayerScores",
    "PruneConfig",
    "TrainEvent",
    "UnsupportedModelError",
    "Variant",
    "VariantCache",
    "VariantKey",
    "VariantNotFoundError",
    "VocabReport",
    "benchmark_torch",
    "build_variant",
    "classification_metrics",
    "compute_layer_scores",
    "count_parameters",
    "distillation_loss",
    "encoder_layers",
    "evaluate_model",
    "export_variant",
    "finetune",
    "finetune_seconds",
    "gpu_task",
    "load_mahanews",
    "majority_baseline",
    "normalise_text",
    "num_layers",
    "plan_for",
    "predict_logits",
    "provenance",
    "read_corpus",
    "prune_layers",
    "prune_vocabulary",
    "repair_mojibake",
    "select_layers",
    "size_preview",
    "teacher_candidates",
    "check_strategy",
    "parse_int_list",
    "time_single_request",
    "unchanged_share",
]
