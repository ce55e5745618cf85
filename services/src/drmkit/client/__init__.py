"""The MKS API over IPC: talk to an application's session server (``drmkit serve``).

Async first::

    async with await MediaKeysClient.connect(socket_path) as client:
        media_keys = await client.create_media_keys("org.w3.clearkey")
        session = await media_keys.create_session()
        events = session.events()
        await session.generate_request("keyids", init_data)
        request = await events.next(timeout=5)

and the same, blocking, with :class:`SyncMediaKeysClient`. Errors are the core's exception classes
(``BadSessionIdError``, ``InvalidStateError``...), plus :class:`ServerUnavailableError` when the
server is gone. These classes implement the MKS API contract of :mod:`drmkit.core.api` (the
protocols ``MediaKeysFactoryApi``, ``MediaKeysApi``, ``KeySessionApi``), as the in-process core
does; mypy checks it below.
"""

from typing import TYPE_CHECKING

from drmkit.client.client import DEFAULT_CALL_TIMEOUT_S, ControlClient, MediaKeysClient
from drmkit.client.errors import ProtocolError, ServerUnavailableError
from drmkit.client.media_keys import RemoteMediaKeys
from drmkit.client.session import RemoteKeySession
from drmkit.client.sync import SyncKeySession, SyncMediaKeys, SyncMediaKeysClient

__all__ = [
    "DEFAULT_CALL_TIMEOUT_S",
    "ControlClient",
    "MediaKeysClient",
    "ProtocolError",
    "RemoteKeySession",
    "RemoteMediaKeys",
    "ServerUnavailableError",
    "SyncKeySession",
    "SyncMediaKeys",
    "SyncMediaKeysClient",
]


if TYPE_CHECKING:
    from drmkit.core.api import KeySessionApi, MediaKeysApi, MediaKeysFactoryApi

    def _implements_the_mks_api(
        client: MediaKeysClient, media_keys: RemoteMediaKeys, session: RemoteKeySession
    ) -> tuple[MediaKeysFactoryApi, MediaKeysApi, KeySessionApi]:
        """Never called: mypy fails here if the client drifts from :mod:`drmkit.core.api`."""
        return client, media_keys, session
