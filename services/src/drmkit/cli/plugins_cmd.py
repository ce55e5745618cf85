"""``drmkit plugins``: list installed key-system plugins, whether enabled, and their key systems."""

from __future__ import annotations

import json
import textwrap
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
            "disabled_reason": row.disabled_reason,
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


WIDTH = 78
"""Longest line of the text listing (it must fit an 80-column terminal)."""


def _state(row: InstalledPlugin) -> str:
    if row.error and not row.key_systems:
        return "error"
    if row.enabled:
        return "enabled"
    return f"disabled ({row.disabled_reason or 'not loaded'})"


def listing_lines(
    rows: list[InstalledPlugin],
    profile: LibraryProfile | None = None,
    plugins: dict[str, object] | None = None,
) -> list[str]:
    """Return the text listing: one block per plugin, narrow enough for an 80-column terminal.

    Each plugin has a header line (name, state, distribution) and one indented block per key
    system with its capabilities on the loaded CDM, one kind per line; long value lists wrap
    under themselves rather than spanning table cells.
    """
    plugins = plugins or {}
    lines: list[str] = []
    for row in rows:
        header = f"{row.name}  {_state(row)}"
        source = f"[{row.distribution} {row.version}]".replace(" ]", "]")
        if len(header) + 2 + len(source) <= WIDTH:
            lines.append(f"{header}  {source}")
        else:
            lines.extend((header, f"  {source}"))
        if row.error:
            lines.extend(
                textwrap.wrap(
                    f"error: {row.error}", WIDTH, initial_indent="  ", subsequent_indent="    "
                )
            )
        for info in row.key_systems:
            caps = on_cdm(info, profile, plugins.get(row.name))
            lines.append(f"  {info.key_system}")
            for label, values in (
                ("init data", sorted(caps.init_data_types)),
                ("sessions", sorted(t.name.lower() for t in caps.session_types)),
                ("schemes", sorted(str(s) for s in caps.encryption_schemes)),
            ):
                lines.extend(
                    textwrap.wrap(
                        f"{label + ':':<11}{', '.join(values) or '-'}",
                        WIDTH,
                        initial_indent="    ",
                        subsequent_indent=" " * 15,
                    )
                )
    return lines


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
        stdout_console().print(
            "\n".join(listing_lines(rows, profile, plugins)),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        if profile is not None:
            stdout_console().print(f"capabilities on the loaded CDM (profile {profile.name})")
        else:
            stderr_console().print(f"[yellow]OCDM library not loaded:[/yellow] {hal_error}")
        if error:
            stderr_console().print(f"[red]start-up error:[/red] {error}")
    if error:
        raise typer.Exit(code=EXIT_FAILURE)
