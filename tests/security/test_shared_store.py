"""Class 7 of issue 11: two processes sharing one job store and one output folder never pay
twice for one item and never fail or follow each other's jobs; the batch state file is
merged; identical rows of one CSV are generated once and copied."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.security.conftest import manager_for
from tests.standin.server import StandIn
from yvo3d_addon.core.batch import STATE_FILE, Item, Run, StateFile, assign_outputs
from yvo3d_addon.core.jobs import Stage
from yvo3d_addon.core.params import DEFAULT_TABLE

ROOT = Path(__file__).resolve().parents[2]


def _second_session(root: str, server: StandIn, image: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "tests.security.second_session", root, server.base_url,
         server.api_key, server.api_secret, image],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_second_session_pays_nothing_and_leaves_the_first_ones_job_alone(tmp_path, photo):
    with StandIn(job_seconds=4.0) as server:
        first = manager_for(server, str(tmp_path))
        rec = first.submit(name="Vase", images=[photo], settings=DEFAULT_TABLE.defaults())
        deadline = time.monotonic() + 20
        while first.get(rec.id).stage not in (Stage.QUEUED, Stage.RUNNING):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = _second_session(str(tmp_path), server, photo)
        assert second["resumed"] == []  # the first session's running job is not taken over
        assert second["stage"] == Stage.FAILED and "nothing was paid" in str(second["message"])
        while first.get(rec.id).stage not in (Stage.READY, Stage.FAILED, Stage.STALLED):
            assert time.monotonic() < deadline + 20
            time.sleep(0.05)
        assert first.get(rec.id).stage == Stage.READY
        assert server.paid_requests == 1
        assert server.count("download") == 2  # the GLB and its preview, by one follower only
        first.shutdown()


def test_identical_csv_rows_are_generated_once_and_copied(tmp_path, photo):
    with StandIn(job_seconds=0.5) as server:
        manager = manager_for(server, str(tmp_path))
        settings = DEFAULT_TABLE.defaults()
        items = [Item(key=k, name=k, images=[photo], settings=dict(settings)) for k in "abc"]
        out = tmp_path / "out"
        assign_outputs(items, str(out))
        run = Run(manager, items, state=StateFile(str(out / STATE_FILE)))
        run.run(run.plan(), timeout=30)
        manager.shutdown()
        assert server.paid_requests == 1
        assert [i.status for i in items] == ["done"] * 3
        assert [i.reused for i in items] == [False, True, True]
        assert all(os.path.getsize(i.output) > 0 for i in items)
        forced = [Item(key=k, name=k, images=[photo], settings=dict(settings)) for k in "xy"]
        assert len(Run(manager, forced, force=True).plan()) == 2


def test_the_batch_state_file_is_merged_not_last_writer_wins(tmp_path):
    path = str(tmp_path / STATE_FILE)
    one, two = StateFile(path), StateFile(path)  # two runs that read it before either wrote
    paid = Item(key="a", name="a", images=[], settings={}, paid=True, job_id="job_1")
    paid.status = "running"
    one.save([paid])
    two.save([Item(key="b", name="b", images=[], settings={})])
    two.save([Item(key="a", name="a", images=[], settings={}, status="failed")])
    saved = json.loads(Path(path).read_text())["items"]
    assert set(saved) == {"a", "b"}
    assert saved["a"]["paid"] is True and saved["a"]["job_id"] == "job_1"
    assert not [n for n in os.listdir(tmp_path) if n.endswith((".lock", ".tmp"))]
