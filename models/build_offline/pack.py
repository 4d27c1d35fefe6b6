"""Checkpoints that travel: pack a run into a compact, self-contained folder and unpack it elsewhere.

Why: sessions here share no disk, only the git repository, and a GPU machine starts bare. A
multi-hour pretraining therefore has to continue from files that can be committed or copied. A pack
holds everything the next ``python -m models.build_offline`` needs to resume exactly where the run
stopped, without ``../shared`` or the MahaNews files::

    manifest.json                 format, per-model progress, sha256 and size of every file
    README.md                     the same for people, with the commands to resume
    family_config.json            the run's PretrainConfig
    tokenizer/                    the family tokenizer
    data.pt                       only with --pack-data: packed training and held-out rows (int16)
    <folder>/checkpoint.pt        per model: fp32 weights, AdamW moments in bfloat16, scheduler, RNG,
                                  state with its loss history and sessions; a *finished* scratch model is
                                  packed without its moments (the ladder extends only the teacher; extending
                                  one anyway starts AdamW afresh)
    rungs/<N>M/<folder>/          the finished exports of every ladder rung (fp16 safetensors, tokenizer,
                                  build_info.json): a teacher that has moved on to the next rung no longer
                                  holds the weights of the rung before, and the ladder fine-tunes those

Storing the moments in bfloat16 cuts a checkpoint from 3x to 2x the fp32 weights (the 12-layer
teacher: ~100 MB -> ~68 MB) at the price of a tiny deviation after resuming; the weights stay fp32
because rounding them would move the model itself.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from models.store import atomic_dir, atomic_torch_save

from .cards import devices_used
from .checkpoint import (
    CACHE_DIR,
    CHECKPOINT_NAME,
    FAMILY_CONFIG_NAME,
    STATE_NAME,
    TOKENIZER_DIR,
    model_dir,
    read_checkpoint,
    resolve_config,
    write_checkpoint,
)
from .config import FAMILY, PretrainConfig
from .corpus import packed_path, read_run_data, sha256_file, write_run_data

logger = logging.getLogger(__name__)

PACK_FORMAT = "marathi-prune-pretrain-pack"
PACK_VERSION = 1
MANIFEST_NAME = "manifest.json"
DATA_NAME = "data.pt"
MOMENT_KEYS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
RUNGS_DIR = "rungs"
EXTENDED = ("teacher",)  # members the ladder trains on to larger budgets: their moments travel even when finished


def _finished_exports(root: Path) -> list[Path]:
    """``rungs/<N>M/<model>`` folders under ``root`` whose export is complete (build_info.json says so)."""
    found = []
    for info in sorted((root / RUNGS_DIR).glob("*M/*/build_info.json")):
        status = str(json.loads(info.read_text(encoding="utf-8")).get("status", ""))
        if status.startswith("complete") and (info.parent / "model.safetensors").is_file():
            found.append(info.parent)
    return found


def _cast_moments(optimizer_state: dict[str, Any] | None, dtype: torch.dtype) -> dict[str, Any] | None:
    """A copy of an optimizer state dict with the AdamW moments in ``dtype`` (step counts untouched)."""
    if optimizer_state is None:  # a finished model packed without its moments
        return None
    state = {
        index: {k: v.to(dtype) if k in MOMENT_KEYS and torch.is_tensor(v) else v for k, v in entry.items()}
        for index, entry in optimizer_state["state"].items()
    }
    return {**optimizer_state, "state": state}


def _model_entry(name: str, blob: dict[str, Any], file: str) -> dict[str, Any]:
    """What the manifest says about one packed model."""
    cfg = PretrainConfig.from_dict(blob["config"])
    state = blob["state"]
    return {
        "folder": FAMILY[name][0],
        "file": file,
        "step": state["step"],
        "total_steps": blob["scheduler"]["total_steps"],
        "sequences_seen": state["sequences_seen"],
        "tokens_seen": state["step"] * cfg.tokens_per_step,
        "budget_tokens": state.get("budget_tokens", cfg.budget_tokens),
        "done": bool(state.get("done")),
        "heldout": (state.get("evals") or [None])[-1],
        "wall_seconds": round(state.get("wall_seconds", 0.0), 1),
        "tokens_per_second": state.get("tokens_per_second") or _average_speed(state, cfg),
        "device": devices_used(state),
        "last_command": (state.get("commands") or [""])[-1],
    }


def _average_speed(state: dict[str, Any], cfg: PretrainConfig) -> float | None:
    """Tokens per second over the whole run (checkpoints older than the session record lack a figure)."""
    wall = state.get("wall_seconds") or 0.0
    return round(state["step"] * cfg.tokens_per_step / wall, 1) if wall > 0 else None


def pack_run(
    ckpt_root: Path, pack_dir: Path, names: Sequence[str] | None = None, *, command: str = "", data: bool = False
) -> dict[str, Any]:
    """Write a compact, self-contained copy of the run in ``ckpt_root`` to ``pack_dir`` (replaced whole).

    Args:
        ckpt_root: the checkpoint root of the run.
        pack_dir: the pack folder (built aside, then swapped in; an older pack there is replaced).
        names: family members to pack (default: all that have a checkpoint).
        command: the command line, recorded in the manifest.
        data: also pack the tokenised training rows. Off by default: they are a copy of the CC BY-NC-SA
            corpus and MahaNews text, which must not be committed; a pack without them resumes wherever
            the corpus is at hand (``../shared``, or a GPU machine that gets it with the work tree).

    Returns:
        The manifest.

    Raises:
        FileNotFoundError: no run, tokenizer or checkpoint in ``ckpt_root``.
    """
    root = Path(ckpt_root)
    if not (root / FAMILY_CONFIG_NAME).is_file() or not (root / TOKENIZER_DIR / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{root} holds no run (family_config.json and tokenizer/); pass --checkpoint-dir")
    cfg = PretrainConfig.from_dict(json.loads((root / FAMILY_CONFIG_NAME).read_text()))
    present = [n for n in (names or list(FAMILY)) if (model_dir(root, n) / CHECKPOINT_NAME).is_file()]
    if not present:
        raise FileNotFoundError(f"no checkpoint of {list(names or FAMILY)} in {root}; train first")
    manifest: dict[str, Any] = {
        "format": PACK_FORMAT,
        "version": PACK_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "source_root": str(root),
        "moments_dtype": "bfloat16",
        "models": {},
        "data": None,
    }
    with atomic_dir(pack_dir) as tmp:
        shutil.copy2(root / FAMILY_CONFIG_NAME, tmp / FAMILY_CONFIG_NAME)
        shutil.copytree(root / TOKENIZER_DIR, tmp / TOKENIZER_DIR)
        data_info = None
        for name in present:
            blob = read_checkpoint(model_dir(root, name) / CHECKPOINT_NAME)
            finished = bool(blob["state"].get("done")) and name not in EXTENDED
            blob["optimizer"] = None if finished else _cast_moments(blob["optimizer"], torch.bfloat16)
            file = f"{FAMILY[name][0]}/{CHECKPOINT_NAME}"
            (tmp / file).parent.mkdir()
            torch.save(blob, tmp / file)
            manifest["models"][name] = {**_model_entry(name, blob, file), "optimizer": not finished}
            data_info = data_info or blob["state"].get("data_info")
        manifest["rungs"] = {}
        for export in _finished_exports(root):
            rel = export.relative_to(root)
            shutil.copytree(export, tmp / rel)
            info = json.loads((export / "build_info.json").read_text(encoding="utf-8"))
            manifest["rungs"][str(rel)] = {
                "tokens_seen": info.get("tokens_seen"),
                "mlm_loss": (info.get("heldout") or {}).get("mlm_loss"),
            }
        if data:
            manifest["data"] = _pack_data(root / CACHE_DIR, data_info, cfg, tmp / DATA_NAME)
        manifest["files"] = {
            str(p.relative_to(tmp)): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        (tmp / "README.md").write_text(pack_readme(manifest, Path(pack_dir)))
        for path in tmp.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)  # plain files to commit or copy, not private temp files
    logger.info("packed %s from %s -> %s", ", ".join(present), root, pack_dir)
    return manifest


def _pack_data(cache: Path, info: dict[str, Any] | None, cfg: PretrainConfig, out: Path) -> dict[str, Any] | None:
    """Save the run's packed rows compactly; None (logged) when they are not cached."""
    info = info or read_run_data(cache)
    source = packed_path(cache, info, cfg) if info and "tokenizer_sha256" in info else None
    if source is None or not source.is_file():
        logger.warning("no packed rows of this run in %s: resuming from the pack will need the corpus", cache)
        return None
    rows = torch.load(source, weights_only=True)
    dtype = torch.int16 if cfg.vocab_size <= torch.iinfo(torch.int16).max else torch.int32
    torch.save({"train": rows["train"].to(dtype), "heldout": rows["heldout"].to(dtype), "info": info}, out)
    return {"file": DATA_NAME, "dtype": str(dtype).removeprefix("torch."), "info": info}


