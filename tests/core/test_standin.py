"""The local stand-in of Scenario's API, driven with plain requests over loopback, and its GLBs."""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
import requests

from tests.media import png_bytes
from tests.standin import StandIn, glb
from tests.standin.fixtures import standin  # noqa: F401
from tests.standin.model import INPUTS, MODEL_ID, price

ROOT = Path(__file__).resolve().parents[2]
GEN = f"/generate/custom/{MODEL_ID}"
PARAMS = [
    "images", "texture", "modelGenerator", "textureResolution", "polycount", "lowpoly",
    "highdetails", "autopoly", "realismLevel", "creativity", "generateUvs", "hyperMode",
    "insideOut", "unlit", "textureSharpness", "textureAdherence", "roughness",
]  # fmt: skip


# --- helpers -------------------------------------------------------------------------------


class Api:
    """A thin requests session with the stand-in's Basic auth."""

    def __init__(self, server: StandIn) -> None:
        self.server = server
        self.s = requests.Session()
        self.s.auth = (server.api_key, server.api_secret)

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 10)
        return self.s.get(self.server.base_url + path, **kw)

    def post(self, path: str, payload=None, **kw) -> requests.Response:
        kw.setdefault("timeout", 10)
        return self.s.post(self.server.base_url + path, json=payload, **kw)

    def upload(self, data: bytes | None = None, *, data_url: bool = True, name="photo.png") -> str:
        data = data if data is not None else png_bytes(32, 32)
        b64 = base64.b64encode(data).decode()
        image = f"data:image/png;base64,{b64}" if data_url else b64
        r = self.post("/assets", {"name": name, "image": image})
        assert r.status_code == 200, r.text
        return r.json()["asset"]["id"]

    def generate(self, body: dict) -> dict:
        r = self.post(GEN, body)
        assert r.status_code == 200, r.text
        return r.json()["job"]

    def wait(self, job_id: str, *, until=("success", "failure", "canceled"), limit=10.0) -> dict:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            job = self.get(f"/jobs/{job_id}").json()["job"]
            if job["status"] in until:
                return job
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} still {job['status']}")

    def asset(self, asset_id: str, *, ready: bool = True) -> dict:
        """The asset; with `ready`, once it is no longer `pending` (a job's assets can still be
        pending when the job says success: scenario_api.md, corrections of 2026-12-04)."""
        deadline = time.monotonic() + 5
        while True:
            r = self.get(f"/assets/{asset_id}")
            assert r.status_code == 200, r.text
            asset = r.json()["asset"]
            if not ready or asset["status"] != "pending" or time.monotonic() > deadline:
                return asset
            time.sleep(0.02)

    def finished_assets(self, body: dict) -> list[dict]:
        job = self.wait(self.generate(body)["jobId"])
        assert job["status"] == "success"
        return [self.asset(a) for a in job["metadata"]["assetIds"]]


@pytest.fixture
def api(standin):  # noqa: F811
    standin.job_seconds = 0.3
    return Api(standin)


def glb_of(assets: list[dict]) -> bytes:
    (asset,) = [a for a in assets if a["mimeType"] in ("model/gltf-binary", "model/glb")]
    r = requests.get(asset["url"], timeout=10)
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == len(r.content) == asset["properties"]["size"]
    return r.content


