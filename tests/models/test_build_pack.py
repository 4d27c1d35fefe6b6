"""Packs: a compact copy of a run that resumes elsewhere at the same step and data position."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from build_helpers import history, train

from models.build_offline.checkpoint import CHECKPOINT_NAME, model_dir, read_checkpoint, resolve_config
from models.build_offline.config import FAMILY, PretrainConfig
from models.build_offline.corpus import prepare_data
from models.build_offline.pack import MANIFEST_NAME, pack_run, read_manifest, unpack_run


@pytest.fixture(scope="module")
def packed_run(tiny_setup, tmp_path_factory: pytest.TempPathFactory) -> tuple[PretrainConfig, Path, Path]:
    """A run stopped at step 5 of 12 in its root, and its pack."""
    cfg, _, tok_dir = tiny_setup
    base = tmp_path_factory.mktemp("packed")
    root = base / "root"
    short = resolve_config(root, {**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 12})
    shutil.copytree(tok_dir, root / "tokenizer")
    data = prepare_data(short, root / "tokenizer", cache_dir=root / "cache")
    train(short, data, root / "tokenizer", model_dir(root, "smaller"), max_steps_this_call=5)
    pack_run(root, base / "pack", command="pytest --pack", data=True)
    return short, root, base / "pack"


def test_pack_leaves_the_text_out_unless_asked(packed_run, tmp_path: Path) -> None:
    _, root, _ = packed_run
    manifest = pack_run(root, tmp_path / "no-data")  # what gets committed: no copy of the CC BY-NC-SA text
    assert manifest["data"] is None and not (tmp_path / "no-data" / "data.pt").exists()
    assert "WITHOUT packed data" in (tmp_path / "no-data" / "README.md").read_text()


def test_pack_is_compact_and_self_describing(packed_run) -> None:
    cfg, root, pack = packed_run
    manifest = read_manifest(pack)
    entry = manifest["models"]["smaller"]
    assert list(manifest["models"]) == ["smaller"]  # only members with a checkpoint
    assert (entry["step"], entry["sequences_seen"], entry["tokens_seen"]) == (5, 5 * cfg.batch_size, 5 * 512)
    assert entry["heldout"]["mlm_loss"] > 0 and not entry["done"] and entry["tokens_per_second"] > 0
    blob = torch.load(pack / entry["file"], weights_only=False)
    assert {t.dtype for t in blob["model"].values()} == {torch.float32}
    moments = [v for s in blob["optimizer"]["state"].values() for k, v in s.items() if k.startswith("exp_avg")]
    assert moments and {m.dtype for m in moments} == {torch.bfloat16}
    assert len(blob["state"]["history"]) == 5 and blob["rng"] and blob["scheduler"]["total_steps"] == 12
    assert manifest["data"]["dtype"] == "int16" and (pack / "data.pt").is_file()
    original = (model_dir(root, "smaller") / CHECKPOINT_NAME).stat().st_size
    assert (pack / entry["file"]).stat().st_size < 0.75 * original
    readme = (pack / "README.md").read_text()
    assert "--unpack" in readme and "--models smaller --budget-tokens 6144" in readme
    assert set(manifest["files"]) >= {"family_config.json", "tokenizer/tokenizer.json", "data.pt", entry["file"]}


def test_unpack_then_resume_continues_like_the_original(packed_run, tmp_path: Path) -> None:
    cfg, root, pack = packed_run
    original = tmp_path / "original"
    shutil.copytree(root, original)
    moved = tmp_path / "moved"
    assert unpack_run(pack, moved) == {"smaller": 5}
    restored = read_checkpoint(model_dir(moved, "smaller") / CHECKPOINT_NAME)
    moments = [v for s in restored["optimizer"]["state"].values() for k, v in s.items() if k.startswith("exp_avg")]
    assert {m.dtype for m in moments} == {torch.float32}  # upcast: the usual checkpoint format again
    # The moved run has neither the corpus nor the news: it resumes on its packed data.
    moved_cfg = resolve_config(moved, {"corpus": str(tmp_path / "no-corpus.txt")})
    data = prepare_data(moved_cfg, moved / "tokenizer", cache_dir=moved / "cache")
    ref_data = prepare_data(cfg, original / "tokenizer", cache_dir=original / "cache")
    assert torch.equal(data.train, ref_data.train) and data.info == ref_data.info
    resumed = train(moved_cfg, data, moved / "tokenizer", model_dir(moved, "smaller"))
    reference = train(cfg, ref_data, original / "tokenizer", model_dir(original, "smaller"))
    assert resumed["step"] == reference["step"] == 12
    assert resumed["sequences_seen"] == reference["sequences_seen"] == 12 * cfg.batch_size
    assert [s["start_step"] for s in resumed["sessions"]] == [0, 5]
    moved_hist, ref_hist = history(model_dir(moved, "smaller")), history(model_dir(original, "smaller"))
    assert [s for s, _ in moved_hist] == list(range(1, 13)) and moved_hist[:5] == ref_hist[:5]
    assert [loss for _, loss in moved_hist] == pytest.approx([loss for _, loss in ref_hist], abs=2e-2)
    assert resumed["evals"][-1]["mlm_loss"] == pytest.approx(reference["evals"][-1]["mlm_loss"], abs=2e-2)


def test_unpack_refuses_damage_other_runs_and_other_steps(packed_run, tmp_path: Path) -> None:
    cfg, _, pack = packed_run
    target = tmp_path / "root"
    unpack_run(pack, target)
    assert unpack_run(pack, target) == {"smaller": 5}  # same step again: nothing to do
    state_file = model_dir(target, "smaller") / "state.json"
    state_file.write_text(json.dumps({**json.loads(state_file.read_text()), "step": 9}))
    with pytest.raises(FileExistsError, match="--force"):
        unpack_run(pack, target)
    assert unpack_run(pack, target, force=True) == {"smaller": 5}
    other = tmp_path / "other"
    resolve_config(other, {**cfg.to_dict(), "hidden_size": 32})
    with pytest.raises(ValueError, match="hidden_size"):
        unpack_run(pack, other)
    broken = tmp_path / "broken"
    shutil.copytree(pack, broken)
    (broken / FAMILY["smaller"][0] / CHECKPOINT_NAME).write_text("version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(ValueError, match="git lfs pull"):
        unpack_run(broken, tmp_path / "fresh")
    (broken / MANIFEST_NAME).unlink()
    with pytest.raises(FileNotFoundError, match="--pack"):
        unpack_run(broken, tmp_path / "fresh")


def test_pack_without_a_run_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--checkpoint-dir"):
        pack_run(tmp_path, tmp_path / "pack")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_unpacked_cpu_run_resumes_on_cuda(packed_run, tmp_path: Path) -> None:
    from models.build_offline.pretrain import train_model
    from models.build_offline.tokenizer import load_tokenizer

    cfg, _, pack = packed_run
    moved = tmp_path / "gpu"
    unpack_run(pack, moved)
    data = prepare_data(cfg, moved / "tokenizer", cache_dir=moved / "cache")
    device = torch.device("cuda")
    tokenizer = load_tokenizer(moved / "tokenizer")
    state = train_model("smaller", cfg, data, tokenizer, model_dir(moved, "smaller"), device=device, progress=False)
    assert state["step"] == 12 and state["sessions"][-1]["device"] == "cuda"
    assert state["device_name"] == torch.cuda.get_device_name(device)
    assert "cuda" in read_checkpoint(model_dir(moved, "smaller") / CHECKPOINT_NAME)["rng"]


def test_finished_model_travels_without_moments_and_with_its_rung_export(tiny_setup, tmp_path: Path, caplog) -> None:
    """A finished model needs no AdamW state, but the ladder needs its rung's export after the teacher moves on."""
    from models.build_offline.export import export_model

    cfg, _, tok_dir = tiny_setup
    root = tmp_path / "root"
    short = resolve_config(root, {**cfg.to_dict(), "budget_tokens": cfg.tokens_per_step * 4})
    shutil.copytree(tok_dir, root / "tokenizer")
    data = prepare_data(short, root / "tokenizer", cache_dir=root / "cache")
    assert train(short, data, root / "tokenizer", model_dir(root, "smaller"))["done"]
    export = export_model("smaller", model_dir(root, "smaller"), root / "tokenizer", root / "rungs" / "0M", data.info)
    pack = tmp_path / "pack"
    manifest = pack_run(root, pack)
    entry = manifest["models"]["smaller"]
    assert entry["done"] and entry["optimizer"] is False
    assert torch.load(pack / entry["file"], weights_only=False)["optimizer"] is None
    rel = str(export.relative_to(root))
    assert rel in manifest["rungs"] and (pack / rel / "model.safetensors").is_file()
    assert f"{rel}/model.safetensors" in manifest["files"]  # checked by sha256 like the rest
    again = tmp_path / "again"
    unpack_run(pack, again)
    assert (again / rel / "model.safetensors").read_bytes() == (export / "model.safetensors").read_bytes()
    longer = resolve_config(again, {**short.to_dict(), "budget_tokens": short.tokens_per_step * 6})
    data2 = prepare_data(longer, again / "tokenizer", cache_dir=again / "cache")
    with caplog.at_level("WARNING"):
        state = train(longer, data2, again / "tokenizer", model_dir(again, "smaller"))
    assert state["step"] == 6 and state["done"] and "starts them afresh" in caplog.text
