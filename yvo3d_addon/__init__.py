"""YVO3D for Blender: extension registration (photos to a 3D model with Scenario's YVO3D)."""

import contextlib
from types import ModuleType

try:
    import bpy  # noqa: F401
except ImportError:  # imported outside Blender (core tests, tools): only core/ is usable
    _IN_BLENDER = False
else:
    _IN_BLENDER = True

# Every Blender module that registers something, in registration order (property groups
# before the panels that draw them). A module plugs in by being listed here; it may expose
# `classes` (registered in order) and `register()` / `unregister()` hooks (run after its
# classes are registered / before they are unregistered).
_modules: tuple[ModuleType, ...] = ()
if _IN_BLENDER:
    from .blender import cli  # noqa: F401 - the README's `blender.cli` entry point
    from .blender.ops import (
        asset_ops,
        capture_ops,
        cleanup_ops,
        cli_main,
        consent,
        entry_ops,
        follow,
        generate,
        handlers,
        images,
        job_links,
        jobs,
        library_ops,
        placeholder_ops,
        reference_ops,
        service,
        statusbar_ops,
    )
    from .blender.session import runtime
    from .blender.settings import (
        capture_options,
        import_options,
        library_list,
        preferences,
        properties,
    )
    from .blender.ui import (
        capture_panels,
        cleanup_panels,
        jobs_panel,
        library_panel,
        menus,
        panels,
        placeholder_panel,
        statusbar,
    )

    _modules = (
        # settings: property groups before everything that points at or draws them
        preferences,
        properties,
        import_options,
        capture_options,
        library_list,
        # session
        runtime,
        # operators
        follow,
        consent,
        generate,
        jobs,
        images,
        reference_ops,
        job_links,
        entry_ops,
        service,
        placeholder_ops,
        capture_ops,
        cleanup_ops,
        asset_ops,
        library_ops,
        statusbar_ops,
        handlers,
        # UI: the main panel before its sub-panels, in the order they show
        panels,
        placeholder_panel,
        capture_panels,
        cleanup_panels,
        jobs_panel,
        library_panel,
        menus,
        statusbar,
        # the command line last
        cli_main,
    )


def all_classes() -> tuple[type, ...]:
    """Every class the listed modules register, in registration order."""
    return tuple(cls for module in _modules for cls in getattr(module, "classes", ()))


def _undo(done: list[tuple[str, object]]) -> None:
    import bpy

    for kind, item in reversed(done):
        if kind == "class":
            bpy.utils.unregister_class(item)
        else:
            hook = getattr(item, "unregister", None)
            if callable(hook):
                hook()


def register() -> None:
    import bpy

    done: list[tuple[str, object]] = []
    try:
        for module in _modules:
            for cls in getattr(module, "classes", ()):
                bpy.utils.register_class(cls)
                done.append(("class", cls))
            hook = getattr(module, "register", None)
            if callable(hook):
                hook()
                done.append(("module", module))
    except BaseException:
        # A half-registered add-on cannot be enabled again: roll back, then let the
        # original error (not a rollback one) reach Blender, which shows it to the user.
        with contextlib.suppress(Exception):
            _undo(done)
        raise


def unregister() -> None:
    import bpy

    errors: list[BaseException] = []
    for module in reversed(_modules):
        hook = getattr(module, "unregister", None)
        if callable(hook):
            try:
                hook()
            except Exception as exc:  # keep going: every class must still come off
                errors.append(exc)
        for cls in reversed(getattr(module, "classes", ())):
            if getattr(cls, "is_registered", False):
                bpy.utils.unregister_class(cls)
    if errors:
        raise errors[0]