def png_info(data: bytes) -> tuple[int, int, int]:
    """Width, height and channels of an 8-bit PNG, after checking its pixels decompress."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    idat, pos = b"", 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + chunk) == crc
        if kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    assert depth == 8
    assert len(zlib.decompress(idat)) == height * (1 + width * channels)
    return width, height, channels


def embedded_images(data: bytes) -> list[bytes]:
    doc, binary = glb.read_glb(data)
    views = doc["bufferViews"]
    out = []
    for image in doc.get("images", []):
        view = views[image["bufferView"]]
        out.append(binary[view["byteOffset"] : view["byteOffset"] + view["byteLength"]])
    return out


# --- auth and conventions ------------------------------------------------------------------


def test_every_api_route_refuses_missing_or_wrong_credentials(standin):  # noqa: F811
    paths = [
        ("POST", "/assets"),
        ("GET", "/assets/asset_x"),
        ("POST", "/uploads"),
        ("GET", "/uploads/upload_x"),
        ("POST", "/uploads/upload_x/action"),
        ("GET", f"/models/{MODEL_ID}"),
        ("POST", GEN),
        ("POST", GEN + "?dryRun=true"),
        ("GET", "/jobs/job_x"),
        ("POST", "/jobs/job_x/action"),
    ]
    bad = [None, (standin.api_key, "wrong"), ("wrong", standin.api_secret)]
    for method, path in paths:
        for auth in bad:
            r = requests.request(method, standin.base_url + path, json={}, auth=auth, timeout=5)
            assert r.status_code == 401, (method, path, auth)
            assert r.json() == {"reason": "Unauthorized"}
    bearer = {"Authorization": "Bearer " + standin.api_secret}
    r = requests.get(standin.base_url + f"/models/{MODEL_ID}", headers=bearer, timeout=5)
    assert r.status_code == 401
    assert standin.paid_requests == 3  # refused, but they reached the paid route
    assert not any(e["status"] == 200 for e in standin.log)


def test_project_id_and_unknown_headers_are_ignored(api):
    r = api.get(
        f"/models/{MODEL_ID}",
        params={"projectId": "proj_abc"},
        headers={"X-Stainless-Lang": "python", "X-Whatever": "1"},
    )
    assert r.status_code == 200
    assert api.server.log[-1]["had_auth"] is True
    assert api.server.log[-1]["route"] == "model"


def test_unknown_paths_answer_404_json(api):
    r = api.get("/nothing/here")
    assert r.status_code == 404 and "reason" in r.json()
    assert api.server.count("unknown") == 1


# --- uploads -------------------------------------------------------------------------------


@pytest.mark.parametrize("data_url", [True, False], ids=["data-url", "bare-base64"])
def test_upload_accepts_data_url_and_bare_base64(api, data_url):
    image = png_bytes(40, 30)
    payload = base64.b64encode(image).decode()
    if data_url:
        payload = "data:image/png;base64," + payload
    r = api.post("/assets", {"name": "chair.png", "image": payload}, params={"projectId": "p"})
    assert r.status_code == 200
    asset = r.json()["asset"]
    assert asset["id"].startswith("asset_")
    assert asset["kind"] == "image" and asset["mimeType"] == "image/png"
    assert asset["status"] == "success"
    assert asset["metadata"] == {"type": "uploaded", "kind": "image", "name": "chair.png"}
    assert asset["properties"] == {"size": len(image), "width": 40, "height": 30}
    again = api.asset(asset["id"])
    assert again["id"] == asset["id"] and again["properties"] == asset["properties"]
    assert requests.get(again["url"], timeout=5).content == image
    assert api.server.count("upload") == 1


def test_upload_sniffs_the_type_from_the_bytes_not_the_label(api):
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 64
    r = api.post(
        "/assets",
        {"name": "x.png", "image": "data:image/png;base64," + base64.b64encode(jpeg).decode()},
    )
    assert r.status_code == 200 and r.json()["asset"]["mimeType"] == "image/jpeg"
    assert "width" not in r.json()["asset"]["properties"]


@pytest.mark.parametrize(
    "payload, words",
    [
        ({"name": "a.png", "image": "not base64 at all!"}, "base64"),
        ({"name": "a.png", "image": "data:image/png;base64,"}, "image"),
        ({"name": "a.png", "image": base64.b64encode(b"hello world").decode()}, "format"),
        ({"name": "a.png"}, "image"),
        ({"image": base64.b64encode(png_bytes(2, 2)).decode()}, "name"),
        ([1, 2], "object"),
    ],
)
def test_upload_refuses_bad_images_with_a_reason(api, payload, words):
    r = api.post("/assets", payload)
    assert r.status_code == 400
    assert words in r.json()["reason"].lower()


def test_upload_refuses_invalid_json(api):
    r = api.s.post(api.server.base_url + "/assets", data=b"{nope", timeout=5)
    assert r.status_code == 400 and r.json()["reason"] == "Invalid JSON body"


def test_upload_over_ten_megabytes_is_413_and_the_connection_stays_usable(api):
    big = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(8 * 1024 * 1024)).decode()
    r = api.post("/assets", {"name": "big.png", "image": big})
    assert r.status_code == 413 and r.json() == {"reason": "Payload Too Large"}
    assert api.get(f"/models/{MODEL_ID}").status_code == 200  # same keep-alive session


def test_multipart_upload_flow(api):
    data = png_bytes(300, 200)
    half = len(data) // 2
    r = api.post(
        "/uploads",
        {"fileName": "big.png", "fileSize": len(data), "contentType": "image/png",
         "kind": "image", "parts": 2},
    )  # fmt: skip
    assert r.status_code == 200
    up = r.json()["upload"]
    assert up["id"].startswith("upload_") and up["status"] == "pending"
    assert up["partsCount"] == 2 and up["jobId"].startswith("job_")
    assert [p["number"] for p in up["parts"]] == [1, 2]
    assert all(p["expires"] and not p["url"].startswith(api.server.base_url) for p in up["parts"])
    # the part URLs are signed and refuse the API's Authorization header, like S3 does
    leak = api.s.put(up["parts"][0]["url"], data=data[:half], timeout=5)
    assert leak.status_code == 403
    entry = api.server.log[-1]
    assert (entry["route"], entry["had_auth"], entry["status"]) == ("upload_part", True, 403)
    for part, chunk in zip(up["parts"], (data[:half], data[half:]), strict=True):
        put = requests.put(
            part["url"], data=chunk, headers={"Content-Type": "image/png"}, timeout=5
        )
        assert put.status_code == 200 and put.headers["ETag"]
    done = api.post(f"/uploads/{up['id']}/action", {"action": "complete"})
    assert done.status_code == 200 and done.json()["upload"]["status"] == "complete"
    got = api.get(f"/uploads/{up['id']}").json()["upload"]
    # a real upload may end at `complete` with its entityId (Scenario's TypeScript helper
    # stops there: docs.scenario.com /sdk-helpers/uploads; plugin docs/SDK_UPLOADS.md)
    assert got["status"] == "complete" and got["entityId"].startswith("asset_")
    asset = api.asset(got["entityId"])
    assert asset["properties"]["width"] == 300 and asset["mimeType"] == "image/png"
    assert requests.get(asset["url"], timeout=5).content == data
    job = api.get(f"/jobs/{up['jobId']}").json()["job"]
    assert job["jobType"] == "upload" and job["status"] == "success"
    assert job["metadata"]["output"] == {"entityId": got["entityId"]}
    # the imported asset is usable as a generation input
    assert api.post(GEN + "?dryRun=true", {"images": [got["entityId"]]}).status_code == 269
    assert api.server.count("upload_part") == 3 and api.server.count("uploads_get") == 1


def test_multipart_upload_chunked_part_and_size_mismatch(api):
    data = png_bytes(50, 50)
    up = api.post(
        "/uploads",
        {"fileName": "x.png", "fileSize": len(data) + 1, "contentType": "image/png",
         "kind": "image", "parts": 1},
    ).json()["upload"]  # fmt: skip
    early = api.post(f"/uploads/{up['id']}/action", {"action": "complete"})
    assert early.status_code == 400 and "1" in early.json()["reason"]
    # a generator body goes out chunked (no Content-Length)
    put = requests.put(up["parts"][0]["url"], data=iter([data[:100], data[100:]]), timeout=5)
    assert put.status_code == 200
    api.post(f"/uploads/{up['id']}/action", {"action": "complete"})
    time.sleep(0.25)  # settles on its own after ~0.2 s, seen through the upload job
    job = api.get(f"/jobs/{up['jobId']}").json()["job"]
    assert job["status"] == "failure"
    got = api.get(f"/uploads/{up['id']}").json()["upload"]
    assert got["status"] == "failed" and "size" in got["errorMessage"].lower()
    assert "entityId" not in got


@pytest.mark.parametrize(
    "payload",
    [
        {
            "fileName": "a.png",
            "fileSize": 10,
            "contentType": "image/png",
            "kind": "pic",
            "parts": 1,
        },
        {
            "fileName": "a.png",
            "fileSize": 0,
            "contentType": "image/png",
            "kind": "image",
            "parts": 1,
        },
        {"fileSize": 10, "contentType": "image/png", "kind": "image", "parts": 1},
        {
            "fileName": "a.png",
            "fileSize": 10,
            "contentType": "image/png",
            "kind": "image",
            "parts": 0,
        },
    ],
)
def test_multipart_create_validates(api, payload):
    r = api.post("/uploads", payload)
    assert r.status_code == 400 and r.json()["reason"]


# --- model record and pricing --------------------------------------------------------------


def test_model_record_lists_the_seventeen_parameters(api):
    r = api.get(f"/models/{MODEL_ID}")
    assert r.status_code == 200
    model = r.json()["model"]
    assert model["id"] == MODEL_ID and model["capabilities"] == ["img23d"]
    inputs = {i["name"]: i for i in model["inputs"]}
    assert list(inputs) == PARAMS
    for item in inputs.values():
        assert set(item) >= {"name", "type", "required", "costImpact", "label", "description"}
    assert inputs["images"]["type"] == "file_array" and inputs["images"]["required"]["always"]
    assert (inputs["images"]["min"], inputs["images"]["max"]) == (1, 4)
    assert inputs["modelGenerator"]["allowedValues"] == ["FAST_TRUE", "ULTIMA_PRIME"]
    assert inputs["modelGenerator"]["default"] == "FAST_TRUE"
    assert inputs["textureResolution"]["allowedValues"] == ["1K", "2K", "4K"]
    poly = inputs["polycount"]
    assert (poly["min"], poly["max"], poly["step"], poly["default"]) == (1000, 500000, 1000, 100000)
    assert inputs["realismLevel"]["default"] == 0.85 and inputs["creativity"]["max"] == 5
    assert inputs["creativity"]["step"] == 1 and inputs["roughness"]["max"] == 2
    for name in ("generateUvs", "hyperMode", "insideOut", "unlit", "textureAdherence"):
        assert inputs[name]["allowedValues"] == ["ON", "OFF"]
    for name in ("texture", "lowpoly", "highdetails", "autopoly"):
        assert inputs[name]["type"] == "boolean" and isinstance(inputs[name]["default"], bool)
    assert model["uiConfig"]["selects"]["modelGenerator"]["ULTIMA_PRIME"]
    assert api.get("/models/model_nope").status_code == 404


def test_dry_run_is_269_with_a_price_and_no_job(api):
    asset = api.upload()
    r = api.post(GEN + "?dryRun=true", {"images": [asset]})
    assert r.status_code == 269
    assert r.json() == {
        "creativeUnitsCost": 40,
        "creativeUnitsDiscount": 0,
        "costDetails": {"custom-generation": 40},
    }
    assert api.server.paid_requests == 0 and api.server.job_ids() == []
    assert api.server.count("estimate") == 1 and api.server.count("generate") == 0
    # dryRun in the body is ignored by the real service: that one is a paid job
    paid = api.post(GEN, {"images": [asset], "dryRun": True})
    assert paid.status_code == 200 and api.server.paid_requests == 1


@pytest.mark.parametrize(
    "extra, n_images, cost",
    [
        ({}, 1, 30 + 10),
        ({"textureResolution": "2K"}, 1, 30 + 20),
        ({"textureResolution": "4K", "modelGenerator": "ULTIMA_PRIME"}, 1, 60 + 40),
        ({"texture": False}, 1, 30),
        ({}, 3, 30),
        ({"modelGenerator": "ULTIMA_PRIME", "highdetails": True, "texture": False}, 1, 80),
        ({"insideOut": "ON"}, 1, 50),
        ({"hyperMode": "ON"}, 1, 35),
    ],
)
def test_price_depends_on_the_body(api, extra, n_images, cost):
    images = [api.upload() for _ in range(n_images)]
    body = {"images": images, **extra}
    r = api.post(GEN + "?dryRun=api", body)
    assert r.status_code == 269 and r.json()["creativeUnitsCost"] == cost == price(body)
    job = api.generate(body)
    assert job["billing"] == {
        "cuCost": cost,
        "cuDiscount": 0,
        "cuCostDetails": {"custom-generation": cost},
    }


@pytest.mark.parametrize(
    "images, extra, word",
    [
        ([], {}, "images"),
        (["@", "@", "@", "@", "@"], {}, "images"),
        (["asset_missing"], {}, "asset_missing"),
        (None, {"texture": True}, "images"),
        ("@", {}, "images"),
        (["@"], {"textureResolution": "8K"}, "textureResolution"),
        (["@"], {"polycount": 999}, "polycount"),
        (["@"], {"polycount": 1500}, "polycount"),
        (["@"], {"creativity": 2.5}, "creativity"),
        (["@"], {"texture": "yes"}, "texture"),
        (["@"], {"hyperMode": True}, "hyperMode"),
        (["@"], {"seed": 3}, "seed"),
        (["@"], {"highdetails": True}, "ULTIMA_PRIME"),
        (
            ["@"],
            {"modelGenerator": "ULTIMA_PRIME", "highdetails": True, "lowpoly": True},
            "lowpoly",
        ),
    ],
)
def test_generate_validates_the_body_like_the_service(api, images, extra, word):
    asset = api.upload()  # "@" stands for this real image asset
    body = dict(extra)
    if isinstance(images, list):
        body["images"] = [asset if i == "@" else i for i in images]
    elif images == "@":
        body["images"] = asset  # a bare string, not a list
    for query in ("?dryRun=true", ""):
        r = api.post(GEN + query, body)
        assert r.status_code == 400, (body, r.text)
        assert word in r.json()["reason"]
    assert api.server.job_ids() == []


def test_generate_refuses_an_output_asset_as_input_and_unknown_models(api):
    assets = api.finished_assets({"images": [api.upload()]})
    png = next(a for a in assets if a["mimeType"] == "image/png")
    assert api.post(GEN, {"images": [png["id"]]}).status_code == 400
    r = api.post("/generate/custom/model_other", {"images": [api.upload()]})
    assert r.status_code == 404 and r.json()["reason"]


# --- jobs ----------------------------------------------------------------------------------


def test_paid_generate_then_job_walks_to_success_with_several_assets(api):
    photo = png_bytes(64, 64)
    body = {"images": [api.upload(photo)], "textureResolution": "2K", "unlit": "ON"}
    api.server.job_seconds = 0.6  # wide enough to see in-progress under load
    r = api.post(GEN, body)
    assert r.status_code == 200
    out = r.json()
    job = out["job"]
    assert job["jobId"].startswith("job_") and job["jobType"] == "custom"
    assert (job["status"], job["progress"]) == ("queued", 0)
    assert job["metadata"]["input"] == body and job["statusHistory"][0]["status"] == "queued"
    assert out["creativeUnitsCost"] == job["billing"]["cuCost"] == 50
    assert job["ownerId"] and job["createdAt"] == job["updatedAt"]
    seen, progress = [], []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = api.get(f"/jobs/{job['jobId']}").json()["job"]
        if not seen or seen[-1] != now["status"]:
            seen.append(now["status"])
        progress.append(now["progress"])
        if now["status"] == "success":
            break
        assert now["metadata"]["assetIds"] == []
        time.sleep(0.01)
    order = ["queued", "warming-up", "in-progress", "finalizing", "success"]
    assert seen[-1] == "success" and seen == [s for s in order if s in seen]
    assert "in-progress" in seen
    assert progress == sorted(progress) and progress[-1] == 1
    assert any(0 < p < 1 for p in progress)
    history = [h["status"] for h in now["statusHistory"]]
    assert history == order
    dates = [h["date"] for h in now["statusHistory"]]
    assert dates == sorted(dates) and now["updatedAt"] == dates[-1]
    ids = now["metadata"]["assetIds"]
    assert len(ids) == 4
    assert api.asset(ids[2], ready=False)["status"] == "pending", "pending just after success"
    assets = [api.asset(i) for i in ids]
    # a derived FBX and the preview come first: clients must choose by type, not position
    mimes = ["model/x-fbx", "image/png", "model/gltf-binary", "model/obj"]
    assert [a["mimeType"] for a in assets] == mimes
    assert [a["kind"] for a in assets] == ["3d", "image", "3d", "3d"]
    model = assets[2]
    assert model["metadata"]["type"] == "img23d" and model["properties"]["format"] == "glb"
    assert model["properties"]["faceCount"] == glb.glb_triangles(glb_of(assets))
    assert assets[0]["metadata"]["parentId"] == model["id"]
    assert model["preview"]["assetId"] == assets[1]["id"] == model["thumbnail"]["assetId"]
    assert assets[1]["metadata"]["type"] == "preview"
    assert png_info(requests.get(model["preview"]["url"], timeout=5).content) == (256, 256, 3)
    obj = requests.get(assets[3]["url"], timeout=5).text
    assert obj.startswith("# YVO3D") and "\nf " in obj


def test_output_assets_stay_hidden_until_the_job_succeeds(api):
    api.server.job_seconds = 60
    job = api.generate({"images": [api.upload()]})
    hidden = api.server._jobs[job["jobId"]].asset_ids  # noqa: SLF001 - peeking on purpose
    assert len(hidden) == 4
    assert api.get(f"/assets/{hidden[0]}").status_code == 404


def test_job_seconds_zero_finishes_at_once_and_unknown_job_is_404(api):
    api.server.job_seconds = 0
    job = api.generate({"images": [api.upload()]})
    assert api.get(f"/jobs/{job['jobId']}").json()["job"]["status"] == "success"
    r = api.get("/jobs/job_nope")
    assert r.status_code == 404 and r.json() == {"reason": "not found"}


def test_custom_jobs_refuse_cancel_like_scenario(api):
    """Scenario refuses to cancel custom jobs: 400 "Cannot cancel this type of job. Action
    not permitted." (scenario_sdk resources/jobs.py: today only inference jobs)."""
    api.server.job_seconds = 30
    job = api.generate({"images": [api.upload()]})
    r = api.post(f"/jobs/{job['jobId']}/action", {"action": "cancel"})
    assert r.status_code == 400
    assert r.json() == {"reason": "Cannot cancel this type of job. Action not permitted."}
    assert api.get(f"/jobs/{job['jobId']}").json()["job"]["status"] != "canceled"


