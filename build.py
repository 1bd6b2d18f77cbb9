"""Build tool: packages the extension zip and validates it with Blender's own extension tool.

Runs with plain Python 3.11 and the standard library only:

    python build.py                 # = python build.py build
                                    # (validates with the Blender venv, else a `blender` on
                                    # PATH, else says validation was skipped and exits 0)
    python build.py build --no-validate --out-dir /tmp/out
    python build.py repo --out repo/ --url https://example.com/yvo3d/
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = ROOT / "yvo3d_addon"
MANIFEST_NAME = "blender_manifest.toml"
DEFAULT_BLENDER_PYTHON = ROOT / ".venv-bpy50" / "bin" / "python"
SETUP_HINT = "run `python3 dev.py setup` to create the Blender virtual environment"
SKIPPED = (
    "validation skipped: no Blender found (no {venv} and no `blender` on PATH).\n"
    "Validate it with `blender --command extension validate {zip}`, or run "
    "`python3 dev.py setup` once and build again."
)

# Zip timestamps before 1980 are not representable; a fixed one makes builds byte-identical.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
EXCLUDED_NAMES = frozenset({"__pycache__", "ruff.toml", "tests", "test", "conftest.py"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".orig", ".rej", ".blend1")
# Names the package must never import absolutely: the installed module is bl_ext.<repo>.<id>.
OWN_TOP_LEVEL_NAMES = frozenset({"yvo3d_addon", "yvo3d"})
BLENDER_MODULES = frozenset({"bpy", "mathutils", "bmesh", "gpu", "bl_math", "idprop"})

# Printed by the Blender venv's python: where the extension tool and the valid tags live.
# bl_pkg sits in <ver>/scripts/addons_core/bl_pkg; tags.py in <ver>/scripts/modules/_bpy_internal.
_LOCATE_TOOL = """
import json, os
import bpy, bl_pkg
pkg = os.path.dirname(os.path.abspath(bl_pkg.__file__))
scripts = os.path.dirname(os.path.dirname(pkg))
print(json.dumps({
    "tool": os.path.join(pkg, "cli", "blender_ext.py"),
    "tags": os.path.join(scripts, "modules", "_bpy_internal", "extensions", "tags.py"),
    "version": bpy.app.version_string,
}))
"""


class BuildError(Exception):
    """A build or validation step failed; the message says what and how to fix it."""


def read_manifest(root: Path = ROOT) -> dict[str, object]:
    """The parsed blender_manifest.toml, with `id` and `version` checked to be present."""
    path = root / MANIFEST_NAME
    try:
        with path.open("rb") as handle:
            manifest = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise BuildError(f"{path} is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"{path} is not valid TOML: {exc}") from exc
    for key in ("id", "version"):
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise BuildError(f"{path} needs a non-empty string `{key}`")
    return manifest


def _excluded(relative: Path) -> bool:
    for part in relative.parts:
        if part.startswith(".") or part in EXCLUDED_NAMES:
            return True
    return relative.name.endswith(EXCLUDED_SUFFIXES)


def package_files(package_dir: Path = PACKAGE_DIR) -> list[tuple[str, Path]]:
    """(name in the zip, file on disk) for every file of the package that ships, sorted."""
    if not (package_dir / "__init__.py").is_file():
        raise BuildError(f"{package_dir} is not a package (no __init__.py)")
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(package_dir):
        base = Path(dirpath)
        # Prune excluded folders so their contents are never even listed.
        dirnames[:] = [d for d in dirnames if not _excluded((base / d).relative_to(package_dir))]
        for filename in filenames:
            relative = (base / filename).relative_to(package_dir)
            if not _excluded(relative):
                found.append((relative.as_posix(), base / filename))
    return sorted(found)


def _import_problems(relative: str, tree: ast.AST) -> list[str]:
    problems: list[str] = []
    in_core = relative.startswith("core/")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "bl_info":
            problems.append(f"{relative}:{node.lineno}: `bl_info` is not allowed in an extension")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.partition(".")[0]
                if top in OWN_TOP_LEVEL_NAMES:
                    problems.append(
                        f"{relative}:{node.lineno}: absolute import `{alias.name}`: "
                        "use a relative import (the installed module is bl_ext.<repo>.<id>)"
                    )
                if in_core and top in BLENDER_MODULES:
                    problems.append(
                        f"{relative}:{node.lineno}: core/ must not import `{alias.name}`"
                    )
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            top = module.partition(".")[0]
            if node.level == 0 and top in OWN_TOP_LEVEL_NAMES:
                problems.append(
                    f"{relative}:{node.lineno}: absolute import `from {module} import ...`: "
                    "use a relative import (the installed module is bl_ext.<repo>.<id>)"
                )
            if in_core and node.level == 0 and top in BLENDER_MODULES:
                problems.append(f"{relative}:{node.lineno}: core/ must not import `{module}`")
            # `from ..blender import x` inside core/ would pull bpy in through the back door;
            # level == depth + 1 is the package root as seen from this file.
            if in_core and node.level == relative.count("/") + 1:
                names = [module] if module else [a.name for a in node.names]
                if any(n.partition(".")[0] == "blender" for n in names):
                    problems.append(
                        f"{relative}:{node.lineno}: core/ must not import the Blender layer"
                    )
    return problems


def check_sources(package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Problems that would break the extension: bl_info, absolute self-imports, bpy in core/."""
    problems: list[str] = []
    for relative, path in package_files(package_dir):
        if not relative.endswith(".py"):
            continue
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as exc:
            problems.append(f"{relative}:{exc.lineno}: syntax error: {exc.msg}")
            continue
        problems.extend(_import_problems(relative, tree))
    return problems


