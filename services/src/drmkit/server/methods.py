"""The RPC methods of the session server: one handler per MKS operation, plus hello, ping, memory.

Every handler is a module-level ``async def handler(connection, params)``: ``connection`` is the
:class:`~drmkit.server.connection.ConnectionState` of the caller (no socket needed, so handlers
can be called directly in tests), ``params`` the validated instance of the method's parameter
model. The tables :data:`CLIENT_METHODS` and :data:`CONTROL_METHODS` list, per socket, each
method's name, parameter model and handler; the generic :class:`~drmkit.ipc.dispatcher.Dispatcher`
validates the parameters against the model (``-32602`` when they do not fit) and maps exceptions.
Checks that are about the shape of the parameters live in the models; handlers check what needs
the server's state (handles, limits, app state).

Handlers never await anything before calling the core, so that requests of one session reach
its serial executor in the order they arrived (see ``ClientConnection._read_loop``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

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
from drmkit.ipc.dispatcher import Method, method
from drmkit.ipc.jsonrpc import METHOD_NOT_FOUND, RpcError
from drmkit.ipc.shm import SharedRegion, SharedRegionError
from drmkit.server.connection import ConnectionState, WithFds
from drmkit.server.events import ConnectionListener
from drmkit.server.health import probe_workers
from drmkit.types import LimitedDurationLicense
from pydantic import AfterValidator, Field, model_validator

if TYPE_CHECKING:
    from drmkit.core import DecryptParams
    from drmkit.core.factory import MediaKeysFactory
    from drmkit.core.media_keys import MediaKeys

PROTOCOL_VERSION = 1

Table = tuple[Method[ConnectionState], ...]
"""A method table: one row per JSON-RPC method of a socket."""


def _ldl_state(value: int) -> int:
    try:
        LimitedDurationLicense(value)
    except ValueError:
        raise ValueError(f"invalid ldl_state {value}") from None
    return value


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
    """``generate_request`` (``ldl_state``: a ``LimitedDurationLicense`` value)."""

    init_data_type: str
    init_data: B64Bytes
    ldl_state: Annotated[int, AfterValidator(_ldl_state)] = 0


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

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.shm is None) == (self.data is None):
            raise ValueError("give exactly one of shm and data")
        return self


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


class StateParams(Params):
    """``set_state`` (control socket)."""

    state: Literal["active", "inactive"]


class ControlCommandParams(Params):
    """``test_control`` (control socket): a reference CDM test control command."""

    command: dict[str, Any]


# -- helpers ----------------------------------------------------------------------------------


def _session(connection: ConnectionState, params: SessionParams) -> tuple[MediaKeys, int]:
    media_keys = connection.get_media_keys(params.media_keys_handle)
    structlog.contextvars.bind_contextvars(key_session_id=params.key_session_id)
    return media_keys, params.key_session_id


def _shared_view(connection: ConnectionState, shm: SharedRange) -> memoryview:
    """Return the view of a sample's range, bounds-checked against the connection's region."""
    region = connection.require_region()
    try:
        return region.view(shm.offset, shm.length)
    except SharedRegionError as exc:
        raise InvalidInputError(str(exc)) from None


@contextlib.contextmanager
def _shared_views(
    connection: ConnectionState, ranges: list[SharedRange]
) -> Iterator[list[memoryview]]:
    """Yield the views of ``ranges`` in the region; released afterwards, whatever happens.

    A view pins the region: :meth:`ConnectionState.release_region` unmaps it only once every
    view of a running decrypt is released, so a client that disconnects mid-decrypt cannot make
    the CDM write into unmapped memory.
    """
    views: list[memoryview] = []
    try:
        for shm in ranges:
            views.append(_shared_view(connection, shm))
        yield views
    finally:
        for view in views:
            view.release()


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


# -- both sockets -----------------------------------------------------------------------------


async def get_state(connection: ConnectionState, _: NoParams) -> dict[str, Any]:
    """``get_state``: ``{state: "active" | "inactive"}``."""
    return {"state": connection.server.state}


async def ping(connection: ConnectionState, params: PingParams) -> dict[str, Any]:
    """``ping``: prove the loop and every worker answer (``timeout_s`` clamped to 10 ms..30 s)."""
    return await probe_workers(connection.server.factory, min(max(params.timeout_s, 0.01), 30))


# -- connection, capabilities -----------------------------------------------------------------


async def hello(connection: ConnectionState, _: NoParams) -> dict[str, Any]:
    """``hello``: protocol, connection id, app state, key systems and the server's limits."""
    server = connection.server
    return {
        "protocol": PROTOCOL_VERSION,
        "connection_id": connection.id,
        "state": server.state,
        "key_systems": key_system_info(server.factory),
        "shared_memory_size": server.config.shared_memory_size,
        "max_frame_size": server.config.max_frame_size,
    }


