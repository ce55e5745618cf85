"""The session server's RPC handlers, called without sockets: the method tables and each handler.

A ``ConnectionState`` (what a connection owns, no socket) over a real ``SessionServer`` (not
started), the real core and the reference CDM; notifications are recorded instead of sent.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from drmkit.config import CoreConfig
from drmkit.core import (
    BadSessionIdError,
    CipherMode,
    DecryptParams,
    InterfaceNotImplementedError,
    InvalidInputError,
    InvalidStateError,
    LimitExceededError,
    MediaKeysFactory,
    NotSupportedError,
)
from drmkit.ipc.codec import b64encode, decrypt_metadata
from drmkit.ipc.dispatcher import Dispatcher
from drmkit.ipc.jsonrpc import INVALID_PARAMS, METHOD_NOT_FOUND, Request, RpcError
from drmkit.keysystems.manager import DrmPluginManager
from drmkit.server import methods
from drmkit.server.app import SessionServer
from drmkit.server.connection import ConnectionState, WithFds
from drmkit.settings import Settings
from drmkit.testing.cenc import encrypt_sample
from drmkit.testing.flows import new_keys
from drmkit_hal import Hal
from prometheus_client import CollectorRegistry

CLEARKEY = "org.w3.clearkey"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "session-server.md"


class Recorder:
    """A connection's notification sink: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, method: str, params: dict[str, Any]) -> None:
        self.sent.append((method, params))

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]


@pytest.fixture
def server(
    drmkit_settings: CoreConfig, drmkit_hal: Hal, drmkit_core_factory: MediaKeysFactory
) -> SessionServer:
    values = drmkit_settings.model_dump()
    values["server"] = {"max_media_keys": 2, "shared_memory_size": 64 * 1024}
    return SessionServer(
        Settings(**values).server, drmkit_core_factory, drmkit_hal, CollectorRegistry()
    )


@pytest.fixture
async def connection(server: SessionServer) -> AsyncIterator[ConnectionState]:
    state = ConnectionState(server, 1, "client", Recorder())
    try:
        yield state
    finally:
        state.closed = True
        await state.destroy_media_keys()
        await state.release_region()
        await server.factory.set_active(True)


def recorder(connection: ConnectionState) -> Recorder:
    sink = connection._notify_sink
    assert isinstance(sink, Recorder)
    return sink


CLIENT = Dispatcher(methods.CLIENT_METHODS)
CONTROL = Dispatcher(methods.CONTROL_METHODS)


async def call(
    connection: ConnectionState,
    name: str,
    dispatcher: Dispatcher[ConnectionState] = CLIENT,
    **params: Any,
) -> Any:
    """Validate ``params`` against the method's model and run its handler, as the loop does."""
    method, validated = dispatcher.validate(Request(name, params, 1))
    return await method.handler(connection, validated)


async def licensed_session(
    connection: ConnectionState, plugins: DrmPluginManager
) -> tuple[int, int, dict[bytes, bytes]]:
    """Create MediaKeys and a session through the handlers and run the license exchange."""
    handle = (await call(connection, "create_media_keys", key_system=CLEARKEY))["media_keys_handle"]
    created = await call(connection, "create_key_session", media_keys_handle=handle)
    session_id = created["key_session_id"]
    ids = {"media_keys_handle": handle, "key_session_id": session_id}
    helper = plugins.license_helper(CLEARKEY)
    keys = new_keys()
    init_type, init_data = helper.init_data(list(keys))[0]
    events = connection.find_session(handle, session_id).events()
    params = {"init_data_type": init_type, "init_data": b64encode(init_data)}
    await call(connection, "generate_request", **ids, **params)
    await events.next(timeout=5)  # the license request; the connection was sent it as well
    sent = recorder(connection)
    request = next(p for name, p in sent.sent if name == "license_request")
    assert request["key_session_id"] == session_id
    license_ = helper.build_license(base64.b64decode(request["message"]), keys)
    await call(connection, "update_session", **ids, response=b64encode(license_))
    await events.next(timeout=5)  # the key statuses batch
    assert "key_statuses_changed" in sent.names()
    return handle, session_id, keys


# -- the tables --------------------------------------------------------------------------------


def test_every_handler_is_an_importable_function_of_the_module() -> None:
    for table in (methods.CLIENT_METHODS, methods.CONTROL_METHODS):
        names = [row.name for row in table]
        assert len(names) == len(set(names))
        for row in table:
            assert getattr(methods, row.handler.__name__) is row.handler, row.name
            assert row.handler.__doc__, row.name


def test_the_tables_are_the_documented_methods() -> None:
    text = DOCS.read_text()
    client = text.split("### Methods of the client socket", 1)[1].split("\n### ", 1)[0]
    documented = set()
    for line in client.splitlines():
        if line.startswith("| `"):
            documented |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    assert documented == {row.name for row in methods.CLIENT_METHODS}
    control = text.split("## Control socket", 1)[1].split("\n## ", 1)[0]
    for row in methods.CONTROL_METHODS:
        assert f"`{row.name}" in control, row.name


