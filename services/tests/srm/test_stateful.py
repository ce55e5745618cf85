"""Stateful property test: the SQLite store against an in-memory model (hypothesis).

Random sequences of setups, keep-alives, teardowns, operator teardowns and clock steps for a few
accounts; every reply must equal the model's, and no account ever holds more than its limit.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path
from typing import Any

from drmkit.srm.stores.base import Admitted, Identity
from drmkit.srm.stores.sqlite import SqliteStore
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

ACCOUNTS = ["a", "b", "c"]
LIMITS = {"a": 1, "b": 2, "c": 3}
TIMEOUT = 10


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class StoreMachine(RuleBasedStateMachine):
    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.dir = tempfile.mkdtemp(prefix="drmkit-srm-stateful-")
        self.store = SqliteStore(Path(self.dir) / "s.sqlite3", clock=self.clock)
        self.run(self.store.open())
        for account, limit in LIMITS.items():
            self.run(self.store.set_account_limit(account, limit))
        # model: session id -> (account, expires_at)
        self.model: dict[uuid.UUID, tuple[str, float]] = {}

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def live(self, account: str) -> set[uuid.UUID]:
        now = self.clock.now
        return {s for s, (a, exp) in self.model.items() if a == account and exp > now}

    @rule(target=sessions, account=st.sampled_from(ACCOUNTS))
    def setup(self, account: str) -> tuple[str, uuid.UUID]:
        result = self.run(self.store.admit(Identity(account, "d"), "c", "COD", 99, TIMEOUT))
        expected_ok = len(self.live(account)) < LIMITS[account]
        assert isinstance(result, Admitted) == expected_ok
        if isinstance(result, Admitted):
            self.model[result.session_id] = (account, self.clock.now + TIMEOUT)
            return (account, result.session_id)
        return (account, uuid.uuid4())  # a never-admitted id: must stay unknown

    @rule(ref=sessions, other=st.booleans())
    def keepalive(self, ref: tuple[str, uuid.UUID], other: bool) -> None:
        account, sid = ref
        caller = "b" if other and account != "b" else account
        ok = self.run(self.store.keepalive(caller, sid))
        expected = caller == account and sid in self.live(account)
        assert ok == expected
        if ok:
            self.model[sid] = (account, self.clock.now + TIMEOUT)

    @rule(ref=sessions, operator=st.booleans())
    def end_session(self, ref: tuple[str, uuid.UUID], operator: bool) -> None:
        # The operator API and the client's teardown are the same store operation.
        account, sid = ref
        ok = self.run(self.store.teardown(account, sid))
        assert ok == (sid in self.live(account))
        self.model.pop(sid, None)

    @rule(ref=sessions, before=st.booleans())
    def jump_to_expiry(self, ref: tuple[str, uuid.UUID], before: bool) -> None:
        """Move the clock to (or just before) a session's expiry: the boundary rule's edge."""
        entry = self.model.get(ref[1])
        if entry is not None:
            target = entry[1] - (0.001 if before else 0.0)
            self.clock.now = max(self.clock.now, target)

    @rule(dt=st.sampled_from([0.001, 5.0, 9.999, 10.0, 25.0]))
    def advance(self, dt: float) -> None:
        self.clock.now += dt

    @rule()
    def sweep(self) -> None:
        self.run(self.store.reap())
        now = self.clock.now
        self.model = {s: v for s, v in self.model.items() if v[1] > now}

    @invariant()
    def counts_match_and_stay_within_limits(self) -> None:
        for account in ACCOUNTS:
            live = self.run(self.store.count_live(account))
            assert live == len(self.live(account)) <= LIMITS[account]
            listed = {r.session_id for r in self.run(self.store.list_sessions(account))}
            assert listed == self.live(account)

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()


StoreMachine.TestCase.settings = settings(
    max_examples=50, stateful_step_count=20, deadline=None, derandomize=True
)
test_store_matches_the_model = StoreMachine.TestCase
