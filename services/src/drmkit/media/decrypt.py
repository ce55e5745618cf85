"""Decrypting a parsed file in place through a key session of the core, and writing it clear.

Every protected sample goes to the key session's ``drm_decrypt`` hook with its own metadata
(scheme, IV or constant IV, subsamples, pattern, KID) as a memory view of the one input buffer: no
sample is copied on its way to the CDM. Samples travel in batches of a few MB through
:meth:`drmkit.core.KeySession.decrypt_many` (one hand-over to the session's worker thread per
batch, not per sample). The whole run holds a decrypt reference on the session, so a ``close()`` or
``release()`` that arrives meanwhile is deferred until the last sample is done.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from drmkit.media.errors import MediaError
from drmkit.media.keycheck import check_missing_keys, check_wrong_keys
from drmkit.media.model import MediaFile, Sample
from drmkit.media.parser import parse
from drmkit.media.source import MediaInput
from drmkit.media.stream import write_streaming
from drmkit.media.writer import ClearWriter

if TYPE_CHECKING:
    from drmkit.core import KeySession, MediaKeys, MediaKeysFactory

CLEARKEY = "org.w3.clearkey"
#: A batch (one worker job) ends once it holds this many bytes or :data:`BATCH_SAMPLES` samples:
#: big enough that the hand-over to the worker is noise, small enough for a smooth progress bar.
BATCH_BYTES = 4 * 1024 * 1024
BATCH_SAMPLES = 512
#: Batches queued ahead of the one awaited: the session's serial executor runs queued jobs back
#: to back, so the worker never waits for the loop between batches.
PIPELINE_DEPTH = 2
#: Key sessions ``drmkit decrypt`` shares the samples over by default, and at most.
DEFAULT_SESSIONS = 2
MAX_SESSIONS = 16

#: Called with the number of bytes just decrypted (drives a progress bar).
ProgressCallback = Callable[[int], None]


@dataclass(slots=True)
class TrackSummary:
    """What was decrypted in one track."""

    id: int
    handler: str
    codec: str
    scheme: str | None
    key_ids: list[str]
    samples: int
    protected_samples: int
    protected_bytes: int


@dataclass(slots=True)
class DecryptSummary:
    """The ``--json`` summary of one ``drmkit decrypt`` run."""

    inputs: list[str]
    output: str
    input_bytes: int
    output_bytes: int = 0
    samples: int = 0
    protected_samples: int = 0
    protected_bytes: int = 0
    seconds: float = 0.0
    tracks: list[TrackSummary] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-friendly data."""
        return asdict(self)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def keyids_init_data(key_ids: Sequence[bytes]) -> bytes:
    """W3C ``keyids`` init data naming ``key_ids``."""
    return json.dumps({"kids": [_b64url(k) for k in key_ids]}).encode()


def clearkey_license(keys: Mapping[bytes, bytes]) -> bytes:
    """Return a Clear Key license (JWK set) holding ``keys``."""
    jwks = [{"kty": "oct", "kid": _b64url(kid), "k": _b64url(key)} for kid, key in keys.items()]
    return json.dumps({"keys": jwks, "type": "temporary"}).encode()


def protected_in_file_order(media: MediaFile) -> list[Sample]:
    """Every protected sample, ordered by file offset (sequential memory access)."""
    samples = [s for t in media.tracks.values() for s in t.samples if s.scheme is not None]
    samples.sort(key=lambda s: s.offset)
    return samples


def summarize(media: MediaFile, inputs: Sequence[Path], output: Path) -> DecryptSummary:
    """Build the per-track summary of a parsed file (before decryption)."""
    summary = DecryptSummary([str(p) for p in inputs], str(output), media.size)
    for track in media.tracks.values():
        protected = [s for s in track.samples if s.scheme is not None]
        entry = track.protected_entry
        summary.tracks.append(
            TrackSummary(
                id=track.track_id,
                handler=track.handler,
                codec=track.codec,
                scheme=entry.scheme if entry is not None else None,
                key_ids=[k.hex() for k in track.key_ids()],
                samples=len(track.samples),
                protected_samples=len(protected),
                protected_bytes=sum(s.size for s in protected),
            )
        )
    summary.samples = sum(t.samples for t in summary.tracks)
    summary.protected_samples = sum(t.protected_samples for t in summary.tracks)
    summary.protected_bytes = sum(t.protected_bytes for t in summary.tracks)
    return summary


