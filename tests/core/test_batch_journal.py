"""The batch state's journal: a change costs one appended line whatever the batch's size, a
run killed at any moment (even mid-line) finds every change written before it, and the readable
summary is rewritten only at a bounded rate and at the end."""

from __future__ import annotations

import json
import os

from yvo3d_addon.core import batch, batch_journal
from yvo3d_addon.core.batch import STATE_FILE, Item, StateFile, Status


def _items(count: int) -> list[Item]:
    return [
        Item(f"p{n}.png", f"p{n}", [f"/in/p{n}.png"], {}, output=f"/out/p{n}.glb")
        for n in range(count)
    ]


def test_a_change_is_one_line_and_survives_a_kill(tmp_path, monkeypatch):
    path = str(tmp_path / STATE_FILE)
    replaced: list[str] = []
    real_replace = os.replace
    monkeypatch.setattr(batch.os, "replace", lambda a, b: replaced.append(b) or real_replace(a, b))
    state = StateFile(path)
    items = _items(2000)
    state.save(items)  # the plan: the whole summary, once
    assert replaced == [path]
    sizes = []
    for item in items:
        item.status, item.local_id, item.paid, item.job_id = (
            Status.RUNNING,
            "yj_" + item.name,
            True,
            "job_" + item.name,
        )
        state.save([item], compact=False)
        sizes.append(os.path.getsize(state.journal.path))
    # Every change appended one line of the same size: O(1), not a rewrite of 2,000 items.
    growth = [b - a for a, b in zip(sizes, sizes[1:], strict=False)]
    assert max(growth) < 300  # one item's line (the whole state is about 2,000 times that)
    assert replaced == [path]  # the summary was not rewritten 2,000 times (bounded rate)

    # Killed now (no goodbye; a torn line at the end): a new process knows every paid job.
    with open(state.journal.path, "a", encoding="utf-8") as fh:
        fh.write('{"items": {"p5.png": {"status": "don')
    again = StateFile(path)
    restored = _items(2000)
    for item in restored:
        again.restore(item)
    assert all(i.paid and i.job_id == "job_" + i.name for i in restored)
    assert {i.status for i in restored} == {Status.RUNNING}


def test_the_summary_is_written_at_the_end_and_when_due(tmp_path, monkeypatch):
    path = str(tmp_path / STATE_FILE)
    state = StateFile(path)
    items = _items(3)
    items[0].status = Status.DONE
    state.save([items[0]], compact=False)
    assert not os.path.exists(path) and state.journal.pending
    monkeypatch.setattr(batch_journal, "MIN_INTERVAL", 0.0)
    state.save((), compact=False)  # what the run's loop does: due now, so written
    assert json.loads(open(path).read())["items"]["p0.png"]["status"] == "done"
    assert not os.path.exists(state.journal.path) and not state.journal.pending
    items[1].status = Status.FAILED
    state.save(items)  # the end: the whole summary, the journal emptied
    saved = json.loads(open(path).read())["items"]
    assert [saved[i.key]["status"] for i in items] == ["done", "failed", "pending"]
    assert not os.path.exists(state.journal.path)
