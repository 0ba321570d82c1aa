"""The assembled app: the API it publishes is the one recorded before the app was split into parts, every answer
carries the security headers, and the queue closes with the app."""

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from ..conftest import require_module
from .conftest import FakeTranslator

require_module("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from cocosnet.app import AppSettings, BackgroundServer, create_app  # noqa: E402
from cocosnet.app.server import SECURITY_HEADERS  # noqa: E402

RECORDED = json.loads((Path(__file__).parent / "api_3151efe.json").read_text())


def summarise(spec: dict) -> dict:
    """What a client relies on in an OpenAPI schema: operations, parameters, bodies, statuses, fields."""
    paths = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            paths[f"{method.upper()} {path}"] = {
                "operation": op["operationId"],
                "parameters": [[p["name"], p["in"], p["schema"].get("pattern")] for p in op.get("parameters", [])],
                "body": body.get("$ref", "").rsplit("/", 1)[-1] or None,
                "responses": sorted(op["responses"]),
            }
    schemas = {name: {"required": s.get("required", []),
                      "fields": {f: [p.get("description"), p.get("default")] for f, p in s["properties"].items()}}
               for name, s in spec["components"]["schemas"].items()}
    return {"paths": paths, "schemas": schemas}


# opt-in fields added since the recording, each with a default that keeps the recorded answers: the inspector's
ADDED_FIELDS = {"TranslateRequest": {"inspect": False},
                "TranslateResponse": {"confidence": None, "flow": None, "flow_scale": None, "missing_classes": None}}


def test_the_api_is_the_recorded_one(fake_translator):
    spec = create_app(fake_translator).openapi()
    summary = summarise(spec)
    for schema, added in ADDED_FIELDS.items():
        fields = summary["schemas"][schema]["fields"]
        assert {name: fields.pop(name)[1] for name in added} == added
        assert not set(added) & set(summary["schemas"][schema]["required"])
    # routes added since (e.g. /api/translate_multi) leave the recorded ones as they were
    for part in ("paths", "schemas"):
        assert {k: summary[part].get(k) for k in RECORDED[part]} == RECORDED[part]
    assert spec["info"]["title"] == "cocosnet" and "base64 strings inside JSON" in spec["info"]["description"]


def test_every_answer_carries_the_security_headers(fake_translator):
    with TestClient(create_app(fake_translator, settings=AppSettings(max_upload_bytes=100))) as c:
        answers = [c.get("/"), c.get("/static/app.js"), c.get("/api/health"), c.get("/api/gallery/x/image.png"),
                   c.post("/api/label", content=b"x" * 100_000, headers={"Content-Type": "application/json"})]
        assert [a.status_code for a in answers] == [200, 200, 200, 404, 413]
        for answer in answers:
            assert {k: answer.headers[k] for k in SECURITY_HEADERS} == SECURITY_HEADERS
        assert c.get("/docs").status_code == 404 and c.get("/redoc").status_code == 404  # they need a CDN


def test_the_queue_closes_with_the_app(tiny_cfg):
    translator = FakeTranslator(tiny_cfg)
    app = create_app(translator)
    with TestClient(app):
        pass
    with pytest.raises(RuntimeError):
        asyncio.run(app.state.cocosnet.queue.run(lambda: None))


def test_background_server_serves_until_the_block_ends(fake_translator):
    with BackgroundServer(create_app(fake_translator)) as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/api/health", timeout=30).json()["status"] == "ok"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/health", timeout=5)
