"""License helpers beyond licenses: demo steps and the CDM calls behind generic operations.

:class:`BaseLicenseHelper` gives every helper the declared defaults (no aliases, the generic demo);
a helper overrides what differs. ``drmkit demo`` runs the list a helper's :meth:`demo_steps`
returns, so a plugin ships its own steps (the Netflix DPI flow) as :class:`DemoStep` objects and
reports a failed check by raising :class:`DemoCheckError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from drmkit.errors import DrmkitError

ContextT = TypeVar("ContextT")


class DemoCheckError(DrmkitError):
    """A demo step found something wrong; the demo reports the step as failed with the message."""


@dataclass(frozen=True, slots=True)
class DemoStep(Generic[ContextT]):
    """One named step of ``drmkit demo``: ``action`` returns a short detail line or raises.

    A ``cleanup`` step runs even after an earlier step failed (it must cope with the state it
    finds); other steps are skipped after a failure. The context is the demo's (its fields are
    documented in ``docs/demo.md``).
    """

    name: str
    action: Callable[[ContextT], Awaitable[str]]
    cleanup: bool = False


class BaseLicenseHelper:
    """Defaults of :class:`drmkit.sdk.LicenseHelper` beyond licenses; helpers inherit them."""

    @property
    def cdm_operation_aliases(self) -> Mapping[str, str]:
        """Name the CDM calls that perform generic operations (default: none).

        The conformance kit injects faults by generic operation name (``update``, ``close``,
        ...); a key system that performs one with another CDM call says so here (the Netflix
        flow: ``{"update": "store_license_data", "close": "cancel_challenge_data"}``).
        """
        return {}

    def demo_steps(self, steps: Sequence[DemoStep[Any]]) -> list[DemoStep[Any]]:
        """Return the steps ``drmkit demo`` runs for this key system (default: ``steps``)."""
        return list(steps)
