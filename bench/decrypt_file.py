"""Benchmark: ``drmkit decrypt`` against FFmpeg and shaka-packager on the same files.

Generates (once, into a temporary directory) an H.264 file of about ``--size-mb`` MB, encrypts it
as ``cenc`` and as ``cbcs`` (pattern 1:9) with shaka-packager, then times the three tools as whole
processes from the shell, interleaved round by round (``--rounds``, at least 5):

- ``drmkit decrypt`` (interpreter start, imports, HAL, license flow, streaming decrypt and write),
- ``ffmpeg -decryption_key K -i in -c copy out``,
- shaka-packager's raw-key decryption,

and prints, per tool, the median wall time with its spread (min-max) and the median peak memory
(the child's max RSS), then the ratios of the medians (target <= 1.0). Every drmkit output is
checked against FFmpeg's (same sample payloads) before any number is printed. Also the in-process
sample-decrypt throughput against ``openssl speed`` for the same cipher.

Run: ``uv run python bench/decrypt_file.py [--size-mb 60] [--rounds 5]`` (needs ffmpeg and
scripts/install-system-deps; ``--size-mb 1000`` for the large-file row, several minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drmkit.media.decrypt import DEFAULT_SESSIONS
from drmkit.testing.tools import run_measured

REPO = Path(__file__).resolve().parents[1]
KID = "0123456789abcdef0123456789abcdef"
KEY = "00112233445566778899aabbccddeeff"
ROUNDS = 5


def packager_path() -> str:
    for candidate in (
        os.environ.get("DRMKIT_PACKAGER", ""),
        str(REPO / "tools/node_modules/.bin/packager"),
        str(REPO / "tools/node_modules/shaka-packager/bin/packager-linux-x64"),
        shutil.which("packager") or "",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("shaka-packager not found: run scripts/install-system-deps")


def run(cmd: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, check=True, capture_output=True)


def measured(cmd: list[str]) -> tuple[float, float, bytes]:
    """Run ``cmd``; return its wall time (s), own peak RSS (MB) and standard output."""
    start = time.perf_counter()
    result = run_measured(cmd)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(cmd)}")
    return wall, result.peak_rss_mb, result.stdout


def generate(work: Path, ffmpeg: str, packager: str, size_mb: float) -> dict[str, Path]:
    clear = work / "clear.mp4"
    # A high-quality 720p encode: ~2.3 MB per second of video, ~55 MB in ten seconds on 2 cores.
    seconds = max(2, round(size_mb / 2.3))
    run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "2", "-g", "60",
         "-pix_fmt", "yuv420p", str(clear)])  # fmt: skip
    files = {}
    for scheme in ("cenc", "cbcs"):
        out = work / f"{scheme}.mp4"
        run([packager, f"in={clear},stream=video,output={out}", "--enable_raw_key_encryption",
             "--keys", f"label=:key_id={KID}:key={KEY}", "--protection_scheme", scheme,
             "--clear_lead", "0"])  # fmt: skip
        files[scheme] = out
    return files


def payload_md5(ffmpeg: str, path: Path) -> str:
    data = run([ffmpeg, "-v", "error", "-i", str(path), "-map", "0", "-c", "copy", "-f", "data",
                "-"]).stdout  # fmt: skip
    return hashlib.md5(data).hexdigest()


def openssl_mb_per_s(cipher: str) -> float:
    """OpenSSL's own decrypt throughput (16 KiB blocks) for ``cipher``, in MB/s."""
    out = run(["openssl", "speed", "-evp", cipher, "-decrypt", "-seconds", "1",
               "-bytes", "16384"]).stdout.decode()  # fmt: skip
    line = next(ln for ln in out.splitlines() if ln.lower().startswith(cipher))
    kbytes = float(re.findall(r"([\d.]+)k", line)[-1])
    return kbytes * 1000 / 1e6


