"""The pretraining-budget ladder: at what teacher budget does a pruned teacher beat a scratch model?

Shirke et al. find that MahaBERT-v2 pruned to 6 or 2 layers beats MahaBERT-Small/Smaller, which were
pretrained from scratch at that depth. The real teacher had far more pretraining behind it (it
continues MuRIL). Our miniature family reproduces that relation with a ladder: the 12-layer teacher is
pretrained for 1x, 2x, 4x, ... the scratch models' token budget (``scripts/pretrain_ladder.sh`` writes
``<root>/<N>M/mini-teacher-12l``; the scratch models live in the first rung's folder), and at every rung
the teacher is fine-tuned full and pruned to each depth with every strategy, next to the scratch models.

Selection is honest: the best strategy at each depth is the one with the highest mean *validation*
accuracy; its *test* accuracy is what is reported. Every mean comes with a 95% t-interval over seeds,
and every difference "pruned minus scratch" with a Welch interval.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from models import CATALOG
from models.store import atomic_write_text, cache_dir

from .cache import VariantCache
from .sweep import OFFLINE_RECIPE, PRUNE_STRATEGIES, SweepConfig, ci95, run_sweep, summarise, welch_ci95

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "assets" / "ladder"
TEACHER, SCRATCH = "mini-teacher-12l", {6: "mini-scratch-6l", 2: "mini-scratch-2l"}


@dataclass(frozen=True)
class Rung:
    """One teacher checkpoint of the ladder.

    Args:
        tokens (int): pretraining tokens the teacher has seen (its budget).
        teacher (Path): the exported teacher folder.
        heldout_loss (float | None): its held-out masked-LM loss, from ``build_info.json``.
    """

    tokens: int
    teacher: Path
    heldout_loss: float | None

    @property
    def label(self) -> str:
        return f"{self.tokens / 1e6:.0f}M"


def default_root() -> Path:
    """Where ``scripts/pretrain_ladder.sh`` exports its rungs."""
    return cache_dir("pretrain") / "rungs"


def _rung_of(folder: Path) -> Rung | None:
    """The rung whose finished teacher export is ``folder/mini-teacher-12l``, or None."""
    info_file = folder / TEACHER / "build_info.json"
    if not info_file.is_file():
        return None
    info = json.loads(info_file.read_text(encoding="utf-8"))
    if not str(info.get("status", "")).startswith("complete"):
        return None
    return Rung(int(info["tokens_seen"]), folder / TEACHER, (info.get("heldout") or {}).get("mlm_loss"))


def find_rungs(root: str | Path) -> list[Rung]:
    """Finished teacher rungs under ``root`` (folders named ``<N>M``), smallest budget first.

    ``root`` may also be a family folder itself (``models/offline``: the shipped rung), which then is
    the only rung.
    """
    root = Path(root)
    own = _rung_of(root)
    if own is not None:
        return [own]
    folders = [f for f in root.glob("*M") if re.fullmatch(r"\d+M", f.name)]
    return sorted((r for r in map(_rung_of, folders) if r is not None), key=lambda r: r.tokens)


def scratch_models(root: str | Path) -> dict[int, Path]:
    """Layers -> folder of the scratch models (in the family folder itself, or the first rung's)."""
    found: dict[int, Path] = {}
    for layers, name in SCRATCH.items():
        candidates = [Path(root) / name / "model.safetensors", *sorted(Path(root).glob(f"*M/{name}/model.safetensors"))]
        existing = [c for c in candidates if c.is_file()]
        if existing:
            found[layers] = existing[0].parent
    return found


def run_ladder(
    root: str | Path,
    *,
    seeds: list[int],
    cache: VariantCache | None = None,
    data_dir: str | None = None,
    latency: bool = False,
    rungs: list[str] | None = None,
    finetune: dict | None = None,
) -> pd.DataFrame:
    """Fine-tune every rung (full, each strategy at 6 and 2 layers) and the scratch models; one row per run.

    Every run goes through the variant cache, so a stopped ladder resumes and a finished one is re-read.
    ``finetune`` overrides fields of the shared recipe ``OFFLINE_RECIPE`` (tests use tiny budgets).
    """
    found = [r for r in find_rungs(root) if not rungs or r.label in rungs]
    if not found:
        raise ValueError(f"no finished teacher rungs under {root}; run scripts/pretrain_ladder.sh first")
    scratch = scratch_models(root)
    frames = []
    for rung in found:
        config = SweepConfig(
            bases=[_catalog_name(rung.teacher)],
            strategies=list(PRUNE_STRATEGIES),
            keeps=sorted(scratch or SCRATCH, reverse=True),
            scratch=[_catalog_name(p) for _, p in sorted(scratch.items(), reverse=True)],
            seeds=seeds,
            finetune={**OFFLINE_RECIPE, **(finetune or {})},
            latency=latency,
        )
        logger.info("rung %s: %d runs", rung.label, len(config.cells()))
        frame = run_sweep(config, cache, data_dir=data_dir)
        frame["pretrain_tokens"] = rung.tokens
        frame["teacher_heldout_loss"] = rung.heldout_loss
        frame["model"] = [_short(m, rung) for m in frame["model"]]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _catalog_name(folder: Path) -> str:
    """The catalog name of a shipped family member (so the ladder, the sweep presets and ``make variants``
    build and find the same cached variants), else the folder itself."""
    for name, spec in CATALOG.items():
        if spec.kind == "offline" and Path(spec.source).resolve() == Path(folder).resolve():
            return name
    return str(folder)


def _short(model: str, rung: Rung) -> str:
    name = Path(model).name
    if name == TEACHER or model == _catalog_name(rung.teacher):
        return f"teacher-{rung.label}"
    return name


def ladder_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per rung and depth: full teacher, best pruned (chosen on validation) and scratch, with intervals."""
    rows = []
    for tokens, part in results.groupby("pretrain_tokens", sort=True):
        summary = summarise(part)
        full = summary[summary.role == "full"].iloc[0]
        for layers in sorted(part[part.role == "scratch"].layers.unique(), reverse=True):
            pruned = summary[(summary.role == "pruned") & (summary.layers == layers)]
            if pruned.empty:
                continue
            best = pruned.sort_values("dev_accuracy_mean", ascending=False).iloc[0]  # validation, never test
            best_acc = part[(part.role == "pruned") & (part.layers == layers) & (part.strategy == best.strategy)]
            scratch_acc = part[(part.role == "scratch") & (part.layers == layers)]
            diff, diff_ci = welch_ci95(best_acc.test_accuracy, scratch_acc.test_accuracy)
            rows.append(
                {
                    "pretrain_tokens": int(tokens),
                    "teacher_heldout_loss": part.teacher_heldout_loss.iloc[0],
                    "layers": int(layers),
                    "full_mean": full.test_accuracy_mean,
                    "full_ci95": full.test_accuracy_ci95,
                    "best_strategy": best.strategy,
                    "pruned_mean": best_acc.test_accuracy.mean(),
                    "pruned_ci95": ci95(best_acc.test_accuracy),
                    "scratch_mean": scratch_acc.test_accuracy.mean(),
                    "scratch_ci95": ci95(scratch_acc.test_accuracy),
                    "diff": diff,
                    "diff_ci95": diff_ci,
                    "seeds": len(best_acc),
                }
            )
    return pd.DataFrame(rows)


def verdict(diff: float, half_width: float) -> str:
    """ "beats", "ties" or "loses": pruned minus scratch, judged by its 95% Welch interval.

    A tie is an interval that contains zero: with 3 seeds a 2-point difference is often within noise, and
    calling it a win would be the claim the paper makes without the evidence for it at our scale.
    """
    if diff - half_width > 0:
        return "beats"
    if diff + half_width < 0:
        return "loses"
    return "ties"


def ladder_sentences(table: pd.DataFrame) -> list[str]:
    """One plain sentence per depth at the largest rung measured, e.g. for the README and Compare."""
    if table.empty:
        return []
    top = table[table.pretrain_tokens == table.pretrain_tokens.max()]
    lines = []
    for r in top.sort_values("layers", ascending=False).itertuples():
        word = verdict(r.diff, r.diff_ci95)
        lines.append(
            f"At {r.pretrain_tokens / 1e6:.0f}M teacher tokens, the best pruned {r.layers}-layer model ({r.best_strategy}, "
            f"chosen on validation) {word} the {r.layers}-layer scratch model: {100 * r.pruned_mean:.1f}% vs "
            f"{100 * r.scratch_mean:.1f}% test accuracy, difference {100 * r.diff:+.1f} points "
            f"(95% CI {100 * (r.diff - r.diff_ci95):+.1f} to {100 * (r.diff + r.diff_ci95):+.1f}, {r.seeds} seeds)."
        )
    return lines


def read_ladder(folder: Path = DEFAULT_OUTPUT) -> pd.DataFrame:
    """The committed ladder table (``ladder.csv``), or an empty frame when no rung has been measured."""
    path = Path(folder) / "ladder.csv"
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def to_markdown(table: pd.DataFrame) -> str:
    """The ladder as a Markdown table (accuracy in %, mean ± 95% CI half-width)."""

    def pm(mean: float, ci: float) -> str:
        return f"{100 * mean:.1f} ± {100 * ci:.1f}"

    lines = [
        "| teacher tokens | teacher MLM loss | layers | full teacher | best pruned (strategy by validation) "
        "| scratch | pruned − scratch | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        loss = f"{r.teacher_heldout_loss:.3f}" if pd.notna(r.teacher_heldout_loss) else "?"
        lines.append(
            f"| {r.pretrain_tokens / 1e6:.0f}M | {loss} | {r.layers} | {pm(r.full_mean, r.full_ci95)} "
            f"| {pm(r.pruned_mean, r.pruned_ci95)} ({r.best_strategy}) | {pm(r.scratch_mean, r.scratch_ci95)} "
            f"| {100 * r.diff:+.1f} ± {100 * r.diff_ci95:.1f} | {verdict(r.diff, r.diff_ci95)} |"
        )
    return "\n".join(lines)


def ladder_figure(table: pd.DataFrame):
    """Pruned minus scratch at equal depth against teacher pretraining tokens, with 95% intervals."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for layers, part in table.groupby("layers", sort=False):
        fig.add_trace(
            go.Scatter(
                x=part.pretrain_tokens / 1e6,
                y=100 * part["diff"],
                error_y={"type": "data", "array": 100 * part.diff_ci95},
                mode="lines+markers",
                name=f"{layers} layers",
                text=part.best_strategy,
                hovertemplate="%{x:.0f}M tokens: %{y:+.1f} points (%{text})<extra></extra>",
            )
        )
    fig.add_hline(y=0, line_dash="dot", annotation_text="pruned = scratch")
    low, high = table.pretrain_tokens.min() / 1e6, table.pretrain_tokens.max() / 1e6
    fig.update_layout(  # log axis with margins: a single rung would otherwise sit on the axis edge
        xaxis={
            "title": "teacher pretraining tokens (millions, log scale; scratch models: the first rung's budget)",
            "type": "log",
            "range": [math.log10(low) - 0.3, math.log10(high) + 0.3],
        },
        yaxis_title="best pruned minus scratch, test accuracy (points)",
        legend_title="depth",
        template="plotly_white",
    )
    return fig


def merge_results(previous: Path, new: pd.DataFrame) -> pd.DataFrame:
    """Rows of an earlier ladder run for rungs not in ``new``, plus ``new``.

    Rungs are pretrained across sessions and machines, whose variant caches do not travel; the committed
    ``results.csv`` does, so the table and figure keep every rung measured so far.
    """
    if not previous.is_file():
        return new
    old = pd.read_csv(previous)
    old = old[~old.pretrain_tokens.isin(set(new.pretrain_tokens))]
    return pd.concat([old, new], ignore_index=True).sort_values("pretrain_tokens", kind="stable")


def write_ladder(results: pd.DataFrame, output: Path, command: str) -> dict[str, Path]:
    """results.csv, ladder.csv, ladder.md and ladder.json/html (the figure) under ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    table = ladder_table(results)
    paths = {n: output / n for n in ("results.csv", "ladder.csv", "ladder.md", "ladder.json", "ladder.html")}
    atomic_write_text(paths["results.csv"], results.to_csv(index=False))
    atomic_write_text(paths["ladder.csv"], table.to_csv(index=False))
    header = f"Command: `{command}`\nDate: {time.strftime('%Y-%m-%d')}\n\n"
    sentences = "".join(f"- {line}\n" for line in ladder_sentences(table))
    atomic_write_text(paths["ladder.md"], header + to_markdown(table) + "\n\n" + sentences)
    figure = ladder_figure(table)
    atomic_write_text(paths["ladder.json"], figure.to_json())
    figure.write_html(paths["ladder.html"], include_plotlyjs="cdn")
    return paths


def add_ladder_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ladder", help="fine-tune every pretraining rung of the offline teacher against scratch")
    p.add_argument("--rungs-dir", type=Path, help=f"folder of <N>M rungs (default {default_root()})")
    p.add_argument("--rungs", help="only these rungs, e.g. 8M,16M")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--latency", action="store_true", help="also time each variant (needs a quiet machine)")
    p.add_argument("--data-dir")
    p.add_argument("--cache-dir")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    p.set_defaults(func=cmd_ladder)


def cmd_ladder(args: argparse.Namespace) -> int:
    from .strategies import parse_int_list

    root = args.rungs_dir or default_root()
    results = run_ladder(
        root,
        seeds=parse_int_list(args.seeds, "--seeds"),
        cache=VariantCache(args.cache_dir),
        data_dir=args.data_dir,
        latency=args.latency,
        rungs=[r.strip() for r in args.rungs.split(",")] if args.rungs else None,
    )
    command = "python -m pruning " + " ".join(shlex.quote(a) for a in args.argv)
    paths = write_ladder(merge_results(args.output / "results.csv", results), args.output, command)
    print(json.dumps({"runs": len(results), "outputs": {k: str(v) for k, v in paths.items()}}, indent=1))
    return 0
