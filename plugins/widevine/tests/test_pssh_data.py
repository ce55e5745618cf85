"""WidevinePsshData decoding: real init data, pywidevine as an independent oracle, bad input."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from drmkit.errors import InvalidInitDataError
from drmkit.sdk import build_pssh_box, parse_pssh_boxes
from drmkit_widevine.initdata import make_widevine_pssh, parse_init_data
from drmkit_widevine.plugin import plugin
from drmkit_widevine.pssh_data import (
    WIDEVINE_SYSTEM_ID,
    check_for_request,
    decode_pssh_data,
    encode_pssh_data,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pywidevine_pssh = pytest.importorskip("pywidevine.pssh")

KID = bytes.fromhex("0123456789abcdef0123456789abcdef")
WIDEVINE_UUID = str(uuid.UUID(bytes=WIDEVINE_SYSTEM_ID))


def load_samples(drmkit_vectors_dir: Path) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = json.loads(
        (drmkit_vectors_dir / "initdata" / "initdata_samples.json").read_text()
    )
    return samples


# -- real init data ------------------------------------------------------------------------------


def test_every_pssh_box_of_the_real_samples_matches_the_expected_fields(
    drmkit_vectors_dir: Path,
) -> None:
    checked_widevine = 0
    for sample in load_samples(drmkit_vectors_dir):
        raw = base64.b64decode(sample["base64"])
        if sample.get("kind") == "bare_pro":
            with pytest.raises(InvalidInitDataError, match="not b'pssh'"):
                parse_init_data("cenc", raw)
            continue
        boxes = parse_pssh_boxes(raw)
        expected_boxes = sample["decoded"]
        assert len(boxes) == len(expected_boxes), sample["name"]
        for box, expected in zip(boxes, expected_boxes, strict=True):
            assert box.size == expected["box_size"]
            assert box.version == expected["version"]
            assert box.system_uuid == expected["system_id"]
            assert [k.hex() for k in box.key_ids] == expected["box_kids"]
            assert len(box.data) == expected["data_size"]
            if "widevine" not in expected:
                continue
            checked_widevine += 1
            header = decode_pssh_data(box.data)
            fields = expected["widevine"]
            assert [k.hex() for k in header.key_ids] == [v for n, v in fields if n == "key_ids"]
            assert [k.hex() for k in header.key_ids] == expected["pywidevine_key_ids"]
            for name, value in fields:
                if name == "provider":
                    assert header.provider == value
                elif name == "policy":
                    assert header.policy == value
                elif name == "algorithm":
                    assert header.algorithm == value
                elif name == "content_id":
                    assert header.content_id == value.encode()
                elif name == "protection_scheme":
                    assert value.startswith(f"{header.protection_scheme} (0x")
    assert checked_widevine == 3


def test_real_samples_through_the_init_data_check(drmkit_vectors_dir: Path) -> None:
    by_name = {s["name"]: base64.b64decode(s["base64"]) for s in load_samples(drmkit_vectors_dir)}
    wpt = parse_init_data("cenc", by_name["wpt_mp4_basic_wv_pr"])  # WV + PlayReady boxes
    assert wpt.key_ids == (bytes.fromhex("ad13f9ea2be698b875f504a8e3ccea64"),)
    assert wpt.content_ids == (b"eyJhc3NldElkIjoiZW1lLXRlc3Qtc2luZ2xlIn0=",)
    repeated = parse_init_data("cenc", by_name["shaka_dash_clearkey_wv"])  # same kid three times
    assert repeated.key_ids == (bytes.fromhex("4060a865887842679cbf91ae5bae1e72"),)
    packager = parse_init_data("cenc", by_name["packager_3.4.2_generated_cenc_wv_pr_common"])
    assert packager.key_ids == (KID,)  # Common and PlayReady boxes skipped
    for name in ("shaka_dash_clearkey_pr", "spe_common_pssh_v1"):
        with pytest.raises(InvalidInitDataError, match="no Widevine pssh box"):
            parse_init_data("cenc", by_name[name])


# -- pywidevine as an independent oracle ---------------------------------------------------------

key_ids = st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=6).flatmap(
    # sometimes repeat a key id, as real packagers do
    lambda kids: st.sampled_from([kids, kids + kids[:1]])
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kids=key_ids,
    provider=st.none() | st.text(max_size=20),
    content_id=st.none() | st.binary(max_size=40),
    scheme=st.none() | st.sampled_from(["cenc", "cbc1", "cens", "cbcs"]),
)
def test_our_boxes_read_the_same_in_pywidevine(
    kids: list[bytes], provider: str | None, content_id: bytes | None, scheme: str | None
) -> None:
    box = make_widevine_pssh(
        kids, provider=provider, content_id=content_id, protection_scheme=scheme
    )
    oracle = pywidevine_pssh.PSSH(box)
    assert oracle.system_id == uuid.UUID(bytes=WIDEVINE_SYSTEM_ID)
    assert [u.bytes for u in oracle.key_ids] == kids
    header = decode_pssh_data(parse_pssh_boxes(box)[0].data)
    assert list(header.key_ids) == kids
    assert header.provider == provider
    assert header.content_id == content_id
    assert header.protection_scheme == scheme
    assert parse_init_data("cenc", box).key_ids == tuple(dict.fromkeys(kids))


@settings(max_examples=60, deadline=None)
@given(kids=key_ids, version=st.sampled_from([0, 1]))
def test_pywidevine_boxes_read_the_same_here(kids: list[bytes], version: int) -> None:
    built = pywidevine_pssh.PSSH.new(
        system_id=pywidevine_pssh.PSSH.SystemId.Widevine,
        key_ids=[uuid.UUID(bytes=k) for k in kids],
        version=version,
    ).dump()
    (box,) = parse_pssh_boxes(built)
    assert box.version == version
    from_data = list(decode_pssh_data(box.data).key_ids)
    assert from_data == kids
    if version == 1:
        assert list(box.key_ids) == kids
    assert parse_init_data("cenc", built).key_ids == tuple(dict.fromkeys(kids))


# -- bad input -----------------------------------------------------------------------------------


def wv_box(data: bytes) -> bytes:
    return build_pssh_box(WIDEVINE_SYSTEM_ID, data)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "names no key ids and no content id"),
        (encode_pssh_data([], provider="widevine_test"), "names no key ids and no content id"),
        (b"\x12", "not a WidevinePsshData"),  # length missing
        (b"\x12\x10" + KID[:4], "not a WidevinePsshData"),  # length past the end
        (b"\x12\xff\xff\xff\xff\x0f" + KID, "not a WidevinePsshData"),  # oversized length
        (b"\x48\xff\xff", "not a WidevinePsshData"),  # truncated varint
        (b"\x48" + b"\xff" * 11, "not a WidevinePsshData"),  # varint of 11 bytes
        (b"\x0f", "not a WidevinePsshData"),  # wire type 7
        (b"\x00\x01", "not a WidevinePsshData"),  # field 0
        (b"\x12\x10" + KID + b"\xa3\x01\xa4\x01", "group encoding"),  # field 20 as a group
        (b"\x12\x11" + KID + b"\x00", "17 bytes"),  # key id too long
        (b"\x12\x00", "0 bytes"),  # empty key id
        (b"\x12\x10" + KID + b"\x48\x01", "protection_scheme 0x00000001"),
        (encode_pssh_data([KID], protection_scheme="abcd"), "protection_scheme 'abcd'"),
    ],
)
def test_bad_widevine_data_is_refused_with_a_reason(data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInitDataError, match=fragment):
        parse_init_data("cenc", wv_box(data))


def test_unknown_fields_and_entitled_keys_are_tolerated_and_reported() -> None:
    entitled = b"\x72\x12\x12\x10" + KID  # field 14: EntitledKey{key_id}
    unknown = b"\xa0\x01\x05" + b"\xaa\x01\x03abc" + b"\xb5\x01\x00\x00\x00\x00"  # 20, 21, 22
    data = b"\x12\x10" + KID + b"\x58\x02" + entitled + unknown
    header = decode_pssh_data(data)
    assert header.key_ids == (KID,)
    assert header.type == "ENTITLED_KEY"
    assert header.entitled_key_ids == (KID,)
    assert header.unknown_fields == (20, 21, 22)
    assert header.as_dict()["unknown_fields"] == [20, 21, 22]
    assert parse_init_data("cenc", wv_box(data)).key_ids == (KID,)


def test_wrong_wire_type_for_a_known_field_is_kept_as_unknown() -> None:
    header = decode_pssh_data(b"\x10\x05")  # key_ids (2) sent as a varint
    assert header.key_ids == () and header.unknown_fields == (2,)


def test_content_id_alone_is_enough_and_invalid_utf8_strings_stay_visible() -> None:
    parsed = parse_init_data("cenc", wv_box(encode_pssh_data([], content_id=b"\x00\xffasset")))
    assert parsed.key_ids == () and parsed.content_ids == (b"\x00\xffasset",)
    header = decode_pssh_data(b"\x1a\x02\xff\xfe")  # provider with invalid UTF-8
    assert header.provider == "\\xff\\xfe"


def test_keyids_and_webm_init_data() -> None:
    kid_b64 = base64.urlsafe_b64encode(KID).rstrip(b"=")
    assert parse_init_data("keyids", b'{"kids":["' + kid_b64 + b'"]}').key_ids == (KID,)
    assert parse_init_data("keyids", b'{"kids":["' + kid_b64 + b'=="]}').key_ids == (KID,)
    assert parse_init_data("webm", KID).key_ids == (KID,)
    for bad, fragment in [
        (b"[]", "non-empty"),
        (b'{"kids":[]}', "non-empty"),
        (b'{"kids":[7]}', "not base64url"),
        (b'{"kids":["a+b/"]}', "not base64url"),
        (b'{"kids":["' + base64.urlsafe_b64encode(bytes(17)) + b'"]}', "17 bytes"),
        (b"\xff", "not JSON"),
    ]:
        with pytest.raises(InvalidInitDataError, match=fragment):
            parse_init_data("keyids", bad)
    with pytest.raises(InvalidInitDataError, match="17 bytes"):
        parse_init_data("webm", bytes(17))
    with pytest.raises(InvalidInitDataError, match="no init data type"):
        parse_init_data("drmheader", KID)


def test_check_for_request_names_where() -> None:
    header = decode_pssh_data(b"\x12\x00")
    with pytest.raises(InvalidInitDataError, match=r"^box 3: key id #0"):
        check_for_request(header, "box 3")


# -- fuzzing (bounded) ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_fuzz_widevine_data_only_raises_typed_errors(data: bytes) -> None:
    try:
        parse_init_data("cenc", wv_box(data))
    except InvalidInitDataError as exc:
        assert exc.message
    with contextlib.suppress(InvalidInitDataError):
        decode_pssh_data(data).as_dict()
    described = plugin.drm_describe_init_data(WIDEVINE_SYSTEM_ID, data)  # never raises
    assert described is not None and described["data_size"] == len(data)
    json.dumps(described)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.sampled_from(
        [
            make_widevine_pssh([KID, KID[::-1]], provider="p", content_id=b"c"),
            build_pssh_box(WIDEVINE_SYSTEM_ID, b"\x12\x10" + KID, [KID], version=1),
        ]
    ),
    edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 200),
)
def test_fuzz_mutated_boxes_only_raise_typed_errors(
    seed: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for position, value in edits:
        data[position % len(data)] = value
    for candidate in (bytes(data), bytes(data[:cut]), bytes(data) * 2):
        for init_data_type in ("cenc", "keyids", "webm"):
            try:
                parse_init_data(init_data_type, candidate)
            except InvalidInitDataError as exc:
                assert exc.message
