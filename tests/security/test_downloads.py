"""Class 5 of issue 11: downloads are bounded (size, stall) and cancellable within a second;
plain http links and redirects are refused off this computer; previews are capped."""

from __future__ import annotations

import http.server
import os
import threading
import time

import pytest

from tests.security import hostile
from tests.security.conftest import client_for
from tests.standin.fixtures import standin  # noqa: F401
from yvo3d_addon.core import errors
from yvo3d_addon.core.assets import pick_glb
from yvo3d_addon.core.download import check_download_url
from yvo3d_addon.core.params import DEFAULT_TABLE


def _glb(client, photo):
    body = DEFAULT_TABLE.to_request(DEFAULT_TABLE.defaults(), [client.upload_image(photo)])
    job = client.generate(body)
    for _ in range(400):
        status = client.get_job(job.job_id)
        if status.state == "success":
            # Like the real service, an asset may still be `pending` a moment after success.
            glb = pick_glb([client.get_asset(a) for a in status.asset_ids])
            if glb is not None:
                return glb
        time.sleep(0.02)
    raise AssertionError("the job never finished")


def test_a_file_larger_than_the_limit_is_refused_by_its_content_length(standin, photo, tmp_path):  # noqa: F811
    client = client_for(standin, max_download=64 * 1024)
    glb = _glb(client, photo)
    dest = str(tmp_path / "m.glb")
    with pytest.raises(errors.TooLargeError, match="download limit"):
        client.download(glb.url, dest)
    assert not os.path.exists(dest) and not os.path.exists(dest + ".part")
    assert standin.count("download") == 1  # not retried: it would only be refused again


def _endless(h: http.server.BaseHTTPRequestHandler) -> None:
    """A body with no Content-Length that never ends (a server lying by omission)."""
    h.send_response(200)
    h.send_header("Content-Type", "model/gltf-binary")
    h.end_headers()
    block = b"glTF" + b"\0" * 65532
    try:
        for _ in range(100000):
            h.wfile.write(block)
    except OSError:
        pass


def test_a_body_without_length_stops_at_the_limit(tmp_path):
    with hostile.HostileServer() as server:
        server.routes["/endless.glb"] = _endless
        client = client_for(_Base(server.url), max_download=2 * 1024 * 1024)
        dest = str(tmp_path / "m.glb")
        started = time.monotonic()
        with pytest.raises(errors.TooLargeError):
            client.download(server.url + "/endless.glb", dest)
        assert time.monotonic() - started < 5
    assert not os.path.exists(dest + ".part")


class _Base:
    """What client_for needs of a server: a base URL and credentials."""

    def __init__(self, url: str) -> None:
        self.base_url = url + "/v1"
        self.api_key = hostile.SECRET_KEY
        self.api_secret = hostile.SECRET_VALUE


def test_no_bytes_for_the_stall_timeout_is_a_network_error(standin, photo, tmp_path):  # noqa: F811
    client = client_for(standin, stall_timeout=0.5)
    glb = _glb(client, photo)
    standin.fault("download", hold=30, times=None)
    started = time.monotonic()
    with pytest.raises(errors.NetworkError):
        client.download(glb.url, str(tmp_path / "m.glb"))
    took = time.monotonic() - started
    print(f"stalled download given up after {took:.2f} s ({client.retry.attempts} attempts)")
    assert took < 5


def test_cancel_interrupts_a_blocked_download_within_a_second(standin, photo, tmp_path):  # noqa: F811
    client = client_for(standin, stall_timeout=60)
    glb = _glb(client, photo)
    standin.fault("download", hold=30, times=None)  # half the body, then nothing for 30 s
    cancel = threading.Event()
    pressed: list[float] = []

    def press() -> None:
        time.sleep(0.5)
        pressed.append(time.monotonic())
        cancel.set()

    threading.Thread(target=press, daemon=True).start()
    with pytest.raises(errors.JobCancelledError):
        client.download(glb.url, str(tmp_path / "m.glb"), cancel=cancel, chunk_size=4096)
    took = time.monotonic() - pressed[0]
    print(f"cancel honoured {took * 1000:.0f} ms after it was pressed")
    assert took < 1.0


@pytest.mark.parametrize(
    "url",
    ["http://cdn.example.com/m.glb", "ftp://cdn.example.com/m.glb", "file:///etc/passwd", "x"],
)
def test_plain_http_download_links_are_refused_off_loopback(url):
    with pytest.raises(errors.UnsafeFileError, match="not https"):
        check_download_url(url)
    check_download_url("https://cdn.example.com/m.glb?sig=1")
    check_download_url("http://127.0.0.1:9/m.glb")


def test_a_redirect_to_plain_http_off_loopback_is_refused(tmp_path):
    with hostile.HostileServer() as server:
        target = "http://203.0.113.7/stolen?signature=abc"
        server.routes["/m.glb"] = hostile.reply(
            302, b"", {"Location": target, "Content-Length": "0"}
        )
        client = client_for(_Base(server.url))
        started = time.monotonic()
        with pytest.raises(errors.UnsafeFileError, match="not https"):
            client.download(server.url + "/m.glb", str(tmp_path / "m.glb"))
        assert time.monotonic() - started < 2  # refused before any connection to it
        assert len(server.log) == 1


def test_a_preview_is_capped_while_streaming(tmp_path):
    with hostile.HostileServer() as server:
        server.routes["/p.png"] = _endless
        client = client_for(_Base(server.url))
        with pytest.raises(errors.Yvo3dError):
            client.fetch_small(server.url + "/p.png", str(tmp_path / "p.png"), 1024 * 1024)
        assert os.path.getsize(tmp_path / "p.png") <= 1024 * 1024
