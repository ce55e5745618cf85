"""PlayReady headers and objects: real init data, pyplayready as the oracle, bad input."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import struct
import uuid
from pathlib import Path
from typing import Any

import pytest
from drmkit.errors import InvalidInitDataError
from drmkit_playready_netflix.header import (
    VERSIONS,
    HeaderError,
    HeaderKid,
    build_header,
    parse_header,
    parse_header_text,
)
from drmkit_playready_netflix.initdata import (
    PlayReadyObjectError,
    build_playready_object,
    build_pssh,
    describe_playready_data,
    parse_init_data,
    parse_playready_object,
    parse_pro_or_header,
)
from drmkit_playready_netflix.plugin import netflix, playready
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyplayready.system.pssh import PSSH as OraclePssh
from pyplayready.system.wrmheader import WRMHeader as OracleHeader

PLAYREADY_SYSTEM_ID = bytes.fromhex("9a04f07998404286ab92e65be0885f95")
NS = 'xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader"'


def samples(drmkit_vectors_dir: Path) -> list[dict[str, Any]]:
    document = json.loads((drmkit_vectors_dir / "initdata" / "initdata_samples.json").read_text())
    assert isinstance(document, list)
    return document


def playready_records(sample: dict[str, Any]) -> list[dict[str, Any]]:
    decoded = sample["decoded"]
    boxes = decoded if isinstance(decoded, list) else [decoded]
    return [r for box in boxes if "playready" in box for r in box["playready"]["records"]]


def utf16(xml: str) -> bytes:
    return xml.encode("utf-16-le")


# -- the real init data in testdata/vectors/initdata -----------------------------------------------


def test_real_init_data_decodes_as_listed(drmkit_vectors_dir: Path) -> None:
    checked = 0
    for sample in samples(drmkit_vectors_dir):
        records = playready_records(sample)
        if not records:
            continue
        raw = base64.b64decode(sample["base64"])
        kind = "drmheader" if raw[4:8] not in (b"pssh", b"uuid") else "cenc"
        parsed = parse_init_data(kind, raw)
        expected_kids = [bytes.fromhex(k) for r in records for k in r["kids_hex_cenc_order"]]
        assert list(parsed.key_ids) == expected_kids, sample["name"]
        for header, record in zip(parsed.headers, records, strict=True):
            assert header.version == record["version"]
            assert [base64.b64encode(k.guid_bytes).decode() for k in header.kids] == record[
                "kids_b64"
            ]
            assert [str(uuid.UUID(bytes=k)) for k in header.key_ids] == record["kids_uuid"]
            assert header.kids[0].algorithm == record["ALGID"]
            assert base64.b64encode(header.kids[0].checksum or b"").decode() == record["CHECKSUM"]
            # LA_URL: the listing keeps the XML text; the header gives it unescaped.
            la_url = record.get("LA_URL")
            assert header.la_url == (la_url.replace("&amp;", "&") if la_url else None)
            if "CUSTOMATTRIBUTES" in record:
                assert header.custom_attributes == {"IIS_DRM_VERSION": "8.0.1705.19"}
            assert header.key_length == int(record["KEYLEN"])
        checked += 1
    assert checked >= 4


def test_real_checksums_verify_against_the_listed_keys(drmkit_vectors_dir: Path) -> None:
    checked = 0
    for sample in samples(drmkit_vectors_dir):
        if not sample.get("checksum_check") or not sample.get("keys"):
            continue
        raw = base64.b64decode(sample["base64"])
        parsed = parse_init_data("cenc", raw)
        for kid_hex, key_hex in sample["keys"].items():
            kid, key = bytes.fromhex(kid_hex), bytes.fromhex(key_hex)
            entry = next(k for h in parsed.headers for k in h.kids if k.key_id == kid)
            assert (
                base64.b64encode(entry.checksum or b"").decode()
                == sample["checksum_check"][kid_hex]
            )
            assert entry.verify(key)
            assert not entry.verify(bytes(16))
            for header in parsed.headers:
                header.check_key(kid, key)
                with pytest.raises(HeaderError, match="CHECKSUM"):
                    header.check_key(kid, os.urandom(16))
            checked += 1
    assert checked >= 2


def test_real_init_data_agrees_with_pyplayready(drmkit_vectors_dir: Path) -> None:
    checked = 0
    for sample in samples(drmkit_vectors_dir):
        if not playready_records(sample):
            continue
        raw = base64.b64decode(sample["base64"])
        kind = "drmheader" if raw[4:8] not in (b"pssh", b"uuid") else "cenc"
        ours = parse_init_data(kind, raw)
        if kind == "cenc":
            box_data = next(
                box
                for box in _boxes(raw)
                if box[12:28] == PLAYREADY_SYSTEM_ID  # full box: size, type, version+flags, id
            )
            oracle = OraclePssh(box_data)
        else:
            oracle = OraclePssh(raw)
        assert_same(ours.headers, oracle.wrm_headers)
        checked += 1
    assert checked >= 4


def _boxes(data: bytes) -> list[bytes]:
    out, position = [], 0
    while position < len(data):
        size = struct.unpack_from(">I", data, position)[0]
        out.append(data[position : position + size])
        position += size
    return out


def assert_same(ours: Any, oracle_headers: list[OracleHeader]) -> None:
    assert len(ours) == len(oracle_headers)
    for header, oracle in zip(ours, oracle_headers, strict=True):
        assert header.version == oracle.version.value
        assert [uuid.UUID(bytes=k.key_id) for k in header.kids] == [k.value for k in oracle.key_ids]
        assert [k.checksum for k in header.kids] == [k.checksum for k in oracle.key_ids]
        assert header.la_url == oracle.la_url
        assert header.lui_url == oracle.lui_url


# -- every version, generated, checked by the oracle ---------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("count", [0, 1, 3])
def test_generated_headers_of_every_version_match_pyplayready(version: str, count: int) -> None:
    if (version == "4.0.0.0" and count != 1) or (version == "4.1.0.0" and count > 1):
        pytest.skip("not a legal KID count for this version")
    keys = {os.urandom(16): os.urandom(16) for _ in range(count)}
    raw = build_header(
        list(keys),
        version=version,
        keys=keys,
        la_url="https://lic.example/rightsmanager.asmx?a=1&b=<2>",
        lui_url="https://ui.example/?x=1&y=2",
        custom_attributes={"CONTENT": "movie & more"},
    )
    header = parse_header(raw)
    assert header.version == version
    assert header.key_ids == tuple(keys)
    assert header.la_url == "https://lic.example/rightsmanager.asmx?a=1&b=<2>"
    assert header.lui_url == "https://ui.example/?x=1&y=2"
    assert header.custom_attributes == {"CONTENT": "movie & more"}
    for kid, key in keys.items():
        header.check_key(kid, key)
    oracle = OracleHeader(raw)
    assert_same([header], [oracle])
    for entry, oracle_kid in zip(header.kids, oracle.key_ids, strict=True):
        assert oracle_kid.verify(keys[entry.key_id])  # the oracle agrees with our checksums
    pro = build_playready_object(raw)
    assert_same(parse_pro_or_header(pro).headers, OraclePssh(pro).wrm_headers)
    pssh = build_pssh(pro)
    assert_same(parse_init_data("cenc", pssh).headers, OraclePssh(pssh).wrm_headers)


def test_kids_are_little_endian_guids_shown_in_cenc_order() -> None:
    cenc = bytes.fromhex("0123456789abcdef0123456789abcdef")
    raw = build_header([cenc], version="4.0.0.0")
    assert "Z0UjAauJ780BI0VniavN7w==" in raw.decode("utf-16-le")  # the packager's own bytes
    entry = parse_header(raw).kids[0]
    assert entry.key_id == cenc
    assert entry.as_dict()["kid_uuid"] == "01234567-89ab-cdef-0123-456789abcdef"


def test_cocktail_checksum_and_unknown_algorithm() -> None:
    key = os.urandom(16)
    entry = HeaderKid(os.urandom(16), "COCKTAIL", None)
    checksum = entry.expected_checksum(key)
    assert len(checksum) == 7
    oracle = OracleHeader.SignedKeyID(
        uuid.UUID(bytes=entry.key_id), OracleHeader.SignedKeyID.AlgId("COCKTAIL"), checksum
    )
    assert oracle.verify(key)
    with pytest.raises(HeaderError, match="algorithm"):
        HeaderKid(os.urandom(16), "AESCBC", None).expected_checksum(key)


def test_v41_header_without_kid_and_bom_accepted() -> None:
    xml = f'<WRMHEADER {NS} version="4.1.0.0"><DATA><PROTECTINFO/></DATA></WRMHEADER>'
    header = parse_header(b"\xff\xfe" + utf16(xml))
    assert header.kids == ()
    assert header.version == "4.1.0.0"


def test_entities_in_urls_are_unescaped() -> None:
    kid = base64.b64encode(os.urandom(16)).decode()
    xml = (
        f'<WRMHEADER {NS} version="4.2.0.0"><DATA><PROTECTINFO><KIDS><KID VALUE="{kid}"'
        ' ALGID="AESCTR"/></KIDS></PROTECTINFO><LA_URL>http://x/?a=1&amp;b=&lt;2&gt;</LA_URL>'
        "<LUI_URL>http://y/&#x41;</LUI_URL></DATA></WRMHEADER>"
    )
    header = parse_header(utf16(xml))
    assert header.la_url == "http://x/?a=1&b=<2>"
    assert header.lui_url == "http://y/A"


def test_describe_init_data_for_inspect(drmkit_vectors_dir: Path) -> None:
    sample = next(s for s in samples(drmkit_vectors_dir) if s["name"].startswith("ms_playready"))
    pro = base64.b64decode(sample["base64"])
    description = playready.drm_describe_init_data(PLAYREADY_SYSTEM_ID, pro)
    assert description is not None
    assert description["key_ids"] == ["09e091abf83841d29e3558531fd19ec7"]
    assert description["headers"][0]["la_url"].startswith("https://profficialsite")
    assert playready.drm_describe_init_data(bytes(16), pro) is None
    broken = playready.drm_describe_init_data(PLAYREADY_SYSTEM_ID, pro[:-3])
    assert broken is not None and "error" in broken
    assert describe_playready_data(pro)["records"] == [{"type": 1, "length": len(pro) - 10}]
    # Both plugins answer the broadcast hook alike, whichever is enabled.
    assert netflix.drm_describe_init_data(PLAYREADY_SYSTEM_ID, pro) == description


# -- bad input ------------------------------------------------------------------------------------

GOOD_KID = base64.b64encode(bytes(range(16))).decode()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (f'<WRMHEADER {NS} version="4.0.0.0"/>'.encode(), "UTF-8"),
        (b"\xfe\xff" + f"<WRMHEADER {NS}/>".encode("utf-16-be"), "big-endian"),
        (utf16("<WRMHEADER/>") + b"\x00", "odd byte count"),
        (b"\x00\xd8<\x00", "UTF-16LE"),  # an unpaired surrogate
        (utf16("<WRMHEADER\x00/>"), "NUL"),
        (utf16("<WRMHEADER version='4.0.0.0'><DATA>"), "well-formed"),
        (utf16('<WRMHEADER version="5.0.0.0"><DATA/></WRMHEADER>'), "unknown WRMHEADER version"),
        (utf16('<WRMHEADER version="4.0.0.0"><DATA/></WRMHEADER>'), "needs a <KID>"),
        (utf16('<WRMHEADER version="4.2.0.0"/>'), "no <DATA>"),
        (utf16("<OTHER/>"), "not <WRMHEADER>"),
        (
            utf16(
                f'<WRMHEADER version="4.0.0.0"><DATA><KID>{GOOD_KID[:-3]}!</KID></DATA></WRMHEADER>'
            ),
            "not base64",
        ),
        (
            utf16('<WRMHEADER version="4.0.0.0"><DATA><KID>AAAA</KID></DATA></WRMHEADER>'),
            "3 bytes",
        ),
        (
            utf16(
                f'<WRMHEADER version="4.0.0.0"><DATA><KID>{GOOD_KID}</KID>'
                "<CHECKSUM>%%</CHECKSUM></DATA></WRMHEADER>"
            ),
            "CHECKSUM is not base64",
        ),
        (
            utf16(
                '<WRMHEADER version="4.2.0.0"><DATA><PROTECTINFO><KIDS><KID ALGID="AESCTR"/>'
                "</KIDS></PROTECTINFO></DATA></WRMHEADER>"
            ),
            "no KID value",
        ),
        (
            utf16(
                '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
                '<WRMHEADER version="4.0.0.0"><DATA><LA_URL>&b;</LA_URL></DATA></WRMHEADER>'
            ),
            "DTD",
        ),
        (
            utf16(
                '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                '<WRMHEADER version="4.0.0.0"><DATA><LA_URL>&e;</LA_URL></DATA></WRMHEADER>'
            ),
            "DTD",
        ),
    ],
)
def test_bad_headers_are_refused_with_a_reason(data: bytes, match: str) -> None:
    with pytest.raises(HeaderError, match=match):
        parse_header(data)


def test_playready_objects_whose_lengths_lie() -> None:
    header = build_header([os.urandom(16)])
    pro = build_playready_object(header)
    assert len(parse_playready_object(pro)) == 1
    cases = {
        "says it is": pro[:-2],
        "needs 6 bytes": pro[:4],
        "no records": struct.pack("<IH", 6, 0),
        "past the end": struct.pack("<IH", 6, 1),
        "remain": struct.pack("<IHHH", 12, 1, 1, 100) + b"ab",
        "follow the last": struct.pack("<IHHH", 12, 1, 1, 0) + b"ab",
    }
    for match, data in cases.items():
        with pytest.raises(PlayReadyObjectError, match=match):
            parse_playready_object(data)
    two_records = (
        struct.pack("<IH", 6 + 4 + len(header) + 6, 2)
        + struct.pack("<HH", 3, 2)
        + b"xx"
        + struct.pack("<HH", 1, len(header))
        + header
    )
    assert len(parse_pro_or_header(two_records).headers) == 1
    only_store = struct.pack("<IHHH", 12, 1, 3, 2) + b"xx"
    with pytest.raises(PlayReadyObjectError, match="no WRMHEADER"):
        parse_pro_or_header(only_store)


def test_cenc_without_playready_box_and_garbage() -> None:
    with pytest.raises(InvalidInitDataError, match="no PlayReady pssh box"):
        parse_init_data("cenc", _common_pssh())
    with pytest.raises(InvalidInitDataError, match="not pssh boxes"):
        parse_init_data("cenc", b"\x00\x00\x00\x10junkjunkjunkjunk")
    with pytest.raises(InvalidInitDataError, match="no init data type"):
        parse_init_data("keyids", b"{}")


def _common_pssh() -> bytes:
    system = bytes.fromhex("1077efecc0b24d02ace33c1e52e2fb4b")
    return (
        struct.pack(">I", 52)
        + b"pssh"
        + b"\x01\x00\x00\x00"
        + system
        + struct.pack(">I", 1)
        + bytes(16)
        + struct.pack(">I", 0)
    )


# -- fuzzing (bounded) ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_init_data_parsers_never_crash(data: bytes) -> None:
    for kind in ("cenc", "drmheader"):
        with contextlib.suppress(InvalidInitDataError):
            parse_init_data(kind, data)
    assert playready.drm_describe_init_data(PLAYREADY_SYSTEM_ID, data) is not None


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list('<>/="& ;#xWRMHEADERKIDATAversion4.0123VALUE')), max_size=120
    )
)
def test_fuzz_xml_text_never_crashes(text: str) -> None:
    with contextlib.suppress(HeaderError):
        parse_header_text(text)


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=1, max_size=40), st.integers(0, 2000))
def test_fuzz_mutated_real_objects(patch: bytes, position: int) -> None:
    pro = build_playready_object(build_header([bytes(range(16))], la_url="http://a/?b&c"))
    position %= len(pro)
    mutated = pro[:position] + patch + pro[position + len(patch) :]
    with contextlib.suppress(InvalidInitDataError):
        parse_pro_or_header(mutated)
