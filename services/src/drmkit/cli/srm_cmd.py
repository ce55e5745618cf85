"""``drmkit srm``: run the session resource manager and manage its accounts and tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from drmkit.cli import app, stdout_console
from drmkit.cli.common import EXIT_FAILURE, fail, load_settings, open_container, with_section

if TYPE_CHECKING:
    from drmkit.settings import Settings

T = TypeVar("T")

srm_app = typer.Typer(
    help="Session resource manager: per-account limits on concurrent streams.",
    no_args_is_help=True,
)
tokens_app = typer.Typer(help="Client tokens of the token table.", no_args_is_help=True)
accounts_app = typer.Typer(help="Per-account stream limits.", no_args_is_help=True)
srm_app.add_typer(tokens_app, name="tokens")
srm_app.add_typer(accounts_app, name="accounts")
app.add_typer(srm_app, name="srm")

StoreUrl = Annotated[
    str | None, typer.Option("--store-url", help="Session store URL [default: srm.store_url].")
]


def _settings(**srm_overrides: Any) -> Settings:
    """Load settings, applying the command's ``srm`` options; config errors exit with code 2."""
    return with_section(load_settings(), "srm", **srm_overrides)


def _with_store(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the configured store, run ``work(store)``, close it; store errors exit with code 1."""
    from drmkit.srm.errors import StoreUnavailableError

    async def run() -> T:
        store = open_container(settings).srm_store()
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except (StoreUnavailableError, ValueError) as exc:
        fail(str(exc), code=EXIT_FAILURE)


@srm_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address [default: srm.host].")] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="TCP port [default: srm.port].")
    ] = None,
    store_url: StoreUrl = None,
) -> None:
    """Serve the SRM HTTP API (``/srm/sessions``, ``/srm/v1/sessions``, operator API, OpenAPI)."""
    import uvicorn
    from drmkit.logging import configure, get_logger

    settings = _settings(host=host, port=port, store_url=store_url)
    configure(settings)
    try:
        application = open_container(settings).srm_app()
    except ValueError as exc:
        fail(str(exc))
    srm = settings.srm
    get_logger(__name__).info(
        "srm serving",
        host=srm.host,
        port=srm.port,
        store=(srm.store_url or "sqlite (state_dir)").split("@")[-1],  # no credentials in logs
        timeout_s=srm.session_timeout_s,
        default_limit=srm.default_limit,
        token_verifier=srm.token_verifier,
        operator_api=srm.operator_token is not None,
    )
    uvicorn.run(
        application,
        host=srm.host,
        port=srm.port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )


@srm_app.command("openapi")
def openapi() -> None:
    """Print the SRM's OpenAPI document (JSON)."""
    settings = _settings()
    application = open_container(settings).srm_app()
    typer.echo(json.dumps(application.openapi(), indent=2))


@tokens_app.command("add")
def tokens_add(
    account: Annotated[str, typer.Argument(help="Account the token belongs to.")],
    device: Annotated[str, typer.Argument(help="Device the token belongs to.")],
    store_url: StoreUrl = None,
) -> None:
    """Create a random client token for ACCOUNT and DEVICE; print it (only its hash is stored)."""
    from drmkit.srm.auth import TokenTableVerifier
    from drmkit.srm.stores.base import Identity

    if not account or not device:
        fail("ACCOUNT and DEVICE must not be empty")
    settings = _settings(store_url=store_url)
    token = _with_store(
        settings, lambda store: TokenTableVerifier(store).issue(Identity(account, device))
    )
    typer.echo(token)


@tokens_app.command("revoke")
def tokens_revoke(
    token: Annotated[str, typer.Argument(help="The token to revoke.")],
    store_url: StoreUrl = None,
) -> None:
    """Revoke a client token."""
    from drmkit.srm.auth import hash_token

    settings = _settings(store_url=store_url)
    if not _with_store(settings, lambda store: store.revoke_token(hash_token(token))):
        fail("no such token", code=EXIT_FAILURE)


@accounts_app.command("set")
def accounts_set(
    account: Annotated[str, typer.Argument(help="Account id.")],
    limit: Annotated[
        int | None, typer.Option(min=0, help="Concurrent streams allowed (0 = unlimited).")
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Use the configured default limit again.")
    ] = False,
    store_url: StoreUrl = None,
) -> None:
    """Set ACCOUNT's stream limit (``--limit N``) or return it to the default (``--default``)."""
    if (limit is None) == (not default):
        fail("give exactly one of --limit N or --default")
    settings = _settings(store_url=store_url)
    _with_store(settings, lambda store: store.set_account_limit(account, limit))


@accounts_app.command("show")
def accounts_show(
    account: Annotated[str, typer.Argument(help="Account id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    store_url: StoreUrl = None,
) -> None:
    """Show ACCOUNT's limit and live sessions."""
    settings = _settings(store_url=store_url)

    async def load(store: Any) -> tuple[int | None, list[Any]]:
        return await store.get_account_limit(account), await store.list_sessions(account)

    own, sessions = _with_store(settings, load)
    limit = settings.srm.default_limit if own is None else own
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "account": account,
                    "limit": limit,
                    "ownLimit": own is not None,
                    "sessions": [
                        {
                            "sessionId": str(s.session_id),
                            "device": s.device,
                            "contentID": s.content_id,
                            "contentType": s.content_type,
                            "created": s.created_at.isoformat(),
                            "lastKeepAlive": s.last_keepalive.isoformat(),
                            "expires": s.expires_at.isoformat(),
                        }
                        for s in sessions
                    ],
                }
            )
        )
        return
    from rich.table import Table

    source = "own" if own is not None else "default"
    shown = "unlimited" if limit == 0 else str(limit)
    table = Table(title=f"{account}: limit {shown} ({source}), {len(sessions)} live")
    for column in ("session", "device", "content", "created", "last keep-alive", "expires"):
        table.add_column(column)
    for s in sessions:
        table.add_row(
            str(s.session_id),
            s.device,
            f"{s.content_id} ({s.content_type})",
            s.created_at.isoformat(timespec="seconds"),
            s.last_keepalive.isoformat(timespec="seconds"),
            s.expires_at.isoformat(timespec="seconds"),
        )
    stdout_console().print(table)