async def get_supported_key_systems(connection: ConnectionState, _: NoParams) -> list[str]:
    """``get_supported_key_systems`` (empty while Inactive)."""
    return connection.server.factory.supported_key_systems()


async def supports_key_system(connection: ConnectionState, params: KeySystemParams) -> bool:
    """``supports_key_system``."""
    return connection.server.factory.supports_key_system(params.key_system)


async def get_supported_key_system_version(
    connection: ConnectionState, params: KeySystemParams
) -> str | None:
    """``get_supported_key_system_version`` (``null`` if unsupported or Inactive)."""
    return await connection.server.factory.get_supported_key_system_version(params.key_system)


async def is_server_certificate_supported(
    connection: ConnectionState, params: KeySystemParams
) -> bool:
    """``is_server_certificate_supported``."""
    return await connection.server.factory.is_server_certificate_supported(params.key_system)


async def get_supported_robustness_levels(
    connection: ConnectionState, params: KeySystemParams
) -> list[str]:
    """``get_supported_robustness_levels``."""
    return connection.server.factory.supported_robustness_levels(params.key_system)


# -- MediaKeys --------------------------------------------------------------------------------


async def create_media_keys(connection: ConnectionState, params: KeySystemParams) -> dict[str, Any]:
    """``create_media_keys``: ``server.max_media_keys`` applies to the whole application."""
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
    if connection.closed or not factory.active:
        # The connection ended or the app went Inactive while the CDM was creating it.
        await media_keys.destroy()
        raise InvalidStateError("the connection or the application state changed")
    connection.media_keys[media_keys.handle] = media_keys
    return {
        "media_keys_handle": media_keys.handle,
        "key_system": media_keys.key_system,
        "capabilities": capabilities_to_wire(media_keys.capabilities),
    }


async def destroy_media_keys(connection: ConnectionState, params: HandleParams) -> None:
    """``destroy_media_keys``: its sessions are released, their references forgotten."""
    media_keys = connection.get_media_keys(params.media_keys_handle)
    connection.media_keys.pop(params.media_keys_handle, None)
    connection.references.drop_media_keys(params.media_keys_handle)
    await media_keys.destroy()


async def destroy_all_media_keys(connection: ConnectionState, _: NoParams) -> None:
    """``destroy_all_media_keys``: this connection's, not the application's."""
    await connection.destroy_media_keys()


def _system_call(
    name: str, *, encode: bool = False
) -> Callable[[ConnectionState, HandleParams], Awaitable[Any]]:
    """Return the handler of a system-level call without arguments (``MediaKeys.<name>()``)."""

    async def handler(connection: ConnectionState, params: HandleParams) -> Any:
        media_keys = connection.get_media_keys(params.media_keys_handle)
        result = await getattr(media_keys, name)()
        return b64encode(result) if encode else result

    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = f"``{name}`` of a MediaKeys" + (" (base64)." if encode else ".")
    return handler


get_version = _system_call("get_version")
supports_server_certificate = _system_call("supports_server_certificate")
delete_drm_store = _system_call("delete_drm_store")
delete_key_store = _system_call("delete_key_store")
get_drm_time = _system_call("get_drm_time")
get_ldl_session_limit = _system_call("get_ldl_session_limit")
get_drm_store_hash = _system_call("get_drm_store_hash", encode=True)
get_key_store_hash = _system_call("get_key_store_hash", encode=True)
get_metric_system_data = _system_call("get_metric_system_data", encode=True)


async def set_server_certificate(connection: ConnectionState, params: CertificateParams) -> None:
    """``set_server_certificate``."""
    media_keys = connection.get_media_keys(params.media_keys_handle)
    await media_keys.set_server_certificate(params.certificate)


# -- key sessions -----------------------------------------------------------------------------


async def create_key_session(
    connection: ConnectionState, params: CreateSessionParams
) -> dict[str, Any]:
    """``create_key_session``: events go to this connection only (``server.max_key_sessions``)."""
    server = connection.server
    media_keys = connection.get_media_keys(params.media_keys_handle)
    limit = server.config.max_key_sessions
    if server.factory.open_sessions >= limit:
        raise LimitExceededError(
            f"the application already holds {limit} key sessions (server.max_key_sessions)"
        )
    listener = ConnectionListener(connection, media_keys.handle)
    # An unknown type is the core's NOT_SUPPORTED, as in-process, not a parameter error.
    session_type: Any = params.session_type
    session = await media_keys.create_session(session_type, listener)
    connection.session_created(media_keys, session)
    return {"key_session_id": session.id}


