"""ClearKey decryption cross-checked against an independent ISO/IEC 23001-7 encryptor.

Every scheme (cenc, cbc1, cens, cbcs) with hypothesis-generated samples, subsample maps, patterns
and 8/16-byte IVs, through every decrypt variant: ``v2`` passes the map to the CDM; ``ten_arg`` and
``legacy`` exercise the HAL's own subsample handling (gather/scatter, per-subsample calls).
"""

from __future__ import annotations

import os

import pytest
from drmkit_hal import (
    CdmProfile,
    CdmSession,
    DecryptNotSupportedError,
    DecryptVariant,
    EncryptionScheme,
    Hal,
    LicenseType,
    MediaProperties,
    MediaType,
    OcdmCallError,
    Pattern,
    Subsample,
)
from hal_testsupport import CLEARKEY, Recorder, clearkey_init_data, encrypt_sample, give_license
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KIDS = [
    bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"),
    bytes.fromhex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"),
    bytes.fromhex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"),
]
# Keys with zero bytes (the real OCDM-Clearkey's strlen bug breaks them): used where the CDM's
# profile allows them, random usable keys elsewhere.
ZERO_BYTE_KEYS = [os.urandom(16), bytes(8) + os.urandom(8), bytes(16)]
KEYS: dict[bytes, bytes] = {}
SCHEMES = [
    EncryptionScheme.CENC,
    EncryptionScheme.CBC1,
    EncryptionScheme.CENS,
    EncryptionScheme.CBCS,
]


def _keys(profile: CdmProfile) -> dict[bytes, bytes]:
    return {
        kid: key if profile.unusable_key_reason(key) is None else profile.random_key()
        for kid, key in zip(KIDS, ZERO_BYTE_KEYS, strict=True)
    }


@pytest.fixture
def session(open_hal: object, variant: DecryptVariant, is_reference: bool) -> CdmSession:
    if variant is DecryptVariant.LEGACY and not is_reference:
        pytest.skip("this library's opencdm_session_decrypt takes 10 arguments (legacy refused)")
    hal: Hal = open_hal(decrypt_variant=variant)  # type: ignore[operator]
    KEYS.clear()
    KEYS.update(_keys(hal.cdm_profile(CLEARKEY)))
    init_type, init_data = clearkey_init_data(hal, *KIDS)
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, init_type, init_data, b"", Recorder()
    )
    give_license(hal, session, KEYS)
    return session


def _refusal(
    session: CdmSession, variant: DecryptVariant, scheme: EncryptionScheme, subsamples: object
) -> str | None:
    """Return what the HAL must refuse with for this decrypt, or None when it must work."""
    profile: CdmProfile = session._profile
    if not profile.supports_scheme(scheme):
        return "does not decrypt"
    if (
        variant is DecryptVariant.V2
        and profile.decrypt_v2_sample_info is False
        and (subsamples or scheme is EncryptionScheme.CENS or scheme is EncryptionScheme.CBCS)
    ):
        return "subsample map"
    if variant is DecryptVariant.LEGACY and scheme in (
        EncryptionScheme.CBC1,
        EncryptionScheme.CBCS,
    ):
        return "legacy"
    return None


@st.composite
def samples(draw: st.DrawFn, scheme: EncryptionScheme) -> tuple[object, ...]:
    count = draw(st.integers(0, 6))
    subsamples = [
        Subsample(draw(st.integers(0, 40)), draw(st.integers(0, 180))) for _ in range(count)
    ]
    length = sum(c + e for c, e in subsamples) if subsamples else draw(st.integers(1, 400))
    clear = draw(st.binary(min_size=length, max_size=length))
    if scheme in (EncryptionScheme.CBC1, EncryptionScheme.CBCS):
        iv = draw(st.binary(min_size=16, max_size=16))
    else:
        iv = draw(st.binary(min_size=8, max_size=8) | st.binary(min_size=16, max_size=16))
    if scheme in (EncryptionScheme.CENS, EncryptionScheme.CBCS):
        pattern = draw(
            st.sampled_from([Pattern(1, 9), Pattern(0, 0), Pattern(5, 5)])
            | st.builds(Pattern, st.integers(1, 4), st.integers(0, 9))
        )
    else:
        pattern = Pattern(0, 0)
    kid = draw(st.sampled_from(KIDS))
    return clear, tuple(subsamples), iv, pattern, kid


