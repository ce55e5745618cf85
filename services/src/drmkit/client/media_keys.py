"""``RemoteMediaKeys``: a MediaKeys of the session server, with the API of the core's."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from drmkit.client.session import RemoteKeySession

# The core's own per-sample check, so that both APIs refuse the same buffers the same way.
from drmkit.core.session import _sample_view
from drmkit.core.validation import require_bytes
from drmkit.errors import (
    BadSessionIdError,
    DrmError,
    InvalidInputError,
    InvalidStateError,
    NotSupportedError,
)
from drmkit.events import MediaKeysListener
from drmkit.ipc.codec import MAX_DECRYPT_BATCH, b64encode, decrypt_metadata
from drmkit.types import (
    DecryptParams,
    InitDataType,
    KeySessionType,
    LimitedDurationLicense,
)

if TYPE_CHECKING:
    from drmkit.client.client import MediaKeysClient
    from drmkit.sdk.model import KeySystemCapabilities


class RemoteMediaKeys:
    """The key sessions and system-level calls of one key system, served over IPC."""

    def __init__(
        self,
        client: MediaKeysClient,
        handle: int,
        key_system: str,
        capabilities: KeySystemCapabilities,
    ) -> None:
        self._client = client
        self.handle = handle
        self._key_system = key_system
        self._capabilities = capabilities
        self._sessions: dict[int, RemoteKeySession] = {}
        self._routes: dict[int, RemoteKeySession] = {}  # every session not yet freed
        self._destroyed = False

    def __repr__(self) -> str:
        return f"<RemoteMediaKeys {self.handle} {self.key_system} sessions={len(self._sessions)}>"

    @property
    def key_system(self) -> str:
        """The key system."""
        return self._key_system

    @property
    def capabilities(self) -> KeySystemCapabilities:
        """The key system's declared capabilities."""
        return self._capabilities

    @property
    def destroyed(self) -> bool:
        """``True`` once destroyed (also by Inactive or a lost connection)."""
        return self._destroyed

    @property
    def session_ids(self) -> list[int]:
        """Ids of the sessions that are not released."""
        return list(self._sessions)

    # -- sessions ----------------------------------------------------------------------------

    async def create_session(
        self,
        session_type: KeySessionType = KeySessionType.TEMPORARY,
        listener: MediaKeysListener | None = None,
    ) -> RemoteKeySession:
        """Create a key session; its events go to ``listener`` and to ``session.events()``."""
        self._check_open()
        try:
            kind = KeySessionType(session_type)
        except ValueError:
            raise NotSupportedError(f"unknown session type {session_type!r}") from None
        result = await self._call(
            "create_key_session", {"media_keys_handle": self.handle, "session_type": int(kind)}
        )
        if kind is KeySessionType.UNKNOWN:
            kind = KeySessionType.TEMPORARY
        session = RemoteKeySession(self, int(result["key_session_id"]), kind, listener)
        self._sessions[session.id] = session
        self._routes[session.id] = session
        return session

    def get_session(self, session_id: int) -> RemoteKeySession:
        """Return the session with ``session_id``; ``BadSessionIdError`` if unknown or released."""
        session = self._sessions.get(session_id) if isinstance(session_id, int) else None
        if session is None:
            raise BadSessionIdError(f"no key session {session_id!r} in {self.key_system} MediaKeys")
        return session

    def _by_id(self, session_id: int) -> RemoteKeySession | None:
        return self._sessions.get(session_id) if isinstance(session_id, int) else None

    async def _id_call(self, method: str, session_id: int, **extra: Any) -> Any:
        params = {"media_keys_handle": self.handle, "key_session_id": session_id, **extra}
        return await self._call(method, params)

    async def generate_request(
        self,
        session_id: int,
        init_data_type: InitDataType | str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense = LimitedDurationLicense.NOT_SPECIFIED,
    ) -> None:
        """:meth:`RemoteKeySession.generate_request` by id."""
        session = self._by_id(session_id)
        if session is not None:
            return await session.generate_request(init_data_type, init_data, ldl_state)
        data = require_bytes(init_data, "init data")
        await self._id_call(
            "generate_request",
            session_id,
            init_data_type=str(init_data_type),
            init_data=b64encode(data),
            ldl_state=int(ldl_state),
        )

    async def load_session(self, session_id: int, cdm_session_id: str = "") -> None:
        """:meth:`RemoteKeySession.load` by id."""
        session = self._by_id(session_id)
        if session is not None:
            return await session.load(cdm_session_id)
        await self._id_call("load_session", session_id, cdm_session_id=cdm_session_id)

    async def update_session(self, session_id: int, response: bytes) -> None:
        """:meth:`RemoteKeySession.update` by id."""
        session = self._by_id(session_id)
        if session is not None:
            return await session.update(response)
        data = require_bytes(response, "license response")
        await self._id_call("update_session", session_id, response=b64encode(data))

    async def close_key_session(self, session_id: int) -> None:
        """:meth:`RemoteKeySession.close` by id."""
        session = self._by_id(session_id)
        if session is not None:
            return await session.close()
        await self._id_call("close_key_session", session_id)

    async def remove_key_session(self, session_id: int) -> None:
        """:meth:`RemoteKeySession.remove` by id."""
        session = self._by_id(session_id)
        if session is not None:
            return await session.remove()
        await self._id_call("remove_key_session", session_id)

    async def release_key_session(self, session_id: int) -> None:
        """:meth:`RemoteKeySession.release` by id."""
        session = self._by_id(session_id)
        if session is not None:
            return await session.release()
        await self._id_call("release_key_session", session_id)

    async def contains_key(self, session_id: int, key_id: bytes) -> bool:
        """:meth:`RemoteKeySession.contains_key` by id."""
        data = require_bytes(key_id, "key id", max_size=512)
        return bool(await self._id_call("contains_key", session_id, key_id=b64encode(data)))

    async def select_key_id(self, session_id: int, key_id: bytes) -> None:
        """:meth:`RemoteKeySession.select_key_id` by id."""
        data = require_bytes(key_id, "key id", max_size=512)
        await self._id_call("select_key_id", session_id, key_id=b64encode(data))

    async def set_drm_header(self, session_id: int, header: bytes) -> None:
        """:meth:`RemoteKeySession.set_drm_header` by id."""
        data = require_bytes(header, "DRM header")
        await self._id_call("set_drm_header", session_id, header=b64encode(data))

    async def get_last_drm_error(self, session_id: int) -> int:
        """:meth:`RemoteKeySession.get_last_drm_error` by id."""
        return int(await self._id_call("get_last_drm_error", session_id))

    async def get_cdm_key_session_id(self, session_id: int) -> str:
        """:meth:`RemoteKeySession.get_cdm_key_session_id` by id."""
        return str(await self._id_call("get_cdm_key_session_id", session_id))

    async def decrypt(self, session_id: int, buffer: Any, params: DecryptParams) -> None:
        """:meth:`RemoteKeySession.decrypt` by id (also for sessions released with references)."""
        session = self._routes.get(session_id) if isinstance(session_id, int) else None
        if session is not None:
            return await session.decrypt(buffer, params)
        view = memoryview(buffer).cast("B")
        await self._decrypt(session_id, view, params)

    async def decrypt_many(
        self, session_id: int, samples: Iterable[tuple[Any, DecryptParams]]
    ) -> None:
        """:meth:`RemoteKeySession.decrypt_many` by id (also for sessions released with refs)."""
        session = self._routes.get(session_id) if isinstance(session_id, int) else None
        if session is not None:
            return await session.decrypt_many(samples)
        batch = [(_sample_view(buffer, params), params) for buffer, params in samples]
        if len(batch) > MAX_DECRYPT_BATCH:
            raise InvalidInputError(
                f"a batch holds at most {MAX_DECRYPT_BATCH} samples, not {len(batch)}"
            )
        if any(view is not None for view, _ in batch):
            await self._decrypt_many(session_id, batch)
        else:  # nothing to decrypt: the server still answers for the id (BAD_SESSION_ID)
            params_ = {"media_keys_handle": self.handle, "key_session_id": session_id}
            await self._call("decrypt_many", {**params_, "samples": []})

    async def _decrypt(self, session_id: int, view: memoryview, params: DecryptParams) -> None:
        base = {
            "media_keys_handle": self.handle,
            "key_session_id": session_id,
            "metadata": decrypt_metadata(params),
        }
        length = view.nbytes
        memory = await self._client._shared_memory(length)
        if memory is None:  # no shared memory (or the sample does not fit): inline
            result = await self._call("decrypt", {**base, "data": b64encode(view)})
            view[:] = base64.b64decode(result["data"])
            return
        in_place = memory.region.offset_of(view)
        if in_place is not None:  # a sample buffer of the region: no copy at all
            shm = {"offset": in_place, "length": length}
            await self._call("decrypt", {**base, "shm": shm})
            return
        async with memory.allocate(length) as offset:
            shared = memory.region.view(offset, length)
            try:
                shared[:] = view
                await self._call("decrypt", {**base, "shm": {"offset": offset, "length": length}})
                view[:] = shared
            finally:
                shared.release()

    async def _decrypt_many(
        self, session_id: int, batch: list[tuple[memoryview | None, DecryptParams]]
    ) -> None:
        views = [view for view, _ in batch if view is not None]
        memory = await self._client._shared_memory(max(view.nbytes for view in views))
        if memory is None:
            return await self._decrypt_each(session_id, batch, len(views))
        to_copy = sum(v.nbytes for v in views if memory.region.offset_of(v) is None)
        if to_copy > memory.size:
            # The batch does not fit the region at once: one request per sample, same errors.
            return await self._decrypt_each(session_id, batch, len(views))
        async with contextlib.AsyncExitStack() as stack:
            position = await stack.enter_async_context(memory.allocate(to_copy)) if to_copy else 0
            wire: list[dict[str, Any]] = []
            copies: list[tuple[memoryview, memoryview]] = []  # (caller's view, shared view)
            stack.callback(_copy_back, copies)
            for view, params in batch:
                offset = None if view is None else memory.region.offset_of(view)
                length = 0 if view is None else view.nbytes
                if view is not None and offset is None:
                    offset = position
                    shared = memory.region.view(offset, length)
                    shared[:] = view
                    copies.append((view, shared))
                    position += length
                shm = {"offset": offset or 0, "length": length}
                wire.append({"shm": shm, "metadata": decrypt_metadata(params)})
            params_ = {"media_keys_handle": self.handle, "key_session_id": session_id}
            await self._call("decrypt_many", {**params_, "samples": wire})

    async def _decrypt_each(
        self, session_id: int, batch: list[tuple[memoryview | None, DecryptParams]], count: int
    ) -> None:
        for index, (view, params) in enumerate(batch):
            if view is None:
                continue
            try:
                await self._decrypt(session_id, view, params)
            except DrmError as exc:
                exc.add_note(f"sample {index} of a batch of {count}")
                raise

    # -- system-level calls ------------------------------------------------------------------

    async def _system(self, method: str, **extra: Any) -> Any:
        self._check_open()
        return await self._call(method, {"media_keys_handle": self.handle, **extra})

    async def get_version(self) -> str:
        """Return the CDM's version string."""
        return str(await self._system("get_version"))

    async def supports_server_certificate(self) -> bool:
        """Tell whether the CDM accepts a server certificate."""
        return bool(await self._system("supports_server_certificate"))

    async def set_server_certificate(self, certificate: bytes) -> None:
        """Give the CDM a server certificate."""
        data = require_bytes(certificate, "server certificate")
        await self._system("set_server_certificate", certificate=b64encode(data))

    async def delete_drm_store(self) -> None:
        """Delete the DRM store."""
        await self._system("delete_drm_store")

    async def delete_key_store(self) -> None:
        """Delete the key store."""
        await self._system("delete_key_store")

    async def get_drm_store_hash(self) -> bytes:
        """Return the DRM store hash."""
        return base64.b64decode(await self._system("get_drm_store_hash"))

    async def get_key_store_hash(self) -> bytes:
        """Return the key store hash."""
        return base64.b64decode(await self._system("get_key_store_hash"))

    async def get_drm_time(self) -> int:
        """Return the DRM clock."""
        return int(await self._system("get_drm_time"))

    async def get_ldl_session_limit(self) -> int:
        """Return the limited-duration-license session limit."""
        return int(await self._system("get_ldl_session_limit"))

    async def get_metric_system_data(self) -> bytes:
        """Return the CDM's metric data."""
        return base64.b64decode(await self._system("get_metric_system_data"))

    # -- lifetime ----------------------------------------------------------------------------

    async def destroy(self) -> None:
        """Release every session and destroy the MediaKeys on the server (idempotent)."""
        if self._destroyed:
            return
        try:
            await self._call("destroy_media_keys", {"media_keys_handle": self.handle})
        except (BadSessionIdError, InvalidStateError):
            pass  # already gone on the server (Inactive, lost connection)
        finally:
            self._mark_destroyed()

    async def __aenter__(self) -> RemoteMediaKeys:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.destroy()

    # -- internals ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._destroyed:
            raise InvalidStateError(f"the {self.key_system} MediaKeys was destroyed")

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        return await self._client._call(method, params)

    def _notify(self, method: str, params: dict[str, Any]) -> None:
        self._client._notify(method, params)

    def _forget(self, session: RemoteKeySession) -> None:
        self._sessions.pop(session.id, None)

    def _drop_route(self, session: RemoteKeySession) -> None:
        self._sessions.pop(session.id, None)
        self._routes.pop(session.id, None)

    def _route(self, session_id: int) -> RemoteKeySession | None:
        return self._routes.get(session_id)

    def _mark_destroyed(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        for session in list(self._routes.values()):
            session._free()
        self._sessions.clear()
        self._routes.clear()
        self._client._media_keys_gone(self)


def _copy_back(copies: list[tuple[memoryview, memoryview]]) -> None:
    """Copy decrypted samples from shared memory to the caller's buffers and drop the views.

    Also after a failure: the server left the samples after the failing one untouched, so their
    bytes come back unchanged, as with the in-process ``decrypt_many``.
    """
    for view, shared in copies:
        view[:] = shared
        shared.release()
