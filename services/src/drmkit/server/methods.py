"""The RPC methods of the session server: one per MKS operation, plus hello, ping and memory.

Handlers never await anything before calling the core, so that requests of one session reach
its serial executor in the order they arrived (see ``ClientConnection._read_loop``).
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any

import structlog
from drmkit.errors import InvalidInputError, InvalidStateError, LimitExceededError
from drmkit.ipc.codec import (
    MAX_DECRYPT_BATCH,
    B64Bytes,
    DecryptMetadata,
    Params,
    b64encode,
    capabilities_to_wire,
)
from drmkit.ipc.dispatcher import Dispatcher
from drmkit.ipc.jsonrpc import INVALID_PARAMS, RpcError
from drmkit.ipc.shm import SharedRegion, SharedRegionError
from drmkit.server.connection import ClientConnection, WithFds
from drmkit.server.events import ConnectionListener
from drmkit.server.health import probe_workers
from drmkit.types import LimitedDurationLicense
from pydantic import Field

if TYPE_CHECKING:
    from drmkit.core import DecryptParams
    from drmkit.core.factory import MediaKeysFactory
    from drmkit.core.media_keys import MediaKeys

PROTOCOL_VERSION = 1

Rpc = Dispatcher[ClientConnection]

# -- parameter models -------------------------------------------------------------------------


class NoParams(Params):
    """No parameters."""


class KeySystemParams(Params):
    """A key system name."""

    key_system: str


class HandleParams(Params):
    """A MediaKeys handle of this connection."""

    media_keys_handle: int


class SessionParams(HandleParams):
    """A key session of one of this connection's MediaKeys."""

    key_session_id: int


class CreateSessionParams(HandleParams):
    """``create_key_session``."""

    session_type: int = 1


class GenerateRequestParams(SessionParams):
    """``generate_request``."""

    init_data_type: str
    init_data: B64Bytes
    ldl_state: int = 0


class LoadSessionParams(SessionParams):
    """``load_session``."""

    cdm_session_id: str = ""


class UpdateParams(SessionParams):
    """``update_session``."""

    response: B64Bytes


class KeyIdParams(SessionParams):
    """``contains_key`` / ``select_key_id``."""

    key_id: B64Bytes


class HeaderParams(SessionParams):
    """``set_drm_header``."""

    header: B64Bytes


class CertificateParams(HandleParams):
    """``set_server_certificate``."""

    certificate: B64Bytes


class SharedRange(Params):
    """Where a sample lies in the connection's shared memory."""

    offset: int
    length: int


class DecryptRpcParams(SessionParams):
    """``decrypt``: the sample in shared memory (``shm``) or inline (``data``, base64)."""

    metadata: DecryptMetadata
    shm: SharedRange | None = None
    data: B64Bytes | None = None


class BatchSample(Params):
    """One sample of ``decrypt_many``: its range in shared memory and its metadata."""

    shm: SharedRange
    metadata: DecryptMetadata


class DecryptManyRpcParams(SessionParams):
    """``decrypt_many``: samples of one key session, all in the connection's shared memory."""

    samples: list[BatchSample] = Field(max_length=MAX_DECRYPT_BATCH)


class PingParams(Params):
    """``ping``: how long each worker may take to answer."""

    timeout_s: float = 1.0


# -- helpers ----------------------------------------------------------------------------------


def _session(connection: ClientConnection, params: SessionParams) -> tuple[MediaKeys, int]:
    media_keys = connection.get_media_keys(params.media_keys_handle)
    structlog.contextvars.bind_contextvars(key_session_id=params.key_session_id)
    return media_keys, params.key_session_id


def _shared_view(connection: ClientConnection, shm: SharedRange) -> memoryview:
    """Return the view of a sample's range, bounds-checked against the connection's region."""
    region = connection.require_region()
    try:
        return region.view(shm.offset, shm.length)
    except SharedRegionError as exc:
        raise InvalidInputError(str(exc)) from None


def _reject_overlaps(samples: list[BatchSample]) -> None:
    """Refuse a batch whose non-empty ranges overlap (a byte would be decrypted twice)."""
    ranges = sorted(
        (s.shm.offset, s.shm.offset + s.shm.length, index)
        for index, s in enumerate(samples)
        if s.shm.length
    )
    for (_, end, first), (start, _, second) in itertools.pairwise(ranges):
        if start < end:
            raise InvalidInputError(f"samples {first} and {second} overlap in shared memory")


