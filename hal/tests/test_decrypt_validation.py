"""Decrypt arguments (and the HAL's other arguments) are checked in Python, before any C call."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from drmkit_hal import (
    CdmSession,
    DecryptNotSupportedError,
    DecryptVariant,
    EncryptionScheme,
    Hal,
    HalConfig,
    HalError,
    InvalidArgumentError,
    InvalidBufferError,
    LicenseType,
    Pattern,
    Subsample,
)
from hal_testsupport import CLEARKEY, Recorder, clearkey_init_data, jwk_license

KID = bytes.fromhex("44444444444444444444444444444444")


def _licensed(hal: Hal) -> CdmSession:
    init_type, init_data = clearkey_init_data(hal, KID)
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, init_type, init_data, b"", Recorder()
    )
    session.update(jwk_license({KID: bytes(range(1, 17))}))
    return session


@pytest.fixture
def session(hal: Hal) -> CdmSession:
    return _licensed(hal)


@pytest.fixture
def v2_session(open_hal: object) -> CdmSession:
    return _licensed(open_hal(decrypt_variant=DecryptVariant.V2))  # type: ignore[operator]


@pytest.mark.parametrize("iv", [b"x", bytes(4), bytes(12), bytes(17), bytes(24)])
def test_iv_length(session: CdmSession, iv: bytes) -> None:
    with pytest.raises(ValueError, match="IV must be 0, 8 or 16"):
        session.decrypt(bytearray(16), scheme=EncryptionScheme.CENC, iv=iv, key_id=KID)


@pytest.mark.parametrize("kid", [b"x", bytes(15), bytes(17)])
def test_key_id_length(session: CdmSession, kid: bytes) -> None:
    with pytest.raises(ValueError, match="key id"):
        session.decrypt(bytearray(16), scheme=EncryptionScheme.CENC, key_id=kid)


@pytest.mark.parametrize(
    "subsamples",
    [
        [Subsample(4, 4)],
        [Subsample(16, 16), Subsample(0, 1)],
        [Subsample(70000, 0)],
        [Subsample(-1, 33)],
        [(1, 2, 3)],
    ],
)
def test_subsamples_must_cover_the_buffer(session: CdmSession, subsamples: list[Subsample]) -> None:
    with pytest.raises(ValueError, match="subsample"):
        session.decrypt(
            bytearray(32), scheme=EncryptionScheme.CENC, key_id=KID, subsamples=subsamples
        )


def test_v2_carries_at_most_255_subsamples(v2_session: CdmSession, hal: Hal) -> None:
    with pytest.raises(ValueError, match="255"):
        v2_session.decrypt(
            bytearray(256),
            scheme=EncryptionScheme.CENC,
            key_id=KID,
            subsamples=[Subsample(1, 0)] * 256,
        )
    data = bytearray(range(255))
    full = [Subsample(1, 0)] * 255
    if hal.cdm_profile(CLEARKEY).decrypt_v2_sample_info is False:
        # A CDM that drops v2's map would decrypt the clear bytes: refused, data untouched.
        with pytest.raises(DecryptNotSupportedError, match="subsample map"):
            v2_session.decrypt(data, scheme=EncryptionScheme.CENC, key_id=KID, subsamples=full)
        assert data == bytearray(range(255))
    else:
        v2_session.decrypt(data, scheme=EncryptionScheme.CENC, key_id=KID, subsamples=full)
        assert data == bytearray(range(255))  # all clear


def test_read_only_buffers_are_refused(session: CdmSession) -> None:
    with pytest.raises(TypeError, match="writable"):
        session.decrypt(b"\x00" * 16, scheme=EncryptionScheme.CENC, key_id=KID)
    with pytest.raises(TypeError, match="writable"):
        session.decrypt(memoryview(bytes(16)), scheme=EncryptionScheme.CENC, key_id=KID)


def test_scheme_and_pattern_checks(session: CdmSession) -> None:
    with pytest.raises(ValueError, match="scheme"):
        session.decrypt(bytearray(16), scheme=7, key_id=KID)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pattern"):
        session.decrypt(
            bytearray(16), scheme=EncryptionScheme.CENS, key_id=KID, pattern=Pattern(0, 9)
        )
    with pytest.raises(ValueError, match="pattern"):
        session.decrypt(
            bytearray(16), scheme=EncryptionScheme.CENS, key_id=KID, pattern=Pattern(-1, 9)
        )


def test_buffer_is_untouched_after_a_validation_error(session: CdmSession) -> None:
    data = bytearray(range(32))
    with pytest.raises(ValueError):
        session.decrypt(
            data, scheme=EncryptionScheme.CENC, key_id=KID, subsamples=[Subsample(1, 1)]
        )
    assert data == bytearray(range(32))


def test_refused_arguments_are_the_hals_own_value_errors(hal: Hal, session: CdmSession) -> None:
    """Callers (drmkit's error translation) tell a refused argument from any other ValueError."""
    refusals: list[Callable[[], object]] = [
        lambda: session.decrypt(bytearray(16), scheme=EncryptionScheme.CENC, iv=b"x", key_id=KID),
        lambda: session.decrypt(bytearray(16), scheme=7, key_id=KID),  # type: ignore[arg-type]
        lambda: session.status(b"short"),
        lambda: session.update(bytes(70000)),
        lambda: hal.find_session(b"short"),
        lambda: hal.create_system(CLEARKEY).construct_session(
            99,  # type: ignore[arg-type]
            "keyids",
            b"{}",
            b"",
            Recorder(),
        ),
        lambda: HalConfig(quirks=frozenset({"no_such_quirk"})),
    ]
    for refuse in refusals:
        with pytest.raises(InvalidArgumentError) as caught:
            refuse()
        assert isinstance(caught.value, ValueError)  # what callers caught before
        assert not isinstance(caught.value, HalError)  # not a failure of the HAL or the CDM
    with pytest.raises(InvalidBufferError, match="writable") as caught_buffer:
        session.decrypt(b"\x00" * 16, scheme=EncryptionScheme.CENC, key_id=KID)
    assert isinstance(caught_buffer.value, TypeError)
    assert isinstance(caught_buffer.value, InvalidArgumentError)
