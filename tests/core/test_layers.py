"""The house rules of the package, checked from its import graph (grimp, as import-linter reads
it): no import cycle anywhere in `yvo3d_addon`, no file of the Blender layer over 600 lines, and
the import-linter contracts in pyproject.toml kept (a new upward import fails here and in the
lint stage of `python3 dev.py test`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 600


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph("yvo3d_addon", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_in_the_package(graph: grimp.ImportGraph) -> None:
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        planted = grimp.build_graph("yvo3d_addon", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    planted.add_import(
        importer="yvo3d_addon.blender.settings.properties",
        imported="yvo3d_addon.blender.session.runtime",
    )
    assert any("yvo3d_addon.blender.settings.properties" in cycle for cycle in _cycles(planted))


def test_no_blender_layer_file_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "yvo3d_addon" / "blender").rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_layer_folder_says_what_it_holds() -> None:
    for layer in ("ui", "ops", "session", "scene", "settings"):
        text = " ".join(
            (ROOT / "yvo3d_addon" / "blender" / layer / "__init__.py").read_text().split()
        )
        assert "May import" in text or "Imports only" in text, layer


def test_import_linter_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout
