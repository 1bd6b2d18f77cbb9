"""A pytest plugin `dev.py test` loads into every leg: each test's outcome, one line per test
phase, in the file `YVO3D_PROGRESS_LOG` names. When a leg's process crashes (Blender dies
from a signal, so pytest never prints its closing line), dev.py reads from it which tests
finished and how, and runs the others again in a new process."""

from __future__ import annotations

import os

import pytest

ENV = "YVO3D_PROGRESS_LOG"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{report.nodeid}\t{report.when}\t{report.outcome}\n")


def read(path: str) -> dict[str, str]:
    """Finished tests and their outcome (failed if any phase failed, else skipped if one was
    skipped, else passed); a test whose teardown never ran did not finish."""
    phases: dict[str, dict[str, str]] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:
                    phases.setdefault(parts[0], {})[parts[1]] = parts[2]
    except OSError:
        return {}
    outcomes = {}
    for nodeid, seen in phases.items():
        if "teardown" not in seen:
            continue
        values = set(seen.values())
        outcomes[nodeid] = (
            "failed" if "failed" in values else "skipped" if "skipped" in values else "passed"
        )
    return outcomes
