"""``drmkit inspect`` on the shared vectors and on raw init data."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from drmkit.cli import _register_commands, app
from drmkit.testing.vectors import ENCRYPTED_VECTORS, Vector, vectors_dir
from typer.testing import CliRunner

_register_commands()
runner = CliRunner()


def _inspect(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["inspect", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("vector", ENCRYPTED_VECTORS, ids=lambda v: v.name)
def test_inspect_matches_the_key_table(vector: Vector) -> None:
    report = _inspect(*map(str, vector.paths()))
    kids = {k["kid"] for k in vector.key_table()["keys"]}
    oracle = vector.oracle()
    assert len(report["tracks"]) == len(oracle["tracks"])
    for track, expected in zip(report["tracks"], oracle["tracks"], strict=True):
        assert track["default_kid"] in kids
        assert track["samples"] == expected["samples"]
        assert track["handler"] == {"video": "vide", "audio": "soun"}[expected["type"]]
        assert track["codec"] == {"h264": "avc1", "aac": "mp4a"}[expected["codec"]]
        if "cbcs" in vector.name:
            assert track["scheme"] == "cbcs" and track["iv_size"] == 0
            assert track["constant_iv"] is not None
            assert track["pattern"] == ("1:9" if track["handler"] == "vide" else "0:0")
        else:
            assert track["scheme"] == "cenc" and track["iv_size"] == 8
            assert track["constant_iv"] is None and track["pattern"] is None


def test_inspect_lists_every_pssh_with_its_system() -> None:
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_packager_cenc_v")
    report = _inspect(*map(str, vector.paths()))
    systems = [(p["system"], p["version"]) for p in report["pssh"]]
    assert systems == [("Common (W3C Clear Key)", 1), ("PlayReady", 0), ("Widevine", 0)]
    assert report["pssh"][0]["key_ids"] == ["0123456789abcdef0123456789abcdef"]
    for box in report["pssh"][1:]:
        # decoded by the owning plugin, or shown raw when no plugin knows the system
        assert box["decoded"] is not None or box["data"]


def test_dash_init_alone_shows_tracks_without_samples() -> None:
    report = _inspect(str(vectors_dir() / "dash-clearkey/video-H264-288-400k_init.mp4"))
    (track,) = report["tracks"]
    assert track["default_kid"] == "4060a865887842679cbf91ae5bae1e72"
    assert track["samples"] == 0
    assert [p["system"] for p in report["pssh"]] == ["PlayReady", "Widevine"]


def _initdata_samples() -> list[dict]:  # type: ignore[type-arg]
    return json.loads((vectors_dir() / "initdata/initdata_samples.json").read_text())


def test_init_data_pssh_boxes() -> None:
    for sample in _initdata_samples():
        report = _inspect("--init-data", sample["base64"])
        raw = base64.b64decode(sample["base64"])
        if raw[4:8] == b"pssh":
            assert report["type"] == "cenc"
            assert all(p["system"] != "unknown" for p in report["pssh"])
        else:
            assert report["type"] == "playready-object"
            assert report["pssh"][0]["system"] == "PlayReady"


def test_init_data_common_pssh_key_ids() -> None:
    sample = next(s for s in _initdata_samples() if s["name"] == "spe_common_pssh_v1")
    report = _inspect("--init-data", sample["base64"])
    assert report["pssh"][0]["key_ids"] == ["abba271e8bcf552bbd2e86a434a9a5d9"]


def test_init_data_keyids_json() -> None:
    doc = json.dumps({"kids": ["ASNFZ4mrze8BI0VniavN7w"]}).encode()
    report = _inspect("--init-data", base64.b64encode(doc).decode())
    assert report == {"type": "keyids", "key_ids": ["0123456789abcdef0123456789abcdef"]}


@pytest.mark.parametrize("bad", ["not base64!!", base64.b64encode(b"\x00\x01garbage").decode()])
def test_bad_init_data_is_a_clear_error(bad: str) -> None:
    result = runner.invoke(app, ["inspect", "--init-data", bad])
    assert result.exit_code == 2
    assert "error" in result.output


def test_corrupt_file_error_names_the_file_and_offset(tmp_path) -> None:
    data = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_packager_cenc_v").read()
    senc = data.find(b"senc") - 4
    struct.pack_into(">I", data, senc, 0x00FFFFFF)
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(data)
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 2
    assert "corrupt.mp4" in result.output and f"at offset {senc}" in result.output


def test_offsets_of_later_segments_are_reported_per_file(tmp_path) -> None:
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "shaka_dash_clearkey")
    init, seg1, _ = vector.paths()
    data = bytearray(seg1.read_bytes())
    trun = data.find(b"trun") - 4
    struct.pack_into(">I", data, trun, 0x00FFFFFF)
    bad = tmp_path / "seg1.m4s"
    bad.write_bytes(data)
    result = runner.invoke(app, ["inspect", str(init), str(bad)])
    assert result.exit_code == 2
    assert "seg1.m4s" in result.output and f"at offset {trun}" in result.output


def test_system_data_is_decoded_by_the_owning_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("drmkit_widevine")
    monkeypatch.setenv("DRMKIT_PLUGINS__ENABLED", '["clearkey", "widevine"]')
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_packager_cenc_v")
    report = _inspect(*map(str, vector.paths()))
    widevine = next(p for p in report["pssh"] if p["system"] == "Widevine")
    assert widevine["decoded"]["key_ids"] == ["0123456789abcdef0123456789abcdef"]
    assert widevine["decoded"]["protection_scheme"] == "cenc"
    assert widevine["data"] is None  # decoded, so not repeated raw


@pytest.mark.parametrize(
    "plugins_env",
    [None, '["clearkey"]'],
    ids=["no-configuration", "allow-list-without-them"],
)
def test_installed_plugins_describe_widevine_and_playready_without_configuration(
    monkeypatch: pytest.MonkeyPatch, plugins_env: str | None
) -> None:
    # Describing is harmless: every installed plugin describes, whatever plugins.enabled says.
    pytest.importorskip("drmkit_widevine")
    pytest.importorskip("drmkit_playready_netflix")
    monkeypatch.delenv("DRMKIT_PLUGINS__ENABLED", raising=False)
    if plugins_env is not None:
        monkeypatch.setenv("DRMKIT_PLUGINS__ENABLED", plugins_env)
    sample = next(s for s in _initdata_samples() if s["name"] == "wpt_mp4_basic_wv_pr")
    report = _inspect("--init-data", sample["base64"])
    boxes = {box["system"]: box for box in report["pssh"]}
    assert boxes["Widevine"]["decoded"]["key_ids"] == ["ad13f9ea2be698b875f504a8e3ccea64"]
    assert boxes["PlayReady"]["decoded"] is not None
    assert "jYFNf0yf4is=" in json.dumps(boxes["PlayReady"]["decoded"])  # its CHECKSUM


def test_a_blocked_plugin_does_not_describe(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("drmkit_widevine")
    monkeypatch.setenv("DRMKIT_PLUGINS__DISABLED", '["widevine"]')
    sample = next(s for s in _initdata_samples() if s["name"] == "wpt_mp4_basic_wv_pr")
    report = _inspect("--init-data", sample["base64"])
    widevine = next(p for p in report["pssh"] if p["system"] == "Widevine")
    assert widevine["decoded"] is None and widevine["data"]
