"""The blocking facade drives a whole Clear Key session from synchronous code."""

from __future__ import annotations

from typing import Any

import pytest
from drmkit.core import KeyStatus, KeyStatusesChanged, LicenseRequest, NotSupportedError
from drmkit.core.sync import SyncRunner, blocking
from drmkit.testing.flows import new_keys


def test_blocking_session_cycle(drmkit_plugin_manager: Any, drmkit_core_factory: Any) -> None:
    helper = drmkit_plugin_manager.license_helper("org.w3.clearkey")
    keys = new_keys()
    with SyncRunner() as runner:
        factory = blocking(drmkit_core_factory, runner)
        with pytest.raises(NotSupportedError):
            factory.create_media_keys("com.example.none")
        media_keys = factory.create_media_keys("org.w3.clearkey")
        session = media_keys.create_session()
        events = session.events()
        init_type, init_data = helper.init_data(list(keys))[0]
        session.generate_request(init_type, init_data)
        request = events.next(5)
        assert isinstance(request, LicenseRequest)
        session.update(helper.build_license(request.message, keys))
        statuses = events.next(5)
        assert isinstance(statuses, KeyStatusesChanged)
        assert session.key_statuses == {next(iter(keys)): KeyStatus.USABLE}
        assert session.contains_key(next(iter(keys)))
        session.close()
        session.release()
        media_keys.destroy()
