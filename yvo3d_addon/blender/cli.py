"""Blender layer: `blender --command yvo3d ...` for headless and batch use, and the same
operations as Python functions for pipeline tools.

`main(argv)` is what `bpy.utils.register_cli_command` registers: it takes the arguments after
`--command yvo3d` and returns the exit code (0 done, 1 user error, 2 service error, 3 partial
batch, 130 Ctrl-C). Progress lines go to stderr; the result goes to stdout, as exactly one
JSON document with `--json`.

The batch engine and the connection diagnosis are imported by the functions that use them:
enabling the add-on imports this module, and must stay cheap.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import bpy

from ..core import errors
from ..core.jobs import BEFORE_PAYMENT
from . import handlers, operators, properties, runtime

if TYPE_CHECKING:
    from ..core.batch import Emit, Item, Run, Status
    from ..core.jobs import JobManager

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

_handle: Any = None


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# -- the session: credentials, online access, the job manager ------------------------------------


def _manager() -> JobManager:
    return runtime.manager(bpy.context)


def _online_manager() -> JobManager:
    """The job manager, once credentials and online access are known to be there."""
    snapshot = runtime.take_snapshot(bpy.context, env_fallback=True)
    if snapshot is None:
        raise errors.ConfigError("No Scenario API key and secret are set.", fix=CREDENTIALS_FIX)
    if not snapshot.online:
        raise errors.ConfigError("Blender's online access is off.", fix=ONLINE_FIX)
    return _manager()


def _settings(values: dict[str, Any] | None) -> dict[str, object]:
    """Parameter values from Python (any spelling of the names; text or typed values)."""
    from ..core.batch import find_param, parse_value

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
    from ..core.batch import Run

    snapshot = runtime.credentials()
    service = snapshot.base_url if snapshot is not None else None
    # With a window, the panel's follower reads the manager's events: leave them to it.
    drain = operators.headless()
    return Run(
        manager,
        items,
        emit=emit,
        convert=runtime.convert_to_png,
        service=service,
        drain_events=drain,
        **kw,
    )


def _item_doc(item: Item) -> dict[str, Any]:
    doc = item.to_dict()
    doc["images"] = list(item.images)
    return doc


# -- generate ------------------------------------------------------------------------------------


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
    from ..core.batch import Item, Status, exit_code

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
        doc.update(item=_item_doc(item), price=item.price, paid=False)
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
    result = operators.import_result(
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


# -- batch and price -----------------------------------------------------------------------------


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
    from ..core.batch import (
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
        doc.update(items=[_item_doc(i) for i in items], paid=False)
        doc["exit_code"] = exit_code(items, dry_run=True)
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


# -- jobs ----------------------------------------------------------------------------------------


def jobs_list() -> dict[str, Any]:
    """Every job in the store, newest first (no request is sent)."""
    from ..core.batch import EXIT_OK, record_dict

    records = _manager().jobs()
    return {"command": "jobs", "jobs": [record_dict(r) for r in records], "exit_code": EXIT_OK}


def _job_item(manager: JobManager, ident: str, out: str, status: Status) -> Item:
    from ..core.batch import Item, find_record

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
    from ..core.batch import Status, exit_code

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
    from ..core.batch import Status, exit_code

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
    from ..core.batch import EXIT_OK, Status, find_record

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
    from ..core.batch import EXIT_SERVICE
    from ..core.diagnose import diagnose

    _online_manager()
    ok, text = diagnose(runtime.make_client())
    return {"command": "check", "ok": ok, "message": text, "exit_code": 0 if ok else EXIT_SERVICE}


# -- the command line ----------------------------------------------------------------------------


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on a usage error; 2 means a service error here."""

    def error(self, message: str) -> Any:
        raise _UsageError(f"{self.prog}: {message}")


def _add_params(parser: argparse.ArgumentParser) -> None:
    from ..core.batch import kebab

    group = parser.add_argument_group("model parameters (defaults: the model's)")
    for name, param in properties.TABLE.params.items():
        flags = [f"--{name}"] + ([f"--{kebab(name)}"] if kebab(name) != name else [])
        if param.kind in ("bool", "onoff"):
            values = "on|off"
        elif param.kind == "enum":
            values = "|".join(c.value for c in param.choices)
        else:
            values = param.kind
        group.add_argument(
            *flags, dest=f"param_{name}", metavar=values, help=f"{param.label}: {param.description}"
        )


