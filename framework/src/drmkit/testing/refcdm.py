"""A thin helper over the reference CDM's test control (``docs/reference-cdm.md``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class TestControlTarget(Protocol):
    """What the control needs: the HAL, or a session server's remote test control."""

    def test_control(self, command: dict[str, object]) -> dict[str, object]:
        """Send one test-control command and return the reply."""


class RefCdmControl:
    """Fault injection and statistics of the bundled reference CDM.

    ``operation_aliases`` aims faults named after a generic OCDM operation at the CDM call that
    performs it for ``aliased_key_system``, the key system under test (e.g. a Netflix PlayReady
    ``update`` is ``store_license_data``); a license helper declares them as
    ``cdm_operation_aliases``. Injections aimed at other key systems keep their operation.
    """

    def __init__(
        self,
        hal: TestControlTarget,
        operation_aliases: Mapping[str, str] | None = None,
        aliased_key_system: str | None = None,
    ) -> None:
        self.hal = hal
        self.operation_aliases = dict(operation_aliases or {})
        self.aliased_key_system = aliased_key_system

    def command(self, op: str, **members: Any) -> dict[str, object]:
        """Send one test-control command and return the reply."""
        return self.hal.test_control({"op": op, **members})

    def reset(self) -> None:
        """Drop every pending injection."""
        self.command("reset")

    def inject(
        self,
        operation: str,
        *,
        key_system: str = "*",
        delay_ms: int = 0,
        fail_code: int = 0,
        error_message: str = "",
        count: int = 1,
    ) -> None:
        """Make the next ``count`` calls of ``operation`` wait, fail and/or call back an error."""
        if key_system == self.aliased_key_system:
            operation = self.operation_aliases.get(operation, operation)
        members: dict[str, Any] = {"key_system": key_system, "operation": operation}
        if delay_ms:
            members["delay_ms"] = delay_ms
        if fail_code:
            members["fail_code"] = fail_code
        if error_message:
            members["error_message"] = error_message
        members["count"] = count
        self.command("inject", **members)

    def renewal(self, cdm_session_id: str) -> None:
        """Make the CDM fire an unsolicited challenge (a license renewal) for a session."""
        self.command("renewal", session_id=cdm_session_id)

    def key_status(self, cdm_session_id: str, key_id: bytes, status: str) -> None:
        """Change one key's status in the CDM (fires key-update callbacks)."""
        self.command("key_status", session_id=cdm_session_id, key_id=key_id.hex(), status=status)

    def stats(self) -> dict[str, int]:
        """Return live CDM systems, sessions and pending callbacks."""
        reply = self.command("stats")
        return {key: int(value) for key, value in reply.items() if isinstance(value, int)}
