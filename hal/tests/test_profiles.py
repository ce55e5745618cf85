"""CDM profiles: parsing (strict, every error a ProfileError naming the place), matching, and
what the HAL does with each field."""

from __future__ import annotations

import contextlib
import tomllib
from pathlib import Path

import pytest
from drmkit_hal import (
    DecryptNotSupportedError,
    DecryptVariant,
    EncryptionScheme,
    ExtensionNotSupportedError,
    Hal,
    HalConfig,
    LicenseType,
    ProfileError,
    builtin_profiles,
    library_profile,
    load_profile_file,
    resolve_profile,
)
from drmkit_hal._profile import parse_profile
from hal_testsupport import CLEARKEY, Recorder, clearkey_init_data, jwk_license
from hypothesis import given, settings
from hypothesis import strategies as st

VENDOR = """
name = "acme-ocdm"
description = "ACME set-top box OCDM"
library_names = ["libacme_ocdm.so*"]

[defaults]
decrypt_variant = "ten_arg"
quirks = ["inverted_load"]
unset_system_error = 0xFFFF

[[cdm]]
name = "acme-clearkey"
key_systems = ["org.w3.clearkey"]
encryption_schemes = ["cenc"]
unusable_key_bytes = [0, 255]
unsupported_operations = ["remove"]

[[cdm]]
name = "acme-anything"
key_systems = ["com.acme.*"]
extension_interface = true
"""


def _parse(text: str) -> object:
    return parse_profile(tomllib.loads(text), "test.toml")


def test_defaults_are_inherited_and_cdms_matched_by_key_system() -> None:
    profile = _parse(VENDOR)
    clearkey = profile.cdm("org.w3.clearkey")  # type: ignore[attr-defined]
    assert clearkey.name == "acme-clearkey" and clearkey.library == "acme-ocdm"
    assert clearkey.decrypt_variant is DecryptVariant.TEN_ARG
    assert clearkey.quirks == {"inverted_load"} and clearkey.unset_system_error == 0xFFFF
    assert clearkey.encryption_schemes == {EncryptionScheme.CENC}
    assert not clearkey.supports_operation("remove") and clearkey.supports_operation("load")
    assert clearkey.as_dict()["unsupported_operations"] == ["remove"]
    assert profile.cdm("com.acme.drm").extension_interface is True  # type: ignore[attr-defined]
    fallback = profile.cdm("com.other")  # type: ignore[attr-defined]
    assert fallback.name == "acme-ocdm" and fallback.encryption_schemes is None
    assert profile.matches("/usr/lib/libacme_ocdm.so.2", False)  # type: ignore[attr-defined]
    assert not profile.matches("/usr/lib/libocdm.so", False)  # type: ignore[attr-defined]