# -- handlers ----------------------------------------------------------------------------------


async def test_hello_and_capabilities(connection: ConnectionState) -> None:
    hello = await methods.hello(connection, methods.NoParams())
    assert hello["protocol"] == methods.PROTOCOL_VERSION
    assert hello["connection_id"] == 1 and hello["state"] == "active"
    assert CLEARKEY in hello["key_systems"]
    assert hello["shared_memory_size"] == 64 * 1024
    assert await call(connection, "supports_key_system", key_system=CLEARKEY) is True
    assert await call(connection, "supports_key_system", key_system="com.example") is False
    assert await call(connection, "get_supported_key_systems") == [CLEARKEY]
    version = await call(connection, "get_supported_key_system_version", key_system=CLEARKEY)
    assert isinstance(version, str)


async def test_license_exchange_and_events_reach_only_the_sink(
    connection: ConnectionState, drmkit_plugin_manager: DrmPluginManager
) -> None:
    handle, session_id, keys = await licensed_session(connection, drmkit_plugin_manager)
    ids = {"media_keys_handle": handle, "key_session_id": session_id}
    kid = b64encode(next(iter(keys)))
    assert await call(connection, "contains_key", **ids, key_id=kid) is True
    assert await call(connection, "get_cdm_key_session_id", **ids)
    assert await call(connection, "close_key_session", **ids) is True  # closed now
    await call(connection, "release_key_session", **ids)
    assert "session_closed" in recorder(connection).names()
    with pytest.raises(BadSessionIdError):
        await call(connection, "contains_key", **ids, key_id=kid)
    assert len(connection.references) == 0


async def test_system_calls_by_handle(connection: ConnectionState) -> None:
    handle = (await call(connection, "create_media_keys", key_system=CLEARKEY))["media_keys_handle"]
    params = methods.HandleParams(media_keys_handle=handle)
    assert isinstance(await methods.get_version(connection, params), str)
    assert isinstance(await methods.get_drm_time(connection, params), int)
    with pytest.raises(InterfaceNotImplementedError):  # Clear Key has no DRM store
        await methods.get_drm_store_hash(connection, params)
    await call(connection, "destroy_media_keys", media_keys_handle=handle)
    with pytest.raises(BadSessionIdError):
        await methods.get_version(connection, params)


async def test_decrypt_references_defer_close_and_release(
    connection: ConnectionState, drmkit_plugin_manager: DrmPluginManager
) -> None:
    handle, session_id, _ = await licensed_session(connection, drmkit_plugin_manager)
    ids = {"media_keys_handle": handle, "key_session_id": session_id}
    with pytest.raises(InvalidStateError, match="no decrypt reference"):
        await call(connection, "release_decrypt_reference", **ids)
    await call(connection, "acquire_decrypt_reference", **ids)
    await call(connection, "acquire_decrypt_reference", **ids)
    assert connection.references.held(handle, session_id) == 2
    assert await call(connection, "close_key_session", **ids) is False  # deferred
    await call(connection, "release_key_session", **ids)
    session = connection.find_session(handle, session_id)  # released, still reachable
    assert not session.closed.done()
    await call(connection, "release_decrypt_reference", **ids)
    assert not session.closed.done()
    await call(connection, "release_decrypt_reference", **ids)
    await session.closed
    assert "session_closed" in recorder(connection).names()
    assert connection.references.total == 0 and len(connection.references) == 0
    with pytest.raises(BadSessionIdError):
        connection.find_session(handle, session_id)


async def test_destroying_media_keys_forgets_their_references(
    connection: ConnectionState, drmkit_plugin_manager: DrmPluginManager
) -> None:
    handle, session_id, _ = await licensed_session(connection, drmkit_plugin_manager)
    ids = {"media_keys_handle": handle, "key_session_id": session_id}
    await call(connection, "acquire_decrypt_reference", **ids)
    await call(connection, "destroy_media_keys", media_keys_handle=handle)
    assert connection.references.total == 0 and len(connection.references) == 0
    with pytest.raises(InvalidStateError):
        await call(connection, "release_decrypt_reference", **ids)


