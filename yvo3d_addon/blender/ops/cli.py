"""Operators layer: the command line's operations as Python functions for pipeline tools (generate,
batch, price, jobs, check); `cli_main` parses `blender --command yvo3d ...` into them.

The batch engine and the connection diagnosis are imported by the functions that use them:
enabling the add-on imports this module, and must stay cheap.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import bpy

from ...core import errors, sanitize
from ...core.jobs import BEFORE_PAYMENT
from ..scene import image_files
from ..session import runtime
from ..settings import properties
from . import common, follow, handlers

if TYPE_CHECKING:
    from ...core.batch import Emit, Item, Run, Status
    from ...core.jobs import JobManager


log = logging.getLogger(__name__)


COMMAND = "yvo3d"


ONLINE_FIX = (
    "Run Blender with --online-mode before --command (blender --online-mode --command yvo3d "
    "...), or enable Preferences > System > Network > Allow Online Access."
)


CREDENTIALS_FIX = (
    "Set SCENARIO_SDK_API_KEY and SCENARIO_SDK_API_SECRET, or add them in Preferences > "
    "Add-ons > YVO3D."
)


def _stderr(line: str) -> None:
    sys.stderr.write(sanitize.printable(sanitize.scrub(line), keep_newlines=True) + "\n")
    sys.stderr.flush()


def _manager() -> JobManager:
    return runtime.manager(bpy.context)


def _online_manager() -> JobManager:
    """The job manager, once credentials and online access are known to be there."""
    snapshot = runtime.take_snapshot(bpy.context)
    if snapshot is None:
        raise errors.ConfigError("No Scenario API key and secret are set.", fix=CREDENTIALS_FIX)
    if not snapshot.online:
        raise errors.ConfigError("Blender's online access is off.", fix=ONLINE_FIX)
    return _manager()


def _settings(values: dict[str, Any] | None) -> dict[str, object]:
    """Parameter values from Python (any spelling of the names; text or typed values)."""
    from ...core.batch import find_param, parse_value

    table = properties.TABLE
    settings: dict[str, object] = {}
    for name, value in (values or {}).items():
        param = find_param(table, name)
        if param is None:
            raise errors.InputError(
                f"{name!r} is not a parameter of the model.",
                fix="Known parameters: " + ", ".join(table.params) + ".",
            )
        settings[param.name] = parse_value(param, value) if isinstance(value, str) else value
    return settings


def _run(manager: JobManager, items: list[Item], emit: Emit, **kw: Any) -> Run:
    from ...core.batch import Run

    snapshot = runtime.credentials()
    service = snapshot.base_url if snapshot is not None else None
    # With a window, the panel's follower reads the manager's events: leave them to it.
    drain = common.headless()
    return Run(
        manager,
        items,
        emit=emit,
        convert=lambda path: image_files.convert_to_png(path, runtime.temp_dir()),
        service=service,
        drain_events=drain,
        **kw,
    )


def _item_doc(item: Item) -> dict[str, Any]:
    doc = item.to_dict()
    doc["images"] = list(item.images)
    return doc


def _with_budget(func: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """`budget=N` on a command: at most N credits in this run, instead of the preferences'
    per-session and per-day limits (`--budget` on the command line)."""

    @functools.wraps(func)
    def run(*args: Any, budget: float | None = None, **kwargs: Any) -> dict[str, Any]:
        before = runtime.budget_override
        if budget is not None:
            if budget < 0:
                raise errors.InputError("--budget must be 0 or more credits.")
            runtime.budget_override = float(budget)
        try:
            return func(*args, **kwargs)
        finally:
            runtime.budget_override = before

    return run


def budget_doc(manager: JobManager) -> dict[str, Any]:
    """The limits in force and what is left of them (for --json and the progress line)."""
    runtime.spend_changed()  # jobs of this run may have changed since the panel last looked
    session, today = runtime.spend()
    doc: dict[str, Any] = {"spent_session": session, "spent_today": today}
    label = {"session": "credits left this run", "today": "left today"}
    parts = []
    for key, limit, left in manager.budget.remaining(session, today):
        doc[f"left_{key}"] = left
        parts.append(f"{left:g} of {limit:g} {label[key]}")
    doc["text"] = ", ".join(parts)
    return doc


@_with_budget
def generate(
    images: list[str],
    out: str,
    *,
    params: dict[str, Any] | None = None,
    name: str = "",
    blend: str = "",
    dry_run: bool = False,
    force: bool = False,
    timeout: float | None = None,
    emit: Emit = _stderr,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Generate one model from 1-4 images, write the GLB to `out` and, with `blend`, import it
    into that .blend (created or opened) and save it. An identical earlier result is reused for
    free unless `force`. `dry_run` prices it and pays nothing. Returns the result document
    (its "exit_code" is the command's); raises Yvo3dError when it cannot start at all."""
    from ...core.batch import Item, Status, exit_code

    manager = _online_manager()
    settings = _settings(params)
    paths = [os.path.abspath(p) for p in images]
    stem = os.path.splitext(os.path.basename(paths[0]))[0] if paths else "model"
    item = Item(
        key=name or stem,
        name=name or stem,
        images=paths,
        settings=settings,
        output=os.path.abspath(out),
    )
    run = _run(manager, [item], emit, concurrency=1, force=force, dry_run=dry_run)
    run.stop = stop or run.stop
    to_send = run.plan()
    doc: dict[str, Any] = {"command": "generate", "dry_run": dry_run}
    if dry_run:
        run.price(to_send, runtime.make_client)
        doc.update(item=_item_doc(item), price=item.price, paid=bool(run.paid_by_price_check))
        doc["exit_code"] = exit_code([item], dry_run=True)
        return doc
    run.run(to_send, timeout=timeout)
    if item.status == Status.DONE and blend:
        try:
            _import_into_blend(manager, item, os.path.abspath(blend))
            doc["blend"] = os.path.abspath(blend)
        except (RuntimeError, OSError) as exc:
            item.status, item.error_kind = Status.FAILED, "user"
            item.error = f"The model is at {item.output} but the .blend failed: {exc}"
    doc.update(item=_item_doc(item), output=item.output if item.status == Status.DONE else "")
    doc["exit_code"] = exit_code([item], run.interrupted)
    return doc


