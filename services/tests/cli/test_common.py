"""What every command shares: a broken configuration is one line and exit code 2 everywhere,
options are checked the same way, and the container (the composition root) imports no web stack
for the commands that do not serve HTTP."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import typer
from drmkit.cli import _register_commands, app
from drmkit.cli.common import EXIT_USAGE, describe_validation_error
from drmkit.settings import Settings
from pydantic import ValidationError
from typer.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parents[3]
KID = "0123456789abcdef0123456789abcdef"
KEY = "00112233445566778899aabbccddeeff"

#: Arguments that get each command past its own argument parsing (typer's usage errors are 2
#: as well, so without them a test would pass for the wrong reason: see the message check).
ARGUMENTS: dict[str, list[str]] = {
    "demo": [],
    "plugins": [],
    "cdm profile": [],
    "cdm probe": [],
    "inspect": ["in.mp4"],
    "decrypt": ["in.mp4", "-o", "out.mp4", "--key", f"{KID}:{KEY}"],
    "license-server": [],
    "keys add": [KID, KEY],
    "keys generate": [],
    "keys list": [],
    "keys remove": [KID],
    "serve": ["--socket", "session.sock"],
    "srm serve": [],
    "srm openapi": [],
    "srm tokens add": ["account", "device"],
    "srm tokens revoke": ["token"],
    "srm accounts set": ["account", "--limit", "1"],
    "srm accounts show": ["account"],
}

BROKEN = {
    # name: (file name, content or None for a file that does not exist, what the message says)
    "invalid-toml": ("drmkit.toml", "state_dir = \n", ["is not valid TOML", "drmkit.toml"]),
    "unknown-key": ("drmkit.toml", "[server]\nbogus = 1\n", ["server.bogus: unknown setting"]),
    "unknown-section": ("drmkit.toml", "[nosuch]\nx = 1\n", ["nosuch: unknown setting"]),
    "bad-value": (
        "drmkit.toml",
        '[core]\nmax_sessions = "many"\n',
        ["core.max_sessions", "got 'many'", "drmkit.toml"],
    ),
    "missing-file": ("absent.toml", None, ["DRMKIT_CONFIG", "absent.toml"]),
}


def leaf_commands(command: Any, prefix: str = "") -> Iterator[str]:
    """Yield the full name of every runnable command under ``command`` (a click command)."""
    subcommands = getattr(command, "commands", None)  # a group (typer vendors its own click)
    if subcommands:
        for name, sub in subcommands.items():
            yield from leaf_commands(sub, f"{prefix} {name}".strip())
    else:
        yield prefix


def every_command() -> list[str]:
    _register_commands()
    return sorted(leaf_commands(typer.main.get_command(app)))


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Commands configure logging; put the test process's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("DRMKIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DRMKIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "60")  # narrow: the message must still be one line
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_command_has_arguments_here() -> None:
    assert every_command() == sorted(ARGUMENTS), "add the new command to ARGUMENTS"


@pytest.mark.parametrize("breakage", sorted(BROKEN))
@pytest.mark.parametrize("command", sorted(ARGUMENTS))
def test_broken_configuration_is_one_line_and_exit_code_2(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, command: str, breakage: str
) -> None:
    name, content, expected = BROKEN[breakage]
    config = workdir / name
    if content is not None:
        config.write_text(content)
    monkeypatch.setenv("DRMKIT_CONFIG", str(config))
    _register_commands()
    result = CliRunner().invoke(app, [*command.split(), *ARGUMENTS[command]])
    assert result.exit_code == EXIT_USAGE, (result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: invalid configuration"), lines[0]
    for fragment in expected:
        assert fragment in lines[0], lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "drmkit.cli", "decrypt", "in.mp4", "-o", "out.mp4", "--key", f"{KID}:{KEY}"],
        ["-m", "drmkit.cli.serve_cmd", "--socket", "session.sock"],
    ],
    ids=["drmkit", "serve-alone"],
)
def test_broken_configuration_in_a_real_process(workdir: Path, argv: list[str]) -> None:
    (workdir / "drmkit.toml").write_text("[core]\nworker_threads = 0\n")  # below the minimum
    env = {**os.environ, "DRMKIT_CONFIG": str(workdir / "drmkit.toml")}
    result = subprocess.run(
        [sys.executable, *argv], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == EXIT_USAGE, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: invalid configuration: core.worker_threads: Input should be greater than or"
        f" equal to 1 (got 0) (configuration file {workdir / 'drmkit.toml'})"
    ]


def test_bad_option_is_one_line_and_exit_code_2(workdir: Path) -> None:
    _register_commands()
    result = CliRunner().invoke(app, ["serve", "--state", "sleepy"])
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.strip().splitlines() == [
        "error: invalid option: initial_state: Input should be 'active' or 'inactive' (got"
        " 'sleepy')"
    ]


def test_messages_never_repeat_secret_values() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(license_server={"token": 7}, srm={"store_url": 5, "port": "x"})
    message = describe_validation_error(raised.value)
    assert "license_server.token" in message and "srm.store_url" in message
    assert "got 7" not in message and "got 5" not in message
    assert "(got 'x')" in message  # not a secret: shown


def test_readme_lists_every_command() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("## What you can run", 1)[1].split("\n## ", 1)[0]
    for command in {name.split()[0] for name in every_command()}:
        assert f"`drmkit {command}" in table, command


# -- the composition root imports no web stack for commands that serve no HTTP -----------------

PROBE = """
import sys
from drmkit.cli import main
sys.argv = ["drmkit", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
web = [m for m in ("fastapi", "starlette", "uvicorn", "werkzeug") if m in sys.modules]
print("probe", code, "container" if "drmkit.container" in sys.modules else "-", *web,
      file=sys.stderr)
"""


def _vectors() -> Path:
    override = os.environ.get("DRMKIT_VECTORS_DIR")
    vectors = Path(override) if override else REPO_ROOT.parent / "shared" / "vectors"
    path = vectors / "generated" / "ffmpeg_cenc_flat.mp4"
    if not path.is_file():
        pytest.skip(f"test vector {path} not found")
    return path


@pytest.mark.parametrize("command", ["decrypt", "inspect"])
def test_decrypt_and_inspect_use_the_container_without_the_web_stack(
    workdir: Path, command: str
) -> None:
    vector = str(_vectors())
    args = {
        "decrypt": [vector, "-o", "clear.mp4", "--key", f"{KID}:{KEY}", "--json"],
        "inspect": [vector, "--json"],
    }[command]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, command, *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    probe = result.stderr.strip().splitlines()[-1]
    assert probe == "probe 0 container", result.stderr