def key_system_info(factory: MediaKeysFactory) -> dict[str, Any]:
    """Return the supported key systems with their capabilities (empty while Inactive)."""
    info = {}
    for key_system in factory.supported_key_systems():
        info[key_system] = {
            "capabilities": capabilities_to_wire(factory.capabilities(key_system)),
            "robustness_levels": factory.supported_robustness_levels(key_system),
        }
    return info


def register_common(rpc: Rpc) -> None:
    """Methods both sockets serve: ``get_state`` and ``ping``."""

    @rpc.method("get_state", NoParams)
    async def get_state(connection: ClientConnection, _: NoParams) -> dict[str, Any]:
        return {"state": connection.server.state}

    @rpc.method("ping", PingParams)
    async def ping(connection: ClientConnection, params: PingParams) -> dict[str, Any]:
        return await probe_workers(connection.server.factory, min(max(params.timeout_s, 0.01), 30))


def register_client_methods(rpc: Rpc) -> None:
    """Register the MKS methods of the client socket."""
    register_common(rpc)

    # -- connection, capabilities ------------------------------------------------------------

    @rpc.method("hello", NoParams)
    async def hello(connection: ClientConnection, _: NoParams) -> dict[str, Any]:
        server = connection.server
        return {
            "protocol": PROTOCOL_VERSION,
            "connection_id": connection.id,
            "state": server.state,
            "key_systems": key_system_info(server.factory),
            "shared_memory_size": server.config.shared_memory_size,
            "max_frame_size": server.config.max_frame_size,
        }

    @rpc.method("get_supported_key_systems", NoParams)
    async def get_supported_key_systems(connection: ClientConnection, _: NoParams) -> list[str]:
        return connection.server.factory.supported_key_systems()

    @rpc.method("supports_key_system", KeySystemParams)
    async def supports_key_system(connection: ClientConnection, params: KeySystemParams) -> bool:
        return connection.server.factory.supports_key_system(params.key_system)

    @rpc.method("get_supported_key_system_version", KeySystemParams)
    async def get_supported_key_system_version(
        connection: ClientConnection, params: KeySystemParams
    ) -> str | None:
        return await connection.server.factory.get_supported_key_system_version(params.key_system)

    @rpc.method("is_server_certificate_supported", KeySystemParams)
    async def is_server_certificate_supported(
        connection: ClientConnection, params: KeySystemParams
    ) -> bool:
        return await connection.server.factory.is_server_certificate_supported(params.key_system)

    @rpc.method("get_supported_robustness_levels", KeySystemParams)
    async def get_supported_robustness_levels(
        connection: ClientConnection, params: KeySystemParams
    ) -> list[str]:
        return connection.server.factory.supported_robustness_levels(params.key_system)

    # -- MediaKeys ---------------------------------------------------------------------------

    @rpc.method("create_media_keys", KeySystemParams)
    async def create_media_keys(
        connection: ClientConnection, params: KeySystemParams
    ) -> dict[str, Any]:
        server = connection.server
        factory = server.factory
        if not factory.active:
            raise InvalidStateError("the application is Inactive: no MediaKeys can be created")
        limit = server.config.max_media_keys
        if len(factory.media_keys) >= limit:
            raise LimitExceededError(
                f"the application already holds {limit} MediaKeys (server.max_media_keys)"
            )
        media_keys = await factory.create_media_keys(params.key_system)
        if connection.closed or not server.factory.active:
            await media_keys.destroy()
            raise InvalidStateError("the connection or the application state changed")
        connection.media_keys[media_keys.handle] = media_keys
        return {
            "media_keys_handle": media_keys.handle,
            "key_system": media_keys.key_system,
            "capabilities": capabilities_to_wire(media_keys.capabilities),
        }

    @rpc.method("destroy_media_keys", HandleParams)
    async def destroy_media_keys(connection: ClientConnection, params: HandleParams) -> None:
        media_keys = connection.get_media_keys(params.media_keys_handle)
        connection.media_keys.pop(params.media_keys_handle, None)
        for key in [k for k in connection.references if k[0] == params.media_keys_handle]:
            del connection.references[key]
        await media_keys.destroy()

    @rpc.method("destroy_all_media_keys", NoParams)
    async def destroy_all_media_keys(connection: ClientConnection, _: NoParams) -> None:
        await connection.destroy_media_keys()

    def system_call(name: str, encode: bool = False) -> None:
        async def handler(connection: ClientConnection, params: HandleParams) -> Any:
            media_keys = connection.get_media_keys(params.media_keys_handle)
            result = await getattr(media_keys, name)()
            return b64encode(result) if encode else result

        rpc.add(name, HandleParams, handler)

    for name in (
        "get_version",
        "supports_server_certificate",
        "delete_drm_store",
        "delete_key_store",
        "get_drm_time",
        "get_ldl_session_limit",
    ):
        system_call(name)
    for name in ("get_drm_store_hash", "get_key_store_hash", "get_metric_system_data"):
        system_call(name, encode=True)

    @rpc.method("set_server_certificate", CertificateParams)
    async def set_server_certificate(
        connection: ClientConnection, params: CertificateParams
    ) -> None:
        media_keys = connection.get_media_keys(params.media_keys_handle)
        await media_keys.set_server_certificate(params.certificate)

    # -- key sessions ------------------------------------------------------------------------

    @rpc.method("create_key_session", CreateSessionParams)
    async def create_key_session(
        connection: ClientConnection, params: CreateSessionParams
    ) -> dict[str, Any]:
        server = connection.server
        media_keys = connection.get_media_keys(params.media_keys_handle)
        limit = server.config.max_key_sessions
        if server.factory.open_sessions >= limit:
            raise LimitExceededError(
                f"the application already holds {limit} key sessions (server.max_key_sessions)"
            )
        listener = ConnectionListener(connection, media_keys.handle)
        session = await media_keys.create_session(params.session_type, listener)  # type: ignore[arg-type]
        server.session_created(connection, media_keys, session)
        return {"key_session_id": session.id}

    @rpc.method("generate_request", GenerateRequestParams)
    async def generate_request(connection: ClientConnection, params: GenerateRequestParams) -> None:
        media_keys, session_id = _session(connection, params)
        try:
            ldl = LimitedDurationLicense(params.ldl_state)
        except ValueError:
            raise RpcError(INVALID_PARAMS, f"invalid ldl_state {params.ldl_state}") from None
        await media_keys.generate_request(session_id, params.init_data_type, params.init_data, ldl)

    @rpc.method("load_session", LoadSessionParams)
    async def load_session(connection: ClientConnection, params: LoadSessionParams) -> None:
        media_keys, session_id = _session(connection, params)
        await media_keys.load_session(session_id, params.cdm_session_id)

    @rpc.method("update_session", UpdateParams)
    async def update_session(connection: ClientConnection, params: UpdateParams) -> None:
        media_keys, session_id = _session(connection, params)
        await media_keys.update_session(session_id, params.response)

    @rpc.method("close_key_session", SessionParams)
    async def close_key_session(connection: ClientConnection, params: SessionParams) -> bool:
        media_keys, session_id = _session(connection, params)
        session = media_keys.get_session(session_id)
        await session.close()
        return session.closed.done()

    @rpc.method("remove_key_session", SessionParams)
    async def remove_key_session(connection: ClientConnection, params: SessionParams) -> None:
        media_keys, session_id = _session(connection, params)
        await media_keys.remove_key_session(session_id)

    @rpc.method("release_key_session", SessionParams)
    async def release_key_session(connection: ClientConnection, params: SessionParams) -> None:
        media_keys, session_id = _session(connection, params)
        await media_keys.release_key_session(session_id)
        connection.prune_session((params.media_keys_handle, session_id))

    @rpc.method("contains_key", KeyIdParams)
    async def contains_key(connection: ClientConnection, params: KeyIdParams) -> bool:
        media_keys, session_id = _session(connection, params)
        return await media_keys.contains_key(session_id, params.key_id)

    @rpc.method("select_key_id", KeyIdParams)
    async def select_key_id(connection: ClientConnection, params: KeyIdParams) -> None:
        media_keys, session_id = _session(connection, params)
        await media_keys.select_key_id(session_id, params.key_id)

    @rpc.method("set_drm_header", HeaderParams)
    async def set_drm_header(connection: ClientConnection, params: HeaderParams) -> None:
        media_keys, session_id = _session(connection, params)
        await media_keys.set_drm_header(session_id, params.header)

    @rpc.method("get_last_drm_error", SessionParams)
    async def get_last_drm_error(connection: ClientConnection, params: SessionParams) -> int:
        media_keys, session_id = _session(connection, params)
        return await media_keys.get_last_drm_error(session_id)

    @rpc.method("get_cdm_key_session_id", SessionParams)
    async def get_cdm_key_session_id(connection: ClientConnection, params: SessionParams) -> str:
        media_keys, session_id = _session(connection, params)
        return await media_keys.get_cdm_key_session_id(session_id)

    # -- decrypt references (client notifications, so that the sync API can send them) --------

    @rpc.method("acquire_decrypt_reference", SessionParams)
    async def acquire_decrypt_reference(
        connection: ClientConnection, params: SessionParams
    ) -> None:
        media_keys, session_id = _session(connection, params)
        media_keys.get_session(session_id).acquire_decrypt_reference()
        key = (params.media_keys_handle, session_id)
        connection.references[key] = connection.references.get(key, 0) + 1

    @rpc.method("release_decrypt_reference", SessionParams)
    async def release_decrypt_reference(
        connection: ClientConnection, params: SessionParams
    ) -> None:
        key = (params.media_keys_handle, params.key_session_id)
        held = connection.references.get(key, 0)
        if held <= 0:
            raise InvalidStateError("no decrypt reference is held")
        session = connection.server.find_session(connection, *key)
        if held == 1:
            del connection.references[key]
        else:
            connection.references[key] = held - 1
        session.release_decrypt_reference()
        connection.prune_session(key)

    # -- shared memory and decrypt -----------------------------------------------------------

    @rpc.method("get_shared_memory", NoParams)
    async def get_shared_memory(connection: ClientConnection, _: NoParams) -> WithFds:
        server = connection.server
        if not server.factory.active:
            raise InvalidStateError("no shared memory while the application is Inactive")
        if connection.region is None:
            try:
                connection.region = SharedRegion.create(server.config.shared_memory_size)
            except SharedRegionError as exc:
                raise LimitExceededError(str(exc)) from None
            server.metrics.shm_regions.inc()
        region = connection.region
        # The kernel gives the client its own descriptor; ours lives as long as the region.
        return WithFds({"size": region.size, "fds": 1}, (region.fd,))

    @rpc.method("decrypt", DecryptRpcParams)
    async def decrypt(connection: ClientConnection, params: DecryptRpcParams) -> Any:
        media_keys, session_id = _session(connection, params)
        decrypt_params = params.metadata.to_params()
        if (params.shm is None) == (params.data is None):
            raise RpcError(INVALID_PARAMS, "give exactly one of shm and data")
        metrics = connection.server.metrics
        if params.shm is not None:
            view = _shared_view(connection, params.shm)
            try:
                await media_keys.decrypt(session_id, view, decrypt_params)
            finally:
                view.release()
            metrics.decrypted_bytes.labels("shm").inc(params.shm.length)
            return None
        buffer = bytearray(params.data or b"")
        await media_keys.decrypt(session_id, buffer, decrypt_params)
        metrics.decrypted_bytes.labels("inline").inc(len(buffer))
        return {"data": b64encode(buffer)}

    @rpc.method("decrypt_many", DecryptManyRpcParams)
    async def decrypt_many(connection: ClientConnection, params: DecryptManyRpcParams) -> None:
        media_keys, session_id = _session(connection, params)
        batch: list[tuple[memoryview, DecryptParams]] = []
        try:
            for sample in params.samples:
                batch.append((_shared_view(connection, sample.shm), sample.metadata.to_params()))
            _reject_overlaps(params.samples)
            # The core holds a decrypt reference for the whole batch (a close waits for it).
            await media_keys.decrypt_many(session_id, batch)
        finally:
            for view, _ in batch:
                view.release()
        total = sum(s.shm.length for s in params.samples)
        connection.server.metrics.decrypted_bytes.labels("shm").inc(total)


def register_control_methods(rpc: Rpc) -> None:
    """Register the methods of the control socket (app state, stats, test control)."""
    register_common(rpc)

    class StateParams(Params):
        state: str

    @rpc.method("set_state", StateParams)
    async def set_state(connection: ClientConnection, params: StateParams) -> dict[str, Any]:
        if params.state not in ("active", "inactive"):
            raise RpcError(INVALID_PARAMS, 'state must be "active" or "inactive"')
        await connection.server.set_state(params.state == "active")
        return {"state": connection.server.state}

    @rpc.method("stats", NoParams)
    async def stats(connection: ClientConnection, _: NoParams) -> dict[str, Any]:
        return connection.server.stats()

    class TestControlParams(Params):
        command: dict[str, Any]

    @rpc.method("test_control", TestControlParams)
    async def test_control(
        connection: ClientConnection, params: TestControlParams
    ) -> dict[str, Any]:
        server = connection.server
        if not server.config.test_control or not server.hal.is_reference:
            raise RpcError(-32601, "method not found: test_control (not enabled)")
        return server.hal.test_control(params.command)


def open_fd_count() -> int:
    """Return how many descriptors the process has open (leak checks)."""
    return len(os.listdir("/proc/self/fd"))