@contextlib.contextmanager
def _without_load_handler() -> Iterator[None]:
    # Our load_post handler resumes every unfinished job in the store: right for a user
    # opening a file, not for a script writing one.
    ours = [
        h for h in bpy.app.handlers.load_post if getattr(h, "__module__", "") == handlers.__name__
    ]
    for handler in ours:
        bpy.app.handlers.load_post.remove(handler)
    try:
        yield
    finally:
        for handler in ours:
            bpy.app.handlers.load_post.append(handler)


def _import_into_blend(manager: JobManager, item: Item, blend: str) -> None:
    with _without_load_handler():
        if os.path.isfile(blend):
            bpy.ops.wm.open_mainfile(filepath=blend)
        else:
            bpy.ops.wm.read_homefile(use_empty=True)
    stamp: dict[str, object] = {
        "job_id": item.job_id,
        "local_id": item.local_id,
        "images": [os.path.basename(p) for p in item.images],
        "params": dict(item.settings),
        "cost": item.cost,
        "fingerprint": item.fingerprint,
    }
    result = follow.import_result(
        bpy.context,
        glb_path=item.output,
        name=item.name,
        settings=item.settings,
        image_names=item.images,
        placement={"mode": "CURSOR", "location": [0.0, 0.0, 0.0]},
        stamp=stamp,
        use_recorded_location=True,
    )
    if item.local_id:
        manager.mark_imported(item.local_id, result.root.name)
    os.makedirs(os.path.dirname(blend) or ".", exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=blend)


