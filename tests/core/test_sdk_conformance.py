"""The official Scenario SDK drives the stand-in: proof that the stand-in speaks the real API."""

from __future__ import annotations

import base64
import os
import time

import pytest
import requests

from tests.media import png_bytes
from tests.standin import glb
from tests.standin.fixtures import standin  # noqa: F401
from tests.standin.model import MODEL_ID, price

scenario_sdk = pytest.importorskip("scenario_sdk")


@pytest.fixture
def client(standin, monkeypatch):  # noqa: F811
    # the SDK reads credentials, base URL and extra headers from the environment
    for name in list(os.environ):
        if name.startswith("SCENARIO_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    standin.job_seconds = 0.3
    sdk = scenario_sdk.Scenario(
        api_key=standin.api_key,
        api_secret=standin.api_secret,
        base_url=standin.base_url,
        max_retries=0,
        timeout=10,
    )
    yield sdk
    sdk.close()


def upload(client, width: int = 64, height: int = 48) -> str:
    data = "data:image/png;base64," + base64.b64encode(png_bytes(width, height)).decode()
    return client.assets.upload(name="photo.png", image=data).asset.id


def wait(client, job_id: str, limit: float = 10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        job = client.jobs.retrieve(job_id).job
        if job.status in ("success", "failure", "canceled"):
            return job
        time.sleep(0.03)
    raise AssertionError(f"job {job_id} did not finish")


def test_upload_small_image(client, standin):  # noqa: F811
    raw = png_bytes(64, 48)
    bare = base64.b64encode(raw).decode()
    result = client.assets.upload(name="chair.png", image=bare, project_id="proj_x")
    asset = result.asset
    assert asset.id.startswith("asset_")
    assert (asset.kind, asset.mime_type, asset.status) == ("image", "image/png", "success")
    assert asset.properties.size == len(raw)
    assert requests.get(asset.url, timeout=5).content == raw
    entry = [e for e in standin.log if e["route"] == "upload"][-1]
    assert entry["had_auth"] and entry["status"] == 200 and "projectId=proj_x" in entry["query"]


def test_dry_run_returns_269_and_the_parsed_cost(client, standin):  # noqa: F811
    body = {"images": [upload(client)], "textureResolution": "4K", "hyperMode": "ON"}
    raw = client.generate.with_raw_response.run_model(MODEL_ID, body=body, dry_run="true")
    assert raw.status_code == 269
    assert raw.http_response.json()["creativeUnitsCost"] == price(body) == 30 + 40 - 5
    parsed = raw.parse()
    assert parsed.creative_units_cost == price(body)
    assert standin.paid_requests == 0 and standin.count("estimate") == 1
    plain = client.generate.run_model(MODEL_ID, body=body, dry_run="api")
    assert plain.creative_units_cost == price(body)


def test_generate_poll_and_fetch_the_glb(client, standin):  # noqa: F811
    body = {"images": [upload(client)], "generateUvs": "ON"}
    result = client.generate.run_model(MODEL_ID, body=body)
    job_id = result.job.job_id
    assert job_id.startswith("job_") and result.job.status == "queued"
    assert result.creative_units_cost == price(body)
    assert standin.paid_requests == 1
    job = wait(client, job_id)
    assert job.status == "success" and job.progress == 1
    assert [h.status for h in job.status_history][-1] == "success"
    ids = job.metadata.asset_ids
    assert len(ids) == 4
    assert client.assets.retrieve(ids[0]).asset.status == "pending", "just after success"
    time.sleep(standin.asset_pending_seconds + 0.05)
    assets = [client.assets.retrieve(i).asset for i in ids]
    assert all(a.status == "success" for a in assets)
    model = next(a for a in assets if a.mime_type in ("model/gltf-binary", "model/glb"))
    assert model.kind == "3d" and model.preview is not None and model.preview.url
    assert assets[0].metadata.parent_id == model.id  # a derived FBX is listed first
    data = requests.get(model.url, timeout=10).content
    assert glb.read_glb(data)[0]["asset"]["version"] == "2.0"
    assert not any(e["had_auth"] for e in standin.log if e["route"] == "download")


def test_failed_job_parses_error_and_hint(client, standin):  # noqa: F811
    standin.script_job(outcome="failure", error="No object found", hint="Crop the photo", seconds=0)
    job_id = client.generate.run_model(MODEL_ID, body={"images": [upload(client)]}).job.job_id
    job = wait(client, job_id)
    assert job.status == "failure"
    assert (job.metadata.error, job.metadata.hint) == ("No object found", "Crop the photo")


def test_custom_job_cancel_is_refused(client, standin):  # noqa: F811
    standin.job_seconds = 30
    job_id = client.generate.run_model(MODEL_ID, body={"images": [upload(client)]}).job.job_id
    with pytest.raises(scenario_sdk.BadRequestError) as refused:
        client.jobs.trigger_action(job_id, action="cancel")
    assert refused.value.body == {"reason": "Cannot cancel this type of job. Action not permitted."}


def test_cancel_another_job(client, standin):  # noqa: F811
    standin.cancellable = True
    standin.job_seconds = 30
    job_id = client.generate.run_model(MODEL_ID, body={"images": [upload(client)]}).job.job_id
    result = client.jobs.trigger_action(job_id, action="cancel")
    assert result.job.status == "canceled"
    assert client.jobs.retrieve(job_id).job.status == "canceled"
    assert standin.count("cancel") == 1


def test_model_record(client):
    model = client.models.retrieve(MODEL_ID).model
    assert model.id == MODEL_ID and "img23d" in model.capabilities
    inputs = {i.name: i for i in model.inputs}
    assert len(inputs) == 17
    assert inputs["images"].type == "file_array" and inputs["images"].required.always is True
    assert inputs["modelGenerator"].allowed_values == ["FAST_TRUE", "ULTIMA_PRIME"]
    assert inputs["polycount"].min == 1000 and inputs["polycount"].step == 1000
    assert inputs["texture"].default is True and inputs["texture"].cost_impact is True
    assert model.ui_config.selects["textureResolution"]["4K"] == "4K"


def test_multipart_upload(client, standin):  # noqa: F811
    data = png_bytes(120, 90)
    created = client.uploads.create(
        file_name="big.png", file_size=len(data), content_type="image/png", kind="image", parts=1
    ).upload
    assert created.status == "pending" and created.parts_count == 1
    part = created.parts[0]
    assert part.number == 1 and part.expires
    put = requests.put(part.url, data=data, headers={"Content-Type": "image/png"}, timeout=5)
    assert put.status_code == 200
    done = client.uploads.trigger_action(created.id, action="complete").upload
    assert done.status == "complete"
    got = client.uploads.retrieve(created.id).upload
    assert got.status == "complete" and got.entity_id
    asset = client.assets.retrieve(got.entity_id).asset
    assert asset.mime_type == "image/png" and asset.properties.size == len(data)
    assert standin.count("upload_part") == 1


def test_errors_map_to_the_sdk_exceptions(client, standin):  # noqa: F811
    with pytest.raises(scenario_sdk.NotFoundError) as missing:
        client.jobs.retrieve("job_does_not_exist")
    assert missing.value.status_code == 404 and missing.value.body == {"reason": "not found"}
    standin.fault("job", status=429)
    with pytest.raises(scenario_sdk.RateLimitError) as limited:
        client.jobs.retrieve("job_whatever")
    assert limited.value.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    assert limited.value.body["remainingSeconds"] == 1
    with pytest.raises(scenario_sdk.BadRequestError) as bad:
        client.generate.run_model(MODEL_ID, body={"images": []})
    assert "images" in bad.value.body["reason"]
    wrong = scenario_sdk.Scenario(
        api_key="nope", api_secret="nope", base_url=standin.base_url, max_retries=0, timeout=5
    )
    with pytest.raises(scenario_sdk.AuthenticationError):
        wrong.models.retrieve(MODEL_ID)
    wrong.close()
    standin.fault("generate", status=402)
    with pytest.raises(scenario_sdk.APIStatusError) as credits:
        client.generate.run_model(MODEL_ID, body={"images": [upload(client)]})
    assert credits.value.status_code == 402