def read_manifest(pack_dir: Path, *, verify: bool = True) -> dict[str, Any]:
    """The manifest of a pack, with every file checked against its recorded sha256.

    Raises:
        FileNotFoundError: no manifest.
        ValueError: not a pack of this format, or a file is missing or differs (a Git LFS pointer, a
            truncated copy), with the file names.
    """
    path = Path(pack_dir) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{pack_dir} is not a pack: no {MANIFEST_NAME}; make one with --pack")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != PACK_FORMAT or manifest.get("version", 0) > PACK_VERSION:
        raise ValueError(f"{path}: format {manifest.get('format')!r} v{manifest.get('version')} is not readable here")
    if verify:
        bad = [
            rel
            for rel, meta in manifest["files"].items()
            if not (Path(pack_dir) / rel).is_file() or sha256_file(Path(pack_dir) / rel) != meta["sha256"]
        ]
        if bad:
            raise ValueError(
                f"pack {pack_dir}: {bad} missing or changed since packing (sha256 differs); "
                "if the repository stores them with Git LFS, run `git lfs pull`, else copy the pack again"
            )
    return manifest


def unpack_run(pack_dir: Path, ckpt_root: Path, *, force: bool = False) -> dict[str, int]:
    """Restore a pack into a checkpoint root so the next build resumes where the packed run stopped.

    The moments are upcast to float32 and ``checkpoint.pt`` gets its usual format. A root that already
    holds a different run is refused; a model checkpoint at another step is replaced only with ``force``.

    Args:
        pack_dir: a folder written by ``pack_run``.
        ckpt_root: the checkpoint root to restore into (created if needed).
        force: replace model checkpoints that are at another step than the packed ones.

    Returns:
        Per restored model: its step.

    Raises:
        ValueError: damaged pack, or the root holds another run (config or tokenizer differ).
        FileExistsError: a model checkpoint at another step exists and ``force`` is off.
    """
    pack_dir, root = Path(pack_dir), Path(ckpt_root)
    manifest = read_manifest(pack_dir)
    cfg = resolve_config(root, json.loads((pack_dir / FAMILY_CONFIG_NAME).read_text()))
    tok_dst = root / TOKENIZER_DIR / "tokenizer.json"
    if tok_dst.is_file() and sha256_file(tok_dst) != sha256_file(pack_dir / TOKENIZER_DIR / "tokenizer.json"):
        raise ValueError(f"{root} holds another run's tokenizer; unpack into an empty --checkpoint-dir")
    if not tok_dst.is_file():
        with atomic_dir(root / TOKENIZER_DIR) as tmp:
            shutil.copytree(pack_dir / TOKENIZER_DIR, tmp, dirs_exist_ok=True)
    if manifest.get("data"):
        blob = torch.load(pack_dir / manifest["data"]["file"], weights_only=True)
        target = packed_path(root / CACHE_DIR, blob["info"], cfg)
        if not target.is_file():
            atomic_torch_save({"train": blob["train"].long(), "heldout": blob["heldout"].long()}, target)
        write_run_data(root / CACHE_DIR, blob["info"])
    for rel in manifest.get("rungs", {}):
        if not (root / rel / "model.safetensors").is_file():
            with atomic_dir(root / rel) as tmp:
                shutil.copytree(pack_dir / rel, tmp, dirs_exist_ok=True)
            logger.info("rung export restored -> %s", root / rel)
    restored: dict[str, int] = {}
    for name, entry in manifest["models"].items():
        dst = model_dir(root, name) / CHECKPOINT_NAME
        if dst.is_file() and not force:
            step = _checkpoint_step(dst)
            if step == entry["step"]:
                logger.info("%s: %s is already at step %d", name, dst, step)
                restored[name] = step
                continue
            raise FileExistsError(f"{dst} is at step {step}, the pack at {entry['step']}; pass --force to replace it")
        blob = torch.load(pack_dir / entry["file"], map_location="cpu", weights_only=False)
        blob["optimizer"] = _cast_moments(blob["optimizer"], torch.float32)
        write_checkpoint(dst, blob)
        restored[name] = entry["step"]
        logger.info("%s: restored step %d -> %s", name, entry["step"], dst)
    return restored


