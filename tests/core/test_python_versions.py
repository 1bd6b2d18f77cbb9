"""The add-on's source on every Python its Blenders bundle (3.11 for 4.2-5.0, 3.13 from 5.1):
no module that 3.12 or 3.13 removed, nothing a newer compiler warns about. No Blender needed."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

ADDON = Path(__file__).resolve().parents[2] / "yvo3d_addon"
SOURCES = sorted(ADDON.rglob("*.py"))

# PEP 594's dead batteries (removed in 3.13) and the modules 3.12 removed.
REMOVED = {
    "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "mailcap", "msilib", "nis",
    "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib",
    "lib2to3", "distutils", "imp", "asynchat", "asyncore", "smtpd",
}  # fmt: skip
# Names removed from modules that remain (3.12/3.13).
REMOVED_NAMES = {
    ("locale", "resetlocale"), ("unittest", "findTestCases"), ("unittest", "makeSuite"),
    ("configparser", "SafeConfigParser"), ("typing", "io"), ("typing", "re"),
}  # fmt: skip


def imported(tree: ast.AST) -> set[tuple[str, str]]:
    """(top-level module, name) for every import; name is "" for `import x`."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], "") for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            top = node.module.split(".")[0]
            found |= {(top, alias.name) for alias in node.names}
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            found.add((node.value.id, node.attr))
    return found


def test_the_scan_sees_what_it_looks_for() -> None:
    tree = ast.parse("import imghdr\nfrom cgi import escape\nimport locale\nlocale.resetlocale()")
    names = imported(tree)
    assert ("imghdr", "") in names and ("cgi", "escape") in names
    assert ("locale", "resetlocale") in names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ADDON)))
def test_no_module_or_name_newer_pythons_removed(path: Path) -> None:
    names = imported(ast.parse(path.read_text(encoding="utf-8")))
    assert not {m for m, _ in names} & REMOVED, "imports a module Python 3.12/3.13 removed"
    assert not names & REMOVED_NAMES, "uses a name Python 3.12/3.13 removed"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ADDON)))
def test_compiles_without_warnings(path: Path) -> None:
    # Invalid escape sequences are a SyntaxWarning since 3.12 (and will be errors).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
