"""The family's WordPiece tokenizer: trained once per run, shared by all three models."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .config import SPECIAL_TOKENS

logger = logging.getLogger(__name__)


def train_tokenizer(texts: list[str], vocab_size: int, out_dir: str | os.PathLike, model_max_length: int) -> Any:
    """Train a cased, accent-keeping WordPiece tokenizer with NFC normalisation and save it.

    Devanagari vowel signs and anusvara are Unicode combining marks; BERT's ``strip_accents`` would
    delete them, so it is off, as is lower-casing.

    Args:
        texts: training texts (never held-out or test text).
        vocab_size: WordPiece vocabulary size.
        out_dir: folder for the tokenizer files.
        model_max_length: longest input the models accept.

    Returns:
        The tokenizer as loaded back by ``load_tokenizer``.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.NFC(),
            normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
            ),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        continuing_subword_prefix="##",
        limit_alphabet=min(1000, vocab_size // 4),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = BertTokenizerFast(
        tokenizer_object=tok,
        do_lower_case=False,
        strip_accents=False,
        tokenize_chinese_chars=True,
        model_max_length=model_max_length,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    # transformers 5 rebuilds a BertTokenizer's pipeline from its options (dropping NFC); the generic fast
    # class loads tokenizer.json verbatim. BertTokenizerFast.from_pretrained still works on these files.
    conf_path = Path(out_dir) / "tokenizer_config.json"
    conf = json.loads(conf_path.read_text())
    conf["tokenizer_class"] = "PreTrainedTokenizerFast"
    conf["model_input_names"] = ["input_ids", "token_type_ids", "attention_mask"]
    conf_path.write_text(json.dumps(conf, indent=2, sort_keys=True) + "\n")
    fast = load_tokenizer(out_dir)
    logger.info("tokenizer: %d tokens -> %s", len(fast), out_dir)
    return fast


def load_tokenizer(path: str | os.PathLike) -> Any:
    """Load a saved family tokenizer (``tokenizer.json`` verbatim, NFC normaliser included)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def special_ids(tokenizer: Any) -> list[int]:
    """Ids of the special tokens that are never masked or predicted."""
    return [tokenizer.convert_tokens_to_ids(t) for t in ("[PAD]", "[CLS]", "[SEP]", "[MASK]")]
