"""Vocabulary pruning: cut a model's word embedding (and tokenizer) to the tokens a corpus uses.

A family of its own, like ``speed/``: the corpus (read, hash, count), the pruning itself (embedding rows and
tokenizer JSON), size previews for the UI, and the ``vocab`` subcommand. The library above it
(``pipeline.build_variant``) and the app import from here.
"""

from .corpus import CorpusError, corpus_sha256, corpus_token_counts, read_corpus, token_counts
from .prune import VocabReport, kept_ids, prune_vocabulary, pruned_tokenizer, save_pruned, unchanged_share
from .sizes import classifier_params, size_preview

__all__ = [
    "CorpusError",
    "VocabReport",
    "classifier_params",
    "corpus_sha256",
    "corpus_token_counts",
    "kept_ids",
    "prune_vocabulary",
    "pruned_tokenizer",
    "read_corpus",
    "save_pruned",
    "size_preview",
    "token_counts",
    "unchanged_share",
]