async def test_shared_memory_decrypt_in_place_and_bounds(
    connection: ConnectionState, drmkit_plugin_manager: DrmPluginManager
) -> None:
    handle, session_id, keys = await licensed_session(connection, drmkit_plugin_manager)
    ids = {"media_keys_handle": handle, "key_session_id": session_id}
    kid, key = next(iter(keys.items()))
    iv = os.urandom(16)
    metadata = decrypt_metadata(DecryptParams(CipherMode.CENC, kid, iv))
    with pytest.raises(InvalidStateError, match="get_shared_memory"):
        await call(connection, "decrypt", **ids, metadata=metadata, shm={"offset": 0, "length": 4})
    reply = await call(connection, "get_shared_memory")
    assert isinstance(reply, WithFds) and reply.result == {"size": 64 * 1024, "fds": 1}
    region = connection.require_region()
    plain = os.urandom(100)
    region.view(10, 100)[:] = encrypt_sample(plain, key, iv, CipherMode.CENC)
    await call(connection, "decrypt", **ids, metadata=metadata, shm={"offset": 10, "length": 100})
    assert bytes(region.view(10, 100)) == plain
    with pytest.raises(InvalidInputError):
        await call(
            connection, "decrypt", **ids, metadata=metadata, shm={"offset": 65530, "length": 100}
        )
    sample = encrypt_sample(plain, key, iv, CipherMode.CENC)
    inline = await call(connection, "decrypt", **ids, metadata=metadata, data=b64encode(sample))
    assert base64.b64decode(inline["data"]) == plain
    overlapping = [
        {"shm": {"offset": 0, "length": 32}, "metadata": metadata},
        {"shm": {"offset": 16, "length": 32}, "metadata": metadata},
    ]
    with pytest.raises(InvalidInputError, match="overlap"):
        await call(connection, "decrypt_many", **ids, samples=overlapping)
    await connection.release_region()  # no view left behind: unmaps at once
    assert connection.region is None and region.closed


async def test_limits_and_inactive(server: SessionServer, connection: ConnectionState) -> None:
    for _ in range(2):
        await call(connection, "create_media_keys", key_system=CLEARKEY)
    with pytest.raises(LimitExceededError, match=r"server\.max_media_keys"):
        await call(connection, "create_media_keys", key_system=CLEARKEY)
    with pytest.raises(NotSupportedError):
        await call(
            connection,
            "create_key_session",
            media_keys_handle=next(iter(connection.media_keys)),
            session_type=99,
        )
    control = ConnectionState(server, 2, "control", Recorder())
    assert await call(control, "set_state", CONTROL, state="inactive") == {"state": "inactive"}
    assert all(mk.destroyed for mk in connection.media_keys.values())
    with pytest.raises(InvalidStateError):
        await call(connection, "create_media_keys", key_system=CLEARKEY)
    with pytest.raises(InvalidStateError):
        await call(connection, "get_shared_memory")
    assert (await call(control, "stats", CONTROL))["media_keys"] == 0
    await call(control, "set_state", CONTROL, state="active")


async def test_handles_of_another_connection_look_unknown(
    server: SessionServer, connection: ConnectionState
) -> None:
    handle = (await call(connection, "create_media_keys", key_system=CLEARKEY))["media_keys_handle"]
    other = ConnectionState(server, 2, "client", Recorder())
    with pytest.raises(BadSessionIdError):
        await call(other, "get_version", media_keys_handle=handle)
    with pytest.raises(BadSessionIdError):
        await call(other, "destroy_media_keys", media_keys_handle=handle)


# -- parameter models: checks about the shape of the params are the table's, not the handler's --


IV = "AAAAAAAAAAAAAAAAAAAAAA=="


@pytest.mark.parametrize(
    ("dispatcher", "name", "params"),
    [
        (CLIENT, "generate_request", {"media_keys_handle": 0, "key_session_id": 1,
                                      "init_data_type": "keyids", "init_data": "", "ldl_state": 7}),
        (CLIENT, "decrypt", {"media_keys_handle": 0, "key_session_id": 1, "data": "AAAA",
                             "shm": {"offset": 0, "length": 3},
                             "metadata": {"cipher_mode": "cenc", "iv": IV}}),
        (CLIENT, "decrypt", {"media_keys_handle": 0, "key_session_id": 1,
                             "metadata": {"cipher_mode": "cenc", "iv": IV}}),
        (CLIENT, "decrypt_many", {"media_keys_handle": 0, "key_session_id": 1, "samples": [
            {"shm": {"offset": 0, "length": 0},
             "metadata": {"cipher_mode": "cenc", "iv": IV}}] * 65}),
        (CONTROL, "set_state", {"state": "paused"}),
        (CLIENT, "create_media_keys", {"key_system": 5}),
    ],
)  # fmt: skip
def test_parameter_models_refuse_bad_shapes(
    dispatcher: Dispatcher[ConnectionState], name: str, params: dict[str, Any]
) -> None:
    with pytest.raises(RpcError) as raised:
        dispatcher.validate(Request(name, params, 1))
    assert raised.value.code == INVALID_PARAMS


async def test_test_control_only_when_enabled(connection: ConnectionState) -> None:
    with pytest.raises(RpcError) as raised:
        await call(connection, "test_control", CONTROL, command={"op": "stats"})
    assert raised.value.code == METHOD_NOT_FOUND
    with pytest.raises(RpcError) as raised:
        CLIENT.validate(Request("test_control", {"command": {}}, 1))
    assert raised.value.code == METHOD_NOT_FOUND  # not a method of the client socket
