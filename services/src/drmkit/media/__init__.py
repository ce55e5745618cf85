"""Common Encryption (ISO/IEC 23001-7) media: parse protected MP4, inspect it, decrypt it.

The parser (:mod:`drmkit.media.parser`) finds every track's samples with their encryption
metadata; :mod:`drmkit.media.decrypt` decrypts them in place through a CDM session;
:mod:`drmkit.media.writer` writes the clear MP4.
"""

from drmkit.media.errors import (
    MediaError,
    MediaFormatError,
    MissingKeyError,
    UnsupportedMediaError,
    WrongKeyError,
)
from drmkit.media.model import EncryptionParams, MediaFile, Sample, SampleEntry, Track
from drmkit.media.parser import parse
from drmkit.sdk.pssh import PsshBox

__all__ = [
    "EncryptionParams",
    "MediaError",
    "MediaFile",
    "MediaFormatError",
    "MissingKeyError",
    "PsshBox",
    "Sample",
    "SampleEntry",
    "Track",
    "UnsupportedMediaError",
    "WrongKeyError",
    "parse",
]
