"""``python -m models.build_offline``: build, resume, extend, export, pack and unpack the offline family.

This is the entry point, not the library: it is the one place here that reaches up into ``pruning``
(lazily, for the MahaNews loader), as ``app.py`` does from the top.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import unicodedata
from pathlib import Path
from typing import Any

import torch

from models.catalog import OFFLINE_DIR

from .checkpoint import default_root, resolve_config
from .config import DEFAULT_CORPUS, DEFAULT_NEWS_DIR, FAMILY
from .family import build_family, export_family
from .pack import pack_run, unpack_run
from .pretrain import format_eval, pick_device

logger = logging.getLogger(__name__)

USAGE = """examples:
  python -m models.build_offline --threads 1                  # tokenizer, then teacher, small, smaller
  python -m models.build_offline --budget-tokens 20000000     # extend a finished run
  python -m models.build_offline --export-only                # snapshot current checkpoints to models/offline
  python -m models.build_offline --pack checkpoints/pretrain  # compact copy of the run, to commit or copy
  python -m models.build_offline --unpack checkpoints/pretrain   # restore it here; the next call resumes
"""


def load_news_texts(datasets: list[str], news_dir: str) -> list[str]:
    """Training-split texts of MahaNews datasets via the project's loader (never validation/test).

    Args:
        datasets: dataset names, e.g. ["SHC", "LPC"].
        news_dir: MahaNews data folder.

    Returns:
        NFC-normalised texts; empty when the loader or the data is unavailable (logged), in which case
        a new run pretrains on the corpus only and a run in progress keeps its own data.
    """
    if not datasets:
        return []
    try:
        from pruning.data import load_mahanews
    except ImportError as err:  # the loader is optional for the build
        logger.warning("pruning.data.load_mahanews unavailable (%s); pretraining on the corpus only", err)
        return []
    texts: list[str] = []
    for name in datasets:
        try:
            ds, _ = load_mahanews(name, data_dir=news_dir, download=False)
        except (FileNotFoundError, ValueError) as err:
            logger.warning("MahaNews %s not loaded (%s); skipping it", name, err)
            continue
        texts.extend(unicodedata.normalize("NFC", t) for t in ds["train"]["text"] if t and t.strip())
        logger.info("MahaNews %s: %d training texts", name, len(ds["train"]))
    return texts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m models.build_offline",
        description="Build the project's own small Marathi BERT family offline: one tokenizer, three MLM models.",
        epilog=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--models", default="teacher,small,smaller", help="comma list of teacher,small,smaller")
    p.add_argument("--budget-tokens", type=int, help="tokens per model (larger than the saved one: extend)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--export-only", action="store_true", help="write current checkpoints to --out-dir and exit")
    mode.add_argument("--pack", type=Path, metavar="DIR", help="write a compact, self-contained copy of the run")
    mode.add_argument("--unpack", type=Path, metavar="DIR", help="restore a --pack folder into --checkpoint-dir")
    p.add_argument("--force", action="store_true", help="--unpack: replace checkpoints at another step")
    p.add_argument(
        "--pack-data",
        action="store_true",
        help="--pack: include the tokenised training text (never commit such a pack: it copies the data)",
    )
    p.add_argument("--max-minutes", type=float, help="stop cleanly and checkpoint after this many minutes")
    p.add_argument("--corpus", help=f"corpus file (default {DEFAULT_CORPUS})")
    p.add_argument("--news-dir", help=f"MahaNews folder (default {DEFAULT_NEWS_DIR})")
    p.add_argument("--no-news", action="store_true", help="pretrain on the corpus only")
    p.add_argument("--checkpoint-dir", type=Path, help="checkpoint root (default $MARATHI_PRUNE_HOME/pretrain)")
    p.add_argument("--out-dir", type=Path, default=OFFLINE_DIR, help="export folder")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any PretrainConfig field (JSON value), e.g. --set hidden_size=192",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """PretrainConfig fields set on the command line (``--set`` first, then the named flags)."""
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    named = {"budget_tokens": args.budget_tokens, "corpus": args.corpus, "news_dir": args.news_dir, "seed": args.seed}
    overrides.update({key: value for key, value in named.items() if value is not None})
    if args.no_news:
        overrides["news_datasets"] = []
    return overrides


def _print_results(results: dict[str, dict[str, Any]]) -> None:
    for name, res in results.items():
        ev = (res.get("evals") or [{}])[-1]
        line = f"{name}: step {res.get('step', '-')} done={res.get('done', '-')}"
        if ev:
            line += f" {format_eval(ev)}"
        if res.get("tokens_per_second"):
            line += f" {res['tokens_per_second']:,.0f} tokens/s"
        if "exported" in res:
            line += f" -> {res['exported']}"
        print(line)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 and one line on stderr for bad input)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    bad = [n for n in names if n not in FAMILY]
    if bad:
        raise SystemExit(f"unknown --models {bad}; valid: {list(FAMILY)}")
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "models.build_offline", *(argv or sys.argv[1:])])
    ckpt_root = (args.checkpoint_dir or default_root()).expanduser()
    try:
        if args.pack:
            manifest = pack_run(ckpt_root, args.pack, names, command=command, data=args.pack_data)
            for name, m in manifest["models"].items():
                print(f"{name}: step {m['step']} ({m['tokens_seen']:,} tokens) packed -> {args.pack}")
            return 0
        if args.unpack:
            for name, step in unpack_run(args.unpack, ckpt_root, force=args.force).items():
                print(f"{name}: step {step} restored -> {ckpt_root}")
            return 0
        if args.export_only:
            _print_results(export_family(names, ckpt_root, args.out_dir))
            return 0
        cfg = resolve_config(ckpt_root, config_overrides(args))
        news = load_news_texts(cfg.news_datasets, cfg.news_dir)
        device = pick_device(args.device)
        logger.info("device %s, %d threads, config %s", device, torch.get_num_threads(), cfg.to_dict())
        results = build_family(
            cfg,
            names,
            ckpt_root,
            args.out_dir,
            device=device,
            news=news,
            max_minutes=args.max_minutes,
            command=command,
            progress=not args.quiet,
        )
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _print_results(results)
    return 0