def in_process_mb_per_s(path: Path, sessions: int) -> tuple[float, int]:
    """Decrypt every sample through the core's ClearKey sessions; MB/s of protected bytes."""
    from drmkit.container import build_container
    from drmkit.media.decrypt import (
        CLEARKEY,
        decrypt_shared,
        license_session,
        protected_in_file_order,
    )
    from drmkit.media.parser import parse

    keys = {bytes.fromhex(KID): bytes.fromhex(KEY)}

    async def go() -> tuple[float, int]:
        container = build_container()
        try:
            factory = container.media_keys_factory()
            best, total = float("inf"), 0
            for _ in range(ROUNDS):
                buffer = bytearray(path.read_bytes())
                samples = protected_in_file_order(parse(buffer))
                total = sum(s.size for s in samples)
                media_keys = await factory.create_media_keys(CLEARKEY)
                try:
                    opened = [await license_session(media_keys, keys) for _ in range(sessions)]
                    start = time.perf_counter()
                    await decrypt_shared(opened, buffer, samples, keys)
                    best = min(best, time.perf_counter() - start)
                finally:
                    await media_keys.destroy()
            return total / best / 1e6, total
        finally:
            container.shutdown_resources()

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    rounds = max(5, args.rounds)
    ffmpeg = shutil.which("ffmpeg") or sys.exit("ffmpeg not found")
    packager = packager_path()
    drmkit = str(Path(sys.executable).parent / "drmkit")
    with tempfile.TemporaryDirectory(prefix="drmkit-bench-", dir=os.environ.get("TMPDIR")) as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        files = generate(work, ffmpeg, packager, args.size_mb)
        sizes = ", ".join(f"{k} {v.stat().st_size / 1e6:.1f} MB" for k, v in files.items())
        print(f"generated in {time.perf_counter() - started:.1f} s: {sizes}")
        ciphers = {"cenc": "aes-128-ctr", "cbcs": "aes-128-cbc"}
        for scheme, path in files.items():
            size_mb = path.stat().st_size / 1e6
            ours_out, ff_out, pk_out = work / "ours.mp4", work / "ff.mp4", work / "pk.mp4"
            commands = {
                "drmkit decrypt": [drmkit, "decrypt", str(path), "-o", str(ours_out), "--key",
                                   f"{KID}:{KEY}", "--json"],
                "ffmpeg -c copy": [ffmpeg, "-v", "error", "-y", "-decryption_key", KEY,
                                   "-i", str(path), "-c", "copy", str(ff_out)],
                "shaka-packager": [packager, f"in={path},stream=video,output={pk_out}",
                                   "--enable_raw_key_decryption", "--keys",
                                   f"label=:key_id={KID}:key={KEY}"],
            }  # fmt: skip
            walls: dict[str, list[float]] = {name: [] for name in commands}
            peaks: dict[str, list[float]] = {name: [] for name in commands}
            inside: list[float] = []
            for _ in range(rounds):  # interleaved: each round runs the three tools once
                for name, cmd in commands.items():
                    wall, peak, out = measured(cmd)
                    walls[name].append(wall)
                    peaks[name].append(peak)
                    if name == "drmkit decrypt":
                        inside.append(json.loads(out)["seconds"])
            if payload_md5(ffmpeg, ours_out) != payload_md5(ffmpeg, ff_out):
                sys.exit(f"{scheme}: drmkit's output differs from FFmpeg's decryption")
            median = {name: statistics.median(values) for name, values in walls.items()}
            print(f"\n{scheme}: {size_mb:.1f} MB, {rounds} interleaved rounds")
            for name in commands:
                w, m = walls[name], statistics.median(peaks[name])
                spread = f"(min {min(w):.3f}, max {max(w):.3f})"
                print(f"  {name:<16} wall {median[name]:7.3f} s {spread}  peak RSS {m:7.1f} MB")
            ours = median["drmkit decrypt"]
            print(f"  of which inside drmkit decrypt: {statistics.median(inside):.3f} s")
            print(f"  ratio drmkit/ffmpeg   {ours / median['ffmpeg -c copy']:.2f}")
            print(f"  ratio drmkit/packager {ours / median['shaka-packager']:.2f}")
            mbps, protected = in_process_mb_per_s(path, DEFAULT_SESSIONS)
            openssl = openssl_mb_per_s(ciphers[scheme])
            print(f"  sample decrypt throughput {mbps:7.0f} MB/s in-process "
                  f"({protected / 1e6:.1f} MB protected, {DEFAULT_SESSIONS} sessions); "
                  f"openssl speed {ciphers[scheme]} {openssl:.0f} MB/s "
                  f"(ratio {mbps / openssl:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
