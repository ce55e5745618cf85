"""Writing the clear file window by window: bounded memory, the media data never held whole.

The writer's plan (:meth:`drmkit.media.writer.ClearWriter.plan`) is a list of new bytes and input
ranges. A range with no protected sample is copied kernel-side; a range with samples is read in
windows of about :data:`WINDOW_BYTES` (stretched to end on a sample boundary), each window's
samples are decrypted in place through the key sessions, and the window is written. Reading the
next window and writing the previous one run on threads while the CDM decrypts. At most
:data:`WINDOWS_IN_FLIGHT` windows wait between the stages, plus the one being read and the one
being written: peak memory is a few windows (or the largest sample, if bigger) plus the parsed
tables, whatever the file size.
"""

from __future__ import annotations

import asyncio
import bisect
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from drmkit.media.errors import MediaFormatError
from drmkit.media.model import Sample
from drmkit.media.source import MediaInput, copy_range
from drmkit.media.writer import InputRange

#: Target window size: large sequential reads and writes, few hand-overs to the CDM workers.
WINDOW_BYTES = 8 * 1024 * 1024
#: Windows queued between reading and writing (decrypting meanwhile); two more may be in hand.
WINDOWS_IN_FLIGHT = 4

#: Decrypts the given samples of a window in place; their offsets are relative to ``base``.
WindowDecrypter = Callable[[bytearray, Sequence[Sample], int], Awaitable[None]]


@dataclass(slots=True)
class _Window:
    start: int
    buffer: bytearray
    length: int
    decrypted: asyncio.Future[None] | None = None


def check_layout(samples: Sequence[Sample], pieces: Sequence[bytes | InputRange]) -> None:
    """Refuse samples that overlap, or that reach outside the data range holding their start.

    ``samples`` are sorted by offset. A sample starting in no copied range (inside a box the
    writer drops) does not reach the output and is ignored.
    """
    previous_end = 0
    for sample in samples:
        if sample.offset < previous_end:
            raise MediaFormatError("protected samples overlap", sample.offset)
        previous_end = sample.offset + sample.size
    ranges = [p for p in pieces if isinstance(p, InputRange)]
    starts = [r.start for r in ranges]
    for sample in samples:
        i = bisect.bisect_right(starts, sample.offset) - 1
        if i >= 0 and sample.offset < ranges[i].end < sample.offset + sample.size:
            raise MediaFormatError(
                f"a protected sample of {sample.size} bytes runs past the end of its box",
                sample.offset,
            )


async def write_streaming(
    source: MediaInput,
    pieces: Sequence[bytes | InputRange],
    samples: Sequence[Sample],
    decrypt: WindowDecrypter,
    out_fd: int,
) -> int:
    """Write ``pieces`` to ``out_fd``, decrypting ``samples`` (sorted by offset) on the way."""
    check_layout(samples, pieces)
    starts = [s.offset for s in samples]
    free: asyncio.Queue[bytearray] = asyncio.Queue()
    ready: asyncio.Queue[bytes | InputRange | _Window | None] = asyncio.Queue(WINDOWS_IN_FLIGHT)
    for _ in range(WINDOWS_IN_FLIGHT):
        free.put_nowait(bytearray(WINDOW_BYTES))

    async def produce() -> None:
        for piece in pieces:
            if isinstance(piece, bytes):
                await ready.put(piece)
                continue
            first = bisect.bisect_left(starts, piece.start)
            last = bisect.bisect_left(starts, piece.end)
            if first == last:
                await ready.put(piece)
                continue
            await _windows(piece, first, last)
        await ready.put(None)

    async def _windows(piece: InputRange, first: int, last: int) -> None:
        pos, i = piece.start, first
        while pos < piece.end:
            end = min(piece.end, pos + WINDOW_BYTES)
            j = i
            while j < last and samples[j].offset < end:
                sample_end = samples[j].offset + samples[j].size
                if sample_end > end:
                    # Stop before a sample the window would cut, unless it is the window's first
                    # (a sample larger than a window gets a window of its own size).
                    if j > i or samples[j].offset > pos:
                        end = samples[j].offset
                        break
                    end = sample_end
                j += 1
            if i == j:  # no sample in this window: copy it kernel-side
                await ready.put(InputRange(pos, end))
            else:
                buffer = await free.get()
                if len(buffer) < end - pos:  # stretched to a sample's end: a one-off buffer
                    free.put_nowait(buffer)
                    buffer = bytearray(end - pos)
                window = _Window(pos, buffer, end - pos)
                await asyncio.to_thread(_read_exactly, source.fd, buffer, window.length, pos)
                window.decrypted = asyncio.ensure_future(decrypt(buffer, samples[i:j], pos))
                await ready.put(window)
            pos, i = end, j

    async def consume() -> int:
        written = 0
        while (item := await ready.get()) is not None:
            if isinstance(item, bytes):
                await asyncio.to_thread(_write_all, out_fd, memoryview(item))
                written += len(item)
            elif isinstance(item, InputRange):
                count = item.end - item.start
                copied = await asyncio.to_thread(copy_range, source.fd, out_fd, item.start, count)
                if copied != count:
                    raise MediaFormatError("the input ended early", item.start + copied)
                written += count
            else:
                assert item.decrypted is not None
                await item.decrypted
                view = memoryview(item.buffer)[: item.length]
                await asyncio.to_thread(_write_all, out_fd, view)
                written += item.length
                if len(item.buffer) == WINDOW_BYTES:
                    free.put_nowait(item.buffer)
        return written

    producer = asyncio.ensure_future(produce())
    try:
        written = await consume()
        await producer
        return written
    except BaseException:
        producer.cancel()
        pending: list[asyncio.Future[None]] = [producer]
        while not ready.empty():
            item = ready.get_nowait()
            if isinstance(item, _Window) and item.decrypted is not None:
                item.decrypted.cancel()
                pending.append(item.decrypted)
        await asyncio.gather(*pending, return_exceptions=True)
        raise


def _read_exactly(fd: int, buffer: bytearray, length: int, offset: int) -> None:
    view = memoryview(buffer)[:length]
    done = 0
    while done < length:
        got = os.preadv(fd, [view[done:]], offset + done)
        if got == 0:
            raise MediaFormatError("the input ended early", offset + done)
        done += got


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]