async def generate_request(connection: ConnectionState, params: GenerateRequestParams) -> None:
    """``generate_request``."""
    media_keys, session_id = _session(connection, params)
    ldl = LimitedDurationLicense(params.ldl_state)
    await media_keys.generate_request(session_id, params.init_data_type, params.init_data, ldl)


async def load_session(connection: ConnectionState, params: LoadSessionParams) -> None:
    """``load_session``."""
    media_keys, session_id = _session(connection, params)
    await media_keys.load_session(session_id, params.cdm_session_id)


async def update_session(connection: ConnectionState, params: UpdateParams) -> None:
    """``update_session``."""
    media_keys, session_id = _session(connection, params)
    await media_keys.update_session(session_id, params.response)


async def close_key_session(connection: ConnectionState, params: SessionParams) -> bool:
    """``close_key_session``: ``true`` if the CDM session closed now, ``false`` if deferred."""
    media_keys, session_id = _session(connection, params)
    session = media_keys.get_session(session_id)
    await session.close()
    return session.closed.done()


async def remove_key_session(connection: ConnectionState, params: SessionParams) -> None:
    """``remove_key_session``."""
    media_keys, session_id = _session(connection, params)
    await media_keys.remove_key_session(session_id)


async def release_key_session(connection: ConnectionState, params: SessionParams) -> None:
    """``release_key_session`` (deferred by the core while references are held)."""
    media_keys, session_id = _session(connection, params)
    await media_keys.release_key_session(session_id)
    connection.references.prune(params.media_keys_handle, session_id)


async def contains_key(connection: ConnectionState, params: KeyIdParams) -> bool:
    """``contains_key``."""
    media_keys, session_id = _session(connection, params)
    return await media_keys.contains_key(session_id, params.key_id)


async def select_key_id(connection: ConnectionState, params: KeyIdParams) -> None:
    """``select_key_id``."""
    media_keys, session_id = _session(connection, params)
    await media_keys.select_key_id(session_id, params.key_id)


async def set_drm_header(connection: ConnectionState, params: HeaderParams) -> None:
    """``set_drm_header``."""
    media_keys, session_id = _session(connection, params)
    await media_keys.set_drm_header(session_id, params.header)


async def get_last_drm_error(connection: ConnectionState, params: SessionParams) -> int:
    """``get_last_drm_error``."""
    media_keys, session_id = _session(connection, params)
    return await media_keys.get_last_drm_error(session_id)


async def get_cdm_key_session_id(connection: ConnectionState, params: SessionParams) -> str:
    """``get_cdm_key_session_id``."""
    media_keys, session_id = _session(connection, params)
    return await media_keys.get_cdm_key_session_id(session_id)


# -- decrypt references (client notifications, so that the sync API can send them) ------------


async def acquire_decrypt_reference(connection: ConnectionState, params: SessionParams) -> None:
    """``acquire_decrypt_reference``: the connection holds the session open for decrypting."""
    media_keys, session_id = _session(connection, params)
    connection.references.acquire(media_keys.handle, media_keys.get_session(session_id))


async def release_decrypt_reference(connection: ConnectionState, params: SessionParams) -> None:
    """``release_decrypt_reference``: at zero the core runs a deferred close and/or release."""
    connection.references.release(params.media_keys_handle, params.key_session_id)


# -- shared memory and decrypt ----------------------------------------------------------------


async def get_shared_memory(connection: ConnectionState, _: NoParams) -> WithFds:
    """``get_shared_memory``: the connection's sealed region, its descriptor sent with the reply."""
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


async def decrypt(connection: ConnectionState, params: DecryptRpcParams) -> Any:
    """``decrypt``: in place in shared memory (``null``) or inline (``{data}``)."""
    media_keys, session_id = _session(connection, params)
    decrypt_params = params.metadata.to_params()
    metrics = connection.server.metrics
    if params.shm is not None:
        with _shared_views(connection, [params.shm]) as (view,):
            await media_keys.decrypt(session_id, view, decrypt_params)
        metrics.decrypted_bytes.labels("shm").inc(params.shm.length)
        return None
    buffer = bytearray(params.data or b"")
    await media_keys.decrypt(session_id, buffer, decrypt_params)
    metrics.decrypted_bytes.labels("inline").inc(len(buffer))
    return {"data": b64encode(buffer)}


