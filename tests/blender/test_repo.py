"""`python build.py repo`: a static extension repository that real Blender installs from and
takes updates from, served over loopback HTTP as a user's web server would serve it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import REPO_ROOT, load_build_module

# Runs in its own Blender process (the session's Blender already has the extension enabled
# from user_default; a second copy of the same classes would collide).
CHILD = r"""
import functools, http.server, json, os, shutil, sys, tempfile, threading, tomllib

os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="yvo3d-repo-user-"))
sys.stdout.flush()
saved = os.dup(1)
os.dup2(2, 1)  # Blender's own lines go to stderr; stdout carries the JSON result alone
import bpy

served, update = sys.argv[1], sys.argv[2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=served)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/index.json"

prefs = bpy.context.preferences
prefs.system.use_online_access = True
for other in prefs.extensions.repos:
    if other.use_remote_url:
        other.enabled = False  # never reach extensions.blender.org from a test
repo = prefs.extensions.repos.new(name="YVO3D", module="yvo3d_repo", remote_url=url, source="USER")
index = -1  # the operators find the repository by its directory
module = "bl_ext.yvo3d_repo.yvo3d"


def installed_version():
    with open(os.path.join(repo.directory, "yvo3d", "blender_manifest.toml"), "rb") as fh:
        return tomllib.load(fh)["version"]


sync = bpy.ops.extensions.repo_sync
result = {"sync": sorted(sync(repo_directory=repo.directory, repo_index=index))}
result["install"] = sorted(
    bpy.ops.extensions.package_install(
        repo_directory=repo.directory, repo_index=index, pkg_id="yvo3d", enable_on_install=True
    )
)
result["enabled"] = module in prefs.addons
result["version"] = installed_version()
cli = sys.modules.get(module + ".blender.ops.cli_main")
result["command"] = bool(cli is not None and cli._handle is not None)

# A new release is published: the folder's files are replaced, Blender syncs and upgrades.
for name in os.listdir(served):
    os.remove(os.path.join(served, name))
for name in os.listdir(update):
    shutil.copy(os.path.join(update, name), served)
sync(repo_directory=repo.directory, repo_index=index)
result["upgrade"] = sorted(bpy.ops.extensions.package_upgrade_all(use_active_only=False))
result["updated_version"] = installed_version()
result["enabled_after_update"] = module in prefs.addons

sys.stdout.flush()
os.dup2(saved, 1)
print(json.dumps(result), flush=True)
os._exit(0)
"""

# The same through `blender --command extension ...`: with the bpy module there is no blender
# executable, so the function Blender runs for that command is called with the same arguments.
SHELL_CHILD = r"""
import functools, http.server, json, os, shutil, sys, tempfile, threading, tomllib

os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="yvo3d-repo-user-"))
sys.stdout.flush()
saved = os.dup(1)
os.dup2(2, 1)
import bpy
from bl_pkg import bl_extension_cli

served, update = sys.argv[1], sys.argv[2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=served)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/index.json"
prefs = bpy.context.preferences
prefs.system.use_online_access = True  # what --online-mode does
for other in prefs.extensions.repos:
    if other.use_remote_url:
        other.enabled = False  # never reach extensions.blender.org from a test


def extension(*args):
    return bl_extension_cli.cli_extension_handler(list(args))


def installed_version():
    repo = next(r for r in prefs.extensions.repos if r.module == "yvo3d")
    with open(os.path.join(repo.directory, "yvo3d", "blender_manifest.toml"), "rb") as fh:
        return tomllib.load(fh)["version"]


result = {
    "repo-add": extension("repo-add", "yvo3d", "--url", url),
    "sync": extension("sync"),
    "install": extension("install", "yvo3d.yvo3d", "--enable"),
}
result["enabled"] = "bl_ext.yvo3d.yvo3d" in prefs.addons
result["version"] = installed_version()
for name in os.listdir(served):
    os.remove(os.path.join(served, name))
for name in os.listdir(update):
    shutil.copy(os.path.join(update, name), served)
