"""Unreliable return codes of real OCDM builds (ocdm-abi.md section 5.6).

The reference CDM returns correct codes, so these faults are injected with a small library built
here that reproduces the Thunder client's quirks: create_system_extended returning INVALID_ARG with
a valid system, construct "succeeding" with an empty session id, inverted load/remove codes.
"""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import pytest
from drmkit_hal import Hal, HalConfig, LicenseType, OcdmCallError, OcdmStatus
from hal_testsupport import Recorder

QUIRKY_OCDM = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
typedef struct { char id[32]; } S;
static int g_system;
static int g_destructed;
static int g_sessions;
int quirk_destructed(void) { return g_destructed; }
int quirk_live_sessions(void) { return g_sessions; }
void* opencdm_create_system(const char* k) { return strcmp(k, "quirk.ok") ? NULL : &g_system; }
uint32_t opencdm_create_system_extended(const char* k, void** out) {
    *out = strcmp(k, "quirk.ok") ? NULL : &g_system;
    return 0x80070057u; /* R5/master: a shadowed local makes it always ERROR_INVALID_ARG */
}
uint32_t opencdm_destruct_system(void* s) { return 0; }
uint32_t opencdm_is_type_supported(const char* k, const char* m) {
    return strcmp(k, "quirk.ok") ? 0x80070057u : 0;
}
uint32_t opencdm_construct_session(void* sys, int lt, const char* t, const uint8_t* d, uint16_t n,
                                   const uint8_t* c, uint16_t cn, void* cbs, void* ud, S** out) {
    S* s = calloc(1, sizeof *s);
    if (!(n == 4 && !memcmp(d, "fail", 4))) strcpy(s->id, "quirk-1"); /* else: "" like master */
    g_sessions++;
    *out = s;
    return 0;
}
uint32_t opencdm_destruct_session(S* s) { free(s); g_destructed++; g_sessions--; return 0; }
uint32_t opencdm_session_load(S* s) { return 1; }   /* inverted: the DRM load worked */
uint32_t opencdm_session_remove(S* s) { return 0; } /* inverted: the DRM said no */
uint32_t opencdm_session_update(S* s, const uint8_t* m, uint16_t n) { return 0; }
const char* opencdm_session_id(const S* s) { return s->id; }
uint32_t opencdm_session_has_key_id(S* s, uint8_t n, const uint8_t* k) { return 0; }
uint32_t opencdm_session_status(const S* s, const uint8_t* k, uint8_t n) { return 6; }
uint32_t opencdm_session_close(S* s) { return 0; }
uint32_t opencdm_session_decrypt(S* s, uint8_t* b, uint32_t n, int sch, uint64_t pat,
                                 const uint8_t* iv, uint16_t ivn, const uint8_t* k, uint16_t kn,
                                 uint32_t l15) {
    return 1;
}
"""


@pytest.fixture(scope="module")
def quirky_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("quirky")
    source = directory / "quirky_ocdm.c"
    source.write_text(QUIRKY_OCDM)
    library = directory / "libquirkyocdm.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


class Nothing(Recorder):
    pass


def test_create_system_extended_checks_the_pointer(quirky_library: Path) -> None:
    with Hal.open(HalConfig(library_path=quirky_library)) as hal:
        assert not hal.is_reference
        assert hal.is_type_supported("quirk.ok")
        assert not hal.is_type_supported("quirk.other")
        system = hal.create_system("quirk.ok")  # INVALID_ARG with a valid pointer: success
        assert system.key_system == "quirk.ok"
        with pytest.raises(OcdmCallError) as caught:
            hal.create_system("quirk.other")
        assert caught.value.status is OcdmStatus.KEYSYSTEM_NOT_SUPPORTED
        assert caught.value.function == "opencdm_create_system_extended"


def test_construct_with_empty_session_id_is_a_failure(quirky_library: Path) -> None:
    probe = ctypes.CDLL(str(quirky_library))
    with Hal.open(HalConfig(library_path=quirky_library)) as hal:
        system = hal.create_system("quirk.ok")
        before = probe.quirk_destructed()
        with pytest.raises(OcdmCallError, match="without a session id") as caught:
            system.construct_session(LicenseType.TEMPORARY, "cenc", b"fail", b"", Nothing())
        assert caught.value.function == "opencdm_construct_session"
        # The half-made session object was released, not leaked.
        assert probe.quirk_destructed() == before + 1
        assert system.sessions() == []
        session = system.construct_session(LicenseType.TEMPORARY, "cenc", b"ok", b"", Nothing())
        assert session.session_id == "quirk-1"
    assert probe.quirk_live_sessions() == 0  # close destructed the live one


def test_inverted_load_and_remove_quirks(quirky_library: Path) -> None:
    with Hal.open(HalConfig(library_path=quirky_library)) as hal:
        session = hal.create_system("quirk.ok").construct_session(
            LicenseType.PERSISTENT_LICENSE, "cenc", b"ok", b"", Nothing()
        )
        with pytest.raises(OcdmCallError) as caught:
            session.load()  # raw code 1 read without the quirk flag
        assert caught.value.status is OcdmStatus.UNKNOWN
        session.remove()  # raw 0 is "success" without the flag

    config = HalConfig(
        library_path=quirky_library, quirks=frozenset({"inverted_load", "inverted_remove"})
    )
    with Hal.open(config) as hal:
        session = hal.create_system("quirk.ok").construct_session(
            LicenseType.PERSISTENT_LICENSE, "cenc", b"ok", b"", Nothing()
        )
        session.load()  # 1 == the DRM load worked
        with pytest.raises(OcdmCallError, match="inverted") as caught:
            session.remove()  # 0 == the DRM remove failed
        assert caught.value.function == "opencdm_session_remove"


def test_optional_symbols_absent_fail_cleanly(quirky_library: Path) -> None:
    with Hal.open(HalConfig(library_path=quirky_library)) as hal:
        assert hal.decrypt_variant.value == "ten_arg"  # auto without decrypt_v2
        system = hal.create_system("quirk.ok")
        session = system.construct_session(LicenseType.TEMPORARY, "cenc", b"ok", b"", Nothing())
        with pytest.raises(OcdmCallError) as caught:
            system.ldl_session_limit()
        assert caught.value.status is OcdmStatus.METHOD_NOT_IMPLEMENTED
        with pytest.raises(OcdmCallError):
            session.get_challenge_data()
        with pytest.raises(OcdmCallError):
            hal.play_levels("{}")
        assert session.buffer_id() == ""
        with pytest.raises(Exception, match="not the reference CDM"):
            hal.test_control({"op": "stats"})
        with pytest.raises(Exception, match="decrypt_v2"):
            Hal.open(HalConfig(library_path=quirky_library, decrypt_variant="v2"))


# The same quirks reproduced by the reference CDM's "faithful" switches (docs/reference-cdm.md).

KID = bytes.fromhex("99999999999999999999999999999999")


def _keyids(kid: bytes) -> bytes:
    import base64
    import json

    return json.dumps({"kids": [base64.urlsafe_b64encode(kid).rstrip(b"=").decode()]}).encode()


@pytest.mark.refcdm
def test_reference_cdm_create_system_extended_invalid_arg(hal: Hal) -> None:
    hal.configure({"quirks": ["create_system_extended_invalid_arg"]})
    system = hal.create_system("org.w3.clearkey")  # ERROR_INVALID_ARG with a system: success
    assert system.version()


@pytest.mark.refcdm
def test_reference_cdm_empty_session_id_on_failure(hal: Hal, baseline: dict[str, object]) -> None:
    hal.configure({"quirks": ["empty_session_id_on_failure"]})
    system = hal.create_system("org.w3.clearkey")
    with pytest.raises(OcdmCallError, match="without a session id"):
        system.construct_session(LicenseType.TEMPORARY, "keyids", b"{not json", b"", Nothing())
    assert hal.test_control({"op": "stats"})["sessions"] == baseline["sessions"]  # not leaked


@pytest.mark.refcdm
def test_reference_cdm_inverted_load_and_remove(
    library_path: Path, store_dir: Path, open_hal: object
) -> None:
    hal = open_hal(quirks=frozenset({"inverted_load", "inverted_remove"}))  # type: ignore[operator]
    hal.configure({"quirks": ["inverted_load", "inverted_remove"]})
    system = hal.create_system("org.w3.clearkey")
    session = system.construct_session(
        LicenseType.PERSISTENT_LICENSE, "keyids", _keyids(KID), b"", Nothing()
    )
    license = (
        b'{"keys":[{"kty":"oct","kid":"'
        + __import__("base64").urlsafe_b64encode(KID).rstrip(b"=")
        + b'","k":"AAAAAAAAAAAAAAAAAAAAAA"}]}'
    )
    session.update(license)
    session_id = session.session_id
    session.destruct()
    loaded = system.construct_session(
        LicenseType.PERSISTENT_LICENSE, "persistent-session-id", session_id.encode(), b"", Nothing()
    )
    loaded.load()  # the library returned 1 == success
    loaded.remove()  # 1 == success as well
    missing = system.construct_session(
        LicenseType.PERSISTENT_LICENSE, "persistent-session-id", b"no-such-id", b"", Nothing()
    )
    with pytest.raises(OcdmCallError, match="inverted"):
        missing.load()  # 0 == the load failed
