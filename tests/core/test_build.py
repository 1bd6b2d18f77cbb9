"""build.py without Blender: zip layout, byte-identical builds, and the extension rule checks."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def build() -> ModuleType:
    # By path: a PyPI package named `build` may sit on sys.path.
    spec = importlib.util.spec_from_file_location("yvo3d_build", REPO_ROOT / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["yvo3d_build"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(build: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(build.build_zip(tmp_path_factory.mktemp("dist")))


def _tree(tmp_path: Path) -> Path:
    """A copy of the manifest and package, to break on purpose."""
    root = tmp_path / "src"
    shutil.copytree(
        REPO_ROOT / "yvo3d_addon",
        root / "yvo3d_addon",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy(REPO_ROOT / "blender_manifest.toml", root)
    return root


def test_zip_is_named_from_the_manifest(built: Path) -> None:
    manifest = tomllib.loads((REPO_ROOT / "blender_manifest.toml").read_text())
    assert built.name == f"{manifest['id']}-{manifest['version']}.zip"


def test_zip_layout(built: Path) -> None:
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
        manifest = archive.read("blender_manifest.toml")
    assert manifest == (REPO_ROOT / "blender_manifest.toml").read_bytes()
    assert "__init__.py" in names and "blender_manifest.toml" in names
    assert "blender/settings/preferences.py" in names and "core/errors.py" in names
    assert not any(name.startswith("yvo3d_addon/") for name in names)
    for name in names:
        parts = name.split("/")
        assert "__pycache__" not in parts and not name.endswith(".pyc"), name
        assert not any(p.startswith(".") for p in parts), name
        assert "tests" not in parts and parts[-1] != "ruff.toml", name
    assert names == sorted(names)
    # Every Python file of the package ships, and only those files and the manifest.
    sources = sorted(
        p.relative_to(REPO_ROOT / "yvo3d_addon").as_posix()
        for p in (REPO_ROOT / "yvo3d_addon").rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert sorted(n for n in names if n.endswith(".py")) == sources


def test_build_is_deterministic(build: ModuleType, tmp_path: Path) -> None:
    root = _tree(tmp_path)
    first = Path(build.build_zip(tmp_path / "one", root=root)).read_bytes()
    # Later mtimes and a fresh bytecode cache must change nothing.
    for path in root.rglob("*"):
        os.utime(path, (2_000_000_000, 2_000_000_000))
    (root / "yvo3d_addon" / "__pycache__").mkdir(exist_ok=True)
    (root / "yvo3d_addon" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    second = Path(build.build_zip(tmp_path / "two", root=root))
    assert second.read_bytes() == first
    with zipfile.ZipFile(second) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_excluded_files_never_ship(build: ModuleType, tmp_path: Path) -> None:
    root = _tree(tmp_path)
    package = root / "yvo3d_addon"
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (package / "stale.pyc").write_bytes(b"\0")
    (package / ".secret.env").write_text("KEY=1")
    (package / "tests").mkdir()
    (package / "tests" / "test_x.py").write_text("")
    (package / "blender" / "extra.py").write_text('"""Extra."""\n')
    out = Path(build.build_zip(tmp_path / "out", root=root))
    names = zipfile.ZipFile(out).namelist()
    assert "blender/extra.py" in names
    assert not [n for n in names if ".pyc" in n or ".secret" in n or n.startswith("tests/")]


def test_sources_of_the_repository_pass_the_checks(build: ModuleType) -> None:
    assert build.check_sources() == []


@pytest.mark.parametrize(
    ("path", "source", "problem"),
    [
        ("__init__.py", 'bl_info = {"name": "x"}\n', "bl_info"),
        ("blender/x.py", "import yvo3d_addon.core.errors\n", "absolute import"),
        ("blender/x.py", "from yvo3d_addon.core import errors\n", "absolute import"),
        ("core/x.py", "import bpy\n", "core/ must not import `bpy`"),
        ("core/x.py", "from mathutils import Vector\n", "core/ must not import `mathutils`"),
        ("core/x.py", "from ..blender import preferences\n", "Blender layer"),
        ("core/x.py", "from .. import blender\n", "Blender layer"),
        ("core/x.py", "def broken(:\n", "syntax error"),
    ],
)
def test_rule_breaks_fail_the_build(
    build: ModuleType, tmp_path: Path, path: str, source: str, problem: str
) -> None:
    root = _tree(tmp_path)
    (root / "yvo3d_addon" / path).write_text(source)
    with pytest.raises(build.BuildError, match="extension rules") as caught:
        build.build_zip(tmp_path / "out", root=root)
    assert problem in str(caught.value) and path in str(caught.value)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_allowed_imports_pass(build: ModuleType, tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "yvo3d_addon" / "blender" / "x.py").write_text(
        "import bpy\nfrom ..core import errors\nfrom . import preferences\n"
    )
    (root / "yvo3d_addon" / "core" / "x.py").write_text("from . import errors\n# bl_info\n")
    assert build.check_sources(root / "yvo3d_addon") == []


def test_command_line_build_without_validation(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "build.py"), "--no-validate", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("yvo3d-*.zip"))) == 1


def test_missing_blender_python_names_the_setup_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "build.py"),
            "build",
            "--out-dir",
            str(tmp_path),
            "--blender-python",
            str(tmp_path / "no-such-python"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "python3 dev.py setup" in result.stderr


def test_bad_manifest_is_reported(build: ModuleType, tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "blender_manifest.toml").write_text('id = "yvo3d"\n')
    with pytest.raises(build.BuildError, match="version"):
        build.build_zip(tmp_path / "out", root=root)


def test_fresh_clone_without_a_venv_builds_and_says_validation_was_skipped(
    tmp_path: Path,
) -> None:
    """The README's install step, `python3 build.py`, on a clone where no virtual environment
    was made yet and no Blender is on PATH: the zip is built and the command exits 0."""
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copytree(
        REPO_ROOT / "yvo3d_addon",
        clone / "yvo3d_addon",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    for name in ("build.py", "blender_manifest.toml"):
        shutil.copy(REPO_ROOT / name, clone)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    result = subprocess.run(
        [sys.executable, str(clone / "build.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=clone,
        env=dict(os.environ, PATH=str(empty_bin)),
    )
    assert result.returncode == 0, result.stderr
    assert len(list((clone / "dist").glob("yvo3d-*.zip"))) == 1
    assert "validation skipped" in result.stdout
    assert "blender --command extension validate" in result.stdout
