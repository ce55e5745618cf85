"""Benchmark: ``drmkit decrypt`` against FFmpeg and shaka-packager on the same files.

Generates (once, into a temporary directory) a >= 50 MB H.264 file, encrypts it as ``cenc`` and
as ``cbcs`` (pattern 1:9) with shaka-packager, then in the same run times:

- ``drmkit decrypt`` (the whole command: interpreter start, imports, HAL, license flow, write),
- ``ffmpeg -decryption_key K -i in -c copy out``,
- shaka-packager's raw-key decryption,

and prints wall-time ratios (target <= 1.0), the time drmkit spends in the command itself, and
the in-process sample-decrypt throughput against ``openssl speed`` for the same cipher. Every
drmkit output is checked against FFmpeg's (same sample payloads) before any number is printed.

Run: ``uv run python bench/decrypt_file.py`` (needs ffmpeg and scripts/install-system-deps).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drmkit.media.decrypt import DEFAULT_SESSIONS

REPO = Path(__file__).resolve().parents[1]
KID = "0123456789abcdef0123456789abcdef"
KEY = "00112233445566778899aabbccddeeff"
ROUNDS = 3


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


def best_wall(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    best, last = float("inf"), None
    for _ in range(ROUNDS):
        start = time.perf_counter()
        last = run(cmd)
        best = min(best, time.perf_counter() - start)
    assert last is not None
    return best, last


def generate(work: Path, ffmpeg: str, packager: str) -> dict[str, Path]:
    clear = work / "clear.mp4"
    # A high-quality 720p encode: ~55 MB in about ten seconds on two cores.
    run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-t", "24", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "2", "-g", "60",
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
        prepare,
        protected_in_file_order,
    )

    keys = {bytes.fromhex(KID): bytes.fromhex(KEY)}

    async def go() -> tuple[float, int]:
        container = build_container()
        try:
            factory = container.media_keys_factory()
            best, total = float("inf"), 0
            for _ in range(ROUNDS):
                source, media = prepare([path], keys)
                samples = protected_in_file_order(media)
                total = sum(s.size for s in samples)
                media_keys = await factory.create_media_keys(CLEARKEY)
                try:
                    opened = [await license_session(media_keys, keys) for _ in range(sessions)]
                    start = time.perf_counter()
                    await decrypt_shared(opened, source.buffer, samples, keys)
                    best = min(best, time.perf_counter() - start)
                finally:
                    await media_keys.destroy()
            return total / best / 1e6, total
        finally:
            container.shutdown_resources()

    return asyncio.run(go())


def main() -> None:
    ffmpeg = shutil.which("ffmpeg") or sys.exit("ffmpeg not found")
    packager = packager_path()
    drmkit = str(Path(sys.executable).parent / "drmkit")
    with tempfile.TemporaryDirectory(prefix="drmkit-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        files = generate(work, ffmpeg, packager)
        sizes = ", ".join(f"{k} {v.stat().st_size / 1e6:.1f} MB" for k, v in files.items())
        print(f"generated in {time.perf_counter() - started:.1f} s: {sizes}")
        ciphers = {"cenc": "aes-128-ctr", "cbcs": "aes-128-cbc"}
        for scheme, path in files.items():
            size_mb = path.stat().st_size / 1e6
            ours_out, ff_out, pk_out = work / "ours.mp4", work / "ff.mp4", work / "pk.mp4"
            t_ours, result = best_wall([drmkit, "decrypt", str(path), "-o", str(ours_out), "--key",
                                        f"{KID}:{KEY}", "--json"])  # fmt: skip
            summary = json.loads(result.stdout)
            t_ff, _ = best_wall([ffmpeg, "-v", "error", "-y", "-decryption_key", KEY,
                                 "-i", str(path), "-c", "copy", str(ff_out)])  # fmt: skip
            t_pk, _ = best_wall([packager, f"in={path},stream=video,output={pk_out}",
                                 "--enable_raw_key_decryption", "--keys",
                                 f"label=:key_id={KID}:key={KEY}"])  # fmt: skip
            if payload_md5(ffmpeg, ours_out) != payload_md5(ffmpeg, ff_out):
                sys.exit(f"{scheme}: drmkit's output differs from FFmpeg's decryption")
            mbps, protected = in_process_mb_per_s(path, DEFAULT_SESSIONS)
            openssl = openssl_mb_per_s(ciphers[scheme])
            in_cmd = summary["seconds"]
            print(f"\n{scheme}: {size_mb:.1f} MB, {summary['protected_samples']} samples, "
                  f"{protected / 1e6:.1f} MB protected (best of {ROUNDS})")  # fmt: skip
            rows = [
                ("drmkit decrypt (whole command)", f"{t_ours:7.3f} s"),
                (
                    "  of which inside the command",
                    f"{in_cmd:7.3f} s (parse, license, decrypt, write)",
                ),
                ("ffmpeg -c copy", f"{t_ff:7.3f} s"),
                ("shaka-packager", f"{t_pk:7.3f} s"),
                ("ratio drmkit/ffmpeg", f"{t_ours / t_ff:7.2f}  (inside: {in_cmd / t_ff:.2f})"),
                ("ratio drmkit/packager", f"{t_ours / t_pk:7.2f}  (inside: {in_cmd / t_pk:.2f})"),
            ]
            for label, value in rows:
                print(f"  {label:<32}{value}")
            print(
                f"  sample decrypt throughput       {mbps:7.0f} MB/s ({DEFAULT_SESSIONS} sessions)"
            )
            print(f"  openssl speed {ciphers[scheme]:<12}      {openssl:7.0f} MB/s  "
                  f"(ratio drmkit/openssl {mbps / openssl:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
