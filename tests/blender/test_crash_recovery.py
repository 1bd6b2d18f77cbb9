"""Crash recovery: a Blender process killed with SIGKILL at each stage of a job, a new one over the
same extension user folder reopens the .blend and finishes (or safely ends) the job.

Each Blender is a subprocess of this venv's python running `crash_runner.py`; the stand-in of
Scenario runs here, so it counts requests across both processes. The kill moment is read from
the job store itself (what a crash leaves behind is exactly what was committed there).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.blender.test_generate import server_fixture  # noqa: F401 - the `server` fixture
from tests.media import png_bytes
from tests.standin.server import StandIn
from yvo3d_addon.core.client import ScenarioClient

CHUNK = int(inspect.signature(ScenarioClient.download).parameters["chunk_size"].default)
"""The client's download chunk: the data reaches the disk a chunk at a time."""

RUNNER = Path(__file__).with_name("crash_runner.py")
CURSOR = (1.25, -2.5, 0.5)  # crash_runner.CURSOR
STAGE_TIMEOUT = 40.0


class Blender:
    """A Blender process running crash_runner.py; stdout and stderr are collected as it runs."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, str(RUNNER), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(["--- stdout", *self.out, "--- stderr", *self.err[-60:]])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        assert self.proc.returncode == -signal.SIGKILL

    def finish(self, timeout: float = 90.0) -> dict[str, Any]:
        """Wait for the end; the RESULT line as a dict."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(
                f"Blender did not finish in {timeout} s\n{self.output()}"
            ) from None
        for reader in self._readers:
            reader.join(10)
        results = [line for line in self.out if line.startswith("RESULT ")]
        assert results, f"no RESULT (exit {self.proc.returncode})\n{self.output()}"
        return dict(json.loads(results[-1][len("RESULT ") :]))

    def __del__(self) -> None:  # never leave a Blender behind, whatever a test did
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            self.proc.kill()


