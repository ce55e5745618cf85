"""The inspection report of a protected file: tracks, their encryption, every PSSH box."""

from __future__ import annotations

from typing import Any

from drmkit.media.initdata import Describer, describe_pssh
from drmkit.media.model import MediaFile, Track


def track_report(track: Track) -> dict[str, Any]:
    """Return the JSON-friendly description of one track."""
    entry = track.protected_entry
    tenc = entry.tenc if entry is not None else None
    protected = sum(1 for s in track.samples if s.scheme is not None)
    report: dict[str, Any] = {
        "id": track.track_id,
        "handler": track.handler,
        "codec": track.codec,
        "sample_entries": [e.fourcc for e in track.entries],
        "scheme": entry.scheme if entry is not None else None,
        "default_kid": tenc.key_id.hex() if tenc is not None and tenc.is_protected else None,
        "iv_size": tenc.per_sample_iv_size if tenc is not None else None,
        "constant_iv": tenc.constant_iv.hex() if tenc is not None and tenc.constant_iv else None,
        "pattern": (
            f"{tenc.crypt_byte_block}:{tenc.skip_byte_block}"
            if tenc is not None and entry is not None and entry.scheme in ("cens", "cbcs")
            else None
        ),
        "samples": len(track.samples),
        "protected_samples": protected,
        "key_ids": [kid.hex() for kid in track.key_ids()],
    }
    return report


def inspect_report(media: MediaFile, describe: Describer | None = None) -> dict[str, Any]:
    """Return the JSON-friendly description of a parsed file."""
    return {
        "size": media.size,
        "brands": media.brands,
        "fragmented": media.fragmented,
        "fragments": media.fragments,
        "tracks": [track_report(t) for t in media.tracks.values()],
        "pssh": [describe_pssh(box, describe) for box in media.pssh],
    }
