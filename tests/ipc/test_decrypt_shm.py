"""Decrypt over IPC through shared memory: the shared vectors sample by sample, checked against
their oracles, with concurrent decrypts sharing the connection's region."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from drmkit.client import MediaKeysClient
from drmkit.client.testing import ServerProcess
from drmkit.core import CipherMode, DecryptParams, Pattern, Subsample
from drmkit.media import parse
from drmkit.media.testing import check_against_oracle
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.flows import license_session
from drmkit.testing.vectors import ENCRYPTED_VECTORS, Vector


async def shm_bytes(server: ServerProcess) -> float:
    transport = httpx.AsyncHTTPTransport(uds=str(server.directory.parent / "metrics.sock"))
    async with httpx.AsyncClient(transport=transport) as http:
        text = (await http.get("http://server/metrics")).text
    match = re.search(r'drmkit_server_decrypted_bytes_total\{path="shm"\} (\S+)', text)
    return float(match.group(1)) if match else 0.0


@pytest.mark.parametrize("vector", ENCRYPTED_VECTORS, ids=lambda v: v.name)
async def test_vector_through_the_session_server(
    module_server: ServerProcess, license_helper: LicenseHelper, vector: Vector
) -> None:
    buf = vector.read()
    media = parse(buf)
    before = await shm_bytes(module_server)
    async with await MediaKeysClient.connect(module_server.socket_path) as client:
        media_keys = await client.create_media_keys("org.w3.clearkey")
        licensed = await license_session(media_keys, license_helper, vector.key_map())
        view = memoryview(buf)
        jobs = []
        total = 0
        for track in media.tracks.values():
            for s in track.samples:
                if s.scheme is None:
                    continue
                params = DecryptParams(
                    CipherMode(s.scheme),
                    s.key_id,
                    s.iv,
                    tuple(Subsample(c, e) for c, e in (s.subsamples or ())),
                    Pattern(s.crypt_byte_block, s.skip_byte_block),
                )
                jobs.append(licensed.session.decrypt(view[s.offset : s.offset + s.size], params))
                total += s.size
        for start in range(0, len(jobs), 16):  # 16 decrypts in flight share the region
            await asyncio.gather(*jobs[start : start + 16])
        del view
    check_against_oracle(buf, media, vector.oracle())
    assert await shm_bytes(module_server) - before == total  # all of it through shared memory


async def test_sample_buffer_is_decrypted_in_place(
    module_server: ServerProcess, license_helper: LicenseHelper
) -> None:
    import os

    from drmkit.errors import BufferTooSmallError
    from drmkit.testing.cenc import encrypt_sample

    async with await MediaKeysClient.connect(module_server.socket_path) as client:
        media_keys = await client.create_media_keys("org.w3.clearkey")
        licensed = await license_session(media_keys, license_helper)
        kid, key = next(iter(licensed.keys.items()))
        plain = os.urandom(100_000)
        iv = os.urandom(16)
        subsamples = (Subsample(1000, 99_000),)
        before = await shm_bytes(module_server)
        async with client.sample_buffer(len(plain)) as buffer:
            buffer[:] = encrypt_sample(plain, key, iv, CipherMode.CENC, subsamples)
            params = DecryptParams(CipherMode.CENC, kid, iv, subsamples)
            await licensed.session.decrypt(buffer, params)
            assert bytes(buffer) == plain
        assert await shm_bytes(module_server) - before == len(plain)
        with pytest.raises(BufferTooSmallError):
            async with client.sample_buffer(64 * 1024 * 1024):
                pass