def _params(args: argparse.Namespace) -> dict[str, Any]:
    prefix = "param_"
    return {k[len(prefix) :]: v for k, v in vars(args).items() if k.startswith(prefix) and v}


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser = _Parser(
        prog="blender --command yvo3d",
        description="Photos to 3D models with Scenario YVO3D, without the interface. Exit "
        "codes: 0 done, 1 user error, 2 service error, 3 partial batch, 130 Ctrl-C.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("generate", parents=[common], help="one model from 1-4 images")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--out", required=True, help="where to write the GLB")
    p.add_argument("--blend", default="", help="also import it into this .blend and save it")
    p.add_argument("--name", default="", help="name of the model (default: the image's)")
    p.add_argument("--dry-run", action="store_true", help="print the price, pay nothing")
    p.add_argument("--force", action="store_true", help="pay even for an identical result")
    p.add_argument("--timeout", type=float, default=None, help="stop following after S seconds")
    _add_params(p)
    p.set_defaults(run=_cmd_generate)

    p = sub.add_parser("batch", parents=[common], help="one model per image or CSV row")
    p.add_argument("source", metavar="FOLDER_OR_CSV")
    p.add_argument("--out", required=True, help="folder for the GLBs and the state file")
    p.add_argument("--concurrency", type=int, default=2, help="jobs running at once (2)")
    p.add_argument("--yes", action="store_true", help="pay the printed total without asking")
    p.add_argument("--dry-run", action="store_true", help="print the prices, pay nothing")
    p.add_argument("--retry-failed", action="store_true", help="send failed paid items again")
    p.add_argument("--force", action="store_true", help="pay even for identical results")
    p.add_argument("--timeout", type=float, default=None, help="stop following after S seconds")
    _add_params(p)
    p.set_defaults(run=_cmd_batch)

    p = sub.add_parser("price", parents=[common], help="the price of a generation or a batch")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER_OR_CSV")
    _add_params(p)
    p.set_defaults(run=_cmd_price)

    p = sub.add_parser("jobs", parents=[common], help="list, follow, cancel or download jobs")
    p.add_argument(
        "action", nargs="?", default="list", choices=("list", "follow", "cancel", "download")
    )
    p.add_argument("job", nargs="?", default="", metavar="JOB_ID", help="yj_... or job_...")
    p.add_argument("--out", default="", help="where to write the GLB (follow, download)")
    p.add_argument("--timeout", type=float, default=None, help="stop following after S seconds")
    p.set_defaults(run=_cmd_jobs)

    p = sub.add_parser("check", parents=[common], help="test the connection and the key")
    p.set_defaults(run=_cmd_check)
    return parser


def _cmd_generate(args: argparse.Namespace, emit: Emit, stop: threading.Event) -> dict[str, Any]:
    return generate(
        args.images,
        args.out,
        params=_params(args),
        name=args.name,
        blend=args.blend,
        dry_run=args.dry_run,
        force=args.force,
        timeout=args.timeout,
        emit=emit,
        stop=stop,
    )


