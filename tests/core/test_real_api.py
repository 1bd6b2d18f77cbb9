"""Answers read as Scenario's real API gives them (issue 10, items 1-8).

Each test names the real-API fact it encodes and where that fact comes from: a module of the
official SDK (`scenario-sdk` 2.4.0, `scenario_sdk/...`), Scenario's Blender plugin
(`scenario-labs/blender-plugin`), or Scenario's notes, as cited in docs/scenario-api.md.
Every one of them failed on the code before issue 10.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.media import png_bytes
from tests.standin.fixtures import standin  # noqa: F401
from yvo3d_addon.core import errors, images
from yvo3d_addon.core.assets import Asset, pick_glb
from yvo3d_addon.core.client import RetryPolicy, ScenarioClient
from yvo3d_addon.core.jobs import JobManager, PollPolicy, Stage
from yvo3d_addon.core.library import Library
from yvo3d_addon.core.params import DEFAULT_TABLE
from yvo3d_addon.core.pricing import Pricer, UploadCache
from yvo3d_addon.core.store import JobStore

FAST_POLL = PollPolicy(first=0.05, factor=1.5, cap=0.2, overall_timeout=60)
FAST_RETRY = RetryPolicy(attempts=3, base=0.01, cap=0.05, rate_limit_attempts=1)
END = {Stage.READY, Stage.FAILED, Stage.CANCELLED, Stage.UNKNOWN, Stage.STALLED}


def client_for(standin, project_id="", **kwargs):  # noqa: F811
    kwargs.setdefault("retry", FAST_RETRY)
    return ScenarioClient(
        standin.base_url,
        standin.api_key,
        standin.api_secret,
        project_id=project_id,
        timeout=(2.0, 3.0),
        **kwargs,
    )


def make_manager(standin, root):  # noqa: F811
    def factory(wait):
        return client_for(standin, wait=wait)

    store = JobStore(os.path.join(root, "jobs.sqlite"))
    return JobManager(store, Library(os.path.join(root, "library")), factory, poll=FAST_POLL)


def run_job(manager, image, *, expected_cost=None, timeout=20.0):
    rec = manager.submit(
        name="Chair",
        images=[image],
        settings=DEFAULT_TABLE.defaults(),
        expected_cost=expected_cost,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        manager.drain()
        now = manager.get(rec.id)
        if now.stage in END and rec.id not in manager.running():
            return now
        time.sleep(0.02)
    raise AssertionError(f"job still {manager.get(rec.id).stage}")


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "chair.png"
    path.write_bytes(png_bytes(96, 96))
    return str(path)


def body(client, image):
    return DEFAULT_TABLE.to_request(DEFAULT_TABLE.defaults(), [client.upload_image(image)])


# --------------------------------------------------------------------------- 1. price check


def test_a_2xx_that_is_not_a_269_is_not_a_price(standin, image):  # noqa: F811
    """Fact: a dry run is answered with HTTP 269 and `creativeUnitsCost`, and a real generation
    answer carries `creativeUnitsCost` too. Source: scenario_sdk/resources/generate.py
    (`run_model`: "returns a 269 response carrying the creative units cost"); plugin
    tests/blender/test_sdk_estimates.py."""
    client = client_for(standin)
    request = body(client, image)
    assert client.estimate(request).cost == 40  # the real 269 is a price
    standin.fault("estimate", status=200, body={"creativeUnitsCost": 40})
    with pytest.raises(errors.PriceCheckError, match="not a price") as caught:
        client.estimate(request)
    assert "nothing was paid" in caught.value.message and standin.paid_requests == 0


def test_a_dry_run_that_started_a_job_is_followed_and_never_generated_again(
    standin,  # noqa: F811
    image,
    tmp_path,
):
    """Fact: only `?dryRun=true` in the query makes a price check; a service or proxy that drops
    it starts a paid job, answered with `{"job": …, "creativeUnitsCost": …}`. Source:
    scenario_sdk/resources/generate.py; plugin docs/engineering/design-v1.md (a body `dryRun`
    was ignored and a paid job ran). Before: the job answer was read as a price and the
    generate was sent too: two paid jobs."""
    standin.ignore_dry_run = True
    manager = make_manager(standin, str(tmp_path))
    done = run_job(manager, image, expected_cost=1000.0)
    assert standin.paid_requests == 1, "the generate was never sent after the paid dry run"
    assert done.stage == Stage.READY and done.job_id in standin.job_ids()
    assert standin.count("generate") == 1 and standin.count("estimate") == 0
    manager.shutdown()


@pytest.mark.parametrize("fault", [{"status": 502}, {"drop": True}])
def test_a_price_check_that_reached_the_server_is_never_sent_again(standin, image, fault):  # noqa: F811
    """A price check answered with a 5xx, or whose connection dropped after it was sent, is
    not resent: if a service or proxy took it for a generation, a resend could start a second
    paid job. The user sees why and can ask again; a refused connection (never sent) is still
    retried."""
    client = client_for(standin)
    ids = [client.upload_image(image)]
    body = DEFAULT_TABLE.to_request(DEFAULT_TABLE.defaults(), ids)
    standin.fault("estimate", times=None, **fault)
    with pytest.raises(errors.Yvo3dError):
        client.estimate(body)
    assert standin.count("estimate") == 1, "sent once"
    standin.clear_faults()
    assert client.estimate(body).cost == 40.0


def _settled(pricer):
    deadline = time.monotonic() + 10
    while pricer.quote().state == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return pricer.quote()


def test_the_panel_price_check_follows_a_job_it_started(standin, image):  # noqa: F811
    """Same fact, from the panel's price line: the job a dry run started is handed over to be
    followed (it is paid) with its request's fingerprint (so Generate knows that request as
    paid), the price line says so instead of showing a price, and no other price check is
    sent to that service: each one would start another paid job."""
    standin.ignore_dry_run = True
    followed = []
    pricer = Pricer(
        lambda: client_for(standin),
        UploadCache(),
        debounce=0,
        on_paid_job=lambda job_id, cost, request: followed.append((job_id, cost, request)) is None,
    )
    settings = DEFAULT_TABLE.defaults()
    pricer.request([image], settings)
    quote = _settled(pricer)
    assert quote.state == "error" and "followed in the Jobs panel" in quote.message
    [(job_id, cost, request)] = followed
    assert (job_id, cost) == (standin.job_ids()[0], 40.0) and standin.paid_requests == 1
    hashes = [images.file_sha256(image)]
    assert request == {
        "fingerprint": DEFAULT_TABLE.fingerprint(settings, hashes),
        "settings": settings,
        "images": [image],
        "image_hashes": hashes,
    }

    pricer.request([image], {**settings, "textureResolution": "4K"})  # another setting
    quote = _settled(pricer)
    pricer.stop()
    assert quote.state == "error" and "no more price checks are sent" in quote.message
    assert standin.paid_requests == 1 and standin.count("generate") == 1


# --------------------------------------------------------------------------- 3. the GLB


def _asset(i, mime, kind="3d", status="success", **extra):
    return Asset(
        i, f"https://cdn/{i}", mime, kind, status, extra.pop("type", "img23d"), {}, **extra
    )


def test_glb_typed_model_glb_is_found_and_fbx_usdz_octet_stream_never_are():
    """Fact: GLB assets may be typed `model/gltf-binary` or `model/glb`. Source: Scenario's
    notes (scenario_api.md, corrections of 2026-12-04); scenario_sdk/types/
    asset_retrieve_response.py (`mimeType` is a free string). Before: a USDZ of kind "3d"
    listed first was taken for the GLB."""
    usdz = _asset("u", "model/vnd.usdz+zip")
    octet = _asset("o", "application/octet-stream")
    fbx = _asset("f", "model/fbx")
    model = _asset("g", "model/glb")
    assert pick_glb([usdz, octet, fbx, model]).id == "g"
    assert pick_glb([usdz, octet, fbx]) is None


def test_the_primary_model_wins_over_a_derived_conversion():
    """Fact: assets carry `metadata.parentId` (the asset they were made from) and
    `originalMimeType`. Source: scenario_sdk/types/asset_retrieve_response.py
    (AssetMetadata.parent_id, Asset.original_mime_type)."""
    primary = _asset("g1", "model/gltf-binary")
    derived = _asset("g2", "model/gltf-binary", parent_id="g1", original_mime_type="model/fbx")
    assert pick_glb([derived, primary]).id == "g1"


def test_an_asset_still_pending_after_success_is_waited_for(standin, image, tmp_path):  # noqa: F811
    """Fact: an asset may still be `pending` when its job reports `success` (asset status is
    one of error | pending | success). Source: scenario_sdk/types/asset_retrieve_response.py
    (`status: Literal["error", "pending", "success"]`); Scenario's notes. Before: the job
    failed for good with "no GLB"."""
    standin.asset_pending_seconds = 1.2
    manager = make_manager(standin, str(tmp_path))
    done = run_job(manager, image)
    assert done.stage == Stage.READY, done.message
    assert standin.paid_requests == 1
    manager.shutdown()


# --------------------------------------------------------------------------- 4. uploads


@pytest.mark.timeout(30)
def test_an_upload_that_ends_at_complete_is_finished(standin, image, monkeypatch):  # noqa: F811
    """Fact: an upload is done once it has an `entityId` and status `imported` or `complete`.
    Source: scenario_sdk/types/upload_retrieve_response.py (statuses pending, validating,
    validated, complete, imported, failed); Scenario's TypeScript helper docs
    (/sdk-helpers/uploads); plugin docs/SDK_UPLOADS.md. Before: 5 minutes, then a failure."""
    assert standin.upload_final == "complete"
    monkeypatch.setattr(images, "INLINE_UPLOAD_LIMIT", 100)
    started = time.monotonic()
    asset_id = client_for(standin).upload_image(image)
    assert asset_id.startswith("asset_") and time.monotonic() - started < 5
    assert standin.count("uploads_create") == 1


# --------------------------------------------------------------------------- 5. upload cache


def test_cached_asset_ids_never_cross_projects_or_keys(standin, image):  # noqa: F811
    """Fact: an asset belongs to the project that owns it (`ownerId` proj_…; `projectId`
    "asserts ownership"), and API keys are made per project. Source:
    scenario_sdk/resources/assets.py and generate.py (`project_id` parameter); help.scenario.com
    "API keys and scopes". Before: the cache was keyed by service URL and file hash only."""
    cache = UploadCache()
    first = cache.upload(client_for(standin, "proj_a"), image)
    assert cache.upload(client_for(standin, "proj_a"), image) == first
    assert standin.count("upload") == 1
    other = cache.upload(client_for(standin, "proj_b"), image)
    assert other != first and standin.count("upload") == 2
    # switching back finds the cache dropped: the project (or credentials) changed
    assert cache.upload(client_for(standin, "proj_a"), image) not in (first, other)
    assert standin.count("upload") == 3
    a = ScenarioClient(standin.base_url, "key-one", "s")
    b = ScenarioClient(standin.base_url, "key-two", "s")
    assert a.scope != b.scope and "key-one" not in repr(a.scope)


# --------------------------------------------------------------------------- 6. 404 after payment


def test_a_404_on_the_job_after_payment_is_retried(standin, image, tmp_path):  # noqa: F811
    """Fact: after the paid request the job exists and is charged; a 404 on it (a replica
    that has not seen it yet, a gateway) does not end it. Source: Scenario's notes
    (scenario_api.md, corrections of 2026-12-04); scenario_sdk/_base_client.py retries
    idempotent GETs. Before: the paid job ended FAILED for good."""
    standin.fault("job", status=404, times=2)
    manager = make_manager(standin, str(tmp_path))
    done = run_job(manager, image)
    assert done.stage == Stage.READY and standin.paid_requests == 1
    manager.shutdown()


# --------------------------------------------------------------------------- 7. 429, 403


def test_a_429_without_retry_after_says_busy_not_wait_1_s(standin):  # noqa: F811
    """Fact: a 429 can be a concurrency limit with no `Retry-After`. Source: Scenario's notes
    (scenario_api.md, corrections of 2026-12-04); help.scenario.com rate limits. Before: "Scenario
    asks to wait 1 s"."""
    standin.fault(
        "job",
        status=429,
        body={"reason": "Too many requests"},
        headers={"Retry-After": None},
        times=None,
    )
    with pytest.raises(errors.RateLimitedError) as caught:
        client_for(standin).get_job("job_x")
    text = caught.value.user_text()
    assert "busy" in text and "asks to wait" not in text
    assert standin.count("job") == 2  # one back-off retry (rate_limit_attempts=1), then stop


