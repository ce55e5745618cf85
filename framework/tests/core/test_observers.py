"""The metrics and logging observers see every routed call through one shared wrapper."""

from __future__ import annotations

import base64
import logging
import os

import pytest
from drmkit.core import MediaKeys
from drmkit.errors import InvalidLicenseError


async def test_one_wrapper_feeds_metrics_and_logging(
    media_keys: MediaKeys, caplog: pytest.LogCaptureFixture
) -> None:
    plugins = media_keys._factory._plugins
    wrappers = [i for i in media_keys._route.hook_caller("drm_update_session").get_hookimpls()
                if i.wrapper]  # fmt: skip
    assert len(wrappers) == 1
    registry = plugins.registry

    def failed_updates() -> float:
        value = registry.get_sample_value(
            "drmkit_operations_total",
            {"key_system": media_keys.key_system, "operation": "update_session",
             "outcome": "fail"},
        )  # fmt: skip
        return value or 0.0

    before = failed_updates()
    session = await media_keys.create_session()
    kid = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=")
    await session.generate_request("keyids", b'{"kids":["' + kid + b'"]}')
    with (
        caplog.at_level(logging.INFO, logger="drmkit.operations"),
        pytest.raises(InvalidLicenseError),
    ):
        await session.update(b"not a license")
    assert failed_updates() == before + 1
    messages = [r.getMessage() for r in caplog.records if r.name == "drmkit.operations"]
    assert any("update_session -> fail" in m for m in messages)
