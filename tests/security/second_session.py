"""A second process sharing one job store and library with the test (class 7 of issue 11).

    python -m tests.security.second_session ROOT BASE_URL KEY SECRET IMAGE

Resumes what the store holds (as a fresh Blender session would), then submits the same request
as the first process, and prints one JSON line: what it followed and how its request ended.
"""

from __future__ import annotations

import json
import sys
import time

from tests.security.conftest import FAST_POLL
from yvo3d_addon.core.client import RetryPolicy, ScenarioClient
from yvo3d_addon.core.jobs import JobManager, Stage
from yvo3d_addon.core.library import Library
from yvo3d_addon.core.params import DEFAULT_TABLE
from yvo3d_addon.core.store import JobStore


def main(root: str, base_url: str, key: str, secret: str, image: str) -> None:
    def factory(wait):
        return ScenarioClient(
            base_url, key, secret, retry=RetryPolicy(attempts=2, base=0.01, cap=0.02), wait=wait
        )

    store = JobStore(f"{root}/jobs.sqlite")
    manager = JobManager(store, Library(f"{root}/library"), factory, poll=FAST_POLL)
    resumed = [r.id for r in manager.resume()]
    rec = manager.submit(name="Vase", images=[image], settings=DEFAULT_TABLE.defaults())
    deadline = time.monotonic() + 20
    ended = {Stage.FAILED, Stage.READY, Stage.STALLED, Stage.UNKNOWN, Stage.CANCELLED}
    while manager.get(rec.id).stage not in ended and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.02)
    done = manager.get(rec.id)
    assert done is not None
    print(json.dumps({"resumed": resumed, "stage": done.stage, "message": done.message}))
    manager.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:6])
