"""The pricer: debounced dry runs off the main thread, uploads reused by the job that follows."""

from __future__ import annotations

import os
import time

import pytest

from tests.media import png_bytes
from tests.standin.fixtures import standin  # noqa: F401
from yvo3d_addon.core.client import RetryPolicy, ScenarioClient
from yvo3d_addon.core.jobs import JobManager, PollPolicy, Stage
from yvo3d_addon.core.library import Library
from yvo3d_addon.core.params import DEFAULT_TABLE
from yvo3d_addon.core.pricing import Pricer, UploadCache
from yvo3d_addon.core.store import JobStore


def factory_for(standin):  # noqa: F811
    def factory(wait=None):
        return ScenarioClient(
            standin.base_url,
            standin.api_key,
            standin.api_secret,
            retry=RetryPolicy(attempts=2, base=0.01, cap=0.02),
            timeout=(2.0, 3.0),
            wait=wait,
        )

    return factory


def settle(pricer, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        quote = pricer.quote()
        if quote.state in ("ok", "error"):
            return quote
        time.sleep(0.02)
    raise AssertionError("the price never arrived")


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(100, 100))
    return str(path)


def test_price_matches_the_request_and_pays_nothing(standin, image):  # noqa: F811
    pricer = Pricer(factory_for(standin), UploadCache(), debounce=0.05)
    try:
        pricer.request([image], DEFAULT_TABLE.defaults())
        assert pricer.quote().state == "pending"
        fast = settle(pricer)
        assert fast.state == "ok" and fast.cost and fast.cost > 0
        pricer.request([image], DEFAULT_TABLE.defaults() | {"textureResolution": "4K"})
        sharp = settle(pricer)
        assert sharp.cost > fast.cost
        assert standin.paid_requests == 0 and standin.count("upload") == 1
    finally:
        pricer.stop()


def test_rapid_changes_are_priced_once(standin, image):  # noqa: F811
    pricer = Pricer(factory_for(standin), UploadCache(), debounce=0.3)
    try:
        for value in (0.1, 0.2, 0.3, 0.4, 0.5):
            pricer.request([image], DEFAULT_TABLE.defaults() | {"textureSharpness": value})
        settle(pricer)
        assert standin.count("estimate") == 1
    finally:
        pricer.stop()


def test_rule_problem_and_service_error_are_shown_not_raised(standin, image):  # noqa: F811
    pricer = Pricer(factory_for(standin), UploadCache(), debounce=0.01)
    try:
        pricer.request([], DEFAULT_TABLE.defaults())
        quote = settle(pricer)
        assert quote.state == "error" and "image" in quote.message.lower()
        standin.fault("estimate", status=402, times=None)
        pricer.request([image], DEFAULT_TABLE.defaults())
        quote = settle(pricer)
        assert quote.state == "error" and "credits" in quote.message
    finally:
        pricer.stop()
    assert not pricer._thread.is_alive()


def test_job_reuses_the_pricers_upload(standin, image, tmp_path):  # noqa: F811
    uploads = UploadCache()
    pricer = Pricer(factory_for(standin), uploads, debounce=0.01)
    pricer.request([image], DEFAULT_TABLE.defaults())
    settle(pricer)
    pricer.stop()
    manager = JobManager(
        JobStore(os.path.join(tmp_path, "j.sqlite")),
        Library(os.path.join(tmp_path, "lib")),
        factory_for(standin),
        poll=PollPolicy(first=0.05, cap=0.1),
        uploads=uploads,
    )
    rec = manager.submit(name="x", images=[image], settings=DEFAULT_TABLE.defaults())
    assert manager.wait(20)
    assert manager.get(rec.id).stage == Stage.READY
    assert standin.count("upload") == 1  # the job did not upload the image again
