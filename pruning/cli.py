"""`python -m pruning`: plan, scores, finetune, evaluate, cache, bench.

Each subcommand builds a config (defaults < --config file.json < flags), makes one library call
and prints JSON on stdout. Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import (
    DATASETS,
    STRATEGIES,
    CacheEntryError,
    DataNotFoundError,
    FinetuneConfig,
    PruneConfig,
    VariantCache,
    VariantNotFoundError,
    build_variant,
    compute_layer_scores,
    evaluate_model,
    load_mahanews,
    parse_int_list,
    select_layers,
)

logger = logging.getLogger("pruning")


class CliError(Exception):
    """A user mistake: reported as one line, exit status 2."""


def _int_list(text: str) -> list[int]:
    """argparse type for layer lists: ``parse_int_list``'s message, as argparse's one-line error."""
    try:
        return parse_int_list(text, "the layer list")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _print(obj) -> None:
    print(json.dumps(obj, indent=1, ensure_ascii=False, default=str))


def _config_file(path: str | None) -> dict:
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read config file {path}: {exc}") from exc


def _merge(cls, file_values: dict, flags: dict):
    """defaults < config file < explicitly given flags; unknown keys are an error."""
    values = dict(file_values)
    values.update({k: v for k, v in flags.items() if v is not None})
    return cls.from_dict(values)


def _add_prune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", choices=list(STRATEGIES), default=None, help="which layers to drop")
    p.add_argument("--keep", type=int, help="number of encoder layers to keep")
    p.add_argument("--layers-kept", type=_int_list, help="0-based layers to keep, for --strategy custom (e.g. 0,1,5)")


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=str.upper, choices=list(DATASETS), default=None)
    p.add_argument("--data-dir", default=None, help="MahaNews folder (default: $MAHANEWS_DIR, then download)")


def _prune_config(args, file_values: dict) -> PruneConfig | None:
    values = {**file_values.get("prune", {})}
    flags = {"strategy": args.strategy, "keep": args.keep, "layers": args.layers_kept}
    if args.layers_kept and not args.strategy:
        flags["strategy"] = "custom"
    vocab = {name: getattr(args, name, None) for name in ("vocab_corpus", "vocab_min_count")}  # finetune's flags
    if not any(v is not None for v in flags.values()) and not values:
        if any(v is not None for v in vocab.values()):
            raise CliError("--vocab-corpus needs a layer plan too: add --keep K (the model's depth keeps every layer)")
        return None
    return _merge(PruneConfig, values, flags | vocab)


def cmd_plan(args) -> int:
    if args.model:
        from models import load_classifier

        from . import num_layers

        depth = num_layers(load_classifier(args.model).model)
    elif args.layers:
        depth = args.layers
    else:
        raise CliError("give the depth with --layers L or a model with --model NAME")
    scores = json.loads(Path(args.scores).read_text())[args.pooling] if args.scores else None
    _print(select_layers(args.strategy, depth, keep=args.keep, scores=scores, layers=args.layers_kept).to_dict())
    return 0


def cmd_scores(args) -> int:
    from models import load_classifier

    loaded = load_classifier(_model_name(args.model))
    if args.texts:
        try:
            lines = Path(args.texts).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise CliError(f"--texts file {args.texts} not found") from None
        except (UnicodeDecodeError, IsADirectoryError):
            raise CliError(f"--texts {args.texts} is not a UTF-8 text file (one text per line)") from None
        texts = [line.strip() for line in lines if line.strip()]
    else:
        data, _ = load_mahanews(args.dataset or "SHC", args.data_dir)
        texts = list(data["validation"]["text"])
    texts = texts[: args.max_texts]
    scores = compute_layer_scores(loaded.model, loaded.tokenizer, texts, batch_size=args.batch_size)
    _print(scores.to_dict())
    return 0


def cmd_finetune(args) -> int:
    file_values = _config_file(args.config)
    prune = _prune_config(args, file_values)
    train = _merge(
        FinetuneConfig,
        file_values.get("finetune", {}),
        {
            "dataset": args.dataset,
            "epochs": args.epochs,
            "learning_rate": args.lr,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "max_train_samples": args.max_train_samples,
            "max_length": args.max_length,
            "distil_from": args.distil_from,
            "distil_alpha": args.distil_alpha,
            "distil_temperature": args.distil_temperature,
        },
    )
    if train.distil_from is None and (args.distil_alpha is not None or args.distil_temperature is not None):
        raise CliError("--distil-alpha and --distil-temperature need --distil-from TEACHER_VARIANT")
    variant = build_variant(
        _model_name(args.model),
        prune,
        train,
        cache=_cache(args),
        data_dir=args.data_dir,
        force=args.force,
    )
    record = variant.record
    _print(
        {
            "variant": record["name"],
            "path": record["path"],
            "from_cache": variant.from_cache,
            "kept_layers": record["plan"]["kept"],
            "test": {k: record["test_metrics"][k] for k in ("accuracy", "macro_f1", "num_examples")},
            "dev_accuracy": record["dev_metrics"]["accuracy"],
            "majority_baseline_test": record["majority_baseline_test"],
            "train_seconds": record["train_seconds"],
            "device": record["device"],
            **({"distillation": record["distillation"]} if record.get("distillation") else {}),
            **{k: record["vocab"][k] for k in ("tokens_before", "tokens_after") if "vocab" in record},
        }
    )
    return 0


def cmd_evaluate(args) -> int:
    from models import load_classifier

    cache = _cache(args)
    try:
        model, tokenizer, _ = cache.load(args.model)
    except VariantNotFoundError:
        loaded = load_classifier(_model_name(args.model))
        model, tokenizer = loaded.model, loaded.tokenizer
        if not getattr(model.config, "finetuned_on", None):
            logger.warning("%s is not a fine-tuned classifier: its head is random, expect chance accuracy", args.model)
    data, report = load_mahanews(args.dataset or "SHC", args.data_dir)
    limits = FinetuneConfig(dataset=report.dataset, max_length=args.max_length)
    metrics = evaluate_model(model, tokenizer, data[args.split], max_length=limits.max_length_for(model))
    _print({"model": args.model, "dataset": report.dataset, "split": args.split, **metrics})
    return 0


def _cache(args) -> VariantCache:
    """The user's variant cache plus the read-only variants that ship with the project."""
    from models import bundled_dir

    return VariantCache(args.cache_dir, bundled=bundled_dir())