result["update"] = extension("update", "--sync")
result["updated_version"] = installed_version()
sys.stdout.flush()
os.dup2(saved, 1)
print(json.dumps(result), flush=True)
os._exit(0)
"""


@pytest.fixture(scope="module")
def build():
    return load_build_module()


def _release(root_dir: Path, version: str) -> Path:
    """A copy of the source tree whose manifest says `version`."""
    root = root_dir / f"src-{version}"
    shutil.copytree(REPO_ROOT / "yvo3d_addon", root / "yvo3d_addon")
    manifest = (REPO_ROOT / "blender_manifest.toml").read_text(encoding="utf-8")
    current = tomllib.loads(manifest)["version"]
    (root / "blender_manifest.toml").write_text(
        manifest.replace(f'version = "{current}"', f'version = "{version}"', 1), encoding="utf-8"
    )
    return root


@pytest.fixture(scope="module")
def releases(build, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The repository folder as `python build.py repo` writes it, and the next release's."""
    folder = tmp_path_factory.mktemp("repos")
    served = folder / "current"
    argv = ["repo", "--out", str(served), "--blender-python", sys.executable]
    assert build.main([*argv, "--url", "https://ex.am/p/"]) == 0
    update = folder / "next"
    build.build_repo(update, sys.executable, root=_release(folder, "99.0.1"), check=False)
    return served, update


def _child(script: str, releases: tuple[Path, Path], tmp_path: Path) -> dict:
    served = tmp_path / "served"
    shutil.copytree(releases[0], served)  # the child publishes the next release into it
    proc = subprocess.run(
        [sys.executable, "-c", script, str(served), str(releases[1])],
        env=dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_build_py_repo_writes_an_index_made_by_blender(
    build, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = tmp_path / "served"
    argv = ["repo", "--out", str(served), "--blender-python", sys.executable, "--no-validate"]
    assert build.main([*argv, "--url", "https://ex.am/p/"]) == 0
    printed = capsys.readouterr().out
    assert "URL: https://ex.am/p/index.json" in printed
    assert "Add Remote Repository" in printed
    assert build.main(argv) == 0
    assert f"URL: {(served / 'index.json').as_uri()}" in capsys.readouterr().out

    manifest = build.read_manifest()
    zip_path = served / build.zip_name(manifest)
    index = json.loads((served / "index.json").read_text(encoding="utf-8"))
    (entry,) = index["data"]
    assert (entry["id"], entry["version"]) == (manifest["id"], manifest["version"])
    assert entry["archive_url"] == f"./{zip_path.name}"
    assert entry["archive_size"] == zip_path.stat().st_size
    assert entry["archive_hash"] == "sha256:" + hashlib.sha256(zip_path.read_bytes()).hexdigest()
    assert oct(zip_path.stat().st_mode & 0o777) == "0o644"
    html = (served / "index.html").read_text(encoding="utf-8")
    assert "Add Remote Repository" in html and f"./{zip_path.name}" in html
    assert sorted(os.listdir(served)) == ["index.html", "index.json", zip_path.name]

    # The next release built into the same folder replaces the old zip in the listing.
    build.build_repo(served, sys.executable, root=_release(tmp_path, "99.0.2"), check=False)
    listed = json.loads((served / "index.json").read_text(encoding="utf-8"))["data"]
    assert [e["version"] for e in listed] == ["99.0.2"]
    assert sorted(p.name for p in served.glob("*.zip")) == ["yvo3d-99.0.2.zip"]


def test_blender_installs_from_the_repository_and_takes_the_update(
    build, releases: tuple[Path, Path], tmp_path: Path
) -> None:
    result = _child(CHILD, releases, tmp_path)
    assert result == {
        "sync": ["FINISHED"],
        "install": ["FINISHED"],
        "enabled": True,
        "version": build.read_manifest()["version"],
        "command": True,
        "upgrade": ["FINISHED"],
        "updated_version": "99.0.1",
        "enabled_after_update": True,
    }


def test_the_shell_commands_of_the_readme_install_and_update(
    build, releases: tuple[Path, Path], tmp_path: Path
) -> None:
    result = _child(SHELL_CHILD, releases, tmp_path)
    assert result == {
        "repo-add": 0,
        "sync": 0,
        "install": 0,
        "enabled": True,
        "version": build.read_manifest()["version"],
        "update": 0,
        "updated_version": "99.0.1",
    }
