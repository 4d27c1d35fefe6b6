"""`python -m pruning vocab` as a user runs it: a loadable folder and JSON on success, one-line errors."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from pruning import VariantCache, VariantKey, prune_layers
from pruning.cli import main
from tests.conftest import make_tiny_bert


def run(capsys, argv) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_vocab_prunes_layers_and_vocabulary_into_a_loadable_folder(capsys, tiny_base_dir, corpus_file, tmp_path):
    out = tmp_path / "pruned"
    argv = ["vocab", "--model", str(tiny_base_dir), "--corpus", str(corpus_file), "--out", str(out)]
    code, stdout, _ = run(capsys, argv + ["--keep", "2", "--strategy", "middle", "--add-train", "SHC"])
    assert code == 0
    summary = json.loads(stdout)
    assert summary["layers"] == {"before": 4, "after": 2} and summary["train_texts"] == 1431
    assert summary["tokens"]["before"] > summary["tokens"]["after"] > 100
    assert summary["mb_fp32"]["after"] < summary["mb_fp32"]["original"]
    assert 0.5 < summary["test_unchanged_share"] < 1  # 300 corpus lines + train cannot cover every test headline

    record = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
    assert record["corpus_sha256"] == hashlib.sha256(corpus_file.read_bytes()).hexdigest()
    assert record["min_count"] == 1 and record["layers"]["kept"] == [0, 3]
    assert len(record["kept_tokens"]) == len(record["kept_ids"]) == summary["tokens"]["after"]
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.num_hidden_layers == 2 and model.config.vocab_size == len(tokenizer)
    assert tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))) == record["kept_tokens"]

    # The saved model reads a corpus line as the original cut to the same layers reads it.
    original = prune_layers(AutoModelForSequenceClassification.from_pretrained(tiny_base_dir).eval(), [0, 3])
    original_tokenizer = AutoTokenizer.from_pretrained(tiny_base_dir)
    text = corpus_file.read_text(encoding="utf-8").splitlines()[0]
    assert tokenizer.tokenize(text) == original_tokenizer.tokenize(text)
    with torch.inference_mode():
        mine = model(**tokenizer(text, return_tensors="pt")).logits
        theirs = original(**original_tokenizer(text, return_tensors="pt")).logits
    torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-6)


def test_cli_vocab_takes_a_cached_variant_by_name(capsys, tokenizer, corpus_file, tmp_path):
    key = VariantKey.create("offline-smaller", "r", "top", [0, 1], 2, {"dataset": "SHC", "seed": 0})
    VariantCache().save(key, make_tiny_bert(len(tokenizer), layers=2), tokenizer, {"test_metrics": {}})
    out = tmp_path / "variant-vocab"
    code, stdout, _ = run(
        capsys, ["vocab", "--model", key.dirname[:25], "--corpus", str(corpus_file), "--out", str(out)]
    )
    assert code == 0 and json.loads(stdout)["architecture"] == "BertForSequenceClassification"
    assert json.loads((out / "vocab.json").read_text())["source"].endswith(key.dirname)


def test_cli_vocab_replaces_its_own_output_but_no_other_folder(capsys, tiny_base_dir, corpus_file, tmp_path):
    out = tmp_path / "pruned"
    argv = ["vocab", "--model", str(tiny_base_dir), "--corpus", str(corpus_file), "--out", str(out)]
    assert run(capsys, argv)[0] == 0
    assert run(capsys, argv + ["--min-count", "3"])[0] == 0  # an earlier vocab output is replaced
    assert json.loads((out / "vocab.json").read_text())["min_count"] == 3
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    code, _, err = run(capsys, argv[:-1] + [str(other)])
    assert code == 2 and "is not a vocabulary-pruned model folder" in err
    assert (other / "notes.txt").read_text() == "keep me"


BAD_FILES = {
    "missing": None,
    "binary": b"\x7fELF\x02\x01\x01\x00\x00\x00",
    "not-utf8": "बातमी\n".encode() + "café\n".encode("latin-1"),
    "empty": b"\n \n",
    "latin-only": b"hello world\nthe quick brown fox\n",
}


@pytest.mark.parametrize(
    "case,message",
    [
        ("missing", "corpus file .* not found"),
        ("binary", "looks binary"),
        ("not-utf8", "is not UTF-8"),
        ("empty", "holds no text"),
        ("latin-only", "covers no token beyond the special ones"),
        ("unknown-model", "no cached variant or catalog model named 'nope'"),
        ("strategy-without-keep", "--strategy needs --keep"),
        ("bad-min-count", "min_count must be a positive integer, got 0"),
    ],
)
def test_cli_vocab_bad_input_is_one_line_and_exit_2(capsys, tiny_base_dir, corpus_file, tmp_path, case, message):
    corpus = tmp_path / "corpus.txt"
    if case in BAD_FILES and BAD_FILES[case] is not None:
        corpus.write_bytes(BAD_FILES[case])
    elif case not in BAD_FILES:
        corpus = corpus_file
    model = "nope" if case == "unknown-model" else str(tiny_base_dir)
    argv = ["vocab", "--model", model, "--corpus", str(corpus), "--out", str(tmp_path / "out")]
    argv += {"strategy-without-keep": ["--strategy", "top"], "bad-min-count": ["--min-count", "0"]}.get(case, [])
    code, stdout, err = run(capsys, argv)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:"), err
    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        ([], "--vocab-corpus needs a layer plan too: add --keep K"),
        (["--keep", "2"], "corpus file .*missing.txt not found"),  # checked before the model is loaded
        (["--keep", "2", "--vocab-min-count", "0"], "vocab_min_count must be a positive integer, got 0"),
    ],
)
def test_cli_finetune_vocab_corpus_errors_are_one_line(capsys, tiny_base_dir, tmp_path, extra, message):
    argv = ["finetune", "--model", str(tiny_base_dir), "--vocab-corpus", str(tmp_path / "missing.txt"), *extra]
    code, stdout, err = run(capsys, argv)
    assert code == 2 and stdout == "" and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
