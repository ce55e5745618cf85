"""``drmkit plugins``: list installed key-system plugins, whether enabled, and their key systems."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from drmkit.cli import app, stderr_console, stdout_console
from drmkit.cli.common import EXIT_FAILURE, load_settings, open_container

if TYPE_CHECKING:
    from drmkit.container import Container
    from drmkit.keysystems.manager import InstalledPlugin
    from drmkit.sdk.model import KeySystemCapabilities, KeySystemInfo
    from drmkit_hal import LibraryProfile


def loaded_profile(container: Container) -> tuple[LibraryProfile | None, str | None]:
    """Return the profile of the configured OCDM library (or why it cannot be known)."""
    from drmkit_hal import HalError

    try:
        return container.cdm_library_profile(), None
    except HalError as exc:
        return None, str(exc)


def on_cdm(
    info: KeySystemInfo, profile: LibraryProfile | None, plugin: object = None
) -> KeySystemCapabilities:
    """Return the capabilities of ``info``'s key system on the loaded CDM (declared if unknown).

    The plugin's own ``drm_cdm_capabilities`` decides when it has one (as in the core).
    """
    if profile is None:
        return info.capabilities
    from drmkit.sdk.model import adapt_capabilities

    cdm = profile.cdm(info.key_system)
    hook = getattr(plugin, "drm_cdm_capabilities", None)
    if callable(hook):
        adapted = hook(key_system=info.key_system, capabilities=info.capabilities, profile=cdm)
        if adapted is not None:
            return adapted  # type: ignore[no-any-return]
    return adapt_capabilities(info.capabilities, cdm)


def plugin_objects(rows: list[InstalledPlugin]) -> dict[str, object]:
    """Return the imported plugin object of every row that imports."""
    from drmkit.errors import PluginLoadError
    from drmkit.keysystems.loader import installed_entry_points

    entry_points = installed_entry_points()
    objects: dict[str, object] = {}
    for row in rows:
        entry_point = entry_points.get(row.name)
        if entry_point is None or row.error:
            continue
        try:
            objects[row.name] = entry_point.load()
        except PluginLoadError:
            continue
    return objects


def plugin_rows(
    rows: list[InstalledPlugin],
    profile: LibraryProfile | None = None,
    plugins: dict[str, object] | None = None,
) -> list[dict[str, Any]]:
    """Return the JSON form of the plugin listing (capabilities on the loaded CDM)."""
    plugins = plugins or {}
    return [
        {
            "name": row.name,
            "distribution": row.distribution,
            "version": row.version,
            "entry_point": row.value,
            "enabled": row.enabled,
            "blocked": row.blocked,
            "error": row.error,
            "key_systems": [
                {
                    "key_system": info.key_system,
                    "description": info.description,
                    "system_ids": [sid.hex() for sid in info.system_ids],
                    "cdm": profile.cdm(info.key_system).name if profile else None,
                    "capabilities": on_cdm(info, profile, plugins.get(row.name)).as_dict(),
                    "declared_capabilities": info.capabilities.as_dict(),
                }
                for info in row.key_systems
            ],
        }
        for row in rows
    ]


@app.command("plugins")
def plugins_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List installed key-system plugins, whether they are enabled, and what they serve.

    Exit code 1 when the configured plugins cannot start (the error is part of the listing).
    """
    settings = load_settings()
    container = open_container(settings)
    rows, error = container.installed_plugins()
    profile, hal_error = loaded_profile(container)
    plugins = plugin_objects(rows)
    if as_json:
        hal = {
            "library": str(settings.hal.library_path or "bundled reference CDM"),
            "profile": profile.name if profile else None,
            "error": hal_error,
        }
        typer.echo(
            json.dumps(
                {"plugins": plugin_rows(rows, profile, plugins), "hal": hal, "error": error},
                indent=2,
            )
        )
    else:
        from rich.table import Table

        table = Table(title="drmkit key-system plugins")
        # Fold rather than truncate: a narrow terminal must still show every name in full.
        for column in ("plugin", "distribution", "enabled", "key systems", "capabilities"):
            table.add_column(column, overflow="fold")
        for row in rows:
            state = "blocked" if row.blocked else ("yes" if row.enabled else "no")
            systems = "\n".join(info.key_system for info in row.key_systems) or (
                f"error: {row.error}" if row.error else "-"
            )
            capabilities = "\n".join(
                "init data: {init}; sessions: {sessions}; schemes: {schemes}".format(
                    init=",".join(sorted(caps.init_data_types)),
                    sessions=",".join(sorted(t.name.lower() for t in caps.session_types)),
                    schemes=",".join(sorted(str(s) for s in caps.encryption_schemes)),
                )
                for caps in (
                    on_cdm(info, profile, plugins.get(row.name)) for info in row.key_systems
                )
            )
            table.add_row(
                row.name, f"{row.distribution} {row.version}", state, systems, capabilities or "-"
            )
        stdout_console().print(table)
        if profile is not None:
            stdout_console().print(f"capabilities on the loaded CDM (profile {profile.name})")
        else:
            stderr_console().print(f"[yellow]OCDM library not loaded:[/yellow] {hal_error}")
        if error:
            stderr_console().print(f"[red]start-up error:[/red] {error}")
    if error:
        raise typer.Exit(code=EXIT_FAILURE)
