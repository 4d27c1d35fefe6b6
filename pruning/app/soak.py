"""Soak benchmark: many visitors classify while a fine-tune runs. Not a test: it reports, it does not assert.

Why: a Space serves many visitors from one process, and a CPU fine-tune (minutes of full load) shares
that process with every classify request. The question is whether requests keep working and how slow
they get, so this starts ``python app.py``, starts a fine-tune through ``/finetune``, then sends
``--calls`` ``/classify`` requests from ``--threads`` client threads through ``gradio_client`` and
counts errors and end-to-end latency (p50 / p95). The result is written to ``assets/benchmark_soak.json``
and into ``assets/benchmark.md`` between soak markers (replacing an earlier soak section).

    python -m pruning.app.soak                        # 1,000 calls from 20 threads
    python -m pruning.app.soak --calls 40 --threads 4 # a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.store import atomic_write_json, atomic_write_text

from ..speed import machine_info
from .bench import ROOT, start_app
from .startup import load_examples

BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"


def soak(url: str, *, calls: int, threads: int, variant: str, backend: str, finetune: Sequence[Any]) -> dict:
    """Run the soak against the app at ``url``; returns the report (no files written)."""
    from gradio_client import Client

    texts = load_examples() or ["भारताने सामना जिंकला"]
    job_client = Client(url, verbose=False)
    job = job_client.submit(*finetune, "soak-benchmark", api_name="/finetune")
    time.sleep(3)  # a rejected fine-tune fails at once: then there is nothing to soak beside
    if job.done() and job.exception() is not None:
        raise RuntimeError(f"the fine-tune did not start: {job.exception()}")
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    per_thread = [calls // threads + (i < calls % threads) for i in range(threads)]

    def worker(n: int, offset: int) -> None:
        client = Client(url, verbose=False)
        for i in range(n):
            start = time.perf_counter()
            try:
                client.predict(texts[(offset + i) % len(texts)], [variant], [backend], api_name="/classify")
                with lock:
                    latencies.append((time.perf_counter() - start) * 1000)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, whatever its type
                with lock:
                    errors.append(type(exc).__name__ + ": " + str(exc)[:200])

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n, i * 7)) for i, n in enumerate(per_thread)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - started
    finetune_running = not job.done()
    job_client.predict("soak-benchmark", api_name="/cancel")
    cuts = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else [float("nan")] * 19
    return {
        "calls": calls,
        "threads": threads,
        "variant": variant,
        "backend": backend,
        "errors": len(errors),
        "error_examples": errors[:5],
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p95_ms": cuts[18],
        "wall_s": wall,
        "calls_per_s": len(latencies) / wall if wall else None,
        "finetune_running_throughout": finetune_running,
        "finetune": list(finetune),
        "machine": machine_info(),
    }


def markdown(report: dict) -> str:
    """The soak section of assets/benchmark.md."""
    machine = report["machine"]
    return "\n".join(
        [
            BEGIN,
            "## Soak: classify while a fine-tune runs (`python -m pruning.app.soak`)",
            "",
            f"{report['calls']:,} `/classify` calls through `gradio_client` from {report['threads']} threads, "
            f"variant `{report['variant']}` on `{report['backend']}`, while a fine-tune of "
            f"`{report['finetune'][0]}` ran in the same app process "
            f"({'the whole time' if report['finetune_running_throughout'] else 'it finished before the last call'}). "
            f"Machine: {machine.get('cpu_model', '?')}.",
            "",
            "| calls | threads | errors | p50 ms | p95 ms | calls/s | wall s |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {report['calls']:,} | {report['threads']} | {report['errors']} | {report['p50_ms']:.0f} "
            f"| {report['p95_ms']:.0f} | {report['calls_per_s']:.1f} | {report['wall_s']:.0f} |",
            END,
        ]
    )


def write(report: dict, assets: Path) -> None:
    """assets/benchmark_soak.json, and the soak section of assets/benchmark.md (replaced, not appended)."""
    atomic_write_json(assets / "benchmark_soak.json", report)
    bench = assets / "benchmark.md"
    text = bench.read_text(encoding="utf-8") if bench.is_file() else ""
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + text[text.index(END) + len(END) :].lstrip("\n")
    atomic_write_text(bench, text.rstrip("\n") + "\n\n" + markdown(report) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pruning.app.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--threads", type=int, default=20)
    p.add_argument("--variant", default="offline-smaller__full-k2-0.1__SHC__s0__65784eb1d5")
    p.add_argument("--backend", default="onnx-int8")
    p.add_argument("--url", help="an app that is already running (else `python app.py` is started)")
    p.add_argument("--assets", type=Path, default=ROOT / "assets")
    args = p.parse_args(argv)
    # base, strategy, keep, custom layers, dataset, epochs, lr, training samples (0 = all)
    finetune = ["offline-teacher", "middle", 6, [], "SHC", 2, 2e-4, 0]
    process, url = (None, args.url) if args.url else start_app()
    try:
        report = soak(
            url, calls=args.calls, threads=args.threads, variant=args.variant, backend=args.backend, finetune=finetune
        )
    finally:
        if process is not None:
            process.terminate()
    write(report, args.assets)
    print(json.dumps({k: v for k, v in report.items() if k != "machine"}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