def test_unusable_key_bytes_and_random_keys() -> None:
    clearkey = _parse(VENDOR).cdm(CLEARKEY)  # type: ignore[attr-defined]
    assert clearkey.unusable_key_reason(bytes(range(1, 17))) is None
    reason = clearkey.unusable_key_reason(b"\xff" + bytes(15))
    assert reason is not None and "0x00" in reason and "0xff" in reason
    for _ in range(200):
        key = clearkey.random_key()
        assert len(key) == 16 and 0 not in key and 255 not in key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 1\nlibrary_names=['x']", "needs a name"),
        ("name = 'x'", "library_names or reference"),
        ("name = 'x'\nlibrary_names=['x']\nbogus = 1", "unknown keys"),
        ("name = 'x'\nlibrary_names=['x']\n[defaults]\ndecrypt_variant='auto'", "concrete"),
        ("name = 'x'\nlibrary_names=['x']\n[defaults]\ndecrypt_variant='nine'", "unknown decrypt"),
        ("name = 'x'\nlibrary_names=['x']\n[defaults]\nquirks=['x']", "unknown quirks"),
        (
            "name = 'x'\nlibrary_names=['x']\n[defaults]\nunsupported_operations=['fly']",
            "unknown operations",
        ),
        (
            "name = 'x'\nlibrary_names=['x']\n[defaults]\nencryption_schemes=['aes']",
            "unknown value",
        ),
        ("name = 'x'\nlibrary_names=['x']\n[defaults]\nunusable_key_bytes=[256]", "0..255"),
        ("name = 'x'\nlibrary_names=['x']\n[defaults]\nmax_keys_per_license=0", "positive"),
        ("name = 'x'\nlibrary_names=['x']\n[[cdm]]\nname='y'", "key_systems"),
        ("name = 'x'\nlibrary_names=['x']\ncdm = 3", "array of tables"),
    ],
)
def test_malformed_profiles_are_refused_with_the_place(text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        _parse(text)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_any_document_is_a_profile_or_a_profile_error(document: object) -> None:
    if not isinstance(document, dict):
        document = {"name": "x", "library_names": ["x"], "defaults": document}
    with contextlib.suppress(ProfileError):
        parse_profile(document, "fuzz")


def test_builtin_profiles_parse_and_cover_the_reference_and_thunder() -> None:
    names = {p.name for p in builtin_profiles()}
    assert {"reference", "thunder-r5.3"} <= names
    thunder = next(p for p in builtin_profiles() if p.name == "thunder-r5.3")
    assert thunder.matches("/opt/lib/libClientOCDM.so.1", False)
    assert thunder.matches("libocdm.so", False)
    assert thunder.cdm(CLEARKEY).name == "ocdm-clearkey-r5.3"
    assert thunder.cdm("com.netflix.playready").extension_interface is True
    assert thunder.cdm("com.example.other").decrypt_variant is DecryptVariant.TEN_ARG


def test_resolution_auto_named_file_and_unknown(tmp_path: Path) -> None:
    vendor = tmp_path / "acme.toml"
    vendor.write_text(VENDOR)
    assert resolve_profile("libdrmkit_refcdm.so", True).name == "reference"
    assert resolve_profile("/x/libClientOCDM.so", False).name == "thunder-r5.3"
    assert resolve_profile("/x/libvendor.so", False).name == "generic"
    assert resolve_profile("/x/libacme_ocdm.so", False, profile_paths=[vendor]).name == "acme-ocdm"
    assert resolve_profile("/x/libvendor.so", False, profile="thunder-r5.3").name == "thunder-r5.3"
    assert resolve_profile("/x/libvendor.so", False, profile=vendor).name == "acme-ocdm"
    with pytest.raises(ProfileError, match=r"known: generic, reference, thunder-r5\.3"):
        resolve_profile("/x/libvendor.so", False, profile="nonesuch")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = [")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile_file(broken)


def test_the_hal_acts_on_a_forced_profile(
    library_path: Path, search_path: tuple[Path, ...], tmp_path: Path
) -> None:
    # The reference CDM under a profile that rules things out: the HAL refuses them itself.
    vendor = tmp_path / "strict.toml"
    vendor.write_text(
        VENDOR.replace("libacme_ocdm.so*", "never-matches")
        + '\n[[cdm]]\nname="strict-ck"\nkey_systems=["org.chromium.externalclearkey"]\n'
        + 'encryption_schemes=["cenc"]\ndecrypt_v2_sample_info=false\ndecrypt_variant="v2"\n'
        + "unset_system_error = 0\nextension_interface = false\n"
    )
    with Hal.open(HalConfig(library_path, profile=vendor, library_search_path=search_path)) as hal:
        assert hal.profile.name == "acme-ocdm"
        system = hal.create_system("org.chromium.externalclearkey")
        assert system.profile.name == "strict-ck" and system.decrypt_variant is DecryptVariant.V2
        kid = bytes(range(1, 17))
        init_type, init_data = clearkey_init_data(hal, kid)
        session = system.construct_session(
            LicenseType.TEMPORARY, init_type, init_data, b"", Recorder()
        )
        session.update(jwk_license({kid: bytes(range(2, 18))}))
        with pytest.raises(DecryptNotSupportedError, match="cbcs"):
            session.decrypt(bytearray(32), scheme=EncryptionScheme.CBCS, key_id=kid, iv=bytes(16))
        with pytest.raises(DecryptNotSupportedError, match="subsample map"):
            session.decrypt(
                bytearray(32), scheme=EncryptionScheme.CENC, key_id=kid, subsamples=[(16, 16)]
            )  # type: ignore[list-item]
        session.decrypt(bytearray(32), scheme=EncryptionScheme.CENC, key_id=kid)  # no map: fine
        with pytest.raises(ExtensionNotSupportedError, match="no OCDM extension interface"):
            session.select_key_id(kid)
        assert "inverted_load" in system._quirks
        session.destruct()


def test_library_profile_without_opening_a_hal(hal: Hal, library_path: Path) -> None:
    config = HalConfig(library_path, library_search_path=hal.config.library_search_path)
    assert library_profile(config).name == hal.profile.name
    assert library_profile(HalConfig(library_path, profile="generic")).name == "generic"