def _check(
    session: CdmSession,
    variant: DecryptVariant,
    scheme: EncryptionScheme,
    sample: tuple[object, ...],
) -> None:
    clear, subsamples, iv, pattern, kid = sample
    assert isinstance(clear, bytes) and isinstance(iv, bytes) and isinstance(kid, bytes)
    encrypted = encrypt_sample(scheme, KEYS[kid], iv, clear, subsamples, pattern)  # type: ignore[arg-type]
    buffer = bytearray(encrypted)
    refusal = _refusal(session, variant, scheme, subsamples)
    if refusal is not None and (clear or refusal == "does not decrypt"):
        with pytest.raises(DecryptNotSupportedError, match=refusal):
            session.decrypt(
                buffer, scheme=scheme, iv=iv, key_id=kid, subsamples=subsamples, pattern=pattern
            )  # type: ignore[arg-type]
        assert bytes(buffer) == encrypted, "a refused decrypt leaves the buffer alone"
        return
    session.decrypt(
        buffer,
        scheme=scheme,
        iv=iv,
        key_id=kid,
        subsamples=subsamples,
        pattern=pattern,  # type: ignore[arg-type]
        media=MediaProperties(720, 1280, MediaType.VIDEO),
    )
    assert bytes(buffer) == clear


@pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.name.lower())
def test_decrypt_matches_independent_encryptor(
    session: CdmSession, variant: DecryptVariant, scheme: EncryptionScheme
) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(samples(scheme))
    def check(sample: tuple[object, ...]) -> None:
        _check(session, variant, scheme, sample)

    check()


def test_partial_pattern_stays_clear(session: CdmSession, variant: DecryptVariant) -> None:
    # ISO/IEC 23001-7 9.6.1 example: pattern 2:8 over 29 protected bytes leaves all 29 clear.
    kid = KIDS[0]
    clear = os.urandom(35)
    subsamples = (Subsample(6, 29),)
    for scheme in (EncryptionScheme.CENS, EncryptionScheme.CBCS):
        encrypted = encrypt_sample(
            scheme, KEYS[kid], b"\x07" * 16, clear, subsamples, Pattern(2, 8)
        )
        assert encrypted == clear
        if _refusal(session, variant, scheme, subsamples) is not None:
            continue
        buffer = bytearray(encrypted)
        session.decrypt(
            buffer,
            scheme=scheme,
            iv=b"\x07" * 16,
            key_id=kid,
            subsamples=subsamples,
            pattern=Pattern(2, 8),
        )
        assert bytes(buffer) == clear


def test_decrypt_in_place_of_memoryview_slices(session: CdmSession) -> None:
    kid = KIDS[0]
    clear = os.urandom(256)
    frame = bytearray(
        b"H" * 16 + encrypt_sample(EncryptionScheme.CENC, KEYS[kid], b"\x01" * 8, clear) + b"T" * 16
    )
    session.decrypt(
        memoryview(frame)[16:-16], scheme=EncryptionScheme.CENC, iv=b"\x01" * 8, key_id=kid
    )
    assert frame == b"H" * 16 + clear + b"T" * 16


def test_wrong_key_id_fails(session: CdmSession) -> None:
    with pytest.raises(OcdmCallError):
        session.decrypt(bytearray(32), scheme=EncryptionScheme.CENC, iv=bytes(8), key_id=bytes(16))


def test_clear_scheme_leaves_data_alone(session: CdmSession) -> None:
    data = bytearray(os.urandom(48))
    before = bytes(data)
    session.decrypt(
        data, scheme=EncryptionScheme.CLEAR, key_id=KIDS[0], subsamples=[Subsample(8, 40)]
    )
    assert data == before


def test_empty_sample_is_a_no_op(session: CdmSession) -> None:
    session.decrypt(bytearray(), scheme=EncryptionScheme.CENC, key_id=KIDS[0])
