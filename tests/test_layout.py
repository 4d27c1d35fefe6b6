"""The layout is the architecture: app.py -> pruning/app/ -> pruning/* -> models/, one way, no cycles.

These tests read the source (``ast``), so they hold for imports inside functions and under
``TYPE_CHECKING`` too: a loop hidden in a lazy import is still a loop in the design.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pruning", "models")
MAX_LINES = 450
# Entry points sit above every layer, like app.py: they may import anything.
ENTRY_POINTS = {"app", "models.build_offline.cli", "models.build_offline.__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    files = [ROOT / "app.py"] + [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return {_module_name(p): p for p in files}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules imported by one file (relative imports resolved, ``from pkg import mod`` included)."""
    is_pkg = path.name == "__init__.py"
    here = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `pruning.speed.timing.x` -> `pruning.speed.timing`
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    sources = _sources()
    return {name: _imports(name, path, set(sources)) for name, path in sources.items()}


def test_import_graph_has_no_cycle(graph):
    # A submodule importing its own package's __init__ (``from . import X``) is the normal public-API
    # pattern; the edge back from the package to that submodule would make a cycle only if it existed.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_only_the_app_layer_imports_pruning_app(graph):
    offenders = [
        f"{src} -> {dst}"
        for src, dsts in graph.items()
        for dst in dsts
        if dst.startswith("pruning.app") and not src.startswith("pruning.app") and src not in ENTRY_POINTS
    ]
    assert not offenders, offenders


def test_models_never_imports_pruning(graph):
    offenders = [
        f"{src} -> {dst}"
        for src, dsts in graph.items()
        if src.startswith("models") and src not in ENTRY_POINTS
        for dst in dsts
        if dst.startswith("pruning")
    ]
    assert not offenders, offenders


def test_gradio_only_in_the_app_layer():
    offenders = []
    for name, path in _sources().items():
        if name == "app" or name.startswith("pruning.app"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            if any(m == "gradio" or m.startswith("gradio.") for m in mods):
                offenders.append(name)
    assert not offenders, offenders


def test_no_module_is_too_long():
    long = {name: n for name, path in _sources().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _fmt_marker_lines(text: str) -> set[int]:
    """Line numbers of ``# fmt: skip`` / ``# fmt: off`` comments (real comments, not strings)."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return {t.start[0] for t in tokens if t.type == tokenize.COMMENT and re.search(r"fmt:\s*(skip|off)", t.string)}


def test_every_fmt_skip_says_why():
    """The formatter decides layout; where a table truly reads better aligned, a comment above says so."""
    unexplained = []
    for path in [ROOT / "app.py", *[p for pkg in (*PACKAGES, "tests", "scripts") for p in (ROOT / pkg).rglob("*.py")]]:
        text = path.read_text(encoding="utf-8")
        markers = _fmt_marker_lines(text)
        if not markers:
            continue
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.stmt) or not markers & {node.lineno, node.end_lineno}:
                continue
            if not (node.lineno > 1 and lines[node.lineno - 2].strip().startswith("#")):
                unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not unexplained, unexplained
