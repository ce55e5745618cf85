"""CORS: browser pages on allowed origins get licenses; other origins are refused and counted."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from drmkit.license_server.config import LicenseServerSettings
from drmkit.license_server.keyids import b64url_encode
from pydantic import ValidationError

from .conftest import KID_A, ServeFactory

PLAYER = "https://player.example"
OTHER = "https://evil.example"
REQUEST = json.dumps({"kids": [b64url_encode(KID_A)], "type": "temporary"})


def _preflight(client: httpx.Client, origin: str) -> httpx.Response:
    return client.options(
        "/clearkey/license",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def _refused_count(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("drmkit_license_cors_refused_total "):
            return float(line.split()[1])
    raise AssertionError("no drmkit_license_cors_refused_total metric")


def test_an_allowed_origin_gets_preflight_and_license_headers(serve: ServeFactory) -> None:
    with serve(cors_origins=[PLAYER], token="s3cret") as client:
        preflight = _preflight(client, PLAYER)  # no token: a preflight never carries one
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == PLAYER
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        assert "POST" in preflight.headers["access-control-allow-methods"]
        response = client.post(
            "/clearkey/license",
            content=REQUEST,
            headers={
                "Origin": PLAYER,
                "Authorization": "Bearer s3cret",
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == PLAYER
        assert response.json()["keys"][0]["kid"] == b64url_encode(KID_A)
        # CORS does not replace authentication.
        unauthorized = client.post("/clearkey/license", content=REQUEST, headers={"Origin": PLAYER})
        assert unauthorized.status_code == 401


def test_an_origin_not_allowed_is_refused_counted_and_logged(
    serve: ServeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(cors_origins=[PLAYER]) as client:
        assert _refused_count(client) == 0
        with caplog.at_level(logging.WARNING, logger="drmkit.license_server.cors"):
            preflight = _preflight(client, OTHER)
            post = client.post("/clearkey/license", content=REQUEST, headers={"Origin": OTHER})
        for response in (preflight, post):
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "cors_origin_refused"
            assert OTHER in response.json()["error"]["message"]
            assert "access-control-allow-origin" not in response.headers
        assert _refused_count(client) == 2
        refused = [r for r in caplog.records if r.getMessage() == "cross-origin request refused"]
        assert [getattr(r, "origin", None) for r in refused] == [OTHER, OTHER]


def test_no_origin_is_allowed_by_default_and_requests_without_origin_are_untouched(
    serve: ServeFactory,
) -> None:
    with serve() as client:
        assert client.post("/clearkey/license", content=REQUEST).status_code == 200
        refused = client.post("/clearkey/license", content=REQUEST, headers={"Origin": PLAYER})
        assert refused.status_code == 403
        assert _preflight(client, PLAYER).status_code == 403


def test_a_star_allows_any_origin(serve: ServeFactory) -> None:
    with serve(cors_origins=["*"]) as client:
        response = client.post("/clearkey/license", content=REQUEST, headers={"Origin": OTHER})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert _preflight(client, OTHER).status_code == 200


@pytest.mark.parametrize(
    "origin", ["player.example", "https://player.example/", "https://player.example/app", "", "*.x"]
)
def test_a_malformed_origin_is_a_configuration_error(origin: str) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        LicenseServerSettings(cors_origins=[origin])
