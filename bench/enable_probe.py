"""Benchmark helper: time `addon_utils.enable` of the add-on and of an empty extension, in a
fresh Blender (bpy) process. Prints one JSON line of milliseconds.

`--install` installs the zips first (the first enable then also compiles the modules), else
they must already be installed in `--user-dir` (a Blender start with the add-on installed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--user-dir", required=True)
    parser.add_argument("--install", nargs="*", default=[], help="zips to install first")
    parser.add_argument("--warm", required=True, help="module enabled first, untimed")
    parser.add_argument("--modules", nargs="+", required=True, help="modules to time, in order")
    args = parser.parse_args()
    os.environ["BLENDER_USER_RESOURCES"] = args.user_dir
    import bpy

    addon_utils = importlib.import_module("addon_utils")  # importable once bpy is

    for path in args.install:
        result = bpy.ops.extensions.package_install_files(
            filepath=path, repo="user_default", enable_on_install=False
        )
        assert result == {"FINISHED"}, (path, result)
    problems: list[BaseException] = []
    # The first enable of a session also loads the extension machinery: not the add-on's cost.
    addon_utils.enable(args.warm, default_set=True, handle_error=problems.append)
    timings: dict[str, float] = {}
    for module in args.modules:
        assert module not in sys.modules, module
        os.write(2, f"@enable {module}\n".encode())  # a marker in `-X importtime` output
        started = time.perf_counter()
        addon_utils.enable(module, default_set=True, handle_error=problems.append)
        timings[module] = (time.perf_counter() - started) * 1000
        assert module in bpy.context.preferences.addons, module
    assert not problems, problems
    print(json.dumps(timings), flush=True)
    sys.stdout.flush()
    # Module-mode bpy can crash at interpreter exit once add-ons registered timers.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
