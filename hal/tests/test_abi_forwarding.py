"""The shim forwards decrypt arguments exactly as the OCDM ABI lays them out.

A small recording library (built here with gcc from drmkit's C header) exports the decrypt entry
points and stores what it received; ctypes reads it back. This checks, independently of the
reference CDM: the by-value ``EncryptionPattern`` of the 10-argument form, the ``SampleInfo`` and
``MediaProperties`` the shim builds for ``decrypt_v2``, NULL for absent IVs and key ids, and that
the ``legacy`` variant calls a pre-2021 library's ``opencdm_session_decrypt`` with 8 arguments.
"""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import pytest
from drmkit_hal import (
    DecryptVariant,
    EncryptionScheme,
    Hal,
    HalConfig,
    LicenseType,
    MediaProperties,
    MediaType,
    Pattern,
    Subsample,
)
from hal_testsupport import Recorder

REPO_HAL = Path(__file__).resolve().parents[1]

RECORDER_OCDM = r"""
#include <stdlib.h>
#include <string.h>
#ifdef LEGACY /* the pre-2021 header declared the 8-argument form under the same name */
#define opencdm_session_decrypt opencdm_session_decrypt_current_form
#endif
#include "drmkit/open_cdm.h"
#undef opencdm_session_decrypt

struct OpenCDMSystem { int unused; };
struct OpenCDMSession { char id[8]; };
static struct OpenCDMSystem g_system;

/* What the last decrypt received. */
int rec_args;                 /* 8, 10 or 2 (v2) */
uint32_t rec_length, rec_scheme, rec_crypt, rec_skip, rec_iv_len, rec_kid_len, rec_last15;
int rec_iv_null, rec_kid_null;
uint8_t rec_iv[32], rec_kid[16];
uint32_t rec_nsub;
SubSampleInfo rec_sub[256];
int rec_media_null;
MediaProperties rec_media;

static void note(const uint8_t* iv, uint32_t ivn, const uint8_t* kid, uint32_t kidn) {
    rec_iv_null = iv == NULL; rec_kid_null = kid == NULL;
    rec_iv_len = ivn; rec_kid_len = kidn;
    if (iv && ivn <= sizeof rec_iv) memcpy(rec_iv, iv, ivn);
    if (kid && kidn <= sizeof rec_kid) memcpy(rec_kid, kid, kidn);
}

#ifdef LEGACY
OCDM_EXTERNAL OpenCDMError opencdm_session_decrypt(struct OpenCDMSession* s, uint8_t* b, uint32_t n,
        const uint8_t* iv, uint16_t ivn, const uint8_t* kid, uint16_t kidn, uint32_t last15) {
    (void)s; rec_args = 8; rec_length = n; rec_last15 = last15; note(iv, ivn, kid, kidn);
    for (uint32_t i = 0; i < n; i++) b[i] ^= 0x5a;
    return ERROR_NONE;
}
#else
OpenCDMError opencdm_session_decrypt(struct OpenCDMSession* s, uint8_t encrypted[],
        const uint32_t n, const EncryptionScheme scheme, const EncryptionPattern pattern,
        const uint8_t* iv, uint16_t ivn, const uint8_t* kid, const uint16_t kidn, uint32_t last15) {
    (void)s; (void)encrypted; rec_args = 10; rec_length = n; rec_scheme = scheme;
    rec_crypt = pattern.encrypted_blocks; rec_skip = pattern.clear_blocks; rec_last15 = last15;
    note(iv, ivn, kid, kidn);
    return ERROR_NONE;
}
OpenCDMError opencdm_session_decrypt_v2(struct OpenCDMSession* s, uint8_t encrypted[],
        const uint32_t n, const SampleInfo* info, const MediaProperties* media) {
    (void)s; (void)encrypted; rec_args = 2; rec_length = n; rec_scheme = info->scheme;
    rec_crypt = info->pattern.encrypted_blocks; rec_skip = info->pattern.clear_blocks;
    note(info->iv, info->ivLength, info->keyId, info->keyIdLength);
    rec_nsub = info->subSampleCount;
    if (info->subSample) memcpy(rec_sub, info->subSample, rec_nsub * sizeof rec_sub[0]);
    rec_media_null = media == NULL;
    if (media) rec_media = *media;
    return ERROR_NONE;
}
#endif

struct OpenCDMSystem* opencdm_create_system(const char k[]) { (void)k; return &g_system; }
OpenCDMError opencdm_destruct_system(struct OpenCDMSystem* s) { (void)s; return 0; }
OpenCDMError opencdm_is_type_supported(const char k[], const char m[]) {
    (void)k; (void)m; return 0;
}
OpenCDMError opencdm_construct_session(struct OpenCDMSystem* sys, const LicenseType lt,
        const char t[], const uint8_t d[], const uint16_t dn, const uint8_t c[], const uint16_t cn,
        OpenCDMSessionCallbacks* cb, void* ud, struct OpenCDMSession** out) {
    (void)sys; (void)lt; (void)t; (void)d; (void)dn; (void)c; (void)cn; (void)cb; (void)ud;
    *out = calloc(1, sizeof **out); strcpy((*out)->id, "rec-1"); return ERROR_NONE;
}
OpenCDMError opencdm_destruct_session(struct OpenCDMSession* s) { free(s); return ERROR_NONE; }
OpenCDMError opencdm_session_load(struct OpenCDMSession* s) { (void)s; return ERROR_NONE; }
OpenCDMError opencdm_session_update(struct OpenCDMSession* s, const uint8_t m[], const uint16_t n) {
    (void)s; (void)m; (void)n; return ERROR_NONE;
}
OpenCDMError opencdm_session_remove(struct OpenCDMSession* s) { (void)s; return ERROR_NONE; }
const char* opencdm_session_id(const struct OpenCDMSession* s) { return s->id; }
uint32_t opencdm_session_has_key_id(struct OpenCDMSession* s, const uint8_t n, const uint8_t k[]) {
    (void)s; (void)n; (void)k; return 1;
}
KeyStatus opencdm_session_status(const struct OpenCDMSession* s, const uint8_t k[],
                                 const uint8_t n) {
    (void)s; (void)k; (void)n; return Usable;
}
OpenCDMError opencdm_session_close(struct OpenCDMSession* s) { (void)s; return ERROR_NONE; }
"""


