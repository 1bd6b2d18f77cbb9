"""Shared fixtures of the security tests (core, no Blender)."""

from __future__ import annotations

import os

import pytest

from tests.media import png_bytes
from tests.standin.fixtures import standin  # noqa: F401
from yvo3d_addon.core.client import RetryPolicy, ScenarioClient
from yvo3d_addon.core.jobs import JobManager, PollPolicy
from yvo3d_addon.core.library import Library
from yvo3d_addon.core.store import JobStore

FAST_POLL = PollPolicy(first=0.05, factor=1.5, cap=0.2, overall_timeout=60, unknown_limit=0.5)


def client_for(server, **kw) -> ScenarioClient:  # noqa: F811
    kw.setdefault("retry", RetryPolicy(attempts=2, base=0.01, cap=0.02))
    kw.setdefault("timeout", (2.0, 3.0))
    return ScenarioClient(server.base_url, server.api_key, server.api_secret, **kw)


def manager_for(server, root: str, poll: PollPolicy = FAST_POLL) -> JobManager:  # noqa: F811
    def factory(wait):
        return client_for(server, wait=wait)

    store = JobStore(os.path.join(root, "jobs.sqlite"))
    return JobManager(store, Library(os.path.join(root, "library")), factory, poll=poll)


@pytest.fixture
def photo(tmp_path) -> str:
    path = tmp_path / "photo.png"
    path.write_bytes(png_bytes(96, 96))
    return str(path)
