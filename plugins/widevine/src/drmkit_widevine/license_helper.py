"""Builds Widevine test init data and test licenses (conformance kit, demos, plugin tests).

Licenses are drmkit's test licenses for the reference CDM's Widevine simulation (see
:mod:`drmkit_widevine.simulated`); a device's real CDM needs licenses from a Widevine service.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence

from drmkit.sdk import BaseLicenseHelper, InvalidLicenseError, KeySessionType, TestChallenge

from drmkit_widevine.initdata import make_widevine_pssh
from drmkit_widevine.messages import split_message
from drmkit_widevine.simulated import (
    ANSWERABLE_TYPES,
    build_test_license,
    parse_simulated_challenge,
)


class WidevineLicenseHelper(BaseLicenseHelper):
    """Implements :class:`drmkit.sdk.markers.LicenseHelper` for the simulated Widevine.

    A license built from a request names the request's CDM session; one built without a
    request (extra keys for a session that already has a license) names none and is taken by
    whichever session it is given to.
    """

    def init_data(self, key_ids: Sequence[bytes]) -> list[tuple[str, bytes]]:
        """Return ``cenc`` (a v0 Widevine PSSH), ``keyids`` and, for one key id, ``webm``."""
        kids = [bytes(k) for k in key_ids]
        pairs: list[tuple[str, bytes]] = [("cenc", make_widevine_pssh(kids))]
        pairs.append(("keyids", _keyids_json(kids)))
        if len(kids) == 1:
            pairs.append(("webm", kids[0]))
        return pairs

    def build_license(
        self,
        request: bytes,
        keys: Mapping[bytes, bytes],
        session_type: KeySessionType = KeySessionType.TEMPORARY,
    ) -> bytes:
        """Return a test license for the request's session with ``keys``.

        It answers the request's message type (request or renewal) so the plugin can check that
        such a message is pending.
        """
        if not request:
            return build_test_license(None, keys)
        challenge = self._challenge(request)
        answers = challenge.message_type if challenge.message_type in ANSWERABLE_TYPES else None
        return build_test_license(challenge.session_id, keys, answers=answers)

    def key_ids_of_request(self, request: bytes) -> list[bytes]:
        """Return the key ids a (simulated) Widevine challenge names."""
        return list(self._challenge(request).kids)

    def _challenge(self, request: bytes) -> TestChallenge:
        try:
            return parse_simulated_challenge(split_message(request).body)
        except ValueError as exc:
            raise InvalidLicenseError(str(exc)) from None


def _keyids_json(key_ids: list[bytes]) -> bytes:
    kids = [base64.urlsafe_b64encode(k).rstrip(b"=").decode("ascii") for k in key_ids]
    return json.dumps({"kids": kids}).encode("ascii")
