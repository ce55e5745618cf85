"""Every hook is documented pytest-style in hookspecs.py and listed in docs/plugin-guide.md.

The guide's table and docs/hooks.md are generated from the docstrings
(``scripts/hook_reference.py``; ``framework/tests/test_hook_reference.py`` fails when stale).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from drmkit import hookspecs
from drmkit.keysystems.routing import DECLARATION_HOOKS, hook_names, is_firstresult

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "plugin-guide.md"
HOOKS = hook_names()


def test_hooks_exist() -> None:
    assert len(HOOKS) >= 29
    expected = {
        "drm_create_session",
        "drm_generate_request",
        "drm_update_session",
        "drm_close_session",
        "drm_remove_session",
        "drm_load_session",
        "drm_contains_key",
        "drm_select_key_id",
        "drm_set_drm_header",
        "drm_get_last_drm_error",
        "drm_get_cdm_key_session_id",
        "drm_release_session",
        "drm_decrypt",
        "drm_key_systems",
        "drm_describe_init_data",
        "drm_get_drm_time",
        "drm_get_ldl_session_limit",
        "drm_get_metric_system_data",
        "drm_get_drm_store_hash",
        "drm_get_key_store_hash",
        "drm_delete_drm_store",
        "drm_delete_key_store",
        "drm_set_server_certificate",
        "drm_get_version",
        "drm_is_supported",
    }
    assert expected <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hookspec_is_documented(name: str) -> None:
    spec = getattr(hookspecs, name)
    doc = inspect.getdoc(spec) or ""
    assert doc, f"{name} has no docstring"
    for argument in inspect.signature(spec).parameters:
        assert f":param {argument}:" in doc, f"{name}: argument {argument} is undocumented"
    assert "Called" in doc, f"{name}: the docstring does not say when it is called"
    if is_firstresult(name):
        assert "firstresult" in doc, f"{name}: firstresult is not stated"
    routing = "Broadcast" if name in DECLARATION_HOOKS else "Routed"
    assert routing in doc, f"{name}: the docstring does not say it is {routing.lower()}"
    returns = inspect.signature(spec).return_annotation
    if returns not in ("None", None):
        assert ":return:" in doc, f"{name}: the return value is undocumented"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_in_plugin_guide(name: str) -> None:
    arguments = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    row = f"| [`{name}({arguments})`](hooks.md#{name})"
    assert row in GUIDE.read_text(), f"docs/plugin-guide.md lacks the row {row}"


def test_plugin_guide_lists_no_unknown_hook() -> None:
    listed = set(re.findall(r"^\| \[`(drm_\w+)\(", GUIDE.read_text(), re.MULTILINE))
    assert listed == set(HOOKS)
