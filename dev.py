"""Developer entry point: `python3 dev.py demo` runs the main job end to end in headless Blender,
`python3 dev.py test` runs every check and test, `python3 dev.py bench` the performance benchmark
(on demand, not in CI). Each installs what it needs into local virtual environments first
(`setup`), so a fresh machine with Python 3.11 needs nothing else (the newest Blender's leg needs
a Python 3.13, which `setup` looks for on the machine; where there is none that leg is skipped
and the summary says why).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Venv:
    path: Path
    reqs: Path
    python: str  # the interpreter version the venv is made with ("3.11", "3.13")


def _venv(name: str, python: str = "3.11") -> Venv:
    suffix = "" if name == "dev" else f"-{name}"
    return Venv(ROOT / f".venv{suffix}", ROOT / "requirements" / f"{name}.txt", python)


VENVS = {
    "dev": _venv("dev"),
    "bpy50": _venv("bpy50"),
    "bpy45": _venv("bpy45"),
    "bpy42": _venv("bpy42"),
    "bpy53": _venv("bpy53", python="3.13"),  # bpy 5.1 and newer need Python 3.13
}
# The Blender legs of `test`, in the order they run: (venv, suite). "full" runs tests/blender,
# "smoke" the tests marked `smoke` (see the README's compatibility line for why).
BLENDER_LEGS = [("bpy50", "full"), ("bpy45", "full"), ("bpy42", "smoke"), ("bpy53", "smoke")]


def python_of(name: str) -> Path:
    return VENVS[name].path / "bin" / "python"


def bpy_version(name: str) -> str:
    """The Blender version a venv pins (`bpy==X` in its requirements file)."""
    found = re.search(r"^bpy==(\S+)", VENVS[name].reqs.read_text(), re.MULTILINE)
    return found.group(1) if found else "?"


def _reports_version(python: str | Path, version: str) -> bool:
    """True when `python` runs, is `version` and can make a venv (pyenv shims, broken links)."""
    code = "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"
    try:
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def find_python(
    version: str,
    search_path: str | None = None,
    pyenv_root: Path | None = None,
    apt: bool = True,
) -> tuple[Path | None, str]:
    """An interpreter of `version` to make a venv with, or None and the reason there is none.

    Looks, in order, at $YVO3D_PYTHON<version digits>, `python<version>` on PATH, pyenv's
    versions folder, /usr/bin and /usr/local/bin, and last (as root, where the system's
    packages have it, as Debian 13 does) installs `python<version>` with apt-get.
    """
    env_name = "YVO3D_PYTHON" + version.replace(".", "")
    if os.environ.get(env_name):
        given = Path(os.environ[env_name])
        if _reports_version(given, version):
            return given, ""
        return None, f"${env_name}={given} is not a working Python {version}"
    exe = f"python{version}"
    root = pyenv_root or Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(exe, path=search_path)]
    candidates += sorted((root / "versions").glob(f"{version}.*/bin/{exe}"), reverse=True)
    candidates += [f"/usr/bin/{exe}", f"/usr/local/bin/{exe}"] if search_path is None else []
    for found in candidates:
        if found and Path(found).exists() and _reports_version(found, version):
            return Path(found), ""
    reason = f"no Python {version}: not on PATH, not in {root / 'versions'}"
    if not apt or shutil.which("apt-get") is None:
        return None, reason
    policy = subprocess.run(["apt-cache", "policy", exe], capture_output=True, text=True)
    candidate = re.search(r"Candidate: (\S+)", policy.stdout)
    if candidate is None or candidate.group(1) == "(none)":
        return None, f"{reason}, and apt has no {exe} package"
    if os.geteuid() != 0:
        return None, f"{reason}; apt has {exe}: sudo apt-get install {exe} {exe}-venv"
    print(f"[setup] apt-get install {exe} {exe}-venv", flush=True)
    install = [exe, f"{exe}-venv"]
    subprocess.run(["apt-get", "install", "-y", "-q", *install], check=False)
    if _reports_version(f"/usr/bin/{exe}", version):
        return Path(f"/usr/bin/{exe}"), ""
    return None, f"{reason}; apt-get install {exe} did not give a working interpreter"


def ensure_venv(name: str) -> tuple[Path | None, str]:
    """Create or update one venv (a stamp of the requirements file skips work when unchanged);
    return its python, or None and why it cannot be made here."""
    venv = VENVS[name]
    digest = hashlib.sha256(venv.reqs.read_bytes()).hexdigest()
    stamp = venv.path / ".requirements.sha256"
    if stamp.exists() and stamp.read_text() == digest and python_of(name).exists():
        return python_of(name), ""
    if not python_of(name).exists():
        this = f"{sys.version_info[0]}.{sys.version_info[1]}"
        base, reason = (
            (Path(sys.executable), "") if venv.python == this else find_python(venv.python)
        )
        if base is None:
            print(f"[setup] {venv.path.name}: skipped, {reason}", flush=True)
            return None, reason
        print(f"[setup] {venv.path.name}: new venv from {base}", flush=True)
        subprocess.run([str(base), "-m", "venv", str(venv.path)], check=True)
    print(f"[setup] {venv.path.name}: installing {venv.reqs.relative_to(ROOT)}", flush=True)
    started = time.monotonic()
    subprocess.run(
        [str(python_of(name)), "-m", "pip", "install", "-q", "-r", str(venv.reqs)], check=True
    )
    stamp.write_text(digest)
    print(f"[setup] {venv.path.name}: ready in {time.monotonic() - started:.0f} s", flush=True)
    return python_of(name), ""


def setup(names: list[str]) -> dict[str, str]:
    """Make every venv named; return the reason for each one that cannot be made here."""
    if sys.version_info[:2] != (3, 11):
        print(
            f"[setup] warning: Python 3.11 is expected (this is {sys.version.split()[0]}); "
            "the bpy 5.0.1 wheel needs 3.11."
        )
    missing = {}
    for name in names:
        python, reason = ensure_venv(name)
        if python is None:
            missing[name] = reason
    return missing


def run(cmd: list[str], **kw: object) -> int:
    print("[run] " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, **kw).returncode  # type: ignore[call-overload, no-any-return]


SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)")
CRASHES: list[tuple[str, str]] = []
"""(leg, digest) for each leg whose process died: printed again after the summary."""


def crash_digest(lines: list[str]) -> str:
    """What matters of a crashed leg's output, short enough to survive a truncated CI log: the
    fatal error, the crashing thread's stack and the main thread's (the running test), as
    Python's faulthandler printed them ("" when nothing crashed)."""
    fatal = "Fatal Python error"
    start = next((i for i, line in enumerate(lines) if fatal in line), -1)
    if start < 0:
        return ""  # after pytest's progress dots, on the same line
    blocks: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith(("Thread 0x", "Current thread 0x")):
            blocks.append([line])
        elif blocks and line.startswith("  "):
            blocks[-1].append(line)
        elif blocks and line.strip():
            break  # past the dump (pytest's progress or Blender's own lines)
    chosen = [b for b in blocks if b[0].startswith("Current")]
    if blocks and blocks[-1] not in chosen:
        chosen.append(blocks[-1])  # the oldest thread: the main one, in the running test
    first = lines[start][lines[start].index(fatal) :]
    return "".join([first, *("".join(b) for b in chosen)])