def test_cancel_a_running_job_and_refuse_cancelling_a_finished_one(api):
    api.server.cancellable = True  # a service that could cancel (not Scenario today)
    api.server.job_seconds = 30
    job = api.generate({"images": [api.upload()]})
    r = api.post(f"/jobs/{job['jobId']}/action", {"action": "cancel"})
    assert r.status_code == 200 and r.json()["job"]["status"] == "canceled"
    time.sleep(0.05)
    again = api.get(f"/jobs/{job['jobId']}").json()["job"]
    assert again["status"] == "canceled" and again["metadata"]["assetIds"] == []
    assert again["statusHistory"][-1]["status"] == "canceled"
    refused = api.post(f"/jobs/{job['jobId']}/action", {"action": "cancel"})
    assert refused.status_code == 400 and "finished" in refused.json()["reason"]
    assert api.post(f"/jobs/{job['jobId']}/action", {"action": "pause"}).status_code == 400
    assert api.post("/jobs/job_nope/action", {"action": "cancel"}).status_code == 404
    api.server.job_seconds = 0
    done = api.generate({"images": [api.upload()]})
    assert api.post(f"/jobs/{done['jobId']}/action", {"action": "cancel"}).status_code == 400
    assert api.server.count("cancel") == 5


def test_script_job_failure_has_error_and_hint(api):
    api.server.script_job(outcome="failure", error="Mesh collapsed", hint="Use a clearer photo",
                          seconds=0.2)  # fmt: skip
    job = api.wait(api.generate({"images": [api.upload()]})["jobId"])
    assert job["status"] == "failure"
    assert job["metadata"]["error"] == "Mesh collapsed"
    assert job["metadata"]["hint"] == "Use a clearer photo"
    assert 0 < job["progress"] < 1 and job["metadata"]["assetIds"] == []


