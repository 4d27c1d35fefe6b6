"""What a visitor's request costs: the app's classify path per backend, and one ``/classify`` over HTTP.

``pruning.speed.report`` times model forwards on padded batches. A visitor waits for more: tokenising
one text, the forward, the softmax, and the HTTP and queue round trip of the Gradio app. This module
measures those, with the app's own code (``ModelRegistry`` and ``classify_text``), on the bundled
variants (`make bench` runs it after the model benchmark; it writes assets/benchmark_app.{json,md}):

- the app path, text in and label out, per variant and backend: p50 / p90 over SHC test headlines
  (each timed after a warm-up on that headline) and the ratio to PyTorch eager on the same variant;
- label agreement of each ONNX Runtime backend with PyTorch on the whole SHC test split;
- one ``/classify`` call through ``gradio_client``, end to end, next to the server's own time for the
  same call (``server_ms`` in its JSON), so that the HTTP and queue share is visible.

    python -m pruning.app.bench                 # starts `python app.py` on a free port, ~5 min on 2 cores
    python -m pruning.app.bench --url URL       # against an app that is already running
    python -m pruning.app.bench --quick         # a smoke test, not numbers to publish
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from models import bundled_dir
from models.store import atomic_write_json, atomic_write_text

from ..cache import VariantCache
from ..speed import load_headlines, machine_info, time_callable
from .backends import BACKEND_LABELS, check_backends
from .classify import LiveTiming
from .registry import INFER_THREADS, ModelRegistry, device_label
from .startup import load_examples
from .wording import variant_kind

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python -m pruning.app.bench"


def app_path_rows(
    registry: ModelRegistry,
    names: Sequence[str],
    texts: Sequence[str],
    backends: Sequence[str] | None = None,
    *,
    warmup: int = 2,
    repeats: int = 5,
) -> list[dict[str, Any]]:
    """Per variant and backend, the app's text-in, label-out latency over `texts` (p50 / p90 of every run).

    Each text is warmed up `warmup` times, then timed `repeats` times; the ratio is PyTorch eager's p50
    over this backend's p50 on the same variant (> 1 is faster).
    """
    backends = check_backends(backends)
    rows = []
    for name in names:
        variant, _ = registry.backend(name, backends[0])
        for backend in backends:
            _, logits = registry.backend(name, backend)
            samples = []
            for text in texts:
                samples += time_callable(
                    lambda t=text, v=variant, f=logits: v.probabilities(t, f), warmup=warmup, repeats=repeats
                )
            rows.append(
                {
                    "variant": name,
                    "role": variant_kind(variant.record),
                    "layers": (variant.record.get("plan") or {}).get("keep"),
                    "backend": backend,
                    "p50_ms": float(np.percentile(samples, 50)),
                    "p90_ms": float(np.percentile(samples, 90)),
                    "texts": len(texts),
                    "runs": len(samples),
                }
            )
    torch_p50 = {r["variant"]: r["p50_ms"] for r in rows if r["backend"] == "torch"}
    for row in rows:
        ref = torch_p50.get(row["variant"])
        row["speedup_vs_torch"] = round(ref / row["p50_ms"], 3) if ref else None
    return rows


def agreement_rows(
    registry: ModelRegistry, names: Sequence[str], texts: Sequence[str], backends: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Per variant and ONNX backend, the share of `texts` whose label equals PyTorch eager's (app path)."""
    backends = [b for b in check_backends(backends) if b != "torch"]
    rows = []
    for name in names:
        variant, torch_logits = registry.backend(name, "torch")
        reference = [int(variant.probabilities(t, torch_logits).argmax()) for t in texts]
        for backend in backends:
            _, logits = registry.backend(name, backend)
            same = sum(
                int(variant.probabilities(t, logits).argmax()) == r for t, r in zip(texts, reference, strict=True)
            )
            rows.append({"variant": name, "backend": backend, "agreement": same / len(texts), "texts": len(texts)})
    return rows


def http_rows(
    url: str, names: Sequence[str], text: str, backends: Sequence[str] | None = None, *, calls: int = 5
) -> list[dict[str, Any]]:
    """One ``/classify`` call through ``gradio_client``, `calls` times after one warm-up call.

    Returns one row per call: end-to-end ms, the server's ms for the same call, and their difference
    (HTTP, queue, (de)serialisation and the UI outputs).
    """
    from gradio_client import Client

    client = Client(url, verbose=False)
    backends = list(backends or [])
    client.predict(text, list(names), backends, api_name="/classify")
    rows = []
    for _ in range(calls):
        start = time.perf_counter()
        answer = client.predict(text, list(names), backends, api_name="/classify")[-1]
        total = (time.perf_counter() - start) * 1000
        rows.append(
            {"end_to_end_ms": total, "server_ms": answer["server_ms"], "overhead_ms": total - answer["server_ms"]}
        )
    return rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(timeout_s: float = 300) -> tuple[subprocess.Popen, str]:
    """`python app.py` on a free local port, once it answers; (process, url)."""
    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with status {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url + "config", timeout=5):
                return process, url
        except OSError:
            time.sleep(1)
    process.terminate()
    raise RuntimeError(f"app.py did not serve {url} within {timeout_s:.0f} s")