class Session:
    """Two (or more) Blender processes over one shared user folder, one stand-in."""

    def __init__(self, server: StandIn, root: Path, zip_path: Path) -> None:
        self.server = server
        self.root = root
        self.zip = zip_path
        self.resources = root / "blender-user"
        self.resources.mkdir()
        self.blend = root / "scene.blend"
        self.user_dir = self.resources / "extensions" / ".user" / "user_default" / "yvo3d"
        self.processes: list[Blender] = []

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in (
            "YVO3D_USER_DIR",
            "SCENARIO_BASE_URL",
            "SCENARIO_SDK_API_KEY",
            "SCENARIO_SDK_API_SECRET",
        ):
            env.pop(name, None)
        env.update(
            BLENDER_USER_RESOURCES=str(self.resources),
            YVO3D_POLL_SECONDS="0.1",
            YVO3D_TEST_URL=self.server.base_url,
            YVO3D_TEST_KEY=self.server.api_key,
            YVO3D_TEST_SECRET=self.server.api_secret,
        )
        return env

    def start(self, image: str, *extra: str) -> Blender:
        args = ["start", "--zip", str(self.zip), "--blend", str(self.blend), "--image", image]
        process = Blender([*args, *extra], self.env())
        self.processes.append(process)
        return process

    def resume(self, *extra: str) -> Blender:
        process = Blender(["resume", "--blend", str(self.blend), *extra], self.env())
        self.processes.append(process)
        return process

    def stored(self) -> list[dict[str, Any]]:
        """The job store as committed on disk right now (read by a connection of our own)."""
        path = self.user_dir / "jobs.sqlite"
        if not path.exists():
            return []
        try:
            db = sqlite3.connect(str(path), timeout=2.0)
            try:
                rows = db.execute("SELECT data FROM jobs").fetchall()
            finally:
                db.close()
        except sqlite3.OperationalError:  # the table is being created right now
            return []
        return [json.loads(data) for (data,) in rows]

    def requests_seen(self) -> str:
        return "\n".join(
            f"{e['route']} {e['method']} {e['path']} {e['status']} fault={e['fault']}"
            for e in list(self.server.log)
        )

    def kill_when(
        self, process: Blender, condition: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """SIGKILL the process as soon as a stored job meets `condition`; that job's record."""
        deadline = time.monotonic() + STAGE_TIMEOUT
        while time.monotonic() < deadline:
            for record in self.stored():
                if condition(record):
                    process.kill()
                    return record
            if not process.alive():
                raise AssertionError(
                    f"Blender ended before the stage\n{process.output()}\n{self.requests_seen()}"
                )
            time.sleep(0.02)
        process.proc.kill()
        raise AssertionError(
            f"the stage never came; store: {self.stored()}\n{process.output()}\n"
            + self.requests_seen()
        )

    def close(self) -> None:
        for process in self.processes:
            if process.alive():
                process.proc.kill()
                process.proc.wait(10)


@pytest.fixture
def session(server: StandIn, tmp_path: Path, addon_zip: Path) -> Iterator[Session]:
    instance = Session(server, tmp_path, addon_zip)
    try:
        yield instance
    finally:
        instance.close()


def photo(folder: Path, name: str = "vase.png", size: int = 96, noisy: bool = False) -> str:
    """A reference photo; a noisy one compresses badly, so the textured GLB is large."""
    path = folder / name
    if noisy:
        noise = random.Random(7).randbytes(size * size * 3)

        def pixel(x: int, y: int) -> tuple[int, int, int]:
            at = (y * size + x) * 3
            return noise[at], noise[at + 1], noise[at + 2]

        path.write_bytes(png_bytes(size, size, pixel=pixel))
    else:
        path.write_bytes(png_bytes(size, size))
    return str(path)


def by_id(result: dict[str, Any], local_id: str) -> dict[str, Any]:
    found = [j for j in result["jobs"] if j["id"] == local_id]
    assert found, f"job {local_id} is not known after the restart: {result['jobs']}"
    return found[0]


def assert_imported_at_cursor(result: dict[str, Any], record: dict[str, Any]) -> None:
    """The job's model is in the reopened scene, where the first process asked for it."""
    objects = [o for o in result["objects"] if o["local_id"] == record["id"]]
    assert len(objects) == 1, result["objects"]
    assert objects[0]["job_id"] == record["job_id"]
    base = objects[0]["base"]
    assert all(abs(a - b) < 1e-3 for a, b in zip(base, CURSOR, strict=True)), base


def requests_after(server: StandIn, moment: float) -> list[dict[str, Any]]:
    return [e for e in list(server.log) if e["time"] >= moment]


# ---------------------------------------------------------------------------------- tests


def test_killed_after_upload_nothing_is_paid_and_generate_works_after(
    session: Session, tmp_path: Path
) -> None:
    server = session.server
    server.fault("estimate", delay=0.01)  # the panel's price: answered
    server.fault("estimate", hold=30.0)  # the job's check of that price, before paying: hangs
    first = session.start(photo(tmp_path), "--price")
    record = session.kill_when(first, lambda r: r["stage"] == "pricing" and r["upload_ids"])
    assert server.count("upload") == 1 and server.paid_requests == 0
    killed_at = time.time()

    result = session.resume("--regenerate").finish()

    assert result["user_dir"] == str(session.user_dir)
    old = by_id(result, record["id"])
    # Never resumed: it would pay without the user asking again.
    assert old["stage"] == "failed" and old["error_code"] == "interrupted"
    assert "nothing was paid" in old["message"]
    assert not any(o["local_id"] == record["id"] for o in result["objects"])
    # Generate again (the user's choice) pays once and imports.
    assert result["generate"] == ["FINISHED"], result
    new = [j for j in result["jobs"] if j["id"] != record["id"]]
    assert len(new) == 1 and new[0]["stage"] == "imported"
    assert server.paid_requests == 1
    after = requests_after(server, killed_at)
    assert [e["route"] for e in after if e["route"] == "generate"] == ["generate"]
    assert result["threads"] == [], result["threads"]


def test_killed_right_after_the_paid_request_shows_outcome_unknown_and_pays_nothing_more(
    session: Session, tmp_path: Path
) -> None:
    server = session.server
    server.fault("generate", hold=30.0)  # the job is made; its id never reaches Blender
    first = session.start(photo(tmp_path))
    record = session.kill_when(
        first, lambda r: r["stage"] == "submitting" and bool(server.job_ids())
    )
    assert record["job_id"] == "" and server.paid_requests == 1
    killed_at = time.time()

    result = session.resume().finish()

    old = by_id(result, record["id"])
    assert old["stage"] == "unknown" and old["job_id"] == ""
    assert "unknown whether" in old["message"]
    assert any(
        level == "WARNING" and "app.scenario.com" in text for level, text in result["reports"]
    ), result["reports"]
    assert result["objects"] == []
    # Not re-sent, not even looked up: nothing at all went out after the restart.
    assert server.paid_requests == 1
    assert requests_after(server, killed_at) == []
    assert len(server.job_ids()) == 1


def test_killed_while_queued_the_job_is_followed_and_imported(
    session: Session, tmp_path: Path
) -> None:
    server = session.server
    server.script_job(statuses=["queued", "in-progress", "success"], seconds=3.0)
    first = session.start(photo(tmp_path))
    record = session.kill_when(first, lambda r: r["stage"] == "queued" and r["job_id"])
    assert server.paid_requests == 1
    killed_at = time.time()

    result = session.resume().finish()

    assert record["id"] in result["running_after_load"]  # resumed by the load_post handler
    done = by_id(result, record["id"])
    assert done["stage"] == "imported" and done["job_id"] == record["job_id"]
    assert_imported_at_cursor(result, record)
    assert server.paid_requests == 1
    after = requests_after(server, killed_at)
    assert any(e["route"] == "job" and record["job_id"] in e["path"] for e in after)
    assert any(e["route"] == "download" for e in after)
    assert result["follow"] == ["FINISHED"]


def test_killed_mid_download_the_download_resumes_with_a_range_request(
    session: Session, tmp_path: Path
) -> None:
    server = session.server
    server.script_job(seconds=0.3)
    server.fault("download", hold=30.0)  # half the GLB, then nothing
    # The GLB carries the photo as its texture: a noisy photo of 2.5 chunks makes half the
    # GLB more than a chunk, so part of it is on disk when the download stalls.
    side = math.ceil(math.sqrt(2.5 * CHUNK / 3))
    first = session.start(photo(tmp_path, "noise.png", size=side, noisy=True))

    def partial() -> list[Path]:
        return [p for p in session.user_dir.rglob("model.glb.part") if p.stat().st_size >= CHUNK]

    record = session.kill_when(first, lambda r: r["stage"] == "downloading" and bool(partial()))
    assert server.paid_requests == 1
    have = partial()[0].stat().st_size
    killed_at = time.time()

    result = session.resume().finish()

    done = by_id(result, record["id"])
    assert done["stage"] == "imported"
    assert_imported_at_cursor(result, record)
    data = Path(done["glb_path"]).read_bytes()
    assert data == server.asset_bytes(done["glb_asset_id"])  # complete and byte-exact
    assert len(data) > have and not list(session.user_dir.rglob("*.part"))
    glb_gets = [
        e
        for e in requests_after(server, killed_at)
        if e["route"] == "download" and done["glb_asset_id"] in e["path"]
    ]
    assert [(e["range"], e["status"]) for e in glb_gets] == [(f"bytes={have}-", 206)]
    assert not any(e["had_auth"] for e in server.log if e["route"].startswith("download"))
    assert server.paid_requests == 1
    assert server.count("generate") == 1
