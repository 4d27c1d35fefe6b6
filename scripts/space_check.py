"""`make space-check`: install exactly what a Hugging Face Space installs, start the app as a Space does, use it.

A Space builds its environment from ``requirements.txt`` alone and runs ``python app.py`` with
``GRADIO_SERVER_NAME=0.0.0.0`` and ``GRADIO_SERVER_PORT=7860`` on an empty disk. This check does the same
in a fresh virtual environment under /tmp (nothing from the development venv leaks in), then, through
``gradio_client`` from that environment, fine-tunes a small variant and classifies a headline with it, and
exits 0. It also checks that the environment is consistent (``pip check``) and holds exactly one ONNX
Runtime distribution, the one ``requirements.txt`` names.

The orchestration uses the standard library only, so any Python 3.11 can run it:
``python3 -m scripts.space_check [--keep] [--port N]``. The client half runs inside the fresh venv.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPACE_PORT = 7860
HEADLINE = "अंतिम सामन्यात पुण्याच्या संघाने मुंबईवर पाच गडी राखून विजय मिळवला"
ORT_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino")
# Small enough to train in seconds on a CPU Space: the offline teacher (8.5M parameters), 2 layers kept.
FINETUNE_ARGS = ["offline-teacher", "middle", 2, [], "SHC", 1, 2e-4, 64]


def log(message: str) -> None:
    print(f"[space-check] {message}", flush=True)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kwargs)


def required_ort(requirements: Path) -> str:
    """The ONNX Runtime distribution requirements.txt names (exactly one must be named)."""
    names = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        name = re.split(r"[=<>!~\[; ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
        if name in ORT_DISTRIBUTIONS:
            names.append(name)
    if len(names) != 1:
        raise SystemExit(f"requirements.txt must name exactly one ONNX Runtime distribution, found {names}")
    return names[0]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, app: subprocess.Popen, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise SystemExit(f"app.py exited with status {app.returncode}:\n{log_path.read_text()[-4000:]}")
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1)
    raise SystemExit(f"app.py did not listen on port {port} within {timeout:.0f} s:\n{log_path.read_text()[-4000:]}")


def client(url: str) -> None:
    """The visitor's half, run inside the fresh venv: fine-tune a small variant, then classify a headline.

    Without MahaNews files (a fresh clone with no ``../shared``) the fine-tune must be refused with the
    app's one-sentence message, and classifying must still work with the bundled variants.
    """
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    api = Client(url, verbose=False)
    started = time.perf_counter()
    try:
        status = api.submit(*FINETUNE_ARGS, api_name="/finetune").result(timeout=900)[0]
    except AppError as exc:  # a Space without MahaNews files: the app must say so and still classify
        if "No MahaNews" not in str(exc):
            raise
        status, name = "", f"no fine-tune: the app answered {str(exc)[:60]!r}..."
    else:
        if not status.startswith(("**Done**", "**Loaded from cache**")):
            raise SystemExit(f"fine-tune did not finish: {status}")
        name = status.split("Saved as `")[1].split("`")[0] if "Saved as `" in status else ""
    finetune_s = time.perf_counter() - started
    started = time.perf_counter()
    result = api.predict(HEADLINE, [], api_name="/classify")
    classify_s = time.perf_counter() - started
    label = result[0]["value"]["label"]
    from pruning import LABELS

    if label not in LABELS:
        raise SystemExit(f"classify returned {label!r}, not a MahaNews label: {result}")
    summary = {"variant": name, "label": label, "latency": result[1]["value"], "finetune_s": round(finetune_s, 1)}
    print(json.dumps(summary | {"classify_s": round(classify_s, 2)}, ensure_ascii=False))


def ort_distributions(python: Path) -> list[str]:
    """Installed distributions that provide the ``onnxruntime`` package, as the venv's Python sees them."""
    code = (
        "import importlib.metadata as m, json\n"
        "names = sorted({d.metadata['Name'].lower() for d in m.distributions()\n"
        "    if (d.read_text('top_level.txt') or '').split().count('onnxruntime')\n"
        "    or any(str(f).startswith('onnxruntime/') for f in (d.files or []))})\n"
        "print(json.dumps(names))"
    )
    return json.loads(run([str(python), "-c", code], capture_output=True).stdout)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m scripts.space_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--keep", action="store_true", help="keep the venv and the app's cache folder")
    p.add_argument("--port", type=int, default=int(os.environ.get("SPACE_CHECK_PORT", SPACE_PORT)))
    p.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # the half that runs inside the venv
    args = p.parse_args(argv)
    if args.client:
        client(args.client)
        return 0

    requirements = REPO / "requirements.txt"
    wanted_ort = required_ort(requirements)
    work = Path(tempfile.mkdtemp(prefix="marathi-prune-space-"))
    venv, home, app_log = work / "venv", work / "home", work / "app.log"
    python = venv / "bin" / "python"
    app = None
    try:
        started = time.perf_counter()
        run([sys.executable, "-m", "venv", str(venv)])
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        log(f"pip install -r requirements.txt into {venv} (nothing else)")
        run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], cwd=work, env=env, capture_output=True
        )
        install_s = time.perf_counter() - started
        run([str(python), "-m", "pip", "check"], cwd=work, env=env, capture_output=True)
        found = ort_distributions(python)
        if found != [wanted_ort]:
            raise SystemExit(f"expected exactly one ONNX Runtime distribution, {wanted_ort}; installed: {found}")
        log(f"installed in {install_s:.0f} s; pip check ok; ONNX Runtime: {found[0]}")

        port = args.port
        if not port_free(port):
            port = free_port()
            log(f"port {args.port} is taken on this machine; using {port} instead")
        env |= {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": str(port), "MARATHI_PRUNE_HOME": str(home)}
        env.pop("MARATHI_PRUNE_DEFAULT_MODEL", None)
        started = time.perf_counter()
        with app_log.open("w") as out:
            app = subprocess.Popen([str(python), "app.py"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(port, app, timeout=600, log_path=app_log)
        log(f"app.py listening on 0.0.0.0:{port} after {time.perf_counter() - started:.0f} s")
        done = run(
            [str(python), "-m", "scripts.space_check", "--client", f"http://127.0.0.1:{port}/"],
            cwd=REPO,
            env=env,
            capture_output=True,
        )
        log(f"fine-tuned and classified through gradio_client: {done.stdout.strip()}")
        log("ok")
        return 0
    except subprocess.CalledProcessError as exc:
        tail = app_log.read_text()[-3000:] if app_log.is_file() else ""
        log(f"failed: {' '.join(map(str, exc.cmd))}\n{exc.stdout or ''}{exc.stderr or ''}\napp log:\n{tail}")
        return 1
    finally:
        if app is not None and app.poll() is None:
            app.send_signal(signal.SIGINT)
            try:
                app.wait(timeout=30)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
