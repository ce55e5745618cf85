"""Sockets, shared memory, fd passing over a socket pair, the client's region allocator, metrics."""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import stat
from pathlib import Path

import pytest
from drmkit.client.shm import ClientSharedMemory
from drmkit.ipc.framing import FrameTooLargeError, encode_frame
from drmkit.ipc.shm import SharedRegion, SharedRegionError
from drmkit.ipc.transport import FramedSocket
from drmkit.server.metrics import MetricsEndpointError, parse_metrics_address
from drmkit.server.sockets import SocketInUseError, bind_unix_socket, remove_socket_file


def test_bind_private_refuse_live_replace_stale(tmp_path: Path) -> None:
    path = tmp_path / "run" / "s.sock"
    sock = bind_unix_socket(path, 0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(SocketInUseError, match="already listening"):
        bind_unix_socket(path, 0o600)
    sock.close()  # the file stays: stale
    again = bind_unix_socket(path, 0o640)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    again.close()
    remove_socket_file(path)
    assert not path.exists()
    regular = tmp_path / "file"
    regular.write_text("x")
    with pytest.raises(SocketInUseError, match="not a socket"):
        bind_unix_socket(regular, 0o600)
    remove_socket_file(regular)
    assert regular.exists()  # never removes what is not a socket


def test_region_is_sealed_bounded_and_closes_only_when_unused() -> None:
    region = SharedRegion.create(4096)
    seals = fcntl.fcntl(region.fd, fcntl.F_GET_SEALS)
    assert seals & fcntl.F_SEAL_SHRINK and seals & fcntl.F_SEAL_GROW
    with pytest.raises(OSError):
        os.ftruncate(region.fd, 100)  # a client cannot shrink it under the server
    peer = SharedRegion.attach(os.dup(region.fd), 4096)
    peer.view(10, 5)[:] = b"hello"
    assert bytes(region.view(10, 5)) == b"hello"  # the same memory
    for offset, length in ((-1, 1), (4090, 10), (0, 4097)):
        with pytest.raises(SharedRegionError):
            region.view(offset, length)
    in_use = region.view(0, 16)
    assert region.offset_of(region.view(100, 10)) == 100
    assert region.offset_of(memoryview(bytearray(10))) is None
    assert not region.try_close()  # a view (a CDM call) still uses it
    in_use.release()
    assert region.try_close()
    assert region.closed
    assert peer.try_close()
    with pytest.raises(SharedRegionError):
        SharedRegion.attach(os.memfd_create("small"), 4096)


async def test_frames_carry_descriptors_over_a_socket_pair() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sender, receiver = FramedSocket(left), FramedSocket(right)
    region = SharedRegion.create(8192)
    try:
        assert sender.write_frame(b'{"fds":1}', (region.fd,))
        assert sender.write_frame(b"second")
        assert await receiver.read_frame() == b'{"fds":1}'
        (fd,) = receiver.take_fds(1)
        mapped = SharedRegion.attach(fd, 8192)
        mapped.view(0, 3)[:] = b"abc"
        assert bytes(region.view(0, 3)) == b"abc"
        assert mapped.try_close()
        assert await receiver.read_frame() == b"second"
        with pytest.raises(FrameTooLargeError):
            sender.write_frame(bytes(2 * 1024 * 1024))
        big = bytes(700_000)
        assert sender.write_frame(big)  # more than the socket buffer: queued, then drained
        got, _ = await asyncio.gather(receiver.read_frame(), sender.drain())
        assert got == big
        sender.close()
        assert await receiver.read_frame() is None
        assert not sender.write_frame(b"late")
    finally:
        receiver.close()
        region.try_close()


async def test_truncated_stream_is_a_frame_error() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    receiver = FramedSocket(right)
    left.sendall(encode_frame(b"0123456789")[:7])
    left.close()
    with pytest.raises(Exception, match="inside a frame"):
        await receiver.read_frame()
    receiver.close()


async def test_allocator_hands_out_disjoint_ranges_and_waits_when_full() -> None:
    memory = ClientSharedMemory(SharedRegion.create(4096))
    held: list[tuple[int, int]] = []

    async def user(length: int) -> None:
        async with memory.allocate(length) as offset:
            for start, end in held:
                assert offset + length <= start or offset >= end
            held.append((offset, offset + length))
            await asyncio.sleep(0.01)
            held.remove((offset, offset + length))

    await asyncio.wait_for(asyncio.gather(*(user(1000) for _ in range(12))), 5)
    memory.retire()
    assert memory.region.closed


def test_metrics_address_only_loopback_or_unix() -> None:
    assert parse_metrics_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_metrics_address("[::1]:9464") == ("::1", 9464)
    assert parse_metrics_address("unix:/run/m.sock") == Path("/run/m.sock")
    for bad in ("0.0.0.0:9464", "10.1.2.3:80", "localhost", "unix:", "example.com:1"):
        with pytest.raises(MetricsEndpointError):
            parse_metrics_address(bad)
