"""Build the project's own small Marathi BERT family offline: one tokenizer, three MLM-pretrained models.

Why: the paper compares a pruned 12-layer Marathi BERT with 6- and 2-layer models pretrained from
scratch. The real models are large and need the network; this package makes a miniature family with
the same structure (12-layer teacher, 6- and 2-layer scratch models, same width, same data, same token
budget) that runs anywhere, so the app and the experiments work fully offline.

Modules, in the order a run uses them:

* ``config``: ``PretrainConfig`` (one for the family) and the ``FAMILY`` table.
* ``corpus``: corpus reading, held-out split, packing, batching and masking; ``tokenizer``: WordPiece.
* ``pretrain``: LR schedule, masked-LM loss, held-out evaluation, the resumable training loop.
* ``checkpoint``: the run folder (family config, ``checkpoint.pt`` per model, RNG state).
* ``export`` + ``cards``: fp16 ``from_pretrained`` folders with ``build_info.json`` and a model card.
* ``family``: the whole family in one call; ``pack``: compact copies of a run that move between machines.
* ``cli``: ``python -m models.build_offline`` (the only module that imports ``pruning``, lazily).

Usage::

    python -m models.build_offline --threads 1                 # tokenizer, then teacher, small, smaller
    python -m models.build_offline --export-only               # snapshot current checkpoints to models/offline
    python -m models.build_offline --budget-tokens 20000000    # extend a finished run
    python -m models.build_offline --pack DIR                  # compact copy of the run (commit or copy it)
    python -m models.build_offline --unpack DIR                # restore it; the next call resumes
"""

from .checkpoint import default_root, resolve_config
from .config import FAMILY, PretrainConfig
from .corpus import PretrainData, prepare_data
from .export import export_model
from .family import build_family, export_family
from .pack import pack_run, unpack_run
from .pretrain import train_model
from .tokenizer import load_tokenizer

__all__ = [
    "FAMILY",
    "PretrainConfig",
    "PretrainData",
    "build_family",
    "default_root",
    "export_family",
    "export_model",
    "load_tokenizer",
    "pack_run",
    "prepare_data",
    "resolve_config",
    "train_model",
    "unpack_run",
]
