"""Class 9 of issue 11: a damaged job store is moved aside and said so, and the paid jobs that
were running are recovered from its bytes, then followed again from the service by job id."""

from __future__ import annotations

import os
import time

from tests.security.conftest import manager_for
from tests.standin.server import StandIn
from yvo3d_addon.core.jobs import Stage
from yvo3d_addon.core.params import DEFAULT_TABLE
from yvo3d_addon.core.store import JobStore


def test_paid_running_jobs_are_recovered_from_a_damaged_store(tmp_path, photo):
    with StandIn(job_seconds=2.0) as server:
        first = manager_for(server, str(tmp_path))
        rec = first.submit(name="Vase", images=[photo], settings=DEFAULT_TABLE.defaults())
        deadline = time.monotonic() + 20
        while not (first.get(rec.id).job_id and first.get(rec.id).stage == Stage.RUNNING):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        first.shutdown()  # Blender quits while the paid job runs on Scenario
        first.store.close()
        path = os.path.join(str(tmp_path), "jobs.sqlite")
        with open(path, "r+b") as fh:  # the header and first page destroyed
            fh.write(b"\xde\xad" * 512)
        second = manager_for(server, str(tmp_path))
        store: JobStore = second.store
        assert store.recovered_from and os.path.exists(store.recovered_from)
        assert store.recovered == [rec.id]
        assert store.recovered_from in store.recovery_text() and "1 paid job" in (
            store.recovery_text()
        )
        found = second.get(rec.id)
        assert found is not None and found.stage == Stage.STALLED and found.job_id
        second.resume(rec.id)
        while second.get(rec.id).stage not in (Stage.READY, Stage.FAILED):
            assert time.monotonic() < deadline + 20
            time.sleep(0.05)
        assert second.get(rec.id).stage == Stage.READY
        assert server.paid_requests == 1
        second.shutdown()