def test_script_job_service_side_cancel_midway(api):
    api.server.script_job(outcome="canceled", seconds=0.2)
    job = api.wait(api.generate({"images": [api.upload()]})["jobId"])
    assert job["status"] == "canceled" and job["progress"] < 1
    assert [h["status"] for h in job["statusHistory"]][-1] == "canceled"


def test_script_job_never_stays_in_progress(api):
    api.server.script_job(outcome="never", seconds=0.1)
    job = api.generate({"images": [api.upload()]})
    time.sleep(0.3)
    first = api.get(f"/jobs/{job['jobId']}").json()["job"]
    time.sleep(0.1)
    later = api.get(f"/jobs/{job['jobId']}").json()["job"]
    assert first["status"] == later["status"] == "in-progress"
    assert first["progress"] <= later["progress"] < 1


def test_script_job_custom_statuses_walk_in_order_and_scripts_queue(api):
    api.server.script_job(statuses=["pending", "thinking-hard", "post-processing", "success"],
                          seconds=0.6, assets=("glb",))  # fmt: skip
    api.server.script_job(assets=(), seconds=0)
    images = [api.upload() for _ in range(3)]
    first = api.generate({"images": images[:1]})
    second = api.generate({"images": images[1:2]})
    third = api.generate({"images": images[2:]})  # no script left: defaults
    seen = []
    while not seen or seen[-1] != "success":
        status = api.get(f"/jobs/{first['jobId']}").json()["job"]["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.01)
    walk = ["pending", "thinking-hard", "post-processing", "success"]
    assert len(seen) >= 3 and seen == [s for s in walk if s in seen]  # polls may miss one
    done = api.get(f"/jobs/{first['jobId']}").json()["job"]
    assert [h["status"] for h in done["statusHistory"]] == walk
    assert [api.asset(a)["mimeType"] for a in done["metadata"]["assetIds"]] == ["model/gltf-binary"]
    empty = api.get(f"/jobs/{second['jobId']}").json()["job"]
    assert empty["status"] == "success" and empty["metadata"]["assetIds"] == []
    assert len(api.wait(third["jobId"])["metadata"]["assetIds"]) == 4


def test_script_job_texture_asset_and_bad_arguments(api):
    api.server.script_job(assets=("texture", "glb"), seconds=0)
    photo = png_bytes(48, 48)
    assets = api.finished_assets({"images": [api.upload(photo)]})
    assert [a["metadata"]["type"] for a in assets] == ["3d-texture-albedo", "img23d"]
    assert requests.get(assets[0]["url"], timeout=5).content == photo
    with pytest.raises(ValueError):
        api.server.script_job(outcome="exploded")
    with pytest.raises(ValueError):
        api.server.script_job(assets=("stl",))


# --- downloads -----------------------------------------------------------------------------


def test_download_refuses_the_authorization_header_and_logs_it(api):
    assets = api.finished_assets({"images": [api.upload()]})
    url = next(a["url"] for a in assets if a["properties"]["format"] == "glb")
    assert not url.startswith(api.server.base_url)  # a different prefix from /v1
    leaked = api.s.get(url, timeout=5)  # the session carries Basic auth
    assert leaked.status_code == 403
    assert leaked.json() == {"reason": "Authorization header not allowed on signed URLs"}
    entry = api.server.log[-1]
    assert entry["route"] == "download" and entry["had_auth"] and entry["status"] == 403
    clean = requests.get(url, timeout=5)
    assert clean.status_code == 200 and clean.content[:4] == b"glTF"
    assert clean.headers["Accept-Ranges"] == "bytes"
    assert int(clean.headers["Content-Length"]) == len(clean.content)
    head = requests.head(url, timeout=5)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(clean.content)
    assert api.server.count("download") == 3


def test_download_range_requests_resume(api):
    assets = api.finished_assets({"images": [api.upload()]})
    url = next(a["url"] for a in assets if a["mimeType"] == "model/gltf-binary")
    full = requests.get(url, timeout=5).content
    first = requests.get(url, headers={"Range": "bytes=0-999"}, timeout=5)
    assert first.status_code == 206 and len(first.content) == 1000
    assert first.headers["Content-Range"] == f"bytes 0-999/{len(full)}"
    rest = requests.get(url, headers={"Range": "bytes=1000-"}, timeout=5)
    assert rest.status_code == 206 and int(rest.headers["Content-Length"]) == len(full) - 1000
    assert first.content + rest.content == full
    tail = requests.get(url, headers={"Range": "bytes=-16"}, timeout=5)
    assert tail.status_code == 206 and tail.content == full[-16:]
    past = requests.get(url, headers={"Range": f"bytes={len(full)}-"}, timeout=5)
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{len(full)}"


def test_expired_and_tampered_urls_answer_403_and_fresh_urls_work(api):
    assets = api.finished_assets({"images": [api.upload()]})
    asset = next(a for a in assets if a["properties"]["format"] == "glb")
    assert requests.get(asset["url"], timeout=5).status_code == 200
    tampered = asset["url"].replace("Signature=", "Signature=0")
    assert requests.get(tampered, timeout=5).status_code == 403
    unsigned = asset["url"].split("?")[0]
    assert requests.get(unsigned, timeout=5).status_code == 403
    api.server.expire_downloads()
    expired = requests.get(asset["url"], timeout=5)
    assert expired.status_code == 403 and "expired" in expired.json()["reason"].lower()
    fresh = api.asset(asset["id"])["url"]
    assert fresh != asset["url"] and requests.get(fresh, timeout=5).status_code == 200


def test_redirected_downloads_are_followed(standin):  # noqa: F811
    standin.redirect_downloads = True
    standin.job_seconds = 0
    api = Api(standin)
    assets = api.finished_assets({"images": [api.upload()]})
    url = next(a["url"] for a in assets if a["properties"]["format"] == "glb")
    hop = requests.get(url, allow_redirects=False, timeout=5)
    assert hop.status_code == 302 and "/cdn/" in hop.headers["Location"]
    r = requests.get(url, timeout=5)
    assert r.status_code == 200 and len(r.history) == 1
    assert [e["route"] for e in standin.log[-3:]] == ["download_redirect"] * 2 + ["download"]


# --- GLBs served ---------------------------------------------------------------------------


def test_textured_glb_uses_the_uploaded_png_as_base_colour(api):
    photo = png_bytes(96, 64)
    data = glb_of(api.finished_assets({"images": [api.upload(photo)]}))
    magic, version, length = struct.unpack("<III", data[:12])
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    doc, _ = glb.read_glb(data)
    assert len(doc["textures"]) == 3 and len(doc["images"]) == 3
    pbr = doc["materials"][0]["pbrMetallicRoughness"]
    images = embedded_images(data)
    assert images[doc["textures"][pbr["baseColorTexture"]["index"]]["source"]] == photo
    assert "normalTexture" in doc["materials"][0] and "metallicRoughnessTexture" in pbr
    for png in images:
        png_info(png)


@pytest.mark.parametrize(
    "extra, n_images", [({"texture": False}, 1), ({}, 2), ({}, 4)], ids=["untextured", "2", "4"]
)
def test_shape_only_jobs_serve_a_glb_without_material(api, extra, n_images):
    body = {"images": [api.upload() for _ in range(n_images)], **extra}
    data = glb_of(api.finished_assets(body))
    doc, _ = glb.read_glb(data)
    assert "materials" not in doc and "textures" not in doc and "images" not in doc
    assert glb.glb_triangles(data) > 1000


def test_large_variant_has_about_100k_triangles_and_2k_textures():
    with StandIn(job_seconds=0, large_glb=True) as server:
        api = Api(server)
        assets = api.finished_assets({"images": [api.upload(b"\xff\xd8\xff" + bytes(32))]})
        data = glb_of(assets)
        model = next(a for a in assets if a["mimeType"] == "model/gltf-binary")
    assert 95_000 <= model["properties"]["faceCount"] == glb.glb_triangles(data) <= 105_000
    doc, _ = glb.read_glb(data)
    assert doc["accessors"][doc["meshes"][0]["primitives"][0]["indices"]]["componentType"] == 5123
    # a JPEG photo is not embedded: the stand-in's own base colour is used, at 2K
    assert [png_info(p)[:2] for p in embedded_images(data)] == [(2048, 2048)] * 3
    assert not server.errors


# --- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, check",
    [
        (402, lambda r: r.json() == {"reason": "Not enough creative units"}),
        (403, lambda r: "message" in r.json()),
        (429, lambda r: r.json()["remainingSeconds"] == 1 and r.headers["Retry-After"] == "1"),
        (500, lambda r: "reason" in r.json()),
        (502, lambda r: r.headers["Content-Type"].startswith("text/html") and "502" in r.text),
        (504, lambda r: r.headers["Content-Type"].startswith("text/html") and "504" in r.text),
    ],
)
def test_status_faults_have_realistic_default_bodies(api, status, check):
    api.server.fault("model", status=status)
    r = api.get(f"/models/{MODEL_ID}")
    assert r.status_code == status and check(r)
    assert api.get(f"/models/{MODEL_ID}").status_code == 200  # times=1 by default
    assert api.server.count("model") == 2
    assert [e["fault"] for e in api.server.log] == [True, False]


