"""``python -m models.build_offline``: build, export, pack and unpack from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from build_helpers import TINY

from models.build_offline.checkpoint import default_root
from models.build_offline.cli import load_news_texts, main


def _tiny_flags(corpus: Path) -> list[str]:
    flags = ["--corpus", str(corpus), "--no-news", "--quiet", "--threads", "1", "--models", "smaller"]
    for key, value in TINY.items():
        if key != "news_datasets":
            flags += ["--set", f"{key}={json.dumps(value)}"]
    return flags


def test_cli_builds_exports_packs_unpacks_and_resumes(tiny_corpus: Path, tmp_path: Path, capsys) -> None:
    root, out, pack, moved = tmp_path / "root", tmp_path / "out", tmp_path / "pack", tmp_path / "moved"
    common = ["--checkpoint-dir", str(root), "--out-dir", str(out)]
    assert main([*common, *_tiny_flags(tiny_corpus), "--budget-tokens", str(16 * 32 * 4)]) == 0
    assert "smaller: step 4 done=True" in capsys.readouterr().out
    assert (out / "mini-scratch-2l" / "model.safetensors").is_file()
    assert main(["--checkpoint-dir", str(root), "--pack", str(pack), "--pack-data"]) == 0
    assert f"smaller: step 4 ({4 * 512:,} tokens) packed -> {pack}" in capsys.readouterr().out
    assert main(["--checkpoint-dir", str(moved), "--unpack", str(pack)]) == 0
    assert "smaller: step 4 restored" in capsys.readouterr().out
    # On the new machine: no corpus (the pack carries the data), a larger budget extends the run from step 4.
    extend = ["--checkpoint-dir", str(moved), "--out-dir", str(out), "--models", "smaller", "--quiet"]
    assert main([*extend, "--corpus", str(tmp_path / "gone.txt"), "--budget-tokens", str(16 * 32 * 6)]) == 0
    assert "smaller: step 6 done=True" in capsys.readouterr().out
    info = json.loads((out / "mini-scratch-2l" / "build_info.json").read_text())
    assert info["steps"] == 6 and [s["start_step"] for s in info["sessions"]] == [0, 4]
    assert main(["--checkpoint-dir", str(moved), "--export-only", "--out-dir", str(tmp_path / "snap")]) == 0
    assert (tmp_path / "snap" / "mini-scratch-2l" / "config.json").is_file()


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    assert main(["--checkpoint-dir", str(tmp_path), "--unpack", str(tmp_path / "nothing")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "--pack" in captured.err and not captured.out
    assert main(["--checkpoint-dir", str(tmp_path), "--pack", str(tmp_path / "p")]) == 2
    with pytest.raises(SystemExit, match="unknown --models"):
        main(["--models", "giant"])
    with pytest.raises(SystemExit):
        main(["--pack", "a", "--unpack", "b"])  # one mode at a time


def test_cli_default_root_follows_marathi_prune_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARATHI_PRUNE_HOME", str(tmp_path))
    assert default_root() == tmp_path / "pretrain"


def test_load_news_texts_reads_the_training_split() -> None:
    from pruning.data import load_mahanews

    news_dir = os.environ["MAHANEWS_DIR"]  # set by tests/conftest.py to the shared data
    texts = load_news_texts(["SHC"], news_dir)
    train = load_mahanews("SHC", data_dir=news_dir, download=False)[0]["train"]["text"]
    assert texts == [unicodedata.normalize("NFC", t) for t in train if t.strip()]
    assert load_news_texts([], news_dir) == []
    assert load_news_texts(["LDC"], news_dir) == []  # missing data: logged, not fatal


def test_python_m_models_build_offline_runs() -> None:
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "models.build_offline", "--help"], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "--pack DIR" in proc.stdout and "--unpack DIR" in proc.stdout
