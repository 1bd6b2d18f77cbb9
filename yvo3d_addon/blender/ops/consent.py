"""Operators layer: no credits without a yes.

In a window, an operator that pays asks first, every time, with the price: its `invoke` shows
the confirmation and hands the dialog a one-time token; `execute` pays only with that token.
An `execute` without one (Repeat Last, F3 > Repeat History, a keymap item that calls execute, a
script run from the Python console) pays nothing: it opens the operator again the way a click
does, so the user sees the price and confirms. A replayed token is already spent. Background
mode and scripts without a window keep working without a dialog.
"""

import secrets
import time
from typing import Any

import bpy

from ..session import runtime
from . import common
from .common import Result

TOKEN_SECONDS = 600.0
"""A confirmation dialog left open longer than this asks again."""

_tokens: dict[str, float] = {}


def interactive(context: bpy.types.Context) -> bool:
    """A user is there to ask (a window and an event loop)."""
    return not common.headless() and getattr(context, "window", None) is not None


def grant() -> str:
    """A one-time token for the confirmation dialog about to open."""
    now = time.monotonic()
    for token, expiry in list(_tokens.items()):
        if expiry < now:
            del _tokens[token]
    token = secrets.token_hex(8)
    _tokens[token] = now + TOKEN_SECONDS
    return token


def take(token: str) -> bool:
    """Whether `token` is a live confirmation (it is spent by this call)."""
    expiry = _tokens.pop(token, None) if token else None
    return expiry is not None and expiry >= time.monotonic()


def confirm(op: Any, context: bpy.types.Context, event: Any, *, title: str, message: str) -> Result:
    """Show the confirmation, with what is left of the budget when one is set; on OK Blender
    runs `op.execute` with the token it carries."""
    left = runtime.budget_left(context)
    if left:
        message = f"{message} Budget: {', '.join(left)}."
    op.token = grant()
    wm: Any = context.window_manager
    answer: Result = wm.invoke_confirm(
        op, event, title=title, message=message, confirm_text=title, icon="QUESTION"
    )
    return answer


def may_pay(op: Any, context: bpy.types.Context) -> bool:
    """In `execute`: True when paying is allowed now (no window, or a live confirmation);
    otherwise the operator is opened again to ask, and False."""
    if not interactive(context) or take(str(getattr(op, "token", ""))):
        return True
    ask_again(op.bl_idname)
    op.report({"WARNING"}, "Confirm the price first: nothing was paid")
    return False


def ask_again(idname: str) -> None:
    """Open the operator the way a click does (its invoke asks for the yes)."""
    # An operator instance names itself YVO3D_OT_generate; bpy.ops wants yvo3d.generate.
    group, _, name = idname.partition("_OT_") if "_OT_" in idname else idname.partition(".")
    group = group.lower()
    try:
        getattr(getattr(bpy.ops, group), name)("INVOKE_DEFAULT")
    except (RuntimeError, AttributeError):
        pass  # no window to ask in after all: nothing is paid either way


def unregister() -> None:
    _tokens.clear()