def _progress_log() -> Any:
    """tests/progress_log.py, the plugin every leg loads (also read here after a crash)."""
    spec = importlib.util.spec_from_file_location(
        "progress_log", ROOT / "tests" / "progress_log.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pytest_once(
    python: Path, args: list[str], env: dict[str, str], emit: Callable[[str], None]
) -> tuple[int, dict[str, int], list[str]]:
    """One pytest process: its exit code, the counts of its closing line, its output."""
    proc = subprocess.Popen(
        [str(python), "-m", "pytest", "-p", "tests.progress_log", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    last = ""
    kept: list[str] = []
    for line in proc.stdout:
        kept.append(line)
        emit(line)
        if SUMMARY.search(line):
            last = line
    code = proc.wait()
    counts = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
    for number, word in SUMMARY.findall(last):
        key = "errors" if word.startswith("error") else word
        if key in counts:
            counts[key] += int(number)
    return code, counts, kept


def pytest_leg(
    python: Path,
    label: str,
    args: list[str],
    env: dict[str, str],
    buffer: list[str] | None = None,
) -> dict[str, int]:
    """Run one pytest leg; return its counts read from pytest's closing line. With `buffer`
    its output is kept there (a leg running beside another) instead of printed as it comes.

    A process that crashes (Blender dying from a signal in its own code) is reported: its
    digest goes after the summary and the leg's line says it crashed. The tests it had not
    finished, the one it died in first, are then run once more in a new process, and the leg
    passes only if they do: a crash that comes back fails it."""
    emit = buffer.append if buffer is not None else _print
    emit(f"\n===== {label} =====\n")
    started = time.monotonic()
    progress_log = _progress_log()
    with tempfile.TemporaryDirectory(prefix="yvo3d-leg-") as tmp:
        log = os.path.join(tmp, "progress.tsv")
        code, counts, kept = _pytest_once(python, args, {**env, progress_log.ENV: log}, emit)
        crashed = 1 if code < 0 else 0  # killed by a signal: faulthandler re-raises it
        if crashed:
            CRASHES.append((label, crash_digest(kept) or f"died from signal {-code}\n"))
            finished = progress_log.read(log)
            counts = {key: list(finished.values()).count(key) for key in counts}
            emit(
                f"\n===== {label}: crashed after {len(finished)} tests; the others run again "
                "in a new process =====\n"
            )
            deselect = [arg for nodeid in finished for arg in ("--deselect", nodeid)]
            code, again, kept = _pytest_once(python, [*args, *deselect], env, emit)
            counts = {key: counts[key] + again[key] for key in counts}
            if code < 0:
                CRASHES.append((f"{label}, run again", crash_digest(kept) or f"signal {-code}\n"))
    if code not in (0, 5) and not counts["failed"] and not counts["errors"]:
        counts["errors"] += 1  # pytest itself failed (collection, crash): count it
    seconds = round(time.monotonic() - started)
    return {**counts, "crashed": crashed, "exit": code, "seconds": seconds}


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def blender_legs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The Blender legs this run takes: --leg names them, --quick keeps 5.0 alone."""
    if args.leg:
        unknown = sorted(set(args.leg) - {name for name, _ in BLENDER_LEGS})
        if unknown:
            raise SystemExit(
                f"unknown leg {', '.join(unknown)}: one of {[n for n, _ in BLENDER_LEGS]}"
            )
        return [(name, suite) for name, suite in BLENDER_LEGS if name in args.leg]
    return BLENDER_LEGS[:1] if args.quick else BLENDER_LEGS


def leg_label(name: str, suite: str) -> str:
    return f"Blender {bpy_version(name)} ({suite}, Python {VENVS[name].python})"


def summary_line(label: str, counts: dict[str, int] | str) -> str:
    """One leg in the summary: its counts, or the reason it was skipped."""
    if isinstance(counts, str):
        return f"{label:38s} SKIPPED: {counts}"
    return (
        f"{label:38s} passed {counts['passed']:4d}  failed {counts['failed']:3d}  "
        f"errors {counts['errors']:3d}  skipped {counts['skipped']:3d}  "
        f"({counts['seconds']} s)" + (" crashed once: see below" if counts.get("crashed") else "")
    )


def cmd_test(args: argparse.Namespace) -> int:
    started = time.monotonic()
    legs = blender_legs(args)
    missing = setup(["dev", *(name for name, _ in legs)])
    if "dev" in missing:
        raise SystemExit(f"the dev venv cannot be made: {missing['dev']}")
    dev = python_of("dev")
    failures: list[str] = []
    bin_dir = dev.parent
    if run([bin_dir / "ruff", "check", "."]) != 0:
        failures.append("ruff check")
    if run([bin_dir / "ruff", "format", "--check", "."]) != 0:
        failures.append("ruff format")
    if run([bin_dir / "mypy"]) != 0:
        failures.append("mypy")
    if run([bin_dir / "lint-imports", "--no-cache"]) != 0:
        failures.append("lint-imports (the layers of the Blender package)")
    if run([dev, "build.py", "build"]) != 0:
        failures.append("build")
    zip_path = next(iter(sorted((ROOT / "dist").glob("yvo3d-*.zip"))), None)
    env = dict(os.environ)
    env.pop("SCENARIO_SDK_API_KEY", None)  # tests never use real credentials
    env.pop("SCENARIO_SDK_API_SECRET", None)
    env.pop("SCENARIO_BASE_URL", None)
    if zip_path is not None:
        env["YVO3D_ZIP"] = str(zip_path)
    totals = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
    pyargs = ["-q", "-p", "no:cacheprovider", *args.pytest_args]
    results: list[tuple[str, dict[str, int] | str]] = []
    # The core leg runs beside the Blender legs (2 cores; each leg is mostly one thread): its
    # output is printed when it ends. --serial runs it first, alone, as before.
    core: dict[str, dict[str, int]] = {}
    core_output: list[str] = []
    core_label = "core (no Blender)"
    core_args = ["tests/core", "tests/security", *pyargs]
    core_thread = None
    if not args.leg:
        if args.serial:
            core[core_label] = pytest_leg(dev, core_label, core_args, env)
        else:
            core_thread = threading.Thread(
                target=lambda: core.__setitem__(
                    core_label, pytest_leg(dev, core_label, core_args, env, core_output)
                )
            )
            core_thread.start()
    for name, suite in legs:
        label = leg_label(name, suite)
        if name in missing:
            print(f"\n===== {label}: SKIPPED, {missing[name]} =====", flush=True)
            results.append((label, missing[name]))
            continue
        select = [] if suite == "full" else ["-m", "smoke"]
        results.append(
            (label, pytest_leg(python_of(name), label, ["tests/blender", *select, *pyargs], env))
        )
    if core_thread is not None:
        core_thread.join()
        sys.stdout.write("".join(core_output))
    if core:
        results.insert(0, (core_label, core[core_label]))
    print("\n===== summary =====")
    for label, counts in results:
        print(summary_line(label, counts))
        if isinstance(counts, str):
            continue
        for key in totals:
            totals[key] += counts[key]
        if counts["exit"] not in (0, 5):
            failures.append(label)
    for label, digest in CRASHES:
        print(f"\n===== {label} crashed: the crashing and the main thread =====\n{digest}", end="")
    if failures:
        print("FAILED: " + ", ".join(failures))
    print(f"time: {time.monotonic() - started:.0f} s")
    print(
        f"total: {totals['passed']} passed, {totals['failed'] + totals['errors']} failed, "
        f"{totals['skipped']} skipped"
    )
    return 1 if failures else 0


def cmd_demo(args: argparse.Namespace) -> int:
    setup(["dev", "bpy50"])
    if run([python_of("dev"), "build.py", "build"]) != 0:
        return 1
    zip_path = sorted((ROOT / "dist").glob("yvo3d-*.zip"))[-1]
    out = Path(args.out).resolve()
    cmd = [python_of("bpy50"), ROOT / "demo" / "run_demo.py", "--zip", zip_path, "--out", out]
    if args.image:
        cmd += ["--image", Path(args.image).resolve()]
    return run(cmd)


def cmd_bench(args: argparse.Namespace) -> int:
    """The performance benchmark (on demand, never in CI): writes docs/performance.md."""
    setup(["bpy50"])
    if args.scale:
        return cmd_bench_scale(args)
    cmd: list[object] = [python_of("bpy50"), ROOT / "bench" / "run.py"]
    if args.quick:
        cmd.append("--quick")
    return run(cmd)


def cmd_bench_scale(args: argparse.Namespace) -> int:
    """The scale benchmark (N = 100 to 20,000): this branch, and `--before-zip` for the table's
    "before" column, each in a Blender process of its own; writes docs/performance.md's section."""
    scale = ROOT / "bench" / "scale.py"
    doc = ROOT / "docs" / "performance.md"
    cmd: list[object] = [python_of("bpy50"), scale, "--doc", doc]
    if args.before_zip:
        before = ROOT / "dist" / "scale-before.json"
        before.parent.mkdir(exist_ok=True)
        code = run(
            [python_of("bpy50"), scale, "--zip", args.before_zip, "--build", "before"]
            + ["--json", before]
        )
        if code:
            return code
        cmd += ["--before", before]
    return run(cmd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup", help="create or update the virtual environments")
    p.add_argument("legs", nargs="*", default=list(VENVS))
    p = sub.add_parser("test", help="ruff, mypy, build, core tests, every Blender leg")
    p.add_argument("--quick", action="store_true", help="core and Blender 5.0 only")
    p.add_argument(
        "--serial", action="store_true", help="run the core leg alone first, not beside Blender"
    )
    p.add_argument(
        "--leg", action="append", help="only this Blender leg, no core tests (bpy45, ...)"
    )
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    p = sub.add_parser("demo", help="generate a model end to end in headless Blender")
    p.add_argument("--out", default="out", help="folder for demo.blend and demo.png")
    p.add_argument("--image", help="your own reference image (default: one made in code)")
    p = sub.add_parser("bench", help="performance benchmark; writes docs/performance.md")
    p.add_argument("--quick", action="store_true", help="a short trial run; writes nothing")
    p.add_argument("--scale", action="store_true", help="the scale benchmark (N up to 20,000)")
    p.add_argument("--before-zip", help="with --scale: also measure this older build")
    args = parser.parse_args(argv)
    if args.command == "bench":
        return cmd_bench(args)
    if args.command == "setup":
        setup(args.legs)
        return 0
    if args.command == "test":
        return cmd_test(args)
    return cmd_demo(args)


if __name__ == "__main__":
    sys.exit(main())
