"""A whole batch, end to end, against an instant stand-in (issue 14): wall time and the batch
process's own CPU per item as N grows, with the fitted growth exponent.

Blender-free (the batch engine is core): `.venv/bin/python bench/batch_wall.py [N ...]`. The
stand-in runs in its own process (`python -m tests.standin --job-seconds 0`), so the CPU
measured here is the add-on's alone: client, job engine, job store, library, state file and
journal. Every item has its own photo (identical rows would be copied, not generated). Not
in CI: `python3 dev.py bench --scale` is the main scale benchmark; this one adds the batch run
that it models.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media import png_bytes  # noqa: E402
from yvo3d_addon.core.batch import Run, StateFile, assign_outputs, load_items  # noqa: E402
from yvo3d_addon.core.client import RetryPolicy, ScenarioClient  # noqa: E402
from yvo3d_addon.core.jobs import JobManager, PollPolicy  # noqa: E402
from yvo3d_addon.core.library import Library  # noqa: E402
from yvo3d_addon.core.params import DEFAULT_TABLE  # noqa: E402
from yvo3d_addon.core.store import JobStore  # noqa: E402

POLL = PollPolicy(first=0.02, factor=1.5, cap=0.05, overall_timeout=600)


def start_standin() -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.standin", "--job-seconds", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    return proc, info


def run_batch(size: int, info: dict[str, str], concurrency: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix=f"yvo3d-batch-{size}-"))
    try:
        photos = work / "photos"
        photos.mkdir()
        for n in range(size):
            pixel = (n % 251, (n // 251) % 251, 90)
            (photos / f"p{n:05d}.png").write_bytes(png_bytes(64, 64, pixel=lambda x, y, p=pixel: p))

        def client(wait: object) -> ScenarioClient:
            return ScenarioClient(
                info["base_url"],
                "test-key",
                "test-secret",
                retry=RetryPolicy(attempts=3, base=0.01, cap=0.05),
                timeout=(5.0, 30.0),
                wait=wait if callable(wait) else None,
            )

        manager = JobManager(
            JobStore(str(work / "jobs.sqlite")), Library(str(work / "library")), client, poll=POLL
        )
        items = load_items(str(photos), DEFAULT_TABLE, DEFAULT_TABLE.defaults())
        out = work / "out"
        assign_outputs(items, str(out))
        state = StateFile(str(out / "yvo3d-batch.json"))
        run = Run(manager, items, state=state, concurrency=concurrency, service=info["base_url"])
        wall0, cpu0 = time.perf_counter(), time.process_time()
        to_send = run.plan()
        run.run(to_send)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        done = sum(1 for i in items if i.status == "done")
        manager.shutdown(5.0)
        return {"n": size, "done": done, "wall": wall, "cpu": cpu}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def exponent(rows: list[dict[str, float]], key: str) -> float:
    xs = [math.log(r["n"]) for r in rows]
    ys = [math.log(max(r[key], 1e-9)) for r in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mx) ** 2 for x in xs) or 1.0
    return num / den


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 300, 1000])
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    proc, info = start_standin()
    try:
        rows = []
        for size in args.sizes:
            row = run_batch(size, info, args.concurrency)
            rows.append(row)
            print(
                f"N={size:6d}  done {int(row['done']):6d}  wall {row['wall']:8.1f} s "
                f"({row['wall'] / size * 1000:6.1f} ms/item)  batch CPU "
                f"{row['cpu'] / size * 1000:6.2f} ms/item",
                flush=True,
            )
        if len(rows) > 1:
            wall, cpu = exponent(rows, "wall"), exponent(rows, "cpu")
            print(f"growth exponent: wall {wall:.2f}, CPU {cpu:.2f}")
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    os.environ.pop("SCENARIO_BASE_URL", None)
    sys.exit(main())