@_with_budget
def batch(
    source: str,
    out_dir: str,
    *,
    params: dict[str, Any] | None = None,
    concurrency: int = 2,
    yes: bool = False,
    dry_run: bool = False,
    retry_failed: bool = False,
    force: bool = False,
    timeout: float | None = None,
    confirm: Callable[[float, int], bool] | None = None,
    emit: Emit = _stderr,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """One job per image of a folder, or per row of a CSV; GLBs and the state file
    (yvo3d-batch.json) go to `out_dir`. Prices everything first and pays only with `yes` (or
    `confirm(total, count)` returning True). A re-run skips what is done, follows what was paid
    and sends the rest; items paid but failed are sent again only with `retry_failed`."""
    from ...core.batch import (
        EXIT_USER,
        STATE_FILE,
        StateFile,
        Status,
        assign_outputs,
        exit_code,
        load_items,
        summary,
    )

    manager = _online_manager()
    if not out_dir and not dry_run:
        raise errors.InputError("A batch needs an output folder.")
    out_dir = os.path.abspath(out_dir) if out_dir else ""
    items = load_items(os.path.abspath(source), manager.table, _settings(params))
    assign_outputs(items, out_dir or os.getcwd())
    state = StateFile(os.path.join(out_dir, STATE_FILE)) if out_dir else None
    run = _run(
        manager,
        items,
        emit,
        state=state,
        concurrency=concurrency,
        retry_failed=retry_failed,
        force=force,
        dry_run=dry_run,
    )
    run.stop = stop or run.stop
    to_send = run.plan()
    total = run.price(to_send, runtime.make_client)
    to_send = [i for i in to_send if i.status == Status.PENDING]
    doc: dict[str, Any] = {
        "command": "batch",
        "dry_run": dry_run,
        "out": out_dir,
        "state_file": state.path if state is not None else "",
        "to_send": len(to_send),
        "price_total": total,
    }
    emit(
        f"[yvo3d] {len(items)} items: {len(to_send)} to generate for {total:g} credits, "
        + ", ".join(f"{n} {s}" for s, n in summary(items).items() if n and s != Status.PENDING)
    )
    if dry_run:
        doc.update(items=[_item_doc(i) for i in items], paid=bool(run.paid_by_price_check))
        doc["exit_code"] = exit_code(items, dry_run=True)
        return doc
    if manager.budget.active:
        doc["budget"] = budget_doc(manager)
        emit(f"[yvo3d] budget: {doc['budget']['text']}")
    refusal = manager.budget.refusal(manager.jobs(), total) if to_send else ""
    if refusal:
        run.run([])  # still follow what was paid before
        doc.update(items=[_item_doc(i) for i in items], confirmed=False, error=refusal)
        doc["hint"] = "Raise the budget (--budget, or Preferences > Add-ons > YVO3D)."
        doc["exit_code"] = EXIT_USER
        return doc
    if to_send and not yes and not (confirm is not None and confirm(total, len(to_send))):
        run.run([])  # still follow what was paid before
        doc.update(items=[_item_doc(i) for i in items], confirmed=False)
        doc["error"] = f"Not confirmed: {len(to_send)} generations would cost {total:g} credits."
        doc["hint"] = "Add --yes to pay and run them."
        doc["exit_code"] = EXIT_USER
        return doc
    run.run(to_send, timeout=timeout)
    spent = sum(i.cost or 0.0 for i in items if i.paid and i.status == Status.DONE)
    doc.update(items=[_item_doc(i) for i in items], confirmed=True, spent=spent)
    doc["counts"] = summary(items)
    doc["exit_code"] = exit_code(items, run.interrupted)
    return doc


def price(images: list[str], *, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The price of one generation (a dry run: nothing is paid)."""
    doc = generate(images, os.devnull, params=params, dry_run=True, emit=lambda _: None)
    doc["command"] = "price"
    return doc


def jobs_list() -> dict[str, Any]:
    """Every job in the store, newest first (no request is sent)."""
    from ...core.batch import EXIT_OK, record_dict

    records = _manager().jobs()
    return {"command": "jobs", "jobs": [record_dict(r) for r in records], "exit_code": EXIT_OK}


def _job_item(manager: JobManager, ident: str, out: str, status: Status) -> Item:
    from ...core.batch import Item, find_record

    record = find_record(manager, ident)
    if record is None and not ident.startswith("job"):
        raise errors.InputError(
            f"No job {ident!r} in the job store.",
            fix="List them with `yvo3d jobs`, or give Scenario's job id (job_...).",
        )
    name = record.name if record is not None else ident
    return Item(
        key=name,
        name=name,
        images=list(record.images) if record is not None else [],
        settings=dict(record.settings) if record is not None else {},
        output=os.path.abspath(out) if out else "",
        status=status,
        local_id=record.id if record is not None else "",
        job_id=record.job_id if record is not None else ident,
        paid=True,
    )


def jobs_follow(
    ident: str,
    out: str = "",
    *,
    timeout: float | None = None,
    emit: Emit = _stderr,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Follow a job (store id or Scenario job id) to its end and download its result (free)."""
    from ...core.batch import Status, exit_code

    manager = _online_manager()
    item = _job_item(manager, ident, out, Status.RUNNING)
    run = _run(manager, [item], emit)
    run.stop = stop or run.stop
    run.run(run.plan(), timeout=timeout)
    return {
        "command": "jobs follow",
        "item": _item_doc(item),
        "exit_code": exit_code([item], run.interrupted),
    }


def jobs_download(
    ident: str, out: str, *, emit: Emit = _stderr, timeout: float | None = None
) -> dict[str, Any]:
    """Write a job's GLB to `out`: from the library when it is there (no request), else
    downloaded again from Scenario (free)."""
    from ...core.batch import Status, exit_code

    manager = _manager()
    item = _job_item(manager, ident, out, Status.DONE)
    record = manager.get(item.local_id) if item.local_id else None
    if record is None or not record.glb_path or not os.path.isfile(record.glb_path):
        manager = _online_manager()  # it has to be fetched again
    run = _run(manager, [item], emit)
    run.run(run.plan(), timeout=timeout)
    return {
        "command": "jobs download",
        "item": _item_doc(item),
        "output": item.output if item.status == Status.DONE else "",
        "exit_code": exit_code([item]),
    }


def jobs_cancel(ident: str, *, emit: Emit = _stderr) -> dict[str, Any]:
    """Ask Scenario to cancel a job (a job this process runs is cancelled and followed)."""
    from ...core.batch import EXIT_OK, Status, find_record

    manager = _online_manager()
    record = find_record(manager, ident)
    if record is not None and record.id in manager.running():
        item = _job_item(manager, ident, "", Status.RUNNING)
        run = _run(manager, [item], emit)
        manager.cancel(record.id)
        run.run(run.plan())
        return {"command": "jobs cancel", "item": _item_doc(item), "exit_code": EXIT_OK}
    job_id = record.job_id if record is not None else ident
    if record is not None and not job_id:
        state = "nothing was paid" if record.stage in BEFORE_PAYMENT else record.stage
        raise errors.InputError(f"Job {ident!r} has no Scenario job to cancel ({state}).")
    if not job_id.startswith("job"):
        raise errors.InputError(f"No job {ident!r} in the job store.")
    status = runtime.make_client().cancel_job(job_id)
    emit(f"[yvo3d] {job_id}: {status.status}")
    return {
        "command": "jobs cancel",
        "job_id": job_id,
        "status": status.status,
        "exit_code": EXIT_OK,
    }


def check_connection() -> dict[str, Any]:
    """Test Connection from the command line: which step failed, if any."""
    from ...core.batch import EXIT_SERVICE
    from ...core.diagnose import diagnose

    _online_manager()
    ok, text = diagnose(runtime.make_client())
    return {"command": "check", "ok": ok, "message": text, "exit_code": 0 if ok else EXIT_SERVICE}
