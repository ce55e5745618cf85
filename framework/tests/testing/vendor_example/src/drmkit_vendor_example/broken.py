"""The same plugin with every session and system operation failing: the kit must fail it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from drmkit.sdk import FailError

from drmkit_vendor_example.plugin import VendorClearKeyPlugin

# What the plugin needs to be loaded and to create a MediaKeys; every other operation fails.
KEPT = {
    "drm_key_systems",
    "drm_license_helper",
    "drm_cdm_capabilities",
    "drm_is_supported",
    "drm_create_system",
    "drm_destroy_system",
}


def _failing(hook: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(hook)
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise FailError(f"{hook.__name__} is broken")

    return fail


class BrokenPlugin(VendorClearKeyPlugin):
    """Every other ``drm_*`` hook raises ``FailError``."""


for _name in dir(VendorClearKeyPlugin):
    if _name.startswith("drm_") and _name not in KEPT:
        setattr(BrokenPlugin, _name, _failing(getattr(VendorClearKeyPlugin, _name)))

plugin = BrokenPlugin()