def _checkpoint_step(path: Path) -> int:
    """The step of a checkpoint, from its small ``state.json`` when there is one."""
    summary = path.parent / STATE_NAME
    if summary.is_file():
        return int(json.loads(summary.read_text())["step"])
    return int(read_checkpoint(path)["state"]["step"])


def pack_readme(manifest: dict[str, Any], pack_dir: Path) -> str:
    """The pack's README: what is in it, how far each model got, and how to resume."""
    rows = []
    for name, m in manifest["models"].items():
        loss = f"{m['heldout']['mlm_loss']:.3f}" if m.get("heldout") else "-"
        tps = f"{m['tokens_per_second']:,.0f}" if m.get("tokens_per_second") else "-"
        rows.append(
            f"| {name} | {m['step']:,} / {m['total_steps']:,} | {m['tokens_seen']:,} / {m['budget_tokens']:,} "
            f"| {loss} | {m['wall_seconds'] / 60:.0f} | {tps} | {m['device']} |"
        )
    todo = [(n, m) for n, m in manifest["models"].items() if not m["done"]]
    resume = "\n".join(
        f"python -m models.build_offline --models {n} --budget-tokens {m['budget_tokens']}  # from step {m['step']}"
        for n, m in todo
    )
    data = "with its packed data" if manifest.get("data") else "WITHOUT packed data (resuming needs the corpus)"
    return f"""# Pretraining pack ({manifest["created_at"]})

A compact, self-contained copy of the `models.build_offline` run in `{manifest["source_root"]}`, {data}.
AdamW moments are stored in bfloat16 (finished scratch models: none), weights in float32. Checked on unpack against
`manifest.json` (sha256). Finished ladder rungs (fp16 exports): {", ".join(manifest.get("rungs", {})) or "none"}.

| model | steps | tokens seen / budget | held-out MLM loss | wall min | tokens/s | device |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Resume on any machine (add `--checkpoint-dir DIR` to both to use another root than
`$MARATHI_PRUNE_HOME/pretrain`; `--threads`/`--device` as the machine needs):

```bash
python -m models.build_offline --unpack {pack_dir}
{resume or "# every packed model is finished; a larger --budget-tokens extends it"}
```

Pack again after training with `python -m models.build_offline --pack {pack_dir}`.
"""
