"""Our requests are the official SDK's requests, and our reading of answers follows its models.

For each request the add-on makes, `scenario-sdk` (the version pinned in requirements/) sends
the same call to a recording loopback server; method, path, query, Authorization and JSON body
must match ours. The answers are built from the SDK's own response models, field name to wire
name, so a field the SDK renames (or drops) fails here before it fails a user.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.media import png_bytes
from tests.standin.model import model_record
from yvo3d_addon.core import images
from yvo3d_addon.core.assets import pick_glb
from yvo3d_addon.core.client import MODEL_ID, RetryPolicy, ScenarioClient

scenario_sdk = pytest.importorskip("scenario_sdk")
from scenario_sdk.types import asset_retrieve_response as A  # noqa: E402, N812
from scenario_sdk.types import generate_run_model_response as G  # noqa: E402, N812
from scenario_sdk.types import job_retrieve_response as J  # noqa: E402, N812
from scenario_sdk.types import model_retrieve_response as M  # noqa: E402, N812
from scenario_sdk.types import upload_retrieve_response as U  # noqa: E402, N812

KEY, SECRET, PROJECT = "sdk-key", "sdk-secret", "proj_conform"
NOW = "2026-12-04T20:00:00.000Z"
MODEL = {"model": model_record(NOW)}
M.ModelRetrieveResponse.model_validate(MODEL)  # the SDK reads the stand-in's record


def wire(model: Any, **fields: Any) -> dict[str, Any]:
    """`fields` (the SDK's Python names) as the API spells them, checked by the SDK's model."""
    out = {}
    for name, value in fields.items():
        info = model.model_fields[name]  # KeyError: the SDK no longer has this field
        out[info.alias or name] = value
    model.model_validate(out)  # the SDK itself accepts this answer
    return out


def _job(status: str, asset_ids: list[str]) -> dict[str, Any]:
    return wire(
        J.Job,
        job_id="job_conform",
        job_type="custom",
        status=status,
        progress=1 if status == "success" else 0.5,
        created_at=NOW,
        updated_at=NOW,
        status_history=[wire(J.JobStatusHistory, status=status, date=NOW)],
        metadata=wire(J.JobMetadata, asset_ids=asset_ids, error="", hint=""),
        billing=wire(J.JobBilling, cu_cost=40, cu_discount=0),
    )


def _asset(asset_id: str, mime: str, url: str, **extra: Any) -> dict[str, Any]:
    return wire(
        A.Asset,
        id=asset_id,
        author_id="user_x",
        collection_ids=[],
        created_at=NOW,
        edit_capabilities=[],
        kind="3d" if mime.startswith("model/") else "image",
        metadata=wire(A.AssetMetadata, kind="3d", type="img23d", **extra.pop("meta", {})),
        mime_type=mime,
        owner_id=PROJECT,
        privacy="private",
        properties=wire(A.AssetProperties, size=100, **extra.pop("props", {})),
        source="img23d",
        status="success",
        tags=[],
        updated_at=NOW,
        url=url,
        **extra,
    )


def _upload(status: str, root: str, with_parts: bool = False) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": "upload_conform",
        "author_id": "user_x",
        "created_at": NOW,
        "file_name": "big.png",
        "kind": "image",
        "owner_id": PROJECT,
        "source": "multipart",
        "status": status,
        "updated_at": NOW,
    }
    if with_parts:
        fields["parts"] = [wire(U.UploadPart, number=1, url=f"{root}/s3/part-1", expires=NOW)]
    if status == "complete":
        fields["entity_id"] = "asset_big"
    return wire(U.Upload, **fields)


class Recorder(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: list[dict[str, Any]]
    answers: dict[tuple[str, str], tuple[int, Any]]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Recorder
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _any(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = raw
        if raw and "json" in (self.headers.get("Content-Type") or ""):
            body = json.loads(raw)
        self.server.seen.append(
            {
                "method": self.command,
                "path": url.path,
                "query": parse_qs(url.query),
                "auth": self.headers.get("Authorization"),
                "body": body,
            }
        )
        status, answer = self.server.answers.get((self.command, url.path), (404, {}))
        if (self.command, url.path) == ("POST", f"/v1/generate/custom/{MODEL_ID}"):
            if parse_qs(url.query).get("dryRun") == ["true"]:
                status, answer = 269, {"creativeUnitsCost": 40, "creativeUnitsDiscount": 0}
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _any  # noqa: N815 - http.server's names


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder(("127.0.0.1", 0), _Handler)
    root = f"http://127.0.0.1:{server.server_address[1]}"
    server.seen = []
    glb_url = f"{root}/cdn/model.glb"
    preview = wire(A.AssetPreview, asset_id="asset_preview", url=f"{root}/cdn/preview.png")
    server.answers = {
        ("POST", "/v1/assets"): (200, {"asset": _asset("asset_small", "image/png", glb_url)}),
        ("POST", "/v1/uploads"): (200, {"upload": _upload("pending", root, with_parts=True)}),
        ("PUT", "/s3/part-1"): (200, None),
        ("POST", "/v1/uploads/upload_conform/action"): (
            200,
            {"upload": _upload("validating", root)},
        ),
        ("GET", "/v1/uploads/upload_conform"): (200, {"upload": _upload("complete", root)}),
        ("POST", f"/v1/generate/custom/{MODEL_ID}"): (
            200,
            wire(
                G.GenerateRunModelResponse,
                job=_job("queued", []),
                creative_units_cost=40,
                creative_units_discount=0,
            ),
        ),
        ("GET", "/v1/jobs/job_conform"): (200, {"job": _job("success", ["asset_glb"])}),
        ("POST", "/v1/jobs/job_conform/action"): (200, {"job": _job("in-progress", [])}),
        ("GET", "/v1/assets/asset_glb"): (
            200,
            {
                "asset": _asset(
                    "asset_glb",
                    "model/glb",
                    glb_url,
                    preview=preview,
                    meta={"parent_id": None},
                    props={"format": "glb"},
                )
            },
        ),
        ("GET", f"/v1/models/{MODEL_ID}"): (200, MODEL),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _base(server: Recorder) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def _ours(server: Recorder) -> ScenarioClient:
    return ScenarioClient(
        _base(server), KEY, SECRET, project_id=PROJECT, retry=RetryPolicy(attempts=1)
    )


def _sdk(server: Recorder, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("SCENARIO_BASE_URL", "SCENARIO_SDK_API_KEY", "SCENARIO_SDK_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return scenario_sdk.Scenario(
        api_key=KEY, api_secret=SECRET, base_url=_base(server), max_retries=0, timeout=5
    )


def _same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    for key in ("method", "path", "query", "auth", "body"):
        assert ours[key] == theirs[key], (key, ours[key], theirs[key])


def test_the_sdk_is_the_pinned_version():
    from importlib.metadata import version
    from pathlib import Path

    pins = Path(__file__).resolve().parents[2] / "requirements" / "dev.txt"
    pinned = [
        ln.split("==")[1].strip()
        for ln in pins.read_text().splitlines()
        if ln.startswith("scenario-sdk==")
    ]
    assert pinned == [version("scenario-sdk")]


def test_every_request_matches_the_sdk(recorder, tmp_path, monkeypatch):
    small = tmp_path / "chair.png"
    small.write_bytes(png_bytes(40, 30))
    body = {"images": ["asset_small"], "modelGenerator": "FAST_TRUE", "generateUvs": "ON"}
    ours = _ours(recorder)
    sdk = _sdk(recorder, monkeypatch)
    data_url = images.data_url(str(small))
    pairs = [
        (
            lambda: ours.upload_image(str(small)),
            lambda: sdk.assets.upload(name="chair.png", image=data_url, project_id=PROJECT),
        ),
        (
            lambda: ours.estimate(body),
            lambda: sdk.generate.with_raw_response.run_model(
                MODEL_ID, body=body, dry_run="true", project_id=PROJECT
            ),
        ),
        (
            lambda: ours.generate(body),
            lambda: sdk.generate.run_model(MODEL_ID, body=body, project_id=PROJECT),
        ),
        (
            lambda: ours.get_job("job_conform"),
            lambda: sdk.jobs.retrieve("job_conform", project_id=PROJECT),
        ),
        (
            lambda: ours.get_asset("asset_glb"),
            lambda: sdk.assets.retrieve("asset_glb", project_id=PROJECT),
        ),
        (
            lambda: ours.cancel_job("job_conform"),
            lambda: sdk.jobs.trigger_action("job_conform", action="cancel", project_id=PROJECT),
        ),
        (
            lambda: ours.get_model(),
            lambda: sdk.models.retrieve(MODEL_ID, project_id=PROJECT),
        ),
    ]
    for mine, theirs in pairs:
        recorder.seen.clear()
        mine()
        (got,) = recorder.seen
        recorder.seen.clear()
        theirs()
        (want,) = recorder.seen
        _same(got, want)
        assert got["auth"] == "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    sdk.close()


@pytest.mark.timeout(30)
def test_the_large_upload_matches_the_sdk(recorder, tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    raw = png_bytes(200, 150)
    big.write_bytes(raw)
    monkeypatch.setattr(images, "INLINE_UPLOAD_LIMIT", 100)
    assert _ours(recorder).upload_image(str(big)) == "asset_big"  # ended at `complete`
    ours = [s for s in recorder.seen if s["path"] != "/s3/part-1"]
    (part,) = [s for s in recorder.seen if s["path"] == "/s3/part-1"]
    assert part["auth"] is None and part["body"] == raw and part["method"] == "PUT"
    recorder.seen.clear()
    sdk = _sdk(recorder, monkeypatch)
    sdk.uploads.create(
        file_name="big.png",
        file_size=len(raw),
        content_type="image/png",
        kind="image",
        parts=1,
        project_id=PROJECT,
    )
    sdk.uploads.trigger_action("upload_conform", action="complete", project_id=PROJECT)
    sdk.uploads.retrieve("upload_conform", project_id=PROJECT)
    sdk.close()
    assert len(ours) == len(recorder.seen) == 3
    for got, want in zip(ours, recorder.seen, strict=True):
        _same(got, want)


def test_answers_built_from_the_sdk_models_read_right(recorder):
    client = _ours(recorder)
    assert client.estimate({"images": ["asset_small"]}).cost == 40
    submitted = client.generate({"images": ["asset_small"]})
    assert (submitted.job_id, submitted.cost) == ("job_conform", 40)
    status = client.get_job("job_conform")
    assert (status.state, status.asset_ids, status.cost) == ("success", ["asset_glb"], 40)
    asset = client.get_asset("asset_glb")
    assert asset.mime_type == "model/glb" and asset.preview_url.endswith("/preview.png")
    assert pick_glb([asset]) is asset
    assert client.get_model()["model"]["id"] == MODEL_ID
