"""`python -m pruning` as a user runs it: JSON on stdout, one-line errors, exit codes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pruning.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_plan_prints_kept_and_dropped_json(capsys):
    code, out, _ = run_cli(capsys, "plan", "--layers", "12", "--strategy", "alternate-even", "--keep", "8")
    assert code == 0
    assert json.loads(out) == {
        "strategy": "alternate-even",
        "num_layers": 12,
        "keep": 8,
        "kept": [0, 1, 2, 3, 4, 6, 8, 10],
        "dropped": [5, 7, 9, 11],
    }


def test_cli_plan_reads_depth_from_a_model_folder(capsys, tiny_base_dir):
    code, out, _ = run_cli(capsys, "plan", "--model", str(tiny_base_dir), "--strategy", "middle", "--keep", "3")
    assert code == 0 and json.loads(out)["kept"] == [0, 1, 3]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["plan", "--layers", "12", "--strategy", "top", "--keep", "13"], "keep must be between 1 and 12"),
        (["plan", "--layers", "12", "--strategy", "top", "--keep", "0"], "keep must be between 1 and 12"),
        (["plan", "--layers", "12", "--strategy", "shuffle", "--keep", "3"], "invalid choice: 'shuffle'"),
        (["plan", "--layers", "12", "--strategy", "custom", "--layers-kept", "1,1"], "more than once"),
        (["plan", "--layers", "12", "--strategy", "custom", "--layers-kept", "0,12"], "out of range"),
        (
            ["evaluate", "--model", "nope", "--dataset", "SHC"],
            "no cached variant or catalog model named 'nope'.*offline",
        ),
        (["finetune", "--model", "offline-none"], "no cached variant or catalog model named 'offline-none'"),
        (["finetune", "--model", "someone/not-cached"], "Hub cannot be reached.*offline-teacher"),
        (["evaluate", "--model", "/does/not/exist"], "no model folder at /does/not/exist"),
    ],
)
def test_cli_invalid_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run_cli_catching(capsys, argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:")
    assert re.search(message, err), err


def run_cli_catching(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_missing_data_dir_is_one_line(capsys, tiny_base_dir, tmp_path):
    code, _, err = run_cli_catching(capsys, ["finetune", "--model", str(tiny_base_dir), "--data-dir", str(tmp_path)])
    assert code == 2 and "no SHC files" in err and len(err.strip().splitlines()) == 1


def test_cli_finetune_then_evaluate_and_cache_list(capsys, tiny_base_dir, tmp_path):
    cache = str(tmp_path / "cache")
    code, out, _ = run_cli(
        capsys,
        "finetune",
        "--model",
        str(tiny_base_dir),
        "--strategy",
        "top",
        "--keep",
        "1",
        "--epochs",
        "1",
        "--max-train-samples",
        "128",
        "--lr",
        "1e-3",
        "--cache-dir",
        cache,
    )
    assert code == 0
    result = json.loads(out)
    assert result["kept_layers"] == [0] and result["from_cache"] is False
    assert 0 <= result["test"]["accuracy"] <= 1 and result["test"]["num_examples"] == 716

    code, out, _ = run_cli(
        capsys, "evaluate", "--model", result["variant"], "--split", "validation", "--cache-dir", cache
    )
    assert code == 0 and json.loads(out)["num_examples"] == 239  # the validation split

    code, out, _ = run_cli(capsys, "cache", "list", "--cache-dir", cache)
    listing = json.loads(out)
    assert [v["name"] for v in listing["variants"]] == [result["variant"]] and listing["problems"] == []


def test_cli_config_file_is_overridden_by_flags(capsys, tiny_base_dir, tmp_path):
    config = tmp_path / "run.json"
    config.write_text(
        json.dumps(
            {"prune": {"strategy": "bottom", "keep": 2}, "finetune": {"epochs": 1, "max_train_samples": 64, "seed": 3}}
        )
    )
    code, out, _ = run_cli(
        capsys,
        "finetune",
        "--model",
        str(tiny_base_dir),
        "--config",
        str(config),
        "--keep",
        "1",
        "--cache-dir",
        str(tmp_path / "c"),
    )
    assert code == 0 and json.loads(out)["kept_layers"] == [3]
    assert "__s3__" in json.loads(out)["variant"]
    config.write_text(json.dumps({"finetune": {"epochz": 1}}))
    code, _, err = run_cli_catching(capsys, ["finetune", "--model", str(tiny_base_dir), "--config", str(config)])
    assert code == 2 and "unknown FinetuneConfig keys ['epochz']" in err


def test_cli_runs_as_module():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "pruning", "plan", "--layers", "12", "--strategy", "middle", "--keep", "6"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["kept"] == [0, 1, 2, 9, 10, 11]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Text,Label\n", "SHC_Valid.csv has a header but no rows"),
        (b"", "SHC_Valid.csv is empty"),
        (bytes(range(128, 256)) * 20, "SHC_Valid.csv is not UTF-8 text"),
        (b"Text,Label\n" + "बातमी,Sports\n".encode() * 5, "SHC_Valid.csv has 1 usable rows after cleaning"),
    ],
)
def test_cli_bad_data_file_is_one_line_naming_the_file(capsys, tmp_path, content, message):
    (tmp_path / "SHC").mkdir()
    (tmp_path / "SHC" / "SHC_Valid.csv").write_bytes(content)
    code, out, err = run_cli(capsys, "evaluate", "--model", "offline-smaller", "--data-dir", str(tmp_path))
    assert code == 2 and out == ""
    (line,) = [x for x in err.splitlines() if x.startswith("error")]
    assert message in line and "Traceback" not in err


def test_cli_scores_missing_texts_file_is_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "scores", "--model", "offline-smaller", "--texts", str(tmp_path / "none.txt"))
    assert code == 2 and err.strip() == f"error: --texts file {tmp_path / 'none.txt'} not found"


def test_cli_unknown_variant_name_is_not_reported_as_hub_trouble(capsys):
    code, _, err = run_cli(capsys, "evaluate", "--model", "my-variant")
    assert (
        code == 2 and "no cached variant or catalog model named 'my-variant'" in err and "cannot be reached" not in err
    )


def test_cli_cache_verify_and_evaluate_on_a_truncated_variant(capsys, tmp_path, tokenizer):
    from pruning import VariantCache, VariantKey
    from tests.conftest import make_tiny_bert

    cache = VariantCache(tmp_path)
    key = VariantKey.create("offline-smaller", "r", "top", [0], 2, {"dataset": "SHC", "seed": 0})
    path = cache.save(key, make_tiny_bert(len(tokenizer), layers=1), tokenizer, {})
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    code, out, _ = run_cli(capsys, "cache", "verify", "--cache-dir", str(tmp_path))
    assert code == 1 and path.name in json.loads(out)["broken"]
    code, out, _ = run_cli(capsys, "cache", "list", "--cache-dir", str(tmp_path))
    assert json.loads(out)["variants"] == [] and "damaged" in json.loads(out)["problems"][0]["reason"]
    code, _, err = run_cli(capsys, "evaluate", "--model", path.name, "--cache-dir", str(tmp_path))
    assert code == 2 and "damaged" in err and "Traceback" not in err