def markdown(report: dict[str, Any]) -> str:
    """assets/benchmark_app.md: the three tables and how they were measured."""
    meta = report["meta"]
    lines = [
        "# What a request costs in the app",
        "",
        f"Generated {meta['created']} by `{meta['command']}` on {meta['device']} "
        f"({meta['machine']['cpu_model']}, {meta['threads']} inference thread(s) per request).",
        "",
        f"## The app's classify path (text in, label out) on {meta['texts_source']}",
        "",
        "Tokenise, forward, softmax: what `/classify` runs per variant and backend, without HTTP. "
        f"p50 / p90 over {meta['texts']} texts x {meta['repeats']} timed runs each (after {meta['warmup']} "
        "warm-up runs per text).",
        "",
        "| variant | role | layers | backend | p50 ms | p90 ms | x vs PyTorch eager |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for r in report["app_path"]:
        ratio = f"{r['speedup_vs_torch']:.2f}" if r.get("speedup_vs_torch") else "–"
        lines.append(
            f"| {r['variant']} | {r['role']} | {r['layers']} | {BACKEND_LABELS[r['backend']]} | "
            f"{r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {ratio} |"
        )
    if report["agreement"]:
        lines += [
            "",
            f"## Labels kept by ONNX Runtime ({report['agreement'][0]['texts']} {meta['agreement_source']})",
            "",
            "| variant | backend | same label as PyTorch eager |",
            "|---|---|---:|",
        ]
        for r in report["agreement"]:
            lines.append(f"| {r['variant']} | {BACKEND_LABELS[r['backend']]} | {100 * r['agreement']:.1f}% |")
    if report["http"]:
        calls = report["http"]
        med = {k: statistics.median(c[k] for c in calls) for k in ("end_to_end_ms", "server_ms", "overhead_ms")}
        lines += [
            "",
            "## One `/classify` call through gradio_client",
            "",
            f"{len(calls)} calls (after one warm-up call) with {len(meta['http_variants'])} variants on every CPU "
            "backend; each call itself times every variant-backend pair over several warm runs, so the server "
            "time is mostly that measurement. The difference is what HTTP, the queue and the UI outputs add.",
            "",
            "| median end to end ms | median server ms | median HTTP + queue ms | share |",
            "|---:|---:|---:|---:|",
            f"| {med['end_to_end_ms']:.0f} | {med['server_ms']:.0f} | {med['overhead_ms']:.0f} | "
            f"{100 * med['overhead_ms'] / med['end_to_end_ms']:.0f}% |",
        ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    p.add_argument("--names", help="comma-separated variants (default: every bundled variant)")
    p.add_argument("--texts", type=int, default=64, help="SHC test headlines to time (default 64)")
    p.add_argument("--url", help="a running app to call (default: start `python app.py` on a free port)")
    p.add_argument("--no-http", action="store_true", help="skip the /classify round trip")
    p.add_argument("--quick", action="store_true", help="few texts and runs: a smoke test")
    p.add_argument("--out-dir", default=str(ROOT / "assets"))
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    registry = ModelRegistry(VariantCache(bundled=bundled_dir()))
    records = registry.records()
    names = args.names.split(",") if args.names else [r["name"] for r in records if r.get("bundled")]
    if not names:
        print("no bundled variants: run `make variants` first (or pass --names)", file=sys.stderr)
        return 2
    n = 8 if args.quick else args.texts
    warmup, repeats = (1, 2) if args.quick else (2, 5)
    test_texts = load_headlines(10_000)  # the whole SHC test split, when it is here
    texts, source = (test_texts[:n], "SHC test headlines") if test_texts else (load_examples(), "demo headlines")
    report: dict[str, Any] = {
        "meta": {
            "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "command": " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])]),
            "device": device_label(),
            "machine": machine_info(),
            "threads": INFER_THREADS,
            "texts": len(texts),
            "texts_source": source,
            "warmup": warmup,
            "repeats": repeats,
            "live_timing": asdict(LiveTiming()),  # what /classify itself does per variant and backend
        },
        "app_path": app_path_rows(registry, names, texts, warmup=warmup, repeats=repeats),
    }
    agreement_texts = test_texts[: 32 if args.quick else None] or load_examples()
    report["meta"]["agreement_source"] = "SHC test headlines" if test_texts else "demo headlines"
    report["agreement"] = agreement_rows(registry, names, agreement_texts)
    report["http"] = []
    if not args.no_http:
        picked = [r["name"] for r in records if r["name"] in names][:3]
        report["meta"]["http_variants"] = picked
        process, url = (None, args.url) if args.url else start_app()
        try:
            report["http"] = http_rows(url, picked, texts[0], calls=2 if args.quick else 5)
        finally:
            if process is not None:
                process.terminate()
                process.wait(30)
    out = Path(args.out_dir)
    atomic_write_json(out / "benchmark_app.json", report)
    atomic_write_text(out / "benchmark_app.md", markdown(report))
    print(f"wrote {out / 'benchmark_app.json'} and {out / 'benchmark_app.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