def _model_name(name: str) -> str:
    """``name`` if it can be a model (catalog name, folder, Hub id); else a one-line error, not a Hub timeout."""
    from models import CATALOG

    if name in CATALOG or "/" in name or Path(name).expanduser().exists():
        return name
    raise CliError(
        f"no cached variant or catalog model named {name!r}; see `python -m pruning cache list` for variants "
        f"and use one of {', '.join(CATALOG)}, a folder or a Hub id (owner/name)"
    )


def _model_or_variant(name: str, cache_dir: str | None) -> str:
    """A loadable name: catalog names, folders and Hub ids as given, a cached variant's name as its folder."""
    from models import CATALOG, bundled_dir

    if name in CATALOG or Path(name).expanduser().exists():
        return name
    try:
        return str(VariantCache(cache_dir, bundled=bundled_dir()).find(name))
    except VariantNotFoundError:
        return _model_name(name)


def cmd_cache(args) -> int:
    cache = _cache(args)
    if args.action == "verify":
        report = cache.verify(deep=True)
        broken = {name: why for name, why in report.items() if why}
        _print({"root": str(cache.root), "intact": sorted(n for n, w in report.items() if not w), "broken": broken})
        return 1 if broken else 0
    if args.action == "list":
        listing = cache.list()
        rows = [
            {
                "name": r["name"],
                "base_model": r["key"]["base_model"],
                "strategy": r["key"]["strategy"],
                "kept_layers": r["key"]["kept_layers"],
                "dataset": r["key"]["dataset"],
                "test_accuracy": r.get("test_metrics", {}).get("accuracy"),
                "distilled_from": (r.get("distillation") or {}).get("teacher"),
                "created": r.get("created"),
            }
            for r in listing.records
        ]
        _print({"root": str(cache.root), "variants": rows, "problems": [vars(p) for p in listing.problems]})
    elif args.action == "delete":
        if not args.name:
            raise CliError("cache delete needs the variant name (see `cache list`)")
        _print({"deleted": str(cache.delete(args.name))})
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pruning", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("plan", help="print kept/dropped layer indices as JSON")
    p.add_argument("--layers", type=int, help="model depth L")
    p.add_argument("--model", help="or read the depth from a model (catalog name, hub id, folder)")
    p.add_argument("--strategy", choices=list(STRATEGIES), required=True)
    p.add_argument("--keep", type=int)
    p.add_argument("--layers-kept", type=_int_list, help="for --strategy custom")
    p.add_argument("--scores", help="JSON from `scores`, for --strategy contribution")
    p.add_argument("--pooling", choices=["cls", "mean"], default="cls")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("scores", help="per-layer importance (input/output cosine similarity)")
    p.add_argument("--model", required=True)
    p.add_argument("--texts", help="calibration texts, one a line (default: the dataset's validation split)")
    _add_data_args(p)
    p.add_argument("--max-texts", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=32)
    p.set_defaults(func=cmd_scores)

    p = sub.add_parser("finetune", help="prune, fine-tune, evaluate on test, cache; prints metrics JSON")
    p.add_argument("--model", required=True, help="base model: catalog name, hub id or folder")
    _add_prune_args(p)
    _add_data_args(p)
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--max-train-samples", type=int)
    p.add_argument("--max-length", type=int)
    p.add_argument("--config", help='JSON file {"prune": {...}, "finetune": {...}}; flags override it')
    p.add_argument(
        "--distil-from",
        metavar="VARIANT",
        help="teacher: a fine-tuned variant (name or prefix, see `cache list`), usually the full model, whose "
        "logits the pruned model learns from as well as from the labels",
    )
    p.add_argument("--distil-alpha", type=float, help="weight of the label loss; the teacher's is 1 - alpha (0.5)")
    p.add_argument("--distil-temperature", type=float, help="softening temperature T of the logits (2.0)")
    p.add_argument("--vocab-corpus", help="cut the vocabulary to this UTF-8 text (+ the train split) before training")
    p.add_argument("--vocab-min-count", type=int, help="with --vocab-corpus: keep tokens seen N times or more (1)")
    p.add_argument(
        "--cache-dir", help="variant cache (default: $MARATHI_PRUNE_HOME/variants, ~/.cache/marathi-prune/variants)"
    )
    p.add_argument("--force", action="store_true", help="retrain even if the variant is cached")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("evaluate", help="metrics of a cached variant or a model folder on a split")
    p.add_argument("--model", required=True, help="cached variant name (prefix) or model folder")
    _add_data_args(p)
    p.add_argument("--split", choices=["train", "validation", "test"], default="test")
    p.add_argument("--max-length", type=int)
    p.add_argument("--cache-dir")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("cache", help="list, verify (checksums) or delete cached variants")
    p.add_argument("action", choices=["list", "verify", "delete"])
    p.add_argument("name", nargs="?")
    p.add_argument("--cache-dir")
    p.set_defaults(func=cmd_cache)

    _register_optional(sub)
    return parser