def _build(tmp_path: Path, name: str, *defines: str) -> Path:
    source = tmp_path / f"{name}.c"
    source.write_text(RECORDER_OCDM)
    library = tmp_path / f"lib{name}.so"
    subprocess.run(
        ["gcc", "-std=c11", "-Wall", "-Werror", "-shared", "-fPIC", *defines,
         f"-I{REPO_HAL / 'include'}", "-o", str(library), str(source)],
        check=True,
    )  # fmt: skip
    return library


@pytest.fixture(scope="module")
def current_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("rec"), "recocdm")


@pytest.fixture(scope="module")
def legacy_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("recold"), "recocdm_old", "-DLEGACY")


def _session(library: Path, variant: DecryptVariant):  # type: ignore[no-untyped-def]
    hal = Hal.open(HalConfig(library_path=library, decrypt_variant=variant))
    session = hal.create_system("rec").construct_session(
        LicenseType.TEMPORARY, "cenc", b"x", b"", Recorder()
    )
    return hal, session


def test_v2_sample_info_layout(current_library: Path) -> None:
    probe = ctypes.CDLL(str(current_library))
    value = lambda name, ctype=ctypes.c_uint32: ctype.in_dll(probe, name).value  # noqa: E731
    hal, session = _session(current_library, DecryptVariant.V2)
    with hal:
        assert hal.decrypt_variant is DecryptVariant.V2
        iv, kid = bytes(range(16)), bytes(range(100, 116))
        subsamples = [Subsample(65535, 7), Subsample(0, 2**20)]
        session.decrypt(
            bytearray(65542 + 2**20),
            scheme=EncryptionScheme.CBCS,
            iv=iv,
            key_id=kid,
            subsamples=subsamples,
            pattern=Pattern(1, 9),
            media=MediaProperties(1080, 1920, MediaType.VIDEO),
        )
        assert value("rec_args", ctypes.c_int) == 2
        assert value("rec_length") == 65542 + 2**20
        assert value("rec_scheme") == EncryptionScheme.CBCS
        assert (value("rec_crypt"), value("rec_skip")) == (1, 9)
        assert (
            value("rec_iv_len") == 16 and bytes((ctypes.c_uint8 * 16).in_dll(probe, "rec_iv")) == iv
        )
        assert bytes((ctypes.c_uint8 * 16).in_dll(probe, "rec_kid")) == kid
        assert value("rec_nsub") == 2

        class SubSampleInfo(ctypes.Structure):
            _fields_ = [("clear_bytes", ctypes.c_uint16), ("encrypted_bytes", ctypes.c_uint32)]

        recorded = (SubSampleInfo * 2).in_dll(probe, "rec_sub")
        assert [(s.clear_bytes, s.encrypted_bytes) for s in recorded] == subsamples

        class Media(ctypes.Structure):
            _fields_ = [
                ("height", ctypes.c_uint16),
                ("width", ctypes.c_uint16),
                ("type", ctypes.c_int),
            ]

        media = Media.in_dll(probe, "rec_media")
        assert (media.height, media.width, media.type) == (1080, 1920, MediaType.VIDEO)

        # No IV, no key id, no map: NULL pointers, zero counts, zeroed media properties.
        session.decrypt(bytearray(10), scheme=EncryptionScheme.CENC)
        assert value("rec_iv_null", ctypes.c_int) == 1 and value("rec_kid_null", ctypes.c_int) == 1
        assert value("rec_nsub") == 0 and value("rec_media_null", ctypes.c_int) == 0


