"""`python -m pruning sweep`: flags (preset < --config file < flags) to one ``run_sweep`` call and the files."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from models.store import home

from ..cache import VariantCache
from ..strategies import parse_int_list
from .grid import (
    DEFAULT_OUTPUT,
    ENGINES,
    PRESET_ASSETS,
    PRESET_OUTPUT,
    PRESETS,
    SweepConfig,
    SweepInterrupted,
    describe_cells,
    run_sweep,
)
from .report import write_outputs

if TYPE_CHECKING:
    from .ray_engine import RayConfig


def add_sweep_parser(sub) -> None:
    p = sub.add_parser("sweep", help="grid of base x strategy x layers x dataset x seed; resumable")
    p.add_argument("--preset", choices=list(PRESETS), help="a named grid (flags below override it)")
    p.add_argument("--config", help="JSON file with SweepConfig fields")
    p.add_argument("--bases", help="comma-separated base models")
    p.add_argument("--strategies", help="comma-separated strategies")
    p.add_argument("--keeps", help="comma-separated layer counts")
    p.add_argument("--scratch", help="comma-separated scratch models")
    p.add_argument("--datasets", help="comma-separated datasets")
    p.add_argument("--seeds", help="comma-separated seeds")
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--no-latency", action="store_true")
    p.add_argument(
        "--distil",
        action="store_true",
        help="also fine-tune every pruned cell distilled from the full model of its seed (built first)",
    )
    p.add_argument("--dry-run", action="store_true", help="list the cells and the output folder; build nothing")
    p.add_argument("--data-dir")
    p.add_argument("--cache-dir", help="variant cache; with --address, a folder every node shares")
    p.add_argument(
        "--output",
        help="folder for results.csv, summary.md, figures (default assets/sweep; offline-distil: assets/distil; "
        "smoke: <cache root>/sweeps/smoke)",
    )
    p.add_argument("--engine", choices=ENGINES, default="local", help="local (default) or ray (a trial per cell)")
    p.add_argument("--address", help="ray: join this cluster ('auto', 'ray://head:10001'); default a local instance")
    p.add_argument("--cpus-per-trial", type=float, help="ray: CPU cores each trial reserves (default 1)")
    p.add_argument("--gpus-per-trial", type=float, help="ray: GPUs each trial reserves, fractions allowed (default 0)")
    p.set_defaults(func=cmd_sweep)


def default_output(preset: str | None) -> Path:
    """assets/sweep (or the preset's own assets/ folder) for the reference presets; smoke's go under the cache root."""
    if preset in PRESET_OUTPUT:
        return home() / PRESET_OUTPUT[preset]
    return PRESET_ASSETS.get(preset, DEFAULT_OUTPUT)


def _ray_config(args: argparse.Namespace) -> RayConfig | None:
    flags = {"address": args.address, "cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial}
    given = {k: v for k, v in flags.items() if v is not None}
    if args.engine != "ray":
        if given:
            names = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ValueError(f"{names} only apply to --engine ray; add --engine ray or drop them")
        return None
    from .ray_engine import RayConfig, require_ray

    try:
        require_ray()
    except ImportError as exc:  # one line and exit status 2, like every other missing piece
        raise ValueError(str(exc)) from exc
    return RayConfig(**given)


def cmd_sweep(args: argparse.Namespace) -> int:
    values: dict = dict(PRESETS[args.preset]) if args.preset else {}
    if args.config:
        values.update(json.loads(Path(args.config).read_text(encoding="utf-8")))
    for name in ("bases", "strategies", "scratch", "datasets"):
        if getattr(args, name):
            values[name] = [x.strip() for x in getattr(args, name).split(",") if x.strip()]
    for name in ("keeps", "seeds"):
        if getattr(args, name):
            values[name] = parse_int_list(getattr(args, name), f"--{name}")
    values["finetune"] = {
        **values.get("finetune", {}),
        **{k: v for k, v in (("epochs", args.epochs), ("learning_rate", args.lr)) if v is not None},
    }
    if args.no_latency:
        values["latency"] = False
    if args.distil:
        values["distil"] = True
    config = SweepConfig.from_dict(values)
    output = Path(args.output) if args.output else default_output(args.preset)
    if args.dry_run:
        cells = describe_cells(config)
        print(json.dumps({"runs": len(cells), "output": str(output), "cells": cells}, indent=1))
        return 0
    ray_config = _ray_config(args)
    try:
        results = run_sweep(
            config, VariantCache(args.cache_dir), data_dir=args.data_dir, engine=args.engine, ray_config=ray_config
        )
    except SweepInterrupted as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 130
    command = "python -m pruning " + " ".join(shlex.quote(a) for a in args.argv)
    paths = write_outputs(results, output, command)
    print(
        json.dumps(
            {
                "engine": args.engine,
                "runs": len(results),
                "cached": int(results.from_cache.sum()),
                "outputs": {k: str(v) for k, v in paths.items()},
            },
            indent=1,
        )
    )
    return 0