async def license_session(
    media_keys: MediaKeys, keys: Mapping[bytes, bytes], timeout: float = 10.0
) -> KeySession:
    """Create a session on ``media_keys`` whose license holds ``keys`` (the full EME flow).

    Generates a ``keyids`` request, answers it with a JWK set, and waits until the key statuses
    arrive.
    """
    from drmkit.core import InitDataType, KeySessionType, KeyStatusesChanged, LicenseRequest

    session = await media_keys.create_session(KeySessionType.TEMPORARY)
    events = session.events()
    await session.generate_request(InitDataType.KEY_IDS, keyids_init_data(list(keys)))
    request = await events.next(timeout=timeout)
    if not isinstance(request, LicenseRequest):
        raise MediaError(f"expected a license request, got {type(request).__name__}")
    await session.update(clearkey_license(keys))
    while True:
        event = await events.next(timeout=timeout)
        if isinstance(event, KeyStatusesChanged):
            return session


async def open_clearkey_session(
    factory: MediaKeysFactory, keys: Mapping[bytes, bytes], timeout: float = 10.0
) -> tuple[MediaKeys, KeySession]:
    """Create a ClearKey MediaKeys and a session whose license holds ``keys``.

    The caller destroys the returned MediaKeys when done (that releases the session too).
    """
    media_keys = await factory.create_media_keys(CLEARKEY)
    try:
        return media_keys, await license_session(media_keys, keys, timeout)
    except BaseException:
        await media_keys.destroy()
        raise


async def _key_id_for_unkeyed_samples(session: KeySession, keys: Mapping[bytes, bytes]) -> bytes:
    """Resolve the KID for samples that carry none, following select-key-id semantics.

    With one key, it is selected on the session (the CDM then decrypts key-id-less samples with
    it); key systems without key selection get the KID passed explicitly instead.
    """
    from drmkit.core import InterfaceNotImplementedError

    if len(keys) != 1:
        raise MediaError(
            "some samples carry no key id and several keys were given: give exactly one key"
        )
    key_id = next(iter(keys))
    try:
        await session.select_key_id(key_id)
    except InterfaceNotImplementedError:
        return key_id
    return b""


async def decrypt_samples(
    session: KeySession,
    buffer: bytearray,
    samples: Sequence[Sample],
    keys: Mapping[bytes, bytes],
    progress: ProgressCallback | None = None,
    base: int = 0,
) -> None:
    """Decrypt ``samples`` of ``buffer`` in place through ``session`` (holding a reference).

    ``buffer`` holds the input from offset ``base`` on (a window of it, or all of it).
    """
    from drmkit.core import CipherMode, DecryptParams, Pattern, Subsample

    view = memoryview(buffer)
    modes = {m.value: m for m in CipherMode}
    unkeyed: bytes | None = None
    async with session.decrypt_reference():
        pending: list[tuple[asyncio.Task[None], list[int]]] = []
        batch: list[tuple[memoryview, DecryptParams]] = []
        sizes: list[int] = []
        batch_bytes = 0
        for sample in samples:
            key_id = sample.key_id
            if not any(key_id):
                if unkeyed is None:
                    unkeyed = await _key_id_for_unkeyed_samples(session, keys)
                key_id = unkeyed
            params = DecryptParams(
                modes[cast(str, sample.scheme)],
                key_id,
                sample.iv,
                cast(Sequence[Subsample], sample.subsamples or ()),
                Pattern(sample.crypt_byte_block, sample.skip_byte_block),
            )
            start = sample.offset - base
            batch.append((view[start : start + sample.size], params))
            sizes.append(sample.size)
            batch_bytes += sample.size
            if batch_bytes >= BATCH_BYTES or len(batch) >= BATCH_SAMPLES:
                pending.append((asyncio.ensure_future(session.decrypt_many(batch)), sizes))
                batch, sizes, batch_bytes = [], [], 0
                if len(pending) >= PIPELINE_DEPTH:
                    await _drain(pending, PIPELINE_DEPTH - 1, progress)
        if batch:
            pending.append((asyncio.ensure_future(session.decrypt_many(batch)), sizes))
        await _drain(pending, 0, progress)


