"""The demo's real-media step: a synthetic H.264 clip, CENC-encrypted by FFmpeg, decrypted here.

PyAV (FFmpeg's libraries) is needed only by this step and is imported when it runs; without it
the step reports that it was skipped.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drmkit.media.decrypt import decrypt_samples, protected_in_file_order
from drmkit.media.errors import MediaError
from drmkit.media.keycheck import check_missing_keys
from drmkit.media.model import MediaFile, Sample
from drmkit.media.parser import parse
from drmkit.media.writer import ClearWriter

if TYPE_CHECKING:
    from drmkit.core import KeySession

WIDTH, HEIGHT, FPS = 320, 240, 25


def _fill_frame(av: Any, index: int) -> Any:
    """Return frame ``index`` of a moving diagonal gradient (YUV 4:2:0), without numpy."""
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    for plane_no, plane in enumerate(frame.planes):
        width, height = plane.width, plane.height
        base = bytes(((x * 2 + index * 5 + plane_no * 64) & 0xFF) for x in range(width + height))
        pad = b"\0" * (plane.line_size - width)
        plane.update(b"".join(base[y : y + width] + pad for y in range(height)))
    frame.pts = index
    return frame


def encode_clear_h264(av: Any, path: Path, seconds: float) -> None:
    """Encode ``seconds`` of synthetic H.264 into a clear MP4 with PyAV."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "g": str(FPS)}
        for i in range(int(seconds * FPS)):
            for packet in stream.encode(_fill_frame(av, i)):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def encrypt_with_ffmpeg(av: Any, clear: Path, encrypted: Path, kid: bytes, key: bytes) -> None:
    """Remux ``clear`` through FFmpeg's MP4 muxer with ``cenc-aes-ctr`` encryption."""
    options = {"encryption_scheme": "cenc-aes-ctr", "encryption_key": key.hex(),
               "encryption_kid": kid.hex()}  # fmt: skip
    with av.open(str(clear)) as src, av.open(str(encrypted), "w", format="mp4",
                                             options=options) as dst:  # fmt: skip
        stream_in = src.streams.video[0]
        stream_out = dst.add_stream_from_template(stream_in)
        for packet in src.demux(stream_in):
            if packet.dts is None:
                continue
            packet.stream = stream_out
            dst.mux(packet)


async def decrypt_real_mp4(
    session: KeySession, kid: bytes, key: bytes, seconds: float = 2.0
) -> str:
    """Encrypt a synthetic clip under ``kid``/``key``, decrypt it through ``session``, verify it.

    ``session`` must already hold a usable key for ``kid`` (the demo's license flow). Returns a
    one-line detail; raises :class:`MediaError` when a sample or the decode does not match.
    """
    try:
        import av
    except ImportError:
        return "skipped: PyAV is not installed (pip install av)"
    with tempfile.TemporaryDirectory(prefix="drmkit-demo-mp4-") as tmp:
        work = Path(tmp)
        clear_path, encrypted_path = work / "clear.mp4", work / "encrypted.mp4"
        await asyncio.to_thread(encode_clear_h264, av, clear_path, seconds)
        await asyncio.to_thread(encrypt_with_ffmpeg, av, clear_path, encrypted_path, kid, key)
        clear = clear_path.read_bytes()
        buffer = bytearray(encrypted_path.read_bytes())
        media = parse(buffer)
        check_missing_keys(media, {kid: key})
        samples = protected_in_file_order(media)
        if not samples:
            raise MediaError("FFmpeg wrote no encrypted samples")
        await decrypt_samples(session, buffer, samples, {kid: key})
        expected = [bytes(clear[s.offset : s.offset + s.size]) for s in _video(parse(clear))]
        got = [bytes(buffer[s.offset : s.offset + s.size]) for s in _video(media)]
        if got != expected:
            bad = next(i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b)
            raise MediaError(f"decrypted sample {bad} differs from the clear encode")
        out = io.BytesIO()
        writer = ClearWriter(buffer, media)
        writer.build()
        writer.write(out)
        out.seek(0)
        with av.open(out, "r", format="mp4") as container:
            frames = sum(1 for _ in container.decode(video=0))
    return (
        f"{len(samples)} H.264 samples ({len(buffer)} bytes, FFmpeg cenc) decrypted, "
        f"identical to the clear encode; PyAV decoded {frames} frames"
    )


def _video(media: MediaFile) -> list[Sample]:
    track = next(t for t in media.tracks.values() if t.handler == "vide")
    return list(track.samples)