async def decrypt_many(connection: ConnectionState, params: DecryptManyRpcParams) -> None:
    """``decrypt_many``: samples of one session in shared memory, one worker job, in order."""
    media_keys, session_id = _session(connection, params)
    with _shared_views(connection, [s.shm for s in params.samples]) as views:
        batch: list[tuple[memoryview, DecryptParams]] = [
            (view, sample.metadata.to_params())
            for view, sample in zip(views, params.samples, strict=True)
        ]
        _reject_overlaps(params.samples)
        # The core holds a decrypt reference for the whole batch (a close waits for it).
        await media_keys.decrypt_many(session_id, batch)
    total = sum(s.shm.length for s in params.samples)
    connection.server.metrics.decrypted_bytes.labels("shm").inc(total)


# -- control socket ---------------------------------------------------------------------------


async def set_state(connection: ConnectionState, params: StateParams) -> dict[str, Any]:
    """``set_state``: Active/Inactive for the whole application; every client is told."""
    await connection.server.set_state(params.state == "active")
    return {"state": connection.server.state}


async def stats(connection: ConnectionState, _: NoParams) -> dict[str, Any]:
    """``stats``: counters for leak checks."""
    return connection.server.stats()


async def run_test_control(
    connection: ConnectionState, params: ControlCommandParams
) -> dict[str, Any]:
    """``test_control``: the reference CDM's fault injection, only when enabled.

    (Not named ``test_control``: pytest would collect it from a test module importing it.)
    """
    server = connection.server
    if not server.config.test_control or not server.hal.is_reference:
        raise RpcError(METHOD_NOT_FOUND, "method not found: test_control (not enabled)")
    return server.hal.test_control(params.command)


# -- the tables -------------------------------------------------------------------------------

COMMON_METHODS: Table = (
    method("get_state", NoParams, get_state),
    method("ping", PingParams, ping),
)
"""Methods both sockets serve."""

CLIENT_METHODS: Table = (
    *COMMON_METHODS,
    method("hello", NoParams, hello),
    method("get_supported_key_systems", NoParams, get_supported_key_systems),
    method("supports_key_system", KeySystemParams, supports_key_system),
    method("get_supported_key_system_version", KeySystemParams, get_supported_key_system_version),
    method("is_server_certificate_supported", KeySystemParams, is_server_certificate_supported),
    method("get_supported_robustness_levels", KeySystemParams, get_supported_robustness_levels),
    method("create_media_keys", KeySystemParams, create_media_keys),
    method("destroy_media_keys", HandleParams, destroy_media_keys),
    method("destroy_all_media_keys", NoParams, destroy_all_media_keys),
    method("get_version", HandleParams, get_version),
    method("supports_server_certificate", HandleParams, supports_server_certificate),
    method("delete_drm_store", HandleParams, delete_drm_store),
    method("delete_key_store", HandleParams, delete_key_store),
    method("get_drm_time", HandleParams, get_drm_time),
    method("get_ldl_session_limit", HandleParams, get_ldl_session_limit),
    method("get_drm_store_hash", HandleParams, get_drm_store_hash),
    method("get_key_store_hash", HandleParams, get_key_store_hash),
    method("get_metric_system_data", HandleParams, get_metric_system_data),
    method("set_server_certificate", CertificateParams, set_server_certificate),
    method("create_key_session", CreateSessionParams, create_key_session),
    method("generate_request", GenerateRequestParams, generate_request),
    method("load_session", LoadSessionParams, load_session),
    method("update_session", UpdateParams, update_session),
    method("close_key_session", SessionParams, close_key_session),
    method("remove_key_session", SessionParams, remove_key_session),
    method("release_key_session", SessionParams, release_key_session),
    method("contains_key", KeyIdParams, contains_key),
    method("select_key_id", KeyIdParams, select_key_id),
    method("set_drm_header", HeaderParams, set_drm_header),
    method("get_last_drm_error", SessionParams, get_last_drm_error),
    method("get_cdm_key_session_id", SessionParams, get_cdm_key_session_id),
    method("acquire_decrypt_reference", SessionParams, acquire_decrypt_reference),
    method("release_decrypt_reference", SessionParams, release_decrypt_reference),
    method("get_shared_memory", NoParams, get_shared_memory),
    method("decrypt", DecryptRpcParams, decrypt),
    method("decrypt_many", DecryptManyRpcParams, decrypt_many),
)
"""The client socket: the MKS API (``docs/session-server.md``, methods of the client socket)."""

CONTROL_METHODS: Table = (
    *COMMON_METHODS,
    method("set_state", StateParams, set_state),
    method("stats", NoParams, stats),
    method("test_control", ControlCommandParams, run_test_control),
)
"""The control socket: app state, stats and test control (the server manager's)."""


def open_fd_count() -> int:
    """Return how many descriptors the process has open (leak checks)."""
    return len(os.listdir("/proc/self/fd"))
