"""Runs `blender --command yvo3d ARGS` the way Blender would, in a process with the bpy module.

The bpy module has no `blender` executable, so this does what Blender does for
`blender --online-mode --command yvo3d ARGS`: start in the user folder $BLENDER_USER_RESOURCES
(a new temporary one if unset), install the built extension ($YVO3D_ZIP) there unless an
earlier run did, enable it, allow online access, then call the function the extension
registered with `bpy.utils.register_cli_command` and exit with its return value.

    python tests/blender/cli_runner.py generate photo.png --out model.glb

Credentials come from SCENARIO_SDK_API_KEY / SCENARIO_SDK_API_SECRET / SCENARIO_BASE_URL (the
command line falls back to them when the preferences hold none). YVO3D_ONLINE=0 leaves online
access off.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile

MODULE = "bl_ext.user_default.yvo3d"


def main() -> int:
    if not os.environ.get("BLENDER_USER_RESOURCES"):
        os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="yvo3d-cli-user-")
    # Setting up prints Blender's own lines: keep stdout for the command alone.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        import bpy

        prefs = bpy.context.preferences
        prefs.system.use_online_access = os.environ.get("YVO3D_ONLINE") != "0"
        repo = next(r for r in prefs.extensions.repos if r.module == "user_default")
        if os.path.isdir(os.path.join(repo.directory, "yvo3d")):
            # Installed by an earlier run in this user folder: Blender only enables it.
            import addon_utils

            addon_utils.enable(MODULE, default_set=True)
        else:
            result = bpy.ops.extensions.package_install_files(
                filepath=os.environ["YVO3D_ZIP"], repo="user_default", enable_on_install=True
            )
            assert result == {"FINISHED"}, result
        assert MODULE in prefs.addons, "the extension is not enabled"
        cli = importlib.import_module(MODULE + ".blender.cli")
        cli_main = importlib.import_module(MODULE + ".blender.ops.cli_main")
        assert cli_main._handle is not None, "the command was not registered"
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    return int(cli.main(sys.argv[1:]))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # bpy 4.2 can crash (4.5 hang) at interpreter exit in module mode (see conftest.py): leave now.
    os._exit(code)
