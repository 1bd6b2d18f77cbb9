"""Spend and the budget (issue 12), Blender-free: what counts as spent, the refusal with its
numbers, and the job engine checking every job against the budget before its paid request,
over real loopback HTTP to the stand-in (two jobs priced together cannot both slip under)."""

from __future__ import annotations

import time

import pytest

from tests.core.test_jobs import images_dir, make_manager, submit, wait_for  # noqa: F401
from tests.standin.fixtures import standin  # noqa: F401
from yvo3d_addon.core.jobs import Stage
from yvo3d_addon.core.spend import Budget, charged, day_start, spent_since
from yvo3d_addon.core.store import JobRecord


def record(stage: str, cost: float | None, submitted: bool, created: float = 0.0) -> JobRecord:
    return JobRecord(
        id=f"yj_{stage}_{cost}_{submitted}",
        name="x",
        stage=stage,
        cost=cost,
        submitted_at=time.time() if submitted else None,
        created=created or time.time(),
    )


@pytest.mark.parametrize(
    "stage, cost, submitted, counted",
    [
        ("imported", 40.0, True, 40.0),  # paid and done
        ("running", 40.0, True, 40.0),  # paid, still running
        ("stalled", 40.0, True, 40.0),  # paid, not followed right now
        ("unknown", 40.0, True, 40.0),  # the paid request's outcome is unknown: assume paid
        ("cancelled", 40.0, True, 40.0),  # cancelled after paying: still charged
        ("failed", 40.0, True, 0.0),  # Scenario refunds failed jobs
        ("pricing", 40.0, False, 40.0),  # being priced: a reservation
        ("submitting", 40.0, False, 40.0),  # the paid request leaves now
        ("cancelled", 40.0, False, 0.0),  # cancelled before paying
        ("preparing", None, False, 0.0),  # no price yet
    ],
)
def test_what_counts_as_spent(stage: str, cost: float, submitted: bool, counted: float) -> None:
    assert charged(record(stage, cost, submitted)) == counted


def test_spent_since_counts_only_jobs_created_since() -> None:
    yesterday = day_start() - 3600
    records = [record("imported", 40.0, True, yesterday), record("imported", 25.0, True)]
    assert spent_since(records, day_start()) == 25.0
    assert spent_since(records, 0) == 65.0


def test_the_refusal_names_the_numbers() -> None:
    records = [record("imported", 40.0, True)]
    budget = Budget(per_day=100.0, session_start=time.time() - 10)
    assert budget.refusal(records, 60.0) == ""
    text = budget.refusal(records, 61.0)
    assert "101" in text and "100" in text and "40 spent" in text and "60 left" in text
    assert "Nothing was paid" in text
    session = Budget(per_session=50.0, session_start=time.time() + 60)  # nothing this session
    assert session.refusal(records, 50.0) == ""
    assert "this session" in session.refusal(records, 51.0)
    assert not Budget().active and Budget().refusal(records, 1e9) == ""


def test_the_engine_checks_the_budget_before_paying(standin, tmp_path, images_dir):  # noqa: F811
    manager = make_manager(standin, str(tmp_path))
    try:
        first = submit(manager, images_dir[:1])
        done, _ = wait_for(manager, first.id, {Stage.READY})
        price = done.cost
        assert price and standin.paid_requests == 1
        # Room for one more job, not two: two jobs started together, priced at once.
        manager.budget = Budget(per_day=price * 2.5, session_start=0.0)
        second = submit(manager, images_dir[1:2])
        third = submit(manager, images_dir[2:3])
        ends = [wait_for(manager, r.id, {Stage.READY, Stage.FAILED})[0] for r in (second, third)]
        assert sorted(r.stage for r in ends) == [Stage.FAILED, Stage.READY]
        refused = next(r for r in ends if r.stage == Stage.FAILED)
        assert "Over budget" in refused.error and refused.submitted_at is None
        assert standin.paid_requests == 2
    finally:
        manager.shutdown(5.0)


def test_what_is_left_of_each_limit_in_force() -> None:
    budget = Budget(per_session=100.0, per_day=500.0)
    assert budget.remaining(40.0, 480.0) == [("session", 100.0, 60.0), ("today", 500.0, 20.0)]
    assert Budget(per_day=50.0).remaining(10.0, 70.0) == [("today", 50.0, 0.0)]
    assert Budget().remaining(10.0, 10.0) == []
