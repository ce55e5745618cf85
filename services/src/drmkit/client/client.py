"""``MediaKeysClient``: the MKS API of the core over IPC (async; see ``drmkit.client.sync``).

It plays the role of the core's ``MediaKeysFactory`` for one application's session server:
capability queries, MediaKeys creation, the app state, events routed to the session that owns
them, and the connection's shared memory for decrypt.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from drmkit.client.errors import ProtocolError, ServerUnavailableError
from drmkit.client.media_keys import RemoteMediaKeys
from drmkit.client.rpc import RpcClient
from drmkit.client.shm import ClientSharedMemory
from drmkit.errors import (
    BadSessionIdError,
    BufferTooSmallError,
    InvalidStateError,
    NotSupportedError,
)
from drmkit.events import KeyStatus, KeyStatusesChanged, LicenseRenewal, LicenseRequest
from drmkit.ipc.codec import capabilities_from_wire
from drmkit.ipc.shm import SharedRegion, SharedRegionError
from drmkit.sdk.model import KeySystemCapabilities

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
"""The protocol revision this client speaks (``hello`` tells the server's)."""

DEFAULT_CALL_TIMEOUT_S = 3.0
"""How long a call waits for its reply unless configured otherwise (Rialto: 3000 ms)."""


def _is_name(value: object) -> bool:
    # Callers of an untyped world pass anything; the in-process API answers False/None then.
    return isinstance(value, str)


class MediaKeysClient:
    """A connection to the session server of one application.

    Use ``client = await MediaKeysClient.connect(socket_path)`` (or ``async with``). Every
    MediaKeys and key session belongs to this connection: closing it releases them on the server.
    """

    def __init__(
        self,
        socket_path: str | Path,
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT_S,
        control_socket_path: str | Path | None = None,
        use_shared_memory: bool = True,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.control_socket_path = Path(control_socket_path) if control_socket_path else None
        self.call_timeout = call_timeout
        self.use_shared_memory = use_shared_memory
        self._rpc: RpcClient | None = None
        self._active = False
        self._key_systems: dict[str, dict[str, Any]] = {}
        self._media_keys: dict[int, RemoteMediaKeys] = {}
        self._memory: ClientSharedMemory | None = None
        self._memory_lock = asyncio.Lock()
        self._max_frame = 1024 * 1024
        self.connection_id = -1

    @classmethod
    async def connect(
        cls,
        socket_path: str | Path,
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT_S,
        control_socket_path: str | Path | None = None,
        use_shared_memory: bool = True,
    ) -> MediaKeysClient:
        """Return a connected client (``ServerUnavailableError`` if no server listens)."""
        client = cls(
            socket_path,
            call_timeout=call_timeout,
            control_socket_path=control_socket_path,
            use_shared_memory=use_shared_memory,
        )
        await client.reconnect()
        return client

    async def reconnect(self) -> None:
        """(Re)open the connection; objects of a previous connection stay dead."""
        if self._rpc is not None:
            await self._rpc.close()
        self._connection_lost()
        self._rpc = await RpcClient.connect(
            self.socket_path,
            timeout=self.call_timeout,
            on_notification=self._on_notification,
            on_close=self._connection_lost,
        )
        hello = await self._rpc.call("hello")
        if hello.get("protocol") != PROTOCOL_VERSION:
            await self._rpc.close()
            raise ProtocolError(
                f"the server speaks protocol {hello.get('protocol')!r}, this client"
                f" {PROTOCOL_VERSION}"
            )
        self.connection_id = int(hello["connection_id"])
        self._active = hello["state"] == "active"
        self._key_systems = dict(hello["key_systems"])
        self._max_frame = int(hello["max_frame_size"])

    @property
    def connected(self) -> bool:
        """``True`` while the connection is open."""
        return self._rpc is not None and not self._rpc.closed

    @property
    def active(self) -> bool:
        """``False`` while the application is Inactive (as last told by the server)."""
        return self._active

    @property
    def media_keys(self) -> list[RemoteMediaKeys]:
        """The live MediaKeys of this connection."""
        return list(self._media_keys.values())

    async def close(self) -> None:
        """Close the connection (the server releases everything it owned)."""
        if self._rpc is not None:
            await self._rpc.close()
        self._connection_lost()

    async def __aenter__(self) -> MediaKeysClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- capabilities (answered from what the server announced) ------------------------------

    def supported_key_systems(self) -> list[str]:
        """Return the supported key systems (empty while Inactive)."""
        return sorted(self._key_systems) if self._active else []

    def supports_key_system(self, key_system: str) -> bool:
        """Tell whether ``key_system`` is supported (``False`` for anything unknown)."""
        return self._active and isinstance(key_system, str) and key_system in self._key_systems

    def capabilities(self, key_system: str) -> KeySystemCapabilities:
        """Return the declared capabilities (``NotSupportedError`` if not supported)."""
        info = self._key_systems.get(key_system) if isinstance(key_system, str) else None
        if info is None:
            raise NotSupportedError(f"key system {key_system!r} is not supported by the server")
        return capabilities_from_wire(info["capabilities"])

    def supported_robustness_levels(self, key_system: str) -> list[str]:
        """Return the robustness levels of ``key_system`` (empty while Inactive or unknown)."""
        if not self.supports_key_system(key_system):
            return []
        return list(self._key_systems[key_system]["robustness_levels"])

    async def get_supported_key_system_version(self, key_system: str) -> str | None:
        """Return the CDM version of ``key_system`` (``None`` if unsupported or Inactive)."""
        if not _is_name(key_system):
            return None
        result = await self._call("get_supported_key_system_version", {"key_system": key_system})
        return None if result is None else str(result)

    async def is_server_certificate_supported(self, key_system: str) -> bool:
        """Tell whether the CDM of ``key_system`` accepts a server certificate."""
        if not _is_name(key_system):
            return False
        return bool(await self._call("is_server_certificate_supported", {"key_system": key_system}))

    # -- MediaKeys ---------------------------------------------------------------------------

    async def create_media_keys(self, key_system: str) -> RemoteMediaKeys:
        """Create a MediaKeys of ``key_system``.

        Raises ``NotSupportedError``, ``InvalidStateError`` while Inactive and
        ``LimitExceededError`` past the application's limit.
        """
        if not isinstance(key_system, str) or not key_system:
            raise NotSupportedError(f"invalid key system {key_system!r}")
        result = await self._call("create_media_keys", {"key_system": key_system})
        media_keys = RemoteMediaKeys(
            self,
            int(result["media_keys_handle"]),
            str(result["key_system"]),
            capabilities_from_wire(result["capabilities"]),
        )
        self._media_keys[media_keys.handle] = media_keys
        return media_keys

    def get_media_keys(self, handle: int) -> RemoteMediaKeys:
        """Return this connection's live MediaKeys ``handle`` (``BadSessionIdError`` if unknown)."""
        media_keys = self._media_keys.get(handle) if isinstance(handle, int) else None
        if media_keys is None:
            raise BadSessionIdError(f"no MediaKeys with handle {handle!r}")
        return media_keys

    async def destroy_all(self) -> None:
        """Destroy every MediaKeys of this connection."""
        if self.connected:
            await self._call("destroy_all_media_keys", {})
        for media_keys in list(self._media_keys.values()):
            media_keys._mark_destroyed()

    async def ping(self, timeout_s: float = 1.0) -> dict[str, Any]:
        """Ask the server to prove its loop and every worker respond (see ``docs``)."""
        return dict(await self._call("ping", {"timeout_s": timeout_s}))

    async def set_active(self, active: bool) -> None:
        """Switch the application's state through the control socket (server manager's job).

        Returns once this connection has seen the resulting ``app_state`` notification.
        """
        if self.control_socket_path is None:
            raise InvalidStateError("no control socket configured for this client")
        control = await ControlClient.connect(self.control_socket_path, timeout=self.call_timeout)
        try:
            await control.set_state("active" if active else "inactive")
        finally:
            await control.close()
        await self._call("get_state", {})  # the notification was sent before this reply

    @contextlib.asynccontextmanager
    async def sample_buffer(self, size: int) -> AsyncIterator[memoryview]:
        """Lend ``size`` bytes of the connection's shared memory for one sample.

        Write the encrypted sample into the yielded view and decrypt that view: the server
        decrypts it in place and nothing is copied. Raises ``BufferTooSmallError`` when the
        sample does not fit the region (use an ordinary buffer then).
        """
        memory = await self._shared_memory(size)
        if memory is None or size > memory.size:
            raise BufferTooSmallError(f"no shared memory for a {size}-byte sample")
        async with memory.allocate(size) as offset:
            view = memory.region.view(offset, size)
            try:
                yield view
            finally:
                view.release()

    # -- plumbing for RemoteMediaKeys / RemoteKeySession -------------------------------------

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        if self._rpc is None:
            raise ServerUnavailableError("not connected to a session server")
        return await self._rpc.call(method, params)

    def _notify(self, method: str, params: dict[str, Any]) -> None:
        if self._rpc is None:
            raise ServerUnavailableError("not connected to a session server")
        self._rpc.notify(method, params)

    async def _shared_memory(self, length: int) -> ClientSharedMemory | None:
        """Return the connection's shared memory, mapping it on first use (``None``: inline)."""
        if not self.use_shared_memory:
            return None
        memory = self._memory
        if memory is None or memory.stale:
            async with self._memory_lock:
                if self._memory is None or self._memory.stale:
                    self._memory = await self._map_shared_memory()
                memory = self._memory
        if memory is None or length > memory.size:
            if length * 4 // 3 + 1024 > self._max_frame:
                raise BufferTooSmallError(
                    f"a {length}-byte sample fits neither shared memory nor one frame"
                )
            return None
        return memory

    async def _map_shared_memory(self) -> ClientSharedMemory | None:
        try:
            result = await self._call("get_shared_memory", {})
        except InvalidStateError:
            return None
        fds = result["fds"]
        try:
            return ClientSharedMemory(SharedRegion.attach(fds[0], int(result["size"])))
        except SharedRegionError as exc:
            log.warning("shared memory unusable, decrypting inline: %s", exc)
            return None

    def _media_keys_gone(self, media_keys: RemoteMediaKeys) -> None:
        self._media_keys.pop(media_keys.handle, None)

    def _connection_lost(self) -> None:
        for media_keys in list(self._media_keys.values()):
            media_keys._mark_destroyed()
        self._media_keys.clear()
        if self._memory is not None:
            self._memory.retire()
            self._memory = None

    def _on_notification(self, method: str, params: dict[str, Any]) -> None:
        if method == "app_state":
            self._on_app_state(params)
            return
        media_keys = self._media_keys.get(params.get("media_keys_handle", -1))
        session = media_keys._route(params.get("key_session_id", -1)) if media_keys else None
        if session is None:
            return  # an event for a session this client already let go of
        if method == "license_request":
            message = base64.b64decode(params["message"])
            session._emit(LicenseRequest(session.id, message, str(params.get("url", ""))))
        elif method == "license_renewal":
            session._emit(LicenseRenewal(session.id, base64.b64decode(params["message"])))
        elif method == "key_statuses_changed":
            pairs = tuple(
                (base64.b64decode(kid), KeyStatus(status)) for kid, status in params["key_statuses"]
            )
            session._emit(KeyStatusesChanged(session.id, pairs))
        elif method == "session_closed":
            session._cdm_closed_event()

    def _on_app_state(self, params: dict[str, Any]) -> None:
        self._active = params.get("state") == "active"
        if self._active:
            self._key_systems = dict(params.get("key_systems") or self._key_systems)
        else:
            # Inactive: the server destroyed every MediaKeys and unmapped the shared memory.
            for media_keys in list(self._media_keys.values()):
                media_keys._mark_destroyed()
            if self._memory is not None:
                self._memory.retire()
                self._memory = None


class ControlClient:
    """A connection to the control socket: app state, stats, health, test control."""

    def __init__(self, rpc: RpcClient) -> None:
        self._rpc = rpc

    @classmethod
    async def connect(
        cls, path: str | Path, *, timeout: float = DEFAULT_CALL_TIMEOUT_S
    ) -> ControlClient:
        """Connect to the control socket at ``path``."""
        return cls(await RpcClient.connect(path, timeout=timeout))

    async def close(self) -> None:
        """Close the connection."""
        await self._rpc.close()

    async def set_state(self, state: str) -> str:
        """Switch to ``"active"`` or ``"inactive"``; returns the new state."""
        return str((await self._rpc.call("set_state", {"state": state}))["state"])

    async def get_state(self) -> str:
        """Return ``"active"`` or ``"inactive"``."""
        return str((await self._rpc.call("get_state", {}))["state"])

    async def stats(self) -> dict[str, Any]:
        """Return the server's counters (connections, MediaKeys, sessions, memory, CDM)."""
        return dict(await self._rpc.call("stats", {}))

    async def ping(self, timeout_s: float = 1.0) -> dict[str, Any]:
        """Probe the server's loop and workers."""
        return dict(await self._rpc.call("ping", {"timeout_s": timeout_s}))

    async def test_control(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send a reference CDM test-control command (server started with test control)."""
        return dict(await self._rpc.call("test_control", {"command": command}))