def test_x_should_retry_false_is_honoured(standin):  # noqa: F811
    """Fact: `x-should-retry` is a real header; `false` means do not retry. Source:
    scenario_sdk/_base_client.py (`_should_retry`). Before: retried anyway."""
    standin.fault("job", status=503, headers={"x-should-retry": "false"})
    with pytest.raises(errors.ServerError):
        client_for(standin).get_job("job_x")
    assert standin.count("job") == 1


def test_a_403_on_generate_names_the_plan_not_a_key_scope(standin, image):  # noqa: F811
    """Fact: a 403 on generate can mean the model needs a plan or a permission. Source:
    Scenario's notes (scenario_api.md, corrections of 2026-12-04). Before: "Give the key the
    needed scope"."""
    client = client_for(standin)
    request = body(client, image)
    reason = "This model requires a Pro plan"
    standin.fault("generate", status=403, body={"reason": reason})
    with pytest.raises(errors.PermissionDeniedError) as caught:
        client.generate(request)
    assert reason in caught.value.message
    assert "plan" in caught.value.fix and "scope" not in caught.value.fix


# --------------------------------------------------------------------------- 8. thumbnails


def test_the_preview_is_the_glb_assets_own_never_a_texture_map(standin, image, tmp_path):  # noqa: F811
    """Fact: an asset can carry its own `preview` / `thumbnail` `{assetId, url}`; a job's other
    image assets may be texture maps. Source: scenario_sdk/types/asset_retrieve_response.py
    (Asset.preview, Asset.thumbnail). Before: the first PNG asset (here the albedo map) was
    saved as the preview."""
    manager = make_manager(standin, str(tmp_path))
    standin.script_job(assets=("texture", "glb"))
    plain = run_job(manager, image)
    assert plain.stage == Stage.READY
    assert manager.library.get(plain.library_id).preview == ""  # the Blender layer renders one
    with_preview = run_job(manager, image)
    entry = manager.library.get(with_preview.library_id)
    assert entry.preview
    with open(os.path.join(entry.folder, entry.preview), "rb") as fh:
        saved = fh.read()
    glb_asset = standin._assets[with_preview.glb_asset_id]  # noqa: SLF001 - the truth
    assert saved == standin.asset_bytes(glb_asset.preview_id)
    manager.shutdown()


def test_a_preview_that_is_not_an_image_is_not_kept(standin, image, tmp_path, monkeypatch):  # noqa: F811
    """The preview URL is untrusted: bytes that are not a PNG or JPEG are dropped."""
    from tests.standin import server

    monkeypatch.setattr(server, "preview_png", lambda: b"<html>not a picture</html>")
    manager = make_manager(standin, str(tmp_path))
    done = run_job(manager, image)
    assert done.stage == Stage.READY
    assert manager.library.get(done.library_id).preview == ""
    manager.shutdown()
