"""The command line's Python functions, where the README documents them
(`bl_ext.<repo>.yvo3d.blender.cli`): a thin alias of `ops.cli` and `ops.cli_main`."""

from .ops.cli import (
    batch,
    check_connection,
    generate,
    jobs_cancel,
    jobs_download,
    jobs_follow,
    jobs_list,
    price,
)
from .ops.cli_main import main

__all__ = [
    "batch",
    "check_connection",
    "generate",
    "jobs_cancel",
    "jobs_download",
    "jobs_follow",
    "jobs_list",
    "main",
    "price",
]
