"""Operators layer: `blender --command yvo3d ...`: the argument parser, the human and JSON output,
Ctrl-C, and the registration of the command.

`main(argv)` is what `bpy.utils.register_cli_command` registers: it takes the arguments after
`--command yvo3d` and returns the exit code (0 done, 1 user error, 2 service error, 3 partial
batch, 130 Ctrl-C). Progress lines go to stderr; the result goes to stdout, as exactly one
JSON document with `--json`.
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
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import bpy

from ...core import errors, sanitize
from ..session import runtime
from ..settings import properties
from .cli import (
    COMMAND,
    _stderr,
    batch,
    check_connection,
    generate,
    jobs_cancel,
    jobs_download,
    jobs_follow,
    jobs_list,
    price,
)

if TYPE_CHECKING:
    from ...core.batch import Emit


log = logging.getLogger(__name__)
_handle: Any = None


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on a usage error; 2 means a service error here."""

    def error(self, message: str) -> Any:
        raise _UsageError(f"{self.prog}: {message}")


def _add_params(parser: argparse.ArgumentParser) -> None:
    from ...core.batch import kebab

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


BUDGET_HELP = (
    "spend at most this many credits in this run (instead of the per-session and per-day "
    "budgets of the preferences)"
)


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
    p.add_argument("--budget", type=float, default=None, help=BUDGET_HELP)
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
    p.add_argument("--budget", type=float, default=None, help=BUDGET_HELP)
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
        budget=args.budget,
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
        budget=args.budget,
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
    from ...core.batch import Status

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
    from ...core.batch import EXIT_INTERRUPTED, EXIT_SERVICE, EXIT_USER, USER_CODES

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
    _report_damaged_store(doc)
    if args.json:  # json.dumps escapes every control character
        sys.stdout.write(sanitize.scrub(json.dumps(doc, indent=1, default=str)) + "\n")
    else:
        text = sanitize.printable(sanitize.scrub(_human(doc)), keep_newlines=True)
        if text:
            sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return int(doc["exit_code"])


def _report_damaged_store(doc: dict[str, Any]) -> None:
    """A job store found damaged (and moved aside) this session: said once, exit non-zero."""
    from ...core.batch import EXIT_SERVICE

    manager = runtime.existing_manager()
    store = manager.store if manager is not None else None
    if store is None or not store.recovered_from or store.recovery_reported:
        return
    store.recovery_reported = True
    doc["store_damaged"] = store.recovery_text()
    if not doc.get("exit_code"):
        doc["exit_code"] = EXIT_SERVICE
    _stderr(f"[yvo3d] {doc['store_damaged']}")


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
