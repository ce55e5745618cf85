"""Benchmark: PlayReady init data checks of the plugin against pyplayready's parser.

Both parse the same real ``cenc`` init data (the WPT ``mp4-basic`` Widevine + PlayReady boxes
from ``testdata/vectors/initdata``, or a generated PlayReady box when the vectors are absent) in
the same process and must agree on the key ids before any number is printed:

- drmkit: ``parse_init_data("cenc", data)`` (every box checked, the PlayReady object's lengths
  checked, the WRMHEADER parsed with defusedxml);
- pyplayready: ``PSSH(playready_box).wrm_headers`` (one box, stdlib XML parser).

Prints calls per second of each and the ratio drmkit / pyplayready (higher is better; generate
requests are rare, so this only guards against the checks becoming a cost).

Run: ``uv run python bench/playready_initdata.py``
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from drmkit.sdk.pssh import PLAYREADY_SYSTEM_ID, parse_pssh_boxes
from drmkit_playready_netflix.header import build_header
from drmkit_playready_netflix.initdata import build_playready_object, build_pssh, parse_init_data
from pyplayready.system.pssh import PSSH

REPO = Path(__file__).resolve().parents[1]
SECONDS = 1.0


def init_data() -> bytes:
    vectors = Path(os.environ.get("DRMKIT_VECTORS_DIR") or REPO / "testdata" / "vectors")
    samples = vectors / "initdata" / "initdata_samples.json"
    if samples.is_file():
        for sample in json.loads(samples.read_text()):
            if sample["name"] == "wpt_mp4_basic_wv_pr":
                return base64.b64decode(sample["base64"])
    return build_pssh(build_playready_object(build_header([os.urandom(16)], la_url="http://a/")))


def rate(call: Callable[[], object]) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < SECONDS:
        for _ in range(100):
            call()
        count += 100
    return count / elapsed


def main() -> None:
    data = init_data()
    box = next(b for b in parse_pssh_boxes(data) if b.system_id == PLAYREADY_SYSTEM_ID)
    playready_box = box.raw
    ours = parse_init_data("cenc", data).key_ids
    theirs = tuple(k.value.bytes for h in PSSH(playready_box).wrm_headers for k in h.key_ids)
    assert ours == theirs, (ours, theirs)
    drmkit_rate = rate(lambda: parse_init_data("cenc", data))
    oracle_rate = rate(lambda: PSSH(playready_box).wrm_headers)
    print(f"init data: {len(data)} bytes, key ids {[k.hex() for k in ours]}")
    print(f"drmkit parse_init_data    {drmkit_rate:12,.0f} /s")
    print(f"pyplayready PSSH headers  {oracle_rate:12,.0f} /s")
    print(f"ratio drmkit/pyplayready  {drmkit_rate / oracle_rate:12.2f}")


if __name__ == "__main__":
    main()