async def _drain(
    pending: list[tuple[asyncio.Task[None], list[int]]],
    keep: int,
    progress: ProgressCallback | None,
) -> None:
    try:
        while len(pending) > keep:
            task, sizes = pending.pop(0)
            await task
            if progress is not None:
                for size in sizes:
                    progress(size)
    except BaseException:
        for task, _ in pending:
            task.cancel()
        await asyncio.gather(*(t for t, _ in pending), return_exceptions=True)
        pending.clear()
        raise


async def decrypt_shared(
    sessions: Sequence[KeySession],
    buffer: bytearray,
    samples: Sequence[Sample],
    keys: Mapping[bytes, bytes],
    progress: ProgressCallback | None = None,
    base: int = 0,
) -> None:
    """Decrypt ``samples`` in place, shared out round-robin over ``sessions`` (all licensed).

    The first failure cancels the other sessions' work and is raised as is.
    """
    count = len(sessions)
    try:
        async with asyncio.TaskGroup() as group:
            for i, session in enumerate(sessions):
                group.create_task(
                    decrypt_samples(session, buffer, samples[i::count], keys, progress, base)
                )
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Any]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success."""
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_keys(media: MediaFile, keys: Mapping[bytes, bytes]) -> None:
    """Check the keys against the parsed file (missing, provably wrong) before decrypting."""
    check_missing_keys(media, keys)
    check_wrong_keys(media.pssh, keys)


async def decrypt_to_file(
    factory: MediaKeysFactory,
    inputs: Sequence[Path],
    output: Path,
    keys: Mapping[bytes, bytes],
    progress: Callable[[int], ProgressCallback] | None = None,
    sessions: int = DEFAULT_SESSIONS,
) -> DecryptSummary:
    """Decrypt ``inputs`` (one file, or init + segments) with ``keys`` and write ``output`` clear.

    The input is mapped, not read; the output is written window by window
    (:mod:`drmkit.media.stream`), so memory stays bounded whatever the file size. The samples of
    a window are shared out over ``sessions`` key sessions of one ClearKey MediaKeys, each holding
    the keys: the core serialises calls per session, so several sessions keep the CDM busy while
    each one's result travels back to the event loop. ``progress``, if given, is called once with
    the total protected bytes and returns the callback advanced per decrypted sample. Nothing is
    left at ``output`` if anything fails.
    """
    if not 1 <= sessions <= MAX_SESSIONS:
        raise MediaError(f"sessions must be 1..{MAX_SESSIONS}, not {sessions}")
    started = time.perf_counter()
    with MediaInput.open(list(inputs)) as source:
        media = parse(source.buffer)
        check_keys(media, keys)
        summary = summarize(media, inputs, output)
        samples = protected_in_file_order(media)
        writer = ClearWriter(source.buffer, media)
        pieces = writer.plan()
        del writer
        source.release_pages()  # parsing is done: only windows are read from here on
        advance = progress(summary.protected_bytes) if progress is not None else None
        media_keys = await factory.create_media_keys(CLEARKEY) if samples else None
        try:
            opened = [
                await license_session(media_keys, keys)
                for _ in range(min(sessions, len(samples)))
                if media_keys is not None
            ]

            async def decrypt(buffer: bytearray, batch: Sequence[Sample], base: int) -> None:
                await decrypt_shared(opened, buffer, batch, keys, advance, base)

            with atomic_output(output) as out:
                summary.output_bytes = await write_streaming(
                    source, pieces, samples, decrypt, out.fileno()
                )
            for session in opened:
                await session.close()
        finally:
            if media_keys is not None:
                await media_keys.destroy()
    summary.seconds = round(time.perf_counter() - started, 6)
    return summary
