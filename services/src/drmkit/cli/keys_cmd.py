"""``drmkit keys``: manage the license server's key store (add, list, remove, generate)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from drmkit.cli import app, stdout_console
from drmkit.cli.common import fail, load_settings, open_container

if TYPE_CHECKING:
    from drmkit.license_server import KeyStore

# The license server package (FastAPI) is imported inside the commands: keep start-up lean.

keys_app = typer.Typer(
    name="keys",
    help=(
        "Manage the license server's key store. Key ids and keys are 16 bytes, written as hex "
        "(UUID dashes allowed) or base64url; put '--' before a base64url value starting with '-'."
    ),
    no_args_is_help=True,
)
app.add_typer(keys_app)


def _store() -> KeyStore:
    from drmkit.license_server import KeyStoreError

    try:
        return open_container(load_settings()).license_key_store()
    except KeyStoreError as exc:
        fail(str(exc))


def _parse(text: str, what: str) -> bytes:
    from drmkit.license_server.keyids import parse_key_bytes

    try:
        return parse_key_bytes(text, what=what)
    except ValueError as exc:
        fail(str(exc))


@keys_app.command("add")
def add(
    kid: Annotated[str, typer.Argument(help="Key id: 32 hex digits (UUID form ok) or base64url.")],
    key: Annotated[str, typer.Argument(help="Content key: 32 hex digits or base64url.")],
    label: Annotated[str, typer.Option(help="Free-form note stored with the key.")] = "",
    replace: Annotated[bool, typer.Option(help="Overwrite a key already stored.")] = False,
) -> None:
    """Store a content key under its key id."""
    from drmkit.license_server import KeyExistsError, KeyStoreError

    kid_bytes, key_bytes = _parse(kid, "key id"), _parse(key, "key")
    store = _store()
    try:
        store.add(kid_bytes, key_bytes, label=label, replace=replace)
    except KeyExistsError as exc:
        fail(f"{exc} (use --replace to overwrite)", code=1)
    except KeyStoreError as exc:
        fail(str(exc))
    stdout_console().print(f"stored key id {kid_bytes.hex()} in {store.path}", highlight=False)


@keys_app.command("generate")
def generate(
    label: Annotated[str, typer.Option(help="Free-form note stored with the key.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a random key id and key, store them, and print them."""
    from drmkit.license_server import KeyStoreError

    kid_bytes, key_bytes = os.urandom(16), os.urandom(16)
    store = _store()
    try:
        store.add(kid_bytes, key_bytes, label=label)
    except KeyStoreError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(_entry(kid_bytes, key_bytes, label)))
    else:
        stdout_console().print(f"kid {kid_bytes.hex()}\nkey {key_bytes.hex()}", highlight=False)


@keys_app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, keys included.")] = False,
) -> None:
    """List stored key ids (the table hides keys; --json includes them for scripts)."""
    from drmkit.license_server import KeyStoreError
    from drmkit.license_server.keyids import b64url_encode
    from rich.table import Table

    try:
        entries = _store().entries()
    except KeyStoreError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(
            json.dumps(
                [_entry(e.kid, e.key, e.label, created_at=e.created_at) for e in entries],
                indent=2,
            )
        )
        return
    table = Table(title=f"{len(entries)} key(s)")
    table.add_column("key id (hex)", style="cyan", no_wrap=True)
    table.add_column("key id (base64url)", no_wrap=True)
    table.add_column("label")
    table.add_column("added (UTC)")
    for e in entries:
        added = datetime.fromtimestamp(e.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(e.kid.hex(), b64url_encode(e.kid), e.label, added)
    stdout_console().print(table)


@keys_app.command("remove")
def remove(
    kid: Annotated[str, typer.Argument(help="Key id: 32 hex digits or base64url.")],
) -> None:
    """Delete the key of a key id (exit code 1 if there is none)."""
    from drmkit.license_server import KeyStoreError

    kid_bytes = _parse(kid, "key id")
    try:
        removed = _store().remove(kid_bytes)
    except KeyStoreError as exc:
        fail(str(exc))
    if not removed:
        fail(f"no key is stored for key id {kid_bytes.hex()}", code=1)
    stdout_console().print(f"removed key id {kid_bytes.hex()}", highlight=False)


def _entry(
    kid: bytes, key: bytes, label: str, *, created_at: float | None = None
) -> dict[str, object]:
    from drmkit.license_server.keyids import b64url_encode

    entry: dict[str, object] = {
        "kid": kid.hex(),
        "kid_b64url": b64url_encode(kid),
        "key": key.hex(),
        "key_b64url": b64url_encode(key),
        "label": label,
    }
    if created_at is not None:
        entry["created_at"] = datetime.fromtimestamp(created_at, UTC).isoformat()
    return entry
