"""The Blender layer of YVO3D: five folders, one per layer, imports going down only.

    ui/        panels, menus, the status bar: draw only
    ops/       operators, the job follower, app handlers, the command line: a user action
               (or a command) turned into calls to the layers below
    session/   the one job manager, pricer and credentials snapshot: the only process state
    scene/     functions on Blender data (import, placement, takes, clean-up, capture, assets)
               that take their inputs as arguments and return results
    settings/  preferences and scene properties: data and its rules, nothing that starts work

Every layer may use `..core` (Blender-free) and the layers below it. import-linter enforces
the order (`[tool.importlinter]` in pyproject.toml); docs/architecture.md walks one Generate
through them.
"""