def _ask(total: float, count: int) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        return False
    sys.stderr.write(f"Pay {total:g} credits for {count} generations? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _cmd_batch(args: argparse.Namespace, emit: Emit, stop: threading.Event) -> dict[str, Any]:
    if args.concurrency < 1:
        raise errors.InputError("--concurrency must be at least 1.")
    return batch(
        args.source,
        args.out,
        params=_params(args),
        concurrency=args.concurrency,
        yes=args.yes,
        dry_run=args.dry_run,
        retry_failed=args.retry_failed,
        force=args.force,
        timeout=args.timeout,
        confirm=None if args.json else _ask,
        emit=emit,
        stop=stop,
    )


def _cmd_price(args: argparse.Namespace, emit: Emit, stop: threading.Event) -> dict[str, Any]:
    source = args.images[0]
    if len(args.images) == 1 and (os.path.isdir(source) or source.lower().endswith(".csv")):
        doc = batch(source, "", params=_params(args), dry_run=True, emit=emit, stop=stop)
    else:
        doc = price(args.images, params=_params(args))
    doc["command"] = "price"
    return doc


def _cmd_jobs(args: argparse.Namespace, emit: Emit, stop: threading.Event) -> dict[str, Any]:
    if args.action == "list":
        return jobs_list()
    if not args.job:
        raise errors.InputError(f"`yvo3d jobs {args.action}` needs a job id (yj_... or job_...).")
    if args.action == "follow":
        return jobs_follow(args.job, args.out, timeout=args.timeout, emit=emit, stop=stop)
    if args.action == "download":
        if not args.out:
            raise errors.InputError("`yvo3d jobs download` needs --out PATH.")
        return jobs_download(args.job, args.out, emit=emit, timeout=args.timeout)
    return jobs_cancel(args.job, emit=emit)


def _cmd_check(args: argparse.Namespace, emit: Emit, stop: threading.Event) -> dict[str, Any]:
    return check_connection()


def _human(doc: dict[str, Any]) -> str:
    """The result for a person: one line per item, then what to do."""
    from ..core.batch import Status

    lines: list[str] = []
    items = doc.get("items") or ([doc["item"]] if doc.get("item") else [])
    for item in items:
        where = item.get("output") or item.get("glb_path") or ""
        if item["status"] == Status.DONE:
            cost = "free" if item.get("reused") or not item.get("cost") else f"{item['cost']:g} cr"
            text = f"{where} ({cost}{', job ' + item['job_id'] if item.get('job_id') else ''})"
        elif doc.get("dry_run") and item["status"] not in (Status.FAILED, Status.UNKNOWN):
            price_, note = item.get("price"), item.get("note", "")
            text = f"{price_:g} credits" if price_ is not None else ""
            text = f"{text} ({note})" if text and note else text or note
        else:
            text = " ".join(x for x in (item.get("error"), item.get("hint"), item.get("note")) if x)
        status = (
            "price" if doc.get("dry_run") and item["status"] == Status.PENDING else item["status"]
        )
        lines.append(f"{status:10s} {item['key']}: {text}".rstrip())
    for job in doc.get("jobs", []):
        cost = f"{job['cost']:g} cr" if job.get("cost") is not None else "-"
        lines.append(
            f"{job['id']}  {job.get('job_id') or '-':28s} {job['stage']:10s} {cost:>7s}  "
            f"{job['name']}  {job.get('glb_path') or ''}".rstrip()
        )
    if doc.get("command") == "jobs" and not doc.get("jobs"):
        lines.append("No jobs.")
    if "price_total" in doc and doc.get("dry_run"):
        lines.append(f"Total: {doc['price_total']:g} credits for {doc['to_send']} generations.")
    if doc.get("spent") is not None:
        lines.append(f"Credits paid for the finished results (all runs): {doc['spent']:g}.")
    if doc.get("blend"):
        lines.append(f"Saved {doc['blend']}")
    for key in ("message", "error", "hint"):
        if doc.get(key):
            lines.append(str(doc[key]))
    if doc.get("status") and doc.get("command") == "jobs cancel":
        lines.append(f"{doc['job_id']}: {doc['status']}")
    return "\n".join(lines)


@contextlib.contextmanager
def _stdout_to_stderr(active: bool) -> Iterator[None]:
    """With --json, whatever Blender or an importer prints goes to stderr (at the file
    descriptor level: C code prints too), so stdout carries the JSON document alone."""
    if not active:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _ctrl_c(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C: jobs not paid yet stop, paid ones keep running on Scenario (it cannot
    cancel them) and the state is saved for a re-run to follow them; the second one stops
    waiting."""

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _stderr(
            "[yvo3d] Ctrl-C: saving the state; paid jobs keep running on Scenario and a re-run "
            "follows them (Ctrl-C again to stop waiting)"
        )

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (a pipeline tool's worker): no handler
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def main(argv: list[str]) -> int:
    """`blender --command yvo3d ARGS`: run one command and return its exit code."""
    from ..core.batch import EXIT_INTERRUPTED, EXIT_SERVICE, EXIT_USER, USER_CODES

    try:
        args = _parser().parse_args(list(argv))
    except _UsageError as exc:
        _stderr(str(exc))
        return EXIT_USER
    except SystemExit as exc:  # --help
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USER
    if getattr(args, "command", None) is None:
        _parser().print_help(sys.stderr)
        return EXIT_USER
    stop = threading.Event()
    with _stdout_to_stderr(args.json), _ctrl_c(stop):
        try:
            doc = args.run(args, _stderr, stop)
        except errors.Yvo3dError as exc:
            code = EXIT_USER if exc.code in USER_CODES else EXIT_SERVICE
            doc = {"command": args.command, "error": exc.message, "hint": exc.fix}
            doc["exit_code"] = code
        except KeyboardInterrupt:
            doc = {"command": args.command, "error": "Interrupted.", "exit_code": EXIT_INTERRUPTED}
        except Exception as exc:  # a bug must still end with a message and a non-zero code
            log.exception("yvo3d %s failed", args.command)
            doc = {"command": args.command, "error": f"Internal error: {type(exc).__name__}: {exc}"}
            doc["exit_code"] = EXIT_SERVICE
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=1, default=str) + "\n")
    else:
        text = _human(doc)
        if text:
            sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return int(doc["exit_code"])


# -- registration --------------------------------------------------------------------------------


def register() -> None:
    global _handle
    register_cli = getattr(bpy.utils, "register_cli_command", None)
    if register_cli is not None:
        _handle = register_cli(COMMAND, main)


def unregister() -> None:
    global _handle
    if _handle is not None:
        bpy.utils.unregister_cli_command(_handle)
        _handle = None
