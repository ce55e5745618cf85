"""The input of ``drmkit inspect`` / ``drmkit decrypt``: one file, or init + media segments.

The input is memory-mapped read-only, never read into memory: parsing touches only the box
headers and tables it needs, and the decrypting writer reads the media data window by window
(:mod:`drmkit.media.stream`), so memory stays bounded whatever the file size. Several inputs are
first joined into one temporary file with ``copy_file_range`` (a kernel-side copy: no page of
them passes through this process), because offsets in the boxes refer to the concatenation.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from drmkit.media.errors import MediaError, MediaFormatError

#: Bytes per ``copy_file_range`` call when joining inputs or copying clear ranges.
COPY_CHUNK = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class InputSpan:
    """Where one input file lies in the concatenated input."""

    path: Path
    start: int
    end: int


@dataclass(slots=True)
class MediaInput:
    """The concatenated input: a read-only buffer, the file behind it and where each input lies.

    ``buffer`` is a ``memoryview`` of a read-only mapping (or of bytes, for in-memory input);
    ``fd`` is the open file behind it (``-1`` for in-memory input), for positioned reads and
    kernel-side copies.
    """

    buffer: memoryview
    spans: list[InputSpan]
    fd: int = -1

    @classmethod
    def from_bytes(cls, data: bytes | bytearray, name: str = "<memory>") -> MediaInput:
        """Wrap data already in memory (tests, the demo's generated file)."""
        return cls(memoryview(data), [InputSpan(Path(name), 0, len(data))])

    @classmethod
    @contextlib.contextmanager
    def open(cls, paths: list[Path]) -> Iterator[MediaInput]:
        """Map ``paths`` (concatenated in order) read-only for the ``with`` block."""
        if not paths:
            raise MediaError("no input files")
        try:
            sizes = [p.stat().st_size for p in paths]
        except OSError as exc:
            raise MediaError(f"cannot read {exc.filename}: {exc.strerror}") from exc
        spans, pos = [], 0
        for path, size in zip(paths, sizes, strict=True):
            spans.append(InputSpan(path, pos, pos + size))
            pos += size
        with contextlib.ExitStack() as stack:
            fd = _open_joined(paths, sizes, stack)
            if pos == 0:
                yield cls(memoryview(b""), spans, fd)
                return
            try:
                mapping = mmap.mmap(fd, pos, prot=mmap.PROT_READ)
            except (OSError, ValueError) as exc:
                raise MediaError(f"cannot map {paths[0]}: {exc}") from exc
            view = memoryview(mapping)
            stack.callback(_unmap, mapping, view)
            if os.fstat(fd).st_size != pos:
                raise MediaError(f"{paths[0]} changed size while being read")
            yield cls(view, spans, fd)

    def release_pages(self) -> None:
        """Drop the mapped pages from this process (they stay in the page cache)."""
        obj = self.buffer.obj
        if isinstance(obj, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            obj.madvise(mmap.MADV_DONTNEED)

    def locate(self, offset: int) -> tuple[Path, int]:
        """Map an offset of the concatenation to ``(input file, offset in that file)``."""
        for span in self.spans:
            if span.start <= offset < span.end:
                return span.path, offset - span.start
        last = self.spans[-1]
        return last.path, offset - last.start

    def describe(self, error: MediaFormatError) -> str:
        """Render a format error with the input file and the offset inside it."""
        path, local = self.locate(error.offset)
        return f"{path}: {error.reason} (at offset {local})"


def _unmap(mapping: mmap.mmap, view: memoryview) -> None:
    """Unmap now if nothing holds a view of the mapping any more, else leave it to the collector.

    Parsed structures may keep views (e.g. the writer's reference cycles); closing the mapping
    under them would be an error, and the mapping costs no memory once its pages are dropped.
    """
    for attempt in range(2):
        try:
            view.release()
            mapping.close()
            return
        except BufferError:
            if attempt == 0:
                gc.collect()


def _open_joined(paths: list[Path], sizes: list[int], stack: contextlib.ExitStack) -> int:
    """Return a read-only fd of the one input, or of a temporary file joining all of them."""
    if len(paths) == 1:
        try:
            fd = os.open(paths[0], os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise MediaError(f"cannot read {paths[0]}: {exc.strerror}") from exc
        stack.callback(os.close, fd)
        if os.fstat(fd).st_size != sizes[0]:
            raise MediaError(f"{paths[0]} changed size while being read")
        return fd
    joined = stack.enter_context(tempfile.TemporaryFile(prefix="drmkit-input-"))  # noqa: SIM115
    out = joined.fileno()
    for path, size in zip(paths, sizes, strict=True):
        try:
            with path.open("rb") as src:
                if copy_range(src.fileno(), out, 0, size) != size:
                    raise MediaError(f"{path} changed size while being read")
        except OSError as exc:
            raise MediaError(f"cannot read {path}: {exc.strerror}") from exc
    return out


def copy_range(src: int, dst: int, start: int, count: int) -> int:
    """Copy ``count`` bytes at ``start`` of ``src`` to the current position of ``dst``.

    Kernel-side (``copy_file_range``) where the filesystems allow it, else through a bounded
    buffer. Returns the bytes copied (fewer only when ``src`` ends early).
    """
    done = 0
    kernel = hasattr(os, "copy_file_range")
    while done < count:
        want = min(COPY_CHUNK, count - done)
        got = 0
        if kernel:
            try:
                got = os.copy_file_range(src, dst, want, start + done)
            except OSError:  # EXDEV, EINVAL, ENOSYS...: fall back for the rest
                kernel = False
                continue
        else:
            data = os.pread(src, min(want, 8 * 1024 * 1024), start + done)
            got = len(data)
            view = memoryview(data)
            while view:
                view = view[os.write(dst, view) :]
        if got == 0:
            break
        done += got
    return done
