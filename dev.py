"""Developer entry point: `python3 dev.py demo` runs the main job end to end in headless Blender,
`python3 dev.py test` runs every check and test, `python3 dev.py bench` the performance benchmark
(on demand, not in CI). Each installs what it needs into local virtual environments first
(`setup`), so a fresh machine with Python 3.11 needs nothing else.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENVS = {
    "dev": (ROOT / ".venv", ROOT / "requirements" / "dev.txt"),
    "bpy50": (ROOT / ".venv-bpy50", ROOT / "requirements" / "bpy50.txt"),
    "bpy42": (ROOT / ".venv-bpy42", ROOT / "requirements" / "bpy42.txt"),
}


def python_of(name: str) -> Path:
    return VENVS[name][0] / "bin" / "python"


def ensure_venv(name: str) -> Path:
    """Create or update one venv; a stamp of the requirements file skips work when unchanged."""
    venv, reqs = VENVS[name]
    digest = hashlib.sha256(reqs.read_bytes()).hexdigest()
    stamp = venv / ".requirements.sha256"
    if stamp.exists() and stamp.read_text() == digest and python_of(name).exists():
        return python_of(name)
    print(f"[setup] {venv.name}: installing {reqs.relative_to(ROOT)}", flush=True)
    started = time.monotonic()
    if not python_of(name).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python_of(name)), "-m", "pip", "install", "-q", "-r", str(reqs)], check=True
    )
    stamp.write_text(digest)
    print(f"[setup] {venv.name}: ready in {time.monotonic() - started:.0f} s", flush=True)
    return python_of(name)


def setup(names: list[str]) -> None:
    if sys.version_info[:2] != (3, 11):
        print(
            f"[setup] warning: Python 3.11 is expected (this is {sys.version.split()[0]}); "
            "the bpy 5.0.1 wheel needs 3.11."
        )
    for name in names:
        ensure_venv(name)


def run(cmd: list[str], **kw: object) -> int:
    print("[run] " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, **kw).returncode  # type: ignore[call-overload, no-any-return]


SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)")


def pytest_leg(python: Path, label: str, args: list[str], env: dict[str, str]) -> dict[str, int]:
    """Run one pytest leg; return its counts read from pytest's closing line."""
    print(f"\n===== {label} =====", flush=True)
    proc = subprocess.Popen(
        [str(python), "-m", "pytest", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    last = ""
    for line in proc.stdout:
        sys.stdout.write(line)
        if SUMMARY.search(line):
            last = line
    code = proc.wait()
    counts = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0, "exit": code}
    for number, word in SUMMARY.findall(last):
        key = "errors" if word.startswith("error") else word
        if key in counts:
            counts[key] += int(number)
    if code not in (0, 5) and not counts["failed"] and not counts["errors"]:
        counts["errors"] += 1  # pytest itself failed (collection, crash): count it
    return counts


def cmd_test(args: argparse.Namespace) -> int:
    started = time.monotonic()
    legs = ["dev", "bpy50"] + ([] if args.quick else ["bpy42"])
    setup(legs)
    dev = python_of("dev")
    failures: list[str] = []
    bin_dir = dev.parent
    if run([bin_dir / "ruff", "check", "."]) != 0:
        failures.append("ruff check")
    if run([bin_dir / "ruff", "format", "--check", "."]) != 0:
        failures.append("ruff format")
    if run([bin_dir / "mypy"]) != 0:
        failures.append("mypy")
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
    results = [
        (
            "core (no Blender)",
            pytest_leg(
                dev, "core tests (no Blender)", ["tests/core", "tests/security", *pyargs], env
            ),
        )
    ]
    results.append(
        (
            "Blender 5.0.1",
            pytest_leg(python_of("bpy50"), "Blender 5.0.1 tests", ["tests/blender", *pyargs], env),
        )
    )
    if not args.quick:
        results.append(
            (
                "Blender 4.2.23",
                pytest_leg(
                    python_of("bpy42"), "Blender 4.2 LTS tests", ["tests/blender", *pyargs], env
                ),
            )
        )
    print("\n===== summary =====")
    for label, counts in results:
        print(
            f"{label:20s} passed {counts['passed']:4d}  failed {counts['failed']:3d}  "
            f"errors {counts['errors']:3d}  skipped {counts['skipped']:3d}"
        )
        for key in totals:
            totals[key] += counts[key]
        if counts["exit"] not in (0, 5):
            failures.append(label)
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
    cmd: list[object] = [python_of("bpy50"), ROOT / "bench" / "run.py"]
    if args.quick:
        cmd.append("--quick")
    return run(cmd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup", help="create or update the virtual environments")
    p.add_argument("legs", nargs="*", default=list(VENVS))
    p = sub.add_parser("test", help="ruff, mypy, build, core tests, Blender 5.0 and 4.2 tests")
    p.add_argument("--quick", action="store_true", help="skip the Blender 4.2 leg")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    p = sub.add_parser("demo", help="generate a model end to end in headless Blender")
    p.add_argument("--out", default="out", help="folder for demo.blend and demo.png")
    p.add_argument("--image", help="your own reference image (default: one made in code)")
    p = sub.add_parser("bench", help="performance benchmark; writes docs/performance.md")
    p.add_argument("--quick", action="store_true", help="a short trial run; writes nothing")
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