def _register_optional(sub) -> None:
    """Subcommands that live in their own modules (bench, sweep, ladder, vocab)."""
    try:
        from .speed import add_bench_parser
    except ImportError:
        pass
    else:
        add_bench_parser(sub)
    try:
        from .sweep import add_sweep_parser
    except ImportError:
        pass
    else:
        add_sweep_parser(sub)
    from .ladder import add_ladder_parser
    from .vocab.cli import add_vocab_parser

    add_ladder_parser(sub)
    add_vocab_parser(sub, resolve=_model_or_variant)
    p = sub.add_parser("bundle", help="rebuild the fine-tuned variants that ship with the app (models/variants)")
    p.add_argument("--out", type=Path, help="bundled folder (default models/variants)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--from-sweep", type=Path, help="take each depth's strategy from this sweep's results.csv")
    p.add_argument("--note", default="", help="caveat recorded with every bundled variant")
    p.add_argument("--data-dir")
    p.add_argument("--cache-dir")
    p.set_defaults(func=cmd_bundle)


def cmd_bundle(args) -> int:
    import shlex

    from .bundle import build_bundle, strategies_from_sweep

    kwargs = {"out_dir": args.out} if args.out else {}
    if args.from_sweep:
        kwargs["strategies"] = strategies_from_sweep(args.from_sweep)
    command = "python -m pruning " + " ".join(shlex.quote(a) for a in args.argv)
    records = build_bundle(
        **kwargs,
        seed=args.seed,
        cache=VariantCache(args.cache_dir),
        data_dir=args.data_dir,
        command=command,
        note=args.note,
    )
    _print(
        [
            {
                "variant": r["name"],
                "role": r["bundle"]["role"],
                "layers": r["plan"]["keep"],
                "strategy": r["plan"]["strategy"] if r["plan"]["keep"] < r["plan"]["num_layers"] else "full",
                "dev_accuracy": r["dev_metrics"]["accuracy"],
                "test_accuracy": r["test_metrics"]["accuracy"],
            }
            for r in records
        ]
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for commands that record how they were run
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if getattr(args, "data_dir", None) is None and os.environ.get("MAHANEWS_DIR") and hasattr(args, "data_dir"):
        args.data_dir = os.environ["MAHANEWS_DIR"]
    from models.loading import HubUnreachableError, ModelNotFoundError

    if not args.verbose:  # keep stderr for our one-line errors and our own tqdm bars
        import transformers

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()

    try:
        return args.func(args)
    except (CliError, ValueError, DataNotFoundError, CacheEntryError, HubUnreachableError, ModelNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written to the cache", file=sys.stderr)
        return 130
