"""Reading one or more input files (init segment + media segments) into one mutable buffer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drmkit.media.errors import MediaError, MediaFormatError


@dataclass(frozen=True, slots=True)
class InputSpan:
    """Where one input file lies in the concatenated buffer."""

    path: Path
    start: int
    end: int


@dataclass(slots=True)
class MediaInput:
    """The inputs concatenated in one ``bytearray`` (decrypted in place, written from memory)."""

    buffer: bytearray
    spans: list[InputSpan]

    @classmethod
    def read(cls, paths: list[Path]) -> MediaInput:
        """Read ``paths`` in order into one buffer, with a single allocation."""
        if not paths:
            raise MediaError("no input files")
        try:
            sizes = [p.stat().st_size for p in paths]
        except OSError as exc:
            raise MediaError(f"cannot read {exc.filename}: {exc.strerror}") from exc
        buffer = bytearray(sum(sizes))
        view = memoryview(buffer)
        spans = []
        pos = 0
        for path, size in zip(paths, sizes, strict=True):
            try:
                with path.open("rb") as f:
                    got = f.readinto(view[pos : pos + size])
            except OSError as exc:
                raise MediaError(f"cannot read {path}: {exc.strerror}") from exc
            if got != size:
                raise MediaError(f"{path} changed size while being read")
            spans.append(InputSpan(path, pos, pos + size))
            pos += size
        return cls(buffer, spans)

    def locate(self, offset: int) -> tuple[Path, int]:
        """Map an offset of the buffer to ``(input file, offset in that file)``."""
        for span in self.spans:
            if span.start <= offset < span.end:
                return span.path, offset - span.start
        last = self.spans[-1]
        return last.path, offset - last.start

    def describe(self, error: MediaFormatError) -> str:
        """Render a format error with the input file and the offset inside it."""
        path, local = self.locate(error.offset)
        return f"{path}: {error.reason} (at offset {local})"
