"""The decrypting writer streams: small windows give the same bytes, memory does not grow.

``drmkit decrypt`` maps its input and writes the clear file window by window
(``drmkit.media.stream``). These tests force tiny windows over every vector (samples then span
windows, windows stop at sample boundaries, single samples exceed a window), check the layout
rules that streaming relies on, and measure a real process on a file larger than the windows.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from drmkit.container import build_container
from drmkit.media import stream
from drmkit.media.decrypt import decrypt_to_file
from drmkit.media.errors import MediaFormatError
from drmkit.media.model import Sample
from drmkit.media.writer import InputRange
from drmkit.testing.tools import run_measured, tool
from drmkit.testing.vectors import ENCRYPTED_VECTORS, Vector

KID = "0123456789abcdef0123456789abcdef"
KEY = "00112233445566778899aabbccddeeff"
DRMKIT = str(Path(sys.executable).with_name("drmkit"))


async def _decrypt(vector: Vector, output: Path) -> bytes:
    container = build_container()
    try:
        await decrypt_to_file(
            container.media_keys_factory(), vector.paths(), output, vector.key_map()
        )
    finally:
        container.shutdown_resources()
    return output.read_bytes()


@pytest.mark.parametrize("vector", ENCRYPTED_VECTORS, ids=lambda v: v.name)
async def test_tiny_windows_write_the_same_file(
    vector: Vector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await _decrypt(vector, tmp_path / "default.mp4")
    alive, peak, largest = 0, 0, 0
    read, write = stream._read_exactly, stream._write_all

    def counting_read(fd: int, buffer: bytearray, length: int, offset: int) -> None:
        nonlocal alive, peak, largest
        alive += 1
        peak, largest = max(peak, alive), max(largest, length)
        read(fd, buffer, length, offset)

    def counting_write(fd: int, view: memoryview) -> None:
        nonlocal alive
        if isinstance(view.obj, bytearray):  # a window (new bytes are written from bytes)
            alive -= 1
        write(fd, view)

    monkeypatch.setattr(stream, "WINDOW_BYTES", 4096)
    monkeypatch.setattr(stream, "WINDOWS_IN_FLIGHT", 2)
    monkeypatch.setattr(stream, "_read_exactly", counting_read)
    monkeypatch.setattr(stream, "_write_all", counting_write)
    assert await _decrypt(vector, tmp_path / "tiny.mp4") == expected
    biggest_sample = max(s["size"] for s in _sample_sizes(vector))
    assert largest <= max(4096, biggest_sample)
    assert peak <= 2 + 2  # queued windows, one being read and one being written


def _sample_sizes(vector: Vector) -> list[dict[str, int]]:
    from drmkit.media.parser import parse

    data = b"".join(p.read_bytes() for p in vector.paths())
    media = parse(data)
    return [{"size": s.size} for t in media.tracks.values() for s in t.samples]


def test_overlapping_samples_are_refused() -> None:
    samples = [Sample(100, 50, 1, "cenc"), Sample(140, 20, 1, "cenc")]
    with pytest.raises(MediaFormatError, match="overlap") as caught:
        stream.check_layout(samples, [InputRange(0, 1000)])
    assert caught.value.offset == 140


def test_a_sample_running_past_its_box_is_refused() -> None:
    samples = [Sample(100, 50, 1, "cenc")]
    with pytest.raises(MediaFormatError, match="runs past the end of its box"):
        stream.check_layout(samples, [InputRange(0, 120), b"header", InputRange(200, 300)])
    stream.check_layout(samples, [InputRange(0, 150)])  # exactly to the end: fine


def _peak_rss_mb(cmd: list[str]) -> float:
    measured = run_measured(cmd)
    assert measured.returncode == 0, cmd
    return measured.peak_rss_mb


@pytest.mark.slow
def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    # A ~120 MB cenc file against a ~1 MB one: the decrypting process's peak memory may differ
    # by the windows in flight, not by the file.
    ffmpeg, packager = tool("ffmpeg"), tool("packager")
    sizes = {"small": 1, "large": 52}  # seconds of a ~2.3 MB/s encode
    peaks = {}
    for name, seconds in sizes.items():
        clear, enc = tmp_path / f"{name}-clear.mp4", tmp_path / f"{name}.mp4"
        subprocess.run(
            [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
             "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "2",
             "-g", "60", "-pix_fmt", "yuv420p", str(clear)],
            check=True,
        )  # fmt: skip
        subprocess.run(
            [packager, f"in={clear},stream=video,output={enc}", "--enable_raw_key_encryption",
             "--keys", f"label=:key_id={KID}:key={KEY}", "--protection_scheme", "cenc",
             "--clear_lead", "0"],
            check=True, capture_output=True,
        )  # fmt: skip
        clear.unlink()
        peaks[name] = _peak_rss_mb(
            [DRMKIT, "decrypt", str(enc), "-o", str(tmp_path / f"{name}-out.mp4"),
             "--key", f"{KID}:{KEY}"]
        )  # fmt: skip
    large_mb = (tmp_path / "large.mp4").stat().st_size / 1e6
    assert large_mb > 100
    assert peaks["large"] - peaks["small"] < 48, (peaks, large_mb)
