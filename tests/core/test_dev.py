"""dev.py's test legs: finding a Python for a leg, skipping a leg out loud, the smoke subset."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
THIS = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="module")
def dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("yvo3d_dev", REPO_ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["yvo3d_dev"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _pyenv_with(root: Path, version: str, target: str) -> Path:
    """A pyenv root holding one version whose python is `target`."""
    bin_dir = root / "versions" / f"{version}.9" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / f"python{version}").symlink_to(target)
    return bin_dir / f"python{version}"


def test_finds_a_pyenv_version_that_runs(
    dev: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(f"YVO3D_PYTHON{THIS.replace('.', '')}", raising=False)
    made = _pyenv_with(tmp_path / "pyenv", THIS, os.path.realpath(sys.executable))
    found, reason = dev.find_python(THIS, search_path="", pyenv_root=tmp_path / "pyenv")
    assert (found, reason) == (made, "")


def test_a_pyenv_shim_or_wrong_version_is_not_taken(
    dev: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyenv's `python3.13` shim exists on PATH but fails unless 3.13 is selected: try it, skip it.
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "python3.13"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    _pyenv_with(tmp_path / "pyenv", "3.13", os.path.realpath(sys.executable))  # wrong version
    monkeypatch.delenv("YVO3D_PYTHON313", raising=False)
    found, reason = dev.find_python(
        "3.13", search_path=str(shims), pyenv_root=tmp_path / "pyenv", apt=False
    )
    assert found is None
    assert "no Python 3.13" in reason and str(tmp_path / "pyenv" / "versions") in reason


def test_an_explicit_interpreter_that_is_not_the_version_is_refused(
    dev: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "3.13" if THIS != "3.13" else "3.12"
    monkeypatch.setenv(f"YVO3D_PYTHON{other.replace('.', '')}", sys.executable)
    found, reason = dev.find_python(other, apt=False)
    assert found is None
    assert (
        reason
        == f"$YVO3D_PYTHON{other.replace('.', '')}={sys.executable} is not a working Python {other}"
    )


def test_a_leg_without_its_python_is_skipped_with_the_reason(
    dev: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    venv = dev.Venv(tmp_path / ".venv-x", REPO_ROOT / "requirements" / "bpy53.txt", "3.13")
    monkeypatch.setitem(dev.VENVS, "x", venv)
    monkeypatch.setattr(dev, "find_python", lambda version: (None, "no Python 3.13: here"))
    assert dev.setup(["x"]) == {"x": "no Python 3.13: here"}
    assert "skipped, no Python 3.13: here" in capsys.readouterr().out
    assert not venv.path.exists()
    line = dev.summary_line(dev.leg_label("bpy53", "smoke"), "no Python 3.13: here")
    assert line.startswith("Blender 5.") and "(smoke, Python 3.13)" in line
    assert line.endswith("SKIPPED: no Python 3.13: here")


def test_summary_names_each_leg_with_its_counts(dev: ModuleType) -> None:
    counts = {"passed": 161, "failed": 0, "skipped": 2, "errors": 0, "exit": 0, "seconds": 153}
    line = dev.summary_line(dev.leg_label("bpy45", "full"), counts)
    assert line.startswith("Blender 4.5.") and "passed  161" in line and "(153 s)" in line


@pytest.mark.parametrize(
    ("argv", "legs"),
    [
        ([], ["bpy50", "bpy45", "bpy42", "bpy53"]),
        (["--quick"], ["bpy50"]),
        (["--leg", "bpy53", "--leg", "bpy45"], ["bpy45", "bpy53"]),
    ],
)
def test_which_legs_run(dev: ModuleType, argv: list[str], legs: list[str]) -> None:
    args = argparse.Namespace(quick="--quick" in argv, leg=[a for a in argv if a.startswith("b")])
    assert [name for name, _ in dev.blender_legs(args)] == legs


def test_every_leg_has_a_pinned_requirements_file(dev: ModuleType) -> None:
    for name, suite in dev.BLENDER_LEGS:
        assert suite in ("full", "smoke")
        assert dev.bpy_version(name)[0].isdigit(), f"{dev.VENVS[name].reqs} pins no bpy"
    # Both LTS legs and the main target: the whole suite where the README says so.
    assert dict(dev.BLENDER_LEGS)["bpy50"] == "full"


def _dying_tests(folder: Path, once: bool) -> Path:
    """Three tests; the second segfaults (only the first time it runs if `once`) while a
    worker thread waits."""
    marker = folder / "died-once"
    test_file = folder / "test_dies.py"
    test_file.write_text(
        "import ctypes, os, threading, time\n"
        "def test_before():\n"
        "    pass\n"
        "def idle_worker():\n"
        "    time.sleep(30)\n"
        "def test_dies_in_the_middle():\n"
        f"    if {once!r} and os.path.exists({str(marker)!r}):\n"
        "        return\n"
        f"    open({str(marker)!r}, 'w').close()\n"
        "    threading.Thread(target=idle_worker, daemon=True).start()\n"
        "    time.sleep(0.2)\n"
        "    ctypes.string_at(0)\n"
        "def test_after():\n"
        "    pass\n"
    )
    return test_file


def _run_leg(dev: ModuleType, test_file: Path) -> tuple[dict[str, int], str]:
    kept: list[str] = []
    args = ["-q", "-p", "no:cacheprovider", str(test_file)]
    counts = dev.pytest_leg(Path(sys.executable), "dying leg", args, dict(os.environ), kept)
    return counts, "".join(kept)


def test_a_crash_is_reported_and_the_unfinished_tests_run_again(
    dev: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real pytest process that segfaults once: the digest names the test (main thread) and
    # the crash, whatever CI cuts from the middle of the log; the test that finished is not
    # run again, the one that died and the one after it are, and then they pass.
    monkeypatch.setattr(dev, "CRASHES", [])
    counts, output = _run_leg(dev, _dying_tests(tmp_path, once=True))
    assert counts["crashed"] == 1 and counts["exit"] == 0
    assert (counts["passed"], counts["failed"], counts["errors"]) == (3, 0, 0)
    assert "crashed after 1 tests; the others run again" in output
    assert "2 passed, 1 deselected" in output
    [(label, digest)] = dev.CRASHES
    assert label == "dying leg"
    assert digest.startswith("Fatal Python error: Segmentation fault")
    assert "Current thread" in digest and "test_dies_in_the_middle" in digest
    assert "idle_worker" not in digest  # other threads stay in the full log only
    assert "crashed once" in dev.summary_line("dying leg", counts)


def test_a_crash_that_comes_back_fails_the_leg(
    dev: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dev, "CRASHES", [])
    counts, _ = _run_leg(dev, _dying_tests(tmp_path, once=False))
    assert counts["exit"] < 0 and counts["errors"] == 1 and counts["passed"] == 1
    assert [label for label, _ in dev.CRASHES] == ["dying leg", "dying leg, run again"]