def test_ten_argument_form_and_pattern_by_value(current_library: Path) -> None:
    probe = ctypes.CDLL(str(current_library))
    value = lambda name: ctypes.c_uint32.in_dll(probe, name).value  # noqa: E731
    hal, session = _session(current_library, DecryptVariant.TEN_ARG)
    with hal:
        # cbcs without a map: one call with the scheme and the pattern (cens is always gathered
        # into plain CTR by the HAL, so the CDM never needs to apply its pattern).
        session.decrypt(
            bytearray(100), scheme=EncryptionScheme.CBCS, iv=bytes(16), key_id=bytes(16),
            pattern=Pattern(3, 7),
        )  # fmt: skip
        assert ctypes.c_int.in_dll(probe, "rec_args").value == 10
        assert (value("rec_scheme"), value("rec_crypt"), value("rec_skip")) == (4, 3, 7)
        assert (value("rec_iv_len"), value("rec_kid_len"), value("rec_last15")) == (16, 16, 0)
        session.decrypt(
            bytearray(50), scheme=EncryptionScheme.CENC, iv=bytes(20), init_with_last15=True
        )
        assert (value("rec_iv_len"), value("rec_last15")) == (20, 1)


def test_legacy_variant_calls_the_eight_argument_form(legacy_library: Path) -> None:
    probe = ctypes.CDLL(str(legacy_library))
    hal, session = _session(legacy_library, DecryptVariant.LEGACY)
    with hal:
        data = bytearray(b"\x00" * 40)
        session.decrypt(data, scheme=EncryptionScheme.CENC, iv=bytes(range(8)), key_id=bytes(16))
        assert ctypes.c_int.in_dll(probe, "rec_args").value == 8
        assert ctypes.c_uint32.in_dll(probe, "rec_length").value == 40
        assert ctypes.c_uint32.in_dll(probe, "rec_iv_len").value == 8
        assert data == b"\x5a" * 40  # the library really decrypted our buffer in place
        # cenc subsamples are gathered: only the encrypted bytes reach the library.
        data = bytearray(b"\x00" * 40)
        session.decrypt(
            data, scheme=EncryptionScheme.CENC, key_id=bytes(16),
            subsamples=[Subsample(10, 5), Subsample(20, 5)],
        )  # fmt: skip
        assert ctypes.c_uint32.in_dll(probe, "rec_length").value == 10
        assert data == bytes(10) + b"\x5a" * 5 + bytes(20) + b"\x5a" * 5
