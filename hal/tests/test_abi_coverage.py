"""Every function the reference CDM exports is reachable through the binding, and NULL-ish
inputs (empty buffers, which the shim passes as NULL pointers) get clean errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from drmkit_hal import EncryptionScheme, Hal, HalConfig, LicenseType, OcdmCallError, OcdmStatus
from drmkit_hal._ocdm import ffi, lib
from hal_testsupport import CLEARKEY, NETFLIX, WIDEVINE, Recorder, clearkey_init_data, jwk_license

KID = bytes.fromhex("77777777777777777777777777777777")


def test_every_exported_symbol_is_bound(hal: Hal, library_path: Path) -> None:
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(library_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    exported = {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}
    ours = {n for n in exported if n.startswith(("opencdm_", "drmkit_refcdm_"))}
    assert len(ours) >= 48  # Thunder R5.3: every declared function but opencdm_system_teardown
    unbound = sorted(n for n in ours if not hal.exports(n))
    assert unbound == []


@pytest.mark.refcdm
def test_deprecated_create_system_through_the_shim(hal: Hal) -> None:
    # The wrapper prefers create_system_extended; the plain form is reachable through the shim.
    handle = hal._library.handle
    system = lib.hal_create_system(handle, CLEARKEY.encode())
    assert system != ffi.NULL
    assert lib.hal_create_system(handle, b"com.example.none") == ffi.NULL
    assert lib.hal_destruct_system(handle, system) == 0
    assert lib.hal_destruct_system(handle, system) == OcdmStatus.INVALID_ARG  # already gone


@pytest.mark.refcdm
def test_null_ish_inputs(hal: Hal) -> None:
    clearkey = hal.create_system(CLEARKEY)
    for init_type in ("webm", "keyids", "cenc", ""):
        with pytest.raises(OcdmCallError):
            clearkey.construct_session(LicenseType.TEMPORARY, init_type, b"", b"", Recorder())
    session = clearkey.construct_session(LicenseType.TEMPORARY, "webm", KID, b"", Recorder())
    with pytest.raises(OcdmCallError):
        session.update(b"")
    with pytest.raises(OcdmCallError) as caught:
        session.decrypt(bytearray(16), scheme=EncryptionScheme.CENC)  # ClearKey needs a key id
    assert caught.value.status is OcdmStatus.UNKNOWN
    session.update(jwk_license({KID: bytes(16)}))
    session.decrypt(bytearray(16), scheme=EncryptionScheme.CENC, key_id=KID)  # NULL IV = zeros

    widevine = hal.create_system(WIDEVINE)
    with pytest.raises(OcdmCallError):
        widevine.set_server_certificate(b"")
    netflix = hal.create_system(NETFLIX)
    pulled = netflix.construct_session(LicenseType.TEMPORARY, "", b"", b"", Recorder())
    for call in (
        lambda: pulled.set_drm_header(b""),
        lambda: pulled.store_license_data(b""),
        lambda: netflix.commit_secure_stop(bytes(16), b""),
        lambda: netflix.commit_secure_stop(b"", b"ack"),
        lambda: netflix.secure_stop(b""),
    ):
        with pytest.raises(OcdmCallError):
            call()
    assert netflix.secure_stop_ids() == []


def test_close_then_reopen(
    library_path: Path, store_dir: Path, search_path: tuple[Path, ...]
) -> None:
    # Closing the last Hal does not dispose the library (terminal in Thunder's client: the next
    # create_system would crash); a new Hal works again, as often as wanted.
    for _ in range(5):
        config = HalConfig(library_path, store_dir=store_dir, library_search_path=search_path)
        with Hal.open(config) as hal:
            recorder = Recorder()
            init_type, init_data = clearkey_init_data(hal, KID)
            hal.create_system(CLEARKEY).construct_session(
                LicenseType.TEMPORARY, init_type, init_data, b"", recorder
            )
            recorder.wait_for("challenge")
