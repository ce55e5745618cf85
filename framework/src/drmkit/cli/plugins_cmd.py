"""``drmkit plugins``: list installed key-system plugins, whether enabled, and their key systems."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drmkit.cli import app, stderr_console, stdout_console

if TYPE_CHECKING:
    from drmkit.plugins.model import InstalledPlugin


def plugin_rows(rows: list[InstalledPlugin]) -> list[dict[str, Any]]:
    """Return the JSON form of the plugin listing."""
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
                    "capabilities": info.capabilities.as_dict(),
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
    """List installed key-system plugins, whether they are enabled, and what they serve."""
    from drmkit.plugins.manager import describe_installed
    from drmkit.settings import load_settings

    settings = load_settings()
    rows, error = describe_installed(settings.plugins)
    if as_json:
        typer.echo(json.dumps({"plugins": plugin_rows(rows), "error": error}, indent=2))
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
                    init=",".join(sorted(info.capabilities.init_data_types)),
                    sessions=",".join(
                        sorted(t.name.lower() for t in info.capabilities.session_types)
                    ),
                    schemes=",".join(sorted(str(s) for s in info.capabilities.encryption_schemes)),
                )
                for info in row.key_systems
            )
            table.add_row(
                row.name, f"{row.distribution} {row.version}", state, systems, capabilities or "-"
            )
        stdout_console().print(table)
        if error:
            stderr_console().print(f"[red]start-up error:[/red] {error}")
    if error:
        raise typer.Exit(code=1)
