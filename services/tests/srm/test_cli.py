"""``drmkit srm`` commands: tokens, account limits, listing, OpenAPI, configuration errors."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from drmkit.cli import _register_commands, app
from drmkit.srm.auth import TokenTableVerifier
from drmkit.srm.stores import open_store
from typer.testing import CliRunner

_register_commands()
runner = CliRunner()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("DRMKIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DRMKIT_STATE_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["srm", *args])
    return result.exit_code, result.output


def test_tokens_accounts_and_show(state: Path) -> None:
    code, out = run("tokens", "add", "acct-1", "tv")
    assert code == 0, out
    token = out.strip()
    assert len(token) >= 40

    async def identity() -> object:
        store = open_store(f"sqlite:///{state / 'srm.sqlite3'}")
        await store.open()
        try:
            return await TokenTableVerifier(store).verify(token)
        finally:
            await store.close()

    found = asyncio.run(identity())
    assert (found.account, found.device) == ("acct-1", "tv")  # type: ignore[attr-defined]
    raw = b"".join(p.read_bytes() for p in state.glob("srm.sqlite3*"))
    assert token.encode() not in raw  # only the hash is stored

    assert run("accounts", "set", "acct-1", "--limit", "4")[0] == 0
    code, out = run("accounts", "show", "acct-1", "--json")
    assert code == 0 and json.loads(out) == {
        "account": "acct-1",
        "limit": 4,
        "ownLimit": True,
        "sessions": [],
    }
    assert run("accounts", "set", "acct-1", "--default")[0] == 0
    assert json.loads(run("accounts", "show", "acct-1", "--json")[1])["limit"] == 2
    code, out = run("accounts", "show", "acct-1")
    assert code == 0 and "acct-1" in out

    assert run("tokens", "revoke", token)[0] == 0
    assert asyncio.run(identity()) is None
    assert run("tokens", "revoke", token)[0] == 1


def test_bad_invocations_are_clear_errors(state: Path) -> None:
    code, out = run("accounts", "set", "a")
    assert code == 2 and "--limit" in out
    code, out = run("accounts", "set", "a", "--limit", "-1")
    assert code == 2
    code, out = run("accounts", "show", "a", "--store-url", "mysql://x")
    assert code == 1 and "unsupported" in out
    code, out = run("tokens", "add", "a", "d", "--store-url", "redis://127.0.0.1:1/0")
    assert code == 1 and "Redis" in out


def test_openapi_command(state: Path) -> None:
    code, out = run("openapi")
    assert code == 0
    assert "/srm/v1/sessions" in json.loads(out)["paths"]


def test_invalid_configuration_exits_2(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRMKIT_SRM__SESSION_TIMEOUT_S", "0")
    code, out = run("accounts", "show", "a")
    assert code == 2 and "session_timeout_s" in out
