"""Errors of the media layer: every one says where (file offset) or what (track, key id)."""

from __future__ import annotations

from drmkit.errors import DrmkitError


class MediaError(DrmkitError):
    """Base class of every error raised by :mod:`drmkit.media`."""


class MediaFormatError(MediaError):
    """The input is not a well-formed (protected) ISO-BMFF file.

    ``offset`` is the byte offset in the (concatenated) input where the problem was found; the CLI
    maps it back to the input file it belongs to.
    """

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at offset {offset})")
        self.reason = message
        self.offset = offset


class UnsupportedMediaError(MediaError):
    """The input is well formed but uses a feature drmkit does not decrypt (e.g. a scheme)."""


class MissingKeyError(MediaError):
    """A protected track needs a key id for which no key was given."""

    def __init__(self, track_id: int, key_id: bytes) -> None:
        super().__init__(f"no key for track {track_id}: key id {key_id.hex()} is missing")
        self.track_id = track_id
        self.key_id = key_id


class WrongKeyError(MediaError):
    """A given key is provably not the content key of its key id (e.g. a PlayReady CHECKSUM)."""

    def __init__(self, key_id: bytes, how: str) -> None:
        super().__init__(f"wrong key for key id {key_id.hex()}: {how}")
        self.key_id = key_id
