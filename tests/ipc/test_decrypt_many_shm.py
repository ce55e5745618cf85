"""Batched decrypt over IPC (``decrypt_many``): one request per batch of samples in shared memory,
with the results, errors and reference semantics of the in-process ``KeySession.decrypt_many``."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest
from drmkit.client import MediaKeysClient
from drmkit.client.testing import RawConnection, ServerProcess
from drmkit.core import CipherMode, DecryptParams, InvalidInputError, Pattern, Subsample
from drmkit.errors import FailError
from drmkit.ipc.codec import MAX_DECRYPT_BATCH
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.cenc import encrypt_sample
from drmkit.testing.flows import license_session

CLEARKEY = "org.w3.clearkey"


def _samples(
    key: bytes, kid: bytes, count: int, size: int = 4096
) -> tuple[list[bytes], list[bytearray], list[DecryptParams]]:
    """CENC samples with subsamples, every third one cbcs with a 1:9 pattern."""
    plains, encrypted, params = [], [], []
    for n in range(count):
        mode = CipherMode.CBCS if n % 3 == 2 else CipherMode.CENC
        pattern = Pattern(1, 9) if mode is CipherMode.CBCS else Pattern(0, 0)
        subsamples = (Subsample(7 + n, size - 7 - n - 64), Subsample(16, 48))
        plain = os.urandom(size)
        iv = os.urandom(16)
        plains.append(plain)
        encrypted.append(bytearray(encrypt_sample(plain, key, iv, mode, subsamples, pattern)))
        params.append(DecryptParams(mode, kid, iv, subsamples, pattern))
    return plains, encrypted, params


async def test_batch_decrypts_cenc_and_cbcs_samples(
    module_server: ServerProcess, license_helper: LicenseHelper
) -> None:
    async with await MediaKeysClient.connect(module_server.socket_path) as client:
        media_keys = await client.create_media_keys(CLEARKEY)
        licensed = await license_session(media_keys, license_helper)
        kid, key = next(iter(licensed.keys.items()))
        plains, encrypted, params = _samples(key, kid, 9, size=100_000)
        empty = bytearray()  # skipped, as in-process
        batch = [*zip(encrypted, params, strict=True), (empty, params[0])]
        await licensed.session.decrypt_many(batch)
        assert [bytes(b) for b in encrypted] == plains
        # Samples already in the region are decrypted in place, next to copied ones.
        plain_in, encrypted_in, params_in = _samples(key, kid, 2)
        async with client.sample_buffer(len(encrypted_in[0])) as shared:
            shared[:] = encrypted_in[0]
            copied = encrypted_in[1]
            await licensed.session.decrypt_many([(shared, params_in[0]), (copied, params_in[1])])
            assert bytes(shared) == plain_in[0]
            assert bytes(copied) == plain_in[1]
        assert licensed.session.decrypt_references == 0


async def test_batch_stops_at_the_first_failing_sample_like_in_process(
    module_server: ServerProcess, license_helper: LicenseHelper
) -> None:
    async with await MediaKeysClient.connect(module_server.socket_path) as client:
        media_keys = await client.create_media_keys(CLEARKEY)
        licensed = await license_session(media_keys, license_helper)
        kid, key = next(iter(licensed.keys.items()))
        plains, encrypted, params = _samples(key, kid, 5)
        params[2] = DecryptParams(CipherMode.CENC, os.urandom(16), os.urandom(16))  # no such key
        originals = [bytes(b) for b in encrypted]
        with pytest.raises(FailError) as caught:
            await licensed.session.decrypt_many(list(zip(encrypted, params, strict=True)))
        assert "sample 2 of a batch of 5" in (caught.value.__notes__ or [])
        assert [bytes(b) for b in encrypted[:2]] == plains[:2]  # done before the failure
        assert [bytes(b) for b in encrypted[2:]] == originals[2:]  # untouched from there on
        # Bad buffers are refused on the client before anything is sent or decrypted.
        with pytest.raises(InvalidInputError, match="read-only"):
            await licensed.session.decrypt_many([(encrypted[3], params[3]), (b"xx", params[4])])
        assert bytes(encrypted[3]) == originals[3]
        too_many = [(bytearray(16), params[0])] * (MAX_DECRYPT_BATCH + 1)
        with pytest.raises(InvalidInputError, match="at most"):
            await licensed.session.decrypt_many(too_many)
        # The session still works after the failed batch.
        await licensed.session.decrypt_many(list(zip(encrypted[3:], params[3:], strict=True)))
        assert [bytes(b) for b in encrypted[3:]] == plains[3:]


async def test_close_during_a_batch_is_deferred_until_it_ends(
    module_server: ServerProcess, license_helper: LicenseHelper
) -> None:
    async with await MediaKeysClient.connect(module_server.socket_path) as client:
        media_keys = await client.create_media_keys(CLEARKEY)
        licensed = await license_session(media_keys, license_helper)
        session = licensed.session
        kid, key = next(iter(licensed.keys.items()))
        plains, encrypted, params = _samples(key, kid, MAX_DECRYPT_BATCH, size=32_768)
        await session.decrypt(bytearray(16), DecryptParams(CipherMode.CENC, kid, bytes(16)))
        samples = list(zip(encrypted, params, strict=True))
        batch = asyncio.ensure_future(session.decrypt_many(samples))
        await asyncio.sleep(0)  # the request is on the wire ahead of the close
        await session.close()  # the server defers it: the batch holds a decrypt reference
        await batch  # not failed by the close
        assert [bytes(b) for b in encrypted] == plains
        with pytest.raises(Exception, match=r"(?i)closed"):
            await session.decrypt_many([(bytearray(16), params[0])])


def _raw_session(raw: RawConnection) -> dict[str, int]:
    handle = raw.call("create_media_keys", {"key_system": CLEARKEY})["result"]["media_keys_handle"]
    session_id = raw.call("create_key_session", {"media_keys_handle": handle})["result"][
        "key_session_id"
    ]
    return {"media_keys_handle": handle, "key_session_id": session_id}


def test_bad_batches_get_json_rpc_errors(module_server: ServerProcess) -> None:
    raw = RawConnection(module_server.socket_path)
    try:
        base = _raw_session(raw)
        iv = base64.b64encode(bytes(8)).decode()
        kid = base64.b64encode(bytes(16)).decode()
        metadata = {"cipher_mode": "cenc", "key_id": kid, "iv": iv}

        def sample(offset: int, length: int) -> dict[str, object]:
            return {"shm": {"offset": offset, "length": length}, "metadata": metadata}

        no_memory = raw.call("decrypt_many", {**base, "samples": [sample(0, 16)]})
        assert no_memory["error"]["data"]["status"] == "INVALID_STATE"
        size = raw.call("get_shared_memory")["result"]["size"]
        for offset, length in ((-1, 16), (size - 8, 16), (0, 2**33)):
            batch = [sample(0, 16), sample(offset, length)]
            reply = raw.call("decrypt_many", {**base, "samples": batch})
            assert reply["error"]["code"] == 1001 and "outside" in reply["error"]["message"]
        overlapping = [sample(0, 64), sample(128, 64), sample(160, 16)]
        reply = raw.call("decrypt_many", {**base, "samples": overlapping})
        assert reply["error"]["code"] == 1001 and "overlap" in reply["error"]["message"]
        oversized = [sample(64 * n, 16) for n in range(MAX_DECRYPT_BATCH + 1)]
        reply = raw.call("decrypt_many", {**base, "samples": oversized})
        assert reply["error"]["code"] == -32602
        missing = raw.call("decrypt_many", {**base, "samples": [{"shm": {"offset": 0}}]})
        assert missing["error"]["code"] == -32602
        assert "result" in raw.call("get_state")  # the connection is still served
    finally:
        raw.close()
