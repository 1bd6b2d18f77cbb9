"""Which process owns a job: two Blender sessions (or batch runs) may share one job store.

Blender-free. An owner is `host:pid`; it is alive when it is this process (any copy of the
add-on in it: a reinstall imports a new one), or a process with that pid still runs on this
host. Another host's owner counts as alive (it cannot be checked from here), so its jobs are
never taken over without the user asking.
"""

from __future__ import annotations

import os
import socket
import sys


def me() -> str:
    """This process's owner name (stable for the life of the process)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def alive(owner: str) -> bool:
    if not owner or owner == me():
        return bool(owner)
    host, _, rest = owner.partition(":")
    pid_text = rest
    if host != socket.gethostname():
        return True
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    return _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process there
        import ctypes

        kernel = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        try:
            ok = kernel.GetExitCodeProcess(handle, ctypes.byref(code))
        finally:
            kernel.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