def test_fault_custom_body_headers_times_and_reset(api):
    api.server.fault("job", status=429, body={"reason": "slow down"},
                     headers={"Retry-After": "3"}, times=2)  # fmt: skip
    api.server.fault("job", status=503, times=None)  # queued behind the first
    answers = [api.get("/jobs/job_x") for _ in range(4)]
    assert [r.status_code for r in answers] == [429, 429, 503, 503]
    assert answers[0].json() == {"reason": "slow down"} and answers[0].headers["Retry-After"] == "3"
    api.server.fault("job", status=200, body="<html>maintenance</html>")
    assert api.server.count("job") == 4
    api.server.reset()
    assert api.server.count("job") == 0 and api.server.log == []
    assert api.get("/jobs/job_x").status_code == 404  # both faults are gone


def test_fault_delay_provokes_a_client_timeout_and_then_answers(api):
    api.server.fault("model", delay=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get(f"/models/{MODEL_ID}", timeout=0.15)
    started = time.monotonic()
    assert api.get(f"/models/{MODEL_ID}").status_code == 200
    assert time.monotonic() - started < 0.4


def test_drop_on_generate_loses_the_answer_but_the_job_exists(api):
    asset = api.upload()
    api.server.fault("generate", drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(GEN, {"images": [asset]})
    assert api.server.paid_requests == 1 and len(api.server.job_ids()) == 1
    assert api.server.log[-1]["status"] is None
    assert api.post(GEN, {"images": [asset]}).status_code == 200


def test_status_fault_on_generate_creates_no_job_but_counts_as_paid(api):
    asset = api.upload()
    api.server.fault("generate", status=502)
    assert api.post(GEN, {"images": [asset]}).status_code == 502
    assert api.server.paid_requests == 1 and api.server.job_ids() == []


def test_truncated_and_dropped_downloads_cut_the_body(api):
    assets = api.finished_assets({"images": [api.upload()]})
    url = next(a["url"] for a in assets if a["properties"]["format"] == "glb")
    size = len(requests.get(url, timeout=5).content)
    for fault in ({"truncate": 5000}, {"drop": True}):
        api.server.fault("download", **fault)
        r = requests.get(url, stream=True, timeout=5)
        assert r.status_code == 200 and int(r.headers["Content-Length"]) == size
        got = bytearray()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in r.iter_content(1):
                got += chunk
        assert len(got) == (5000 if "truncate" in fault else size // 2)
        assert len(requests.get(url, timeout=5).content) == size  # the next one is whole
    assert api.server.count("download") == 5


def test_truncate_on_an_api_route_sends_partial_json(api):
    api.server.fault("model", truncate=20)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.get(f"/models/{MODEL_ID}")


def test_fault_arguments_are_checked(api):
    with pytest.raises(ValueError):
        api.server.fault("job")
    with pytest.raises(ValueError):
        api.server.fault("job", status=500, times=0)


# --- control over HTTP, subprocess, lifecycle ----------------------------------------------


def test_http_control_endpoints(api):
    root = api.server.root_url
    fault = {"route": "model", "status": 429, "times": None}
    assert requests.post(root + "/_standin/fault", json=fault, timeout=5).status_code == 200
    assert api.get(f"/models/{MODEL_ID}").status_code == 429
    assert api.get(f"/models/{MODEL_ID}").status_code == 429
    stats = requests.get(root + "/_standin/stats", timeout=5).json()
    assert stats["counts"] == {"model": 2} and stats["paid_requests"] == 0
    assert [e["status"] for e in stats["log"]] == [429, 429]
    requests.post(root + "/_standin/reset", timeout=5)
    assert api.get(f"/models/{MODEL_ID}").status_code == 200
    script = {"outcome": "failure", "seconds": 0, "error": "boom", "assets": ["glb"]}
    requests.post(root + "/_standin/script_job", json=script, timeout=5)
    job = api.wait(api.generate({"images": [api.upload()]})["jobId"])
    assert job["status"] == "failure" and job["metadata"]["error"] == "boom"
    assert requests.get(root + "/_standin/stats", timeout=5).json()["jobs"] == [job["jobId"]]
    bad = requests.post(root + "/_standin/fault", json={"status": 500}, timeout=5)
    assert bad.status_code == 400
    assert api.server.count("control") == 0


def test_http_control_expire(api):
    assets = api.finished_assets({"images": [api.upload()]})
    url = assets[0]["url"]
    requests.post(api.server.root_url + "/_standin/expire", timeout=5)
    assert requests.get(url, timeout=5).status_code == 403


def test_stop_closes_keep_alive_connections():
    server = StandIn().start()
    session = requests.Session()
    session.auth = (server.api_key, server.api_secret)
    assert session.get(f"{server.base_url}/models/{MODEL_ID}", timeout=5).status_code == 200
    server.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(f"{server.base_url}/models/{MODEL_ID}", timeout=2)


def test_concurrent_clients_get_distinct_assets(api):
    ids: list[str] = []
    failures: list[BaseException] = []

    def work() -> None:
        try:
            mine = Api(api.server)
            for _ in range(5):
                ids.append(mine.upload())
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(set(ids)) == 30 == api.server.count("upload")


def test_runs_as_a_subprocess_and_prints_its_address():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.standin", "--job-seconds", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["base_url"].startswith("http://127.0.0.1:") and info["base_url"].endswith("/v1")
        auth = (info["api_key"], info["api_secret"])
        r = requests.get(info["base_url"] + f"/models/{MODEL_ID}", auth=auth, timeout=5)
        assert r.status_code == 200
        stats = requests.get(info["root_url"] + "/_standin/stats", timeout=5).json()
        assert stats["counts"]["model"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert proc.stderr.read() == ""  # quiet: no per-request logging


# --- glb.py on its own ---------------------------------------------------------------------


@pytest.mark.parametrize("triangles", [200, 2000, 20_000, 100_000])
def test_mesh_density_follows_the_request(triangles):
    mesh = glb.vase_mesh(triangles)
    assert abs(mesh.triangle_count - triangles) <= 0.05 * triangles + 20
    assert glb.glb_triangles(glb.shape_glb(triangles=triangles)) == mesh.triangle_count


def test_mesh_is_closed_outward_and_table_sized():
    mesh = glb.vase_mesh(2000)
    p, n, ix = mesh.positions, mesh.normals, mesh.indices
    key = [tuple(round(p[3 * i + k], 5) for k in range(3)) for i in range(mesh.vertex_count)]
    edges: dict[tuple, int] = {}
    agree = 0
    for t in range(0, len(ix), 3):
        a, b, c = ix[t], ix[t + 1], ix[t + 2]
        for u, v in ((a, b), (b, c), (c, a)):
            edges[(key[u], key[v])] = edges.get((key[u], key[v]), 0) + 1
        e1 = [p[3 * b + k] - p[3 * a + k] for k in range(3)]
        e2 = [p[3 * c + k] - p[3 * a + k] for k in range(3)]
        face = (e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2],
                e1[0] * e2[1] - e1[1] * e2[0])  # fmt: skip
        vertex_normal = [n[3 * a + k] + n[3 * b + k] + n[3 * c + k] for k in range(3)]
        agree += sum(f * v for f, v in zip(face, vertex_normal, strict=True)) > 0
    # closed and consistently wound: every directed edge has exactly one opposite twin
    assert all(count == 1 and edges.get((v, u)) == 1 for (u, v), count in edges.items())
    assert agree == mesh.triangle_count  # counter-clockwise from outside, as glTF wants
    lo, hi = mesh.bounds()
    assert lo[1] == 0 and 0.3 <= hi[1] - lo[1] <= 1.0 and 0.1 <= hi[0] - lo[0] <= 1.0
    lengths = [sum(n[3 * i + k] ** 2 for k in range(3)) for i in range(mesh.vertex_count)]
    assert all(abs(x - 1) < 1e-4 for x in lengths)
    assert all(0 <= u <= 1 for u in mesh.uvs)


def test_glb_layout_is_valid_gltf():
    data = glb.textured_glb(triangles=3000)
    doc, binary = glb.read_glb(data)
    assert doc["asset"]["version"] == "2.0"
    assert len(data) % 4 == 0 and doc["buffers"][0]["byteLength"] == len(binary)
    prim = doc["meshes"][0]["primitives"][0]
    assert set(prim["attributes"]) == {"POSITION", "NORMAL", "TEXCOORD_0"}
    assert doc["accessors"][prim["indices"]]["componentType"] == 5123  # few vertices: uint16
    for view in doc["bufferViews"]:
        assert view["byteOffset"] % 4 == 0
        assert view["byteOffset"] + view["byteLength"] <= len(binary)
    position = doc["accessors"][prim["attributes"]["POSITION"]]
    assert position["min"][1] == 0 and position["max"][1] == pytest.approx(0.42)
    sizes = [png_info(p)[:2] for p in embedded_images(data)]
    assert sizes == [(256, 256)] * 3
    assert glb.textured_glb(triangles=3000) is data  # cached: generating is pure
    assert glb.glb_triangles(data) == glb.vase_mesh(3000).triangle_count
    with pytest.raises(ValueError):
        glb.read_glb(b"glTF" + bytes(30))
    # past 65535 vertices the indices need 32 bits
    dense = glb.shape_glb(triangles=150_000)
    doc, _ = glb.read_glb(dense)
    assert doc["accessors"][0]["count"] > 65535
    assert doc["accessors"][doc["meshes"][0]["primitives"][0]["indices"]]["componentType"] == 5125


def test_large_glb_is_made_quickly():
    started = time.monotonic()
    glb.textured_glb(triangles=100_000, texture_size=2048, base_color_png=png_bytes(8, 8))
    assert time.monotonic() - started < 5


def test_obj_text_is_the_same_object():
    text = glb.obj_text()
    v = [line for line in text.splitlines() if line.startswith("v ")]
    f = [line for line in text.splitlines() if line.startswith("f ")]
    mesh = glb.vase_mesh(200)
    assert len(v) == mesh.vertex_count and len(f) == mesh.triangle_count
    heights = [float(line.split()[2]) for line in v]
    assert min(heights) == 0 and max(heights) == pytest.approx(0.42, abs=1e-4)


def test_model_inputs_match_the_shared_table():
    assert [i["name"] for i in INPUTS] == PARAMS
