"""The Scenario client over real loopback HTTP against the stand-in: calls, errors, retries."""

from __future__ import annotations

import os
import socket

import pytest

from tests.media import png_bytes
from tests.standin.fixtures import standin  # noqa: F401
from yvo3d_addon.core import errors
from yvo3d_addon.core.assets import Asset, check_glb, pick_glb
from yvo3d_addon.core.client import RetryPolicy, ScenarioClient
from yvo3d_addon.core.params import DEFAULT_TABLE
from yvo3d_addon.core.wire import check_base_url

FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05)


class Waits:
    """Records every backoff wait instead of sleeping it."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.seconds.append(seconds)
        return False


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "chair photo é.png"
    path.write_bytes(png_bytes(128, 128))
    return str(path)


def make_client(standin, **kw):  # noqa: F811
    kw.setdefault("retry", FAST)
    kw.setdefault("timeout", (2.0, 2.0))
    return ScenarioClient(standin.base_url, standin.api_key, standin.api_secret, **kw)


def body_for(client, image):
    asset = client.upload_image(image)
    return DEFAULT_TABLE.to_request(DEFAULT_TABLE.defaults(), [asset])


def finished_job(client, body):
    job = client.generate(body)
    for _ in range(200):
        status = client.get_job(job.job_id)
        if status.state != "running":
            return status
        client.wait(0.05)
    raise AssertionError("job never finished")


def ready_assets(client, ids):
    """The job's assets once none is `pending` (a real job's assets can still be pending when
    the job says success: scenario_api.md, corrections of 2026-12-04)."""
    for _ in range(100):
        assets = [client.get_asset(a) for a in ids]
        if not any(a.status == "pending" for a in assets):
            return assets
        client.wait(0.05)
    raise AssertionError("assets stayed pending")


def test_happy_path_from_image_to_verified_glb(standin, image, tmp_path):  # noqa: F811
    client = make_client(standin)
    body = body_for(client, image)
    price = client.estimate(body)
    assert price.cost > 0
    assert standin.paid_requests == 0
    status = finished_job(client, body)
    assert status.state == "success" and len(status.asset_ids) >= 2
    glb = pick_glb(ready_assets(client, status.asset_ids))
    assert glb is not None and glb.mime_type in ("model/gltf-binary", "model/glb")
    dest = str(tmp_path / "model.glb")
    seen = []
    client.download(glb.url, dest, on_progress=lambda got, total: seen.append((got, total)))
    check_glb(dest)
    assert not os.path.exists(dest + ".part")
    assert seen and seen[-1][0] == seen[-1][1] == os.path.getsize(dest)
    assert standin.paid_requests == 1
    downloads = [e for e in standin.log if e["route"] == "download"]
    assert downloads and not any(e["had_auth"] for e in downloads)


def test_large_image_goes_through_multipart_upload(standin, tmp_path, monkeypatch):  # noqa: F811
    from yvo3d_addon.core import images

    monkeypatch.setattr(images, "INLINE_UPLOAD_LIMIT", 1000)
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(256, 256))
    client = make_client(standin)
    asset_id = client.upload_image(str(path))
    assert asset_id.startswith("asset_")
    assert standin.count("upload") == 0
    assert standin.count("uploads_create") == 1 and standin.count("upload_part") >= 1
    assert client.get_asset(asset_id).mime_type == "image/png"


def test_pick_glb_by_type_only():
    """Old rules picked an octet-stream asset named glb and any untyped "3d" asset; the real
    API types GLBs as model/gltf-binary or model/glb (scenario_api.md, corrections of
    2026-12-04), so nothing else is taken for one (an FBX or USDZ is often kind "3d" too)."""

    def asset(i, mime="", kind="", fmt=""):
        return Asset(i, "u", mime, kind, "success", "", {"format": fmt} if fmt else {})

    png, obj = asset("p", "image/png", "image"), asset("o", "model/obj", "3d", "obj")
    assert pick_glb([png, obj, asset("g", "model/gltf-binary", "3d")]).id == "g"
    assert pick_glb([png, obj, asset("m", "model/glb", "3d")]).id == "m"
    assert pick_glb([png, obj, asset("f", "application/octet-stream", fmt="glb")]) is None
    assert pick_glb([png, obj, asset("k", "", "3d")]) is None
    assert pick_glb([png, obj, asset("u", "", fmt="glb")]).id == "u"
    assert pick_glb([png, obj]) is None


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://api.cloud.scenario.com/v1", True),
        ("http://127.0.0.1:8000/v1", True),
        ("http://localhost:9/v1", True),
        ("http://[::1]:9/v1", True),
        ("http://api.cloud.scenario.com/v1", False),
        ("http://10.0.0.5/v1", False),
        ("not a url", False),
        ("ftp://example.com", False),
        ("", False),
    ],
)
def test_service_url_rules(url, ok):
    if ok:
        assert check_base_url(url) == url.rstrip("/")
    else:
        with pytest.raises(errors.ConfigError) as info:
            check_base_url(url)
        assert "http" in info.value.user_text()


def test_missing_credentials_is_a_config_error():
    with pytest.raises(errors.ConfigError, match="No Scenario API key"):
        ScenarioClient("https://api.cloud.scenario.com/v1", "", "")


# ------------------------------------------------------------------ error mapping

ERROR_ROWS = [
    # route, status, body, error type, words in the message
    ("job", 401, None, errors.AuthError, "refused the API key"),
    (
        "job",
        403,
        {"message": "API Keys cannot access protected resources"},
        errors.PermissionDeniedError,
        "API Keys cannot access",
    ),
    ("job", 404, {"reason": "not found"}, errors.NotFoundError, "could not find"),
    ("asset", 404, None, errors.NotFoundError, "could not find"),
    ("estimate", 402, None, errors.CreditsError, "Not enough Scenario credits"),
    ("generate", 402, None, errors.CreditsError, "Not enough Scenario credits"),
    (
        "generate",
        422,
        {"reason": "Input images is invalid"},
        errors.InvalidRequestError,
        "Input images is invalid",
    ),
    ("upload", 413, None, errors.PayloadTooLargeError, "too large"),
    ("upload", 400, {"reason": "bad image"}, errors.InvalidRequestError, "bad image"),
]


@pytest.mark.parametrize("route, status, body, kind, words", ERROR_ROWS)
def test_error_types_and_messages(standin, image, route, status, body, kind, words):  # noqa: F811
    client = make_client(standin, retry=RetryPolicy(attempts=1))
    if route in ("job", "asset", "estimate", "generate"):
        body_ok = body_for(client, image)
    standin.fault(route, status=status, body=body, times=None)
    with pytest.raises(kind) as info:
        if route == "job":
            client.get_job("job_whatever")
        elif route == "asset":
            client.get_asset("asset_whatever")
        elif route == "estimate":
            client.estimate(body_ok)
        elif route == "generate":
            client.generate(body_ok)
        else:
            client.upload_image(image)
    message = info.value.user_text()
    assert words in message
    assert info.value.status == status
    assert standin.api_secret not in message and standin.api_key not in message


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("route", ["job", "asset", "upload", "model"])
def test_free_requests_retry_5xx_then_succeed(standin, image, route, status):  # noqa: F811
    client = make_client(standin)
    job_id = ""
    asset_id = client.upload_image(image)
    if route == "job":
        job_id = client.generate(DEFAULT_TABLE.to_request({}, [asset_id])).job_id
    standin.fault(route, status=status, times=2)
    before = standin.count(route)
    if route == "job":
        assert client.get_job(job_id).job_id == job_id
    elif route == "asset":
        assert client.get_asset(asset_id).id == asset_id
    elif route == "upload":
        assert client.upload_image(image).startswith("asset_")
    else:
        assert client.get_model()["model"]["id"]
    assert standin.count(route) - before == 3


def test_retries_give_up_with_a_server_error(standin):  # noqa: F811
    client = make_client(standin, retry=RetryPolicy(attempts=3, base=0.01, cap=0.02))
    standin.fault("job", status=503, times=None)
    with pytest.raises(errors.ServerError, match="server error"):
        client.get_job("job_x")
    assert standin.count("job") == 3


@pytest.mark.parametrize(
    "headers, body, expected",
    [
        ({"Retry-After": "2"}, {"reason": "slow down"}, 2.0),
        (None, {"reason": "cooldown", "remainingSeconds": 3}, 3.0),
        ({"Retry-After": "1"}, {"reason": "cooldown", "remainingSeconds": 4}, 4.0),
    ],
    ids=["retry-after", "remainingSeconds", "both"],
)
def test_429_waits_as_told_then_continues(standin, image, headers, body, expected):  # noqa: F811
    waits = Waits()
    client = make_client(standin, wait=waits)
    asset_id = client.upload_image(image)
    standin.fault("asset", status=429, headers=headers, body=body, times=1)
    assert client.get_asset(asset_id).id == asset_id
    assert waits.seconds == [expected]


@pytest.mark.parametrize(
    "fault", [{"status": 500}, {"status": 503}, {"delay": 3.0}, {"drop": True}]
)
def test_paid_request_is_sent_exactly_once(standin, image, fault):  # noqa: F811
    client = make_client(standin, timeout=(2.0, 1.0))
    body = body_for(client, image)
    standin.fault("generate", times=None, **fault)
    with pytest.raises(errors.OutcomeUnknownError) as info:
        client.generate(body)
    assert standin.count("generate") == 1
    assert standin.paid_requests == 1
    assert "app.scenario.com" in info.value.user_text()
    assert "not charged twice" in info.value.user_text()


def test_paid_request_never_connected_is_a_plain_network_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ScenarioClient(f"http://127.0.0.1:{port}/v1", "k", "s", retry=FAST)
    with pytest.raises(errors.NetworkError, match="refused"):
        client.generate({"images": ["asset_x"]})


def test_dns_failure_and_read_timeout_are_network_errors(standin):  # noqa: F811
    client = ScenarioClient(
        "https://nonexistent.invalid/v1", "k", "s", retry=RetryPolicy(attempts=1)
    )
    with pytest.raises(errors.NetworkError, match="DNS|network"):
        client.get_job("job_x")
    slow = make_client(standin, timeout=(2.0, 0.3), retry=RetryPolicy(attempts=1))
    standin.fault("job", delay=1.0, times=None)
    with pytest.raises(errors.NetworkError, match="did not answer in time"):
        slow.get_job("job_x")


@pytest.mark.parametrize(
    "body, words",
    [
        ("<html><title>502 Bad Gateway</title><body>nginx</body></html>", "not valid JSON"),
        ("{not json", "not valid JSON"),
    ],
)
def test_invalid_json_and_html_pages(standin, body, words):  # noqa: F811
    client = make_client(standin, retry=RetryPolicy(attempts=1))
    standin.fault("job", status=200, body=body, times=None)
    with pytest.raises(errors.InvalidResponseError, match=words):
        client.get_job("job_x")
    standin.reset()
    standin.fault("job", status=502, body="<html><title>502 Bad Gateway</title></html>", times=None)
    with pytest.raises(errors.ServerError, match="502 Bad Gateway"):
        client.get_job("job_x")


def _glb_url(client, image):
    status = finished_job(client, body_for(client, image))
    glb = pick_glb(ready_assets(client, status.asset_ids))
    assert glb is not None
    return glb


def test_dropped_download_is_resumed_and_verified(standin, image, tmp_path):  # noqa: F811
    client = make_client(standin)
    glb = _glb_url(client, image)
    size = int(glb.properties["size"])
    standin.fault("download", truncate=size // 2, times=1)
    dest = str(tmp_path / "m.glb")
    # Small chunks: what arrived before the drop is on disk, and only the rest is fetched.
    client.download(glb.url, dest, chunk_size=16384)
    check_glb(dest)
    ranges = [e for e in standin.log if e["route"] == "download"]
    assert len(ranges) == 2 and ranges[1]["status"] == 206
    assert os.path.getsize(dest) == size


def test_not_a_glb_is_refused(standin, image, tmp_path):  # noqa: F811
    client = make_client(standin, retry=RetryPolicy(attempts=2, base=0.01, cap=0.01))
    glb = _glb_url(client, image)
    standin.fault("download", status=200, body="this is not a model", times=None)
    dest = str(tmp_path / "m.glb")
    with pytest.raises(errors.UnsafeFileError, match="not a GLB"):
        client.download(glb.url, dest)
    assert not os.path.exists(dest) and not os.path.exists(dest + ".part")


def test_expired_url_is_reported_so_the_asset_can_be_fetched_again(standin, image, tmp_path):  # noqa: F811
    client = make_client(standin)
    glb = _glb_url(client, image)
    standin.expire_downloads()
    dest = str(tmp_path / "m.glb")
    with pytest.raises(errors.ExpiredURLError):
        client.download(glb.url, dest)
    fresh = client.get_asset(glb.id)
    client.download(fresh.url, dest)
    check_glb(dest)


def test_cancel_job(standin, image):  # noqa: F811
    standin.cancellable = True  # a service that could cancel (Scenario refuses custom jobs)
    client = make_client(standin)
    job = client.generate(body_for(client, image))
    status = client.cancel_job(job.job_id)
    assert status.state == "canceled"
    assert client.get_job(job.job_id).state == "canceled"


def test_no_secret_in_repr_or_errors(standin):  # noqa: F811
    client = make_client(standin, retry=RetryPolicy(attempts=1))
    assert standin.api_secret not in repr(client) and standin.api_key not in repr(client)
    assert standin.api_secret not in str(vars(client))
    standin.fault("job", status=401, times=None)
    with pytest.raises(errors.AuthError) as info:
        client.get_job("job_x")
    text = f"{info.value!r} {info.value} {info.value.user_text()}"
    assert standin.api_secret not in text and standin.api_key not in text


def test_malformed_job_answer_is_an_invalid_response(standin):  # noqa: F811
    client = make_client(standin, retry=RetryPolicy(attempts=1))
    standin.fault("job", status=200, body={"job": {"jobId": "j", "metadata": ["odd"]}})
    with pytest.raises(errors.InvalidResponseError, match="malformed"):
        client.get_job("j")