def zip_name(manifest: dict[str, object]) -> str:
    return f"{manifest['id']}-{manifest['version']}.zip"


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the permission bits below mean the same everywhere
    info.external_attr = 0o100644 << 16
    return info


def build_zip(out_dir: Path | None = None, *, root: Path = ROOT) -> Path:
    """Write <out_dir>/<id>-<version>.zip (default dist/) and return its path.

    The manifest and the contents of the package sit at the zip root, in sorted order with
    fixed timestamps, so two builds of the same tree are byte-identical.
    """
    manifest = read_manifest(root)
    package_dir = root / "yvo3d_addon"
    problems = check_sources(package_dir)
    if problems:
        raise BuildError("the package breaks extension rules:\n  " + "\n  ".join(problems))
    files = package_files(package_dir)
    if any(name == MANIFEST_NAME for name, _ in files):
        raise BuildError(f"yvo3d_addon/ must not hold its own {MANIFEST_NAME}")
    entries = sorted([(MANIFEST_NAME, root / MANIFEST_NAME), *files])

    out_dir = (out_dir or root / "dist").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / zip_name(manifest)
    # Write beside the target and rename, so a reader never sees half a zip.
    fd, tmp_name = tempfile.mkstemp(prefix=".build-", suffix=".zip", dir=out_dir)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp_name, "w") as archive:
            for name, path in entries:
                archive.writestr(_zip_entry(name), path.read_bytes(), compresslevel=9)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def find_extension_tool(blender_python: Path | str) -> tuple[Path, Path]:
    """(blender_ext.py, tags.py) from the bpy wheel installed for `blender_python`."""
    python = Path(blender_python)
    if not python.exists():
        raise BuildError(
            f"no Blender Python at {python}: {SETUP_HINT}, "
            "pass --blender-python PATH, or build with --no-validate"
        )
    with tempfile.TemporaryDirectory(prefix="yvo3d-build-user-") as user_dir:
        # `import bpy` writes into the user's Blender config; keep that out of it.
        env = dict(os.environ, BLENDER_USER_RESOURCES=user_dir)
        result = subprocess.run(
            [str(python), "-c", _LOCATE_TOOL],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    if result.returncode != 0:
        raise BuildError(
            f"{python} cannot import bpy ({SETUP_HINT}):\n{result.stderr.strip()[-2000:]}"
        )
    # bpy may print its own lines; the JSON is the last one.
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise BuildError(f"{python} did not report where Blender's extension tool is")
    found = json.loads(lines[-1])
    tool, tags = Path(found["tool"]), Path(found["tags"])
    for path in (tool, tags):
        if not path.is_file():
            raise BuildError(f"Blender {found['version']} has no {path}")
    return tool, tags


def validate(zip_path: Path | str, blender_python: Path | str | None = None) -> str:
    """Validate the zip with Blender's extension tool; return its output or raise BuildError."""
    tool, tags = find_extension_tool(blender_python or DEFAULT_BLENDER_PYTHON)
    result = subprocess.run(
        [sys.executable, str(tool), "validate", "--valid-tags", str(tags), str(zip_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise BuildError(f"Blender's extension tool rejected {zip_path}:\n{output}")
    return output


def validate_with_blender(zip_path: Path | str, blender: str) -> str:
    """Validate the zip with a Blender executable (`blender --command extension validate`)."""
    with tempfile.TemporaryDirectory(prefix="yvo3d-build-user-") as user_dir:
        env = dict(os.environ, BLENDER_USER_RESOURCES=user_dir)
        result = subprocess.run(
            [blender, "--factory-startup", "--command", "extension", "validate", str(zip_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise BuildError(f"{blender} rejected {zip_path}:\n{output}")
    return output


def validate_any(zip_path: Path, blender_python: str | None) -> str | None:
    """Validate with the Python given, else the Blender venv, else a `blender` on PATH; None
    when there is no Blender at all (a fresh clone before `dev.py setup`)."""
    if blender_python is not None or DEFAULT_BLENDER_PYTHON.exists():
        return validate(zip_path, blender_python)
    blender = shutil.which("blender")
    if blender is None:
        return None
    return validate_with_blender(zip_path, blender)


REPO_HTML_TEMPLATE = """<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>YVO3D for Blender: extension repository</title>
  <style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .6em}
  code{background:#eee;padding:.1em .3em}</style>
</head>
<body>
<h1>YVO3D for Blender</h1>
<p>To install and receive updates in Blender 4.2 or newer: <b>Edit &gt; Preferences &gt; Get
Extensions</b>, open <b>Repositories</b> (top right), <b>+ &gt; Add Remote Repository</b>, and paste
<code id="url">the address of index.json in this folder</code>. Then search for YVO3D and press
Install. Blender checks this repository for updates like any other.</p>
<script>document.getElementById("url").textContent =
  new URL("index.json", location.href).href;</script>
${body}
<p><small>Generated ${date}</small></p>
</body>
</html>
"""


_TOOLS: dict[str, tuple[Path, Path]] = {}


def build_repo(
    out_dir: Path,
    blender_python: Path | str | None = None,
    *,
    root: Path = ROOT,
    check: bool = True,
) -> Path:
    """A static extension repository in `out_dir`: the zip, index.json made by Blender's own
    `server-generate`, and an index.html listing. Returns the index.json path.

    Older zips of this extension in the folder are removed: the index lists one version.
    """
    manifest = read_manifest(root)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{manifest['id']}-*.zip"):
        if old.name != zip_name(manifest):
            old.unlink()
    target = build_zip(out_dir, root=root)
    target.chmod(0o644)  # a web server usually reads as another user
    python = blender_python or DEFAULT_BLENDER_PYTHON
    if check:
        validate(target, python)
    key = str(python)
    if key not in _TOOLS:  # finding it starts Blender's Python: once per process is enough
        _TOOLS[key] = find_extension_tool(python)
    tool = _TOOLS[key][0]
    template = out_dir / ".index-template.html"
    template.write_text(REPO_HTML_TEMPLATE, encoding="utf-8")
    try:
        result = subprocess.run(
            [
                sys.executable,
                str(tool),
                "server-generate",
                "--repo-dir",
                str(out_dir),
                "--html",
                "--html-template",
                str(template),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        template.unlink(missing_ok=True)
    index = out_dir / "index.json"
    if result.returncode != 0 or not index.is_file():
        output = (result.stdout + result.stderr).strip()
        raise BuildError(f"Blender's extension tool could not index {out_dir}:\n{output}")
    return index


def _cmd_repo(args: argparse.Namespace) -> int:
    index = build_repo(Path(args.out), args.blender_python, check=not args.no_validate)
    listed = json.loads(index.read_text(encoding="utf-8"))["data"]
    for entry in listed:
        print(f"listed {entry['id']} {entry['version']} ({entry['archive_url']})")
    print(f"wrote {index.parent}/ (index.json, index.html, the zip): host this folder as is")
    url = args.url.rstrip("/") + "/index.json" if args.url else index.as_uri()
    print("In Blender: Preferences > Get Extensions > Repositories > + > Add Remote Repository,")
    print(f"URL: {url}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    target = build_zip(Path(args.out_dir) if args.out_dir else None)
    print(f"built {target}")
    if args.no_validate:
        return 0
    output = validate_any(target, args.blender_python)
    if output is None:
        venv = DEFAULT_BLENDER_PYTHON.relative_to(ROOT)
        print(SKIPPED.format(venv=venv, zip=target))
        return 0
    print(output or f"{target.name} is valid")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    build = commands.add_parser("build", help="build dist/<id>-<version>.zip and validate it")
    build.add_argument("--out-dir", help="folder for the zip (default: dist/)")
    build.add_argument(
        "--blender-python",
        default=None,
        help="Python of the venv holding the bpy wheel (default: .venv-bpy50/bin/python, "
        "else a `blender` on PATH)",
    )
    build.add_argument(
        "--no-validate", action="store_true", help="skip Blender's extension validation"
    )
    build.set_defaults(run=_cmd_build)
    repo = commands.add_parser(
        "repo", help="a static extension repository (zip, index.json, index.html) to host"
    )
    repo.add_argument(
        "--out", default=str(ROOT / "dist" / "repo"), help="the folder (default: dist/repo/)"
    )
    repo.add_argument("--url", default="", help="where the folder will be served from")
    repo.add_argument(
        "--blender-python",
        default=str(DEFAULT_BLENDER_PYTHON),
        help="Python of the venv holding the bpy wheel (default: .venv-bpy50/bin/python)",
    )
    repo.add_argument(
        "--no-validate", action="store_true", help="skip Blender's extension validation"
    )
    repo.set_defaults(run=_cmd_repo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # `build` is the default command, options included: `python build.py --no-validate`.
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "build")
    args = _parser().parse_args(args_list)
    try:
        return int(args.run(args))
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
