"""The SRM's own plugin manager: hookspecs, the built-in default and entry-point plugins."""

from __future__ import annotations

import pluggy
from drmkit.srm.hookspecs import PROJECT_NAME, SrmHookspecs, hookimpl

#: Entry-point group scanned for operator plugins.
ENTRY_POINT_GROUP = "drmkit.srm"


class AllowAllContent:
    """Built-in default: every account may play every content (abstains from nothing)."""

    @hookimpl
    def srm_check_content_access(
        self, account: str, device: str, content_id: str, content_type: str
    ) -> bool | None:
        """Allow."""
        return True


def make_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """Return a plugin manager with the SRM hookspecs, the default plugin and installed plugins."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(SrmHookspecs)
    pm.register(AllowAllContent(), name="allow-all-content")
    if load_entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm


def content_access_allowed(
    pm: pluggy.PluginManager, account: str, device: str, content_id: str, content_type: str
) -> bool:
    """Run the content-access hook: allowed unless some implementation says ``False``."""
    results = pm.hook.srm_check_content_access(
        account=account, device=device, content_id=content_id, content_type=content_type
    )
    return all(result is not False for result in results)


def only_default_content_access(pm: pluggy.PluginManager) -> bool:
    """Tell whether the built-in allow-all is the only content-access implementation."""
    impls = pm.hook.srm_check_content_access.get_hookimpls()
    return all(isinstance(impl.plugin, AllowAllContent) for impl in impls)
