"""Benchmark: Widevine init data checks of the plugin against pywidevine's PSSH parser.

Both parse the same real ``cenc`` init data (the WPT ``mp4-basic`` Widevine + PlayReady boxes
from ``testdata/vectors/initdata``, or a generated Widevine box when the vectors are absent)
in the same process and must agree on the key ids before any number is printed:

- drmkit: ``parse_init_data("cenc", data)`` (every box checked, WidevinePsshData decoded);
- pywidevine: ``PSSH(widevine_box).key_ids`` (one box, no checks of the others).

Prints calls per second of each and the ratio drmkit / pywidevine (higher is better; generate
requests are rare, so this only guards against the checks becoming a cost).

Run: ``uv run python bench/widevine_initdata.py``
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from drmkit.sdk import parse_pssh_boxes
from drmkit_widevine.initdata import make_widevine_pssh, parse_init_data
from drmkit_widevine.pssh_data import WIDEVINE_SYSTEM_ID
from pywidevine.pssh import PSSH

REPO = Path(__file__).resolve().parents[1]
SECONDS = 1.0


def init_data() -> bytes:
    vectors = Path(os.environ.get("DRMKIT_VECTORS_DIR") or REPO / "testdata" / "vectors")
    samples = vectors / "initdata" / "initdata_samples.json"
    if samples.is_file():
        for sample in json.loads(samples.read_text()):
            if sample["name"] == "wpt_mp4_basic_wv_pr":
                return base64.b64decode(sample["base64"])
    return make_widevine_pssh([os.urandom(16)], provider="widevine_test")


def rate(call: Callable[[], object]) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < SECONDS:
        for _ in range(100):
            call()
        count += 100
    return count / elapsed


def main() -> None:
    data = init_data()
    widevine_box = next(
        data[b.offset : b.offset + b.size]
        for b in parse_pssh_boxes(data)
        if b.system_id == WIDEVINE_SYSTEM_ID
    )
    ours = parse_init_data("cenc", data).key_ids
    theirs = tuple(u.bytes for u in PSSH(widevine_box).key_ids)
    assert ours == theirs, (ours, theirs)
    drmkit_rate = rate(lambda: parse_init_data("cenc", data))
    pywidevine_rate = rate(lambda: PSSH(widevine_box).key_ids)
    print(f"init data: {len(data)} bytes, key ids {[k.hex() for k in ours]}")
    print(f"drmkit parse_init_data   {drmkit_rate:12,.0f} /s")
    print(f"pywidevine PSSH.key_ids  {pywidevine_rate:12,.0f} /s")
    print(f"ratio drmkit/pywidevine  {drmkit_rate / pywidevine_rate:12.2f}")


if __name__ == "__main__":
    main()
