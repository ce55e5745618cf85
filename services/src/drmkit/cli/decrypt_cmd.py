"""``drmkit decrypt``: decrypt CENC-protected MP4 through a ClearKey session into a clear MP4."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from drmkit.cli import app, stderr_console, stdout_console
from drmkit.cli.common import EXIT_FAILURE, EXIT_USAGE, fail, load_settings, open_container
from drmkit.errors import ConfigurationError, DrmError
from drmkit.media import MediaError, MediaFormatError
from drmkit.media.decrypt import (
    DEFAULT_SESSIONS,
    MAX_SESSIONS,
    DecryptSummary,
    ProgressCallback,
    decrypt_to_file,
)
from drmkit.media.source import InputSpan, MediaInput

if TYPE_CHECKING:
    from drmkit.core import MediaKeysFactory
    from drmkit.settings import Settings

#: Inputs above this size show a progress bar (unless ``--json``).
PROGRESS_THRESHOLD = 16 * 1024 * 1024


def parse_key_bytes(text: str, what: str) -> bytes:
    """Parse 16 bytes given as 32 hex digits, a UUID, or base64url (padding optional)."""
    compact = text.strip().replace("-", "") if len(text.strip()) == 36 else text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{32}", compact):
        return bytes.fromhex(compact)
    try:
        raw = base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16 or not compact.isascii():
        raise ValueError(f"{what} {text!r} is neither 32 hex digits nor base64url of 16 bytes")
    return raw


def parse_key_option(text: str) -> tuple[bytes, bytes]:
    """Parse ``KID:KEY`` (each 32 hex digits, a UUID, or base64url of 16 bytes)."""
    kid, sep, key = text.partition(":")
    if not sep:
        raise ValueError(f"--key {text!r} is not KID:KEY")
    return parse_key_bytes(kid, "key id"), parse_key_bytes(key, "key")


@app.command("decrypt")
def decrypt(
    inputs: Annotated[
        list[Path], typer.Argument(help="MP4 file, or an init segment followed by media segments.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the clear MP4.")],
    key: Annotated[
        list[str],
        typer.Option("--key", help="KID:KEY (hex, UUID or base64url); repeat for several keys."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    sessions: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_SESSIONS,
            help="Key sessions to share the samples over (each holds the keys).",
        ),
    ] = DEFAULT_SESSIONS,
) -> None:
    """Decrypt every protected sample through a ClearKey session and write a clear MP4."""
    from drmkit_hal import HalError

    settings = load_settings()
    keys: dict[bytes, bytes] = {}
    for text in key:
        try:
            kid, value = parse_key_option(text)
        except ValueError as exc:
            fail(str(exc), code=EXIT_USAGE)
        keys[kid] = value
    if output.resolve() in {p.resolve() for p in inputs}:
        fail("the output must not be one of the inputs", code=EXIT_USAGE)
    if not output.parent.is_dir():
        fail(f"cannot write {output}: {output.parent} is not a directory", code=EXIT_USAGE)
    show_progress = not as_json and sum(p.stat().st_size for p in inputs if p.is_file()) > (
        PROGRESS_THRESHOLD
    )
    try:
        summary = asyncio.run(_run(settings, inputs, output, keys, show_progress, sessions))
    except ConfigurationError as exc:  # e.g. plugins.enabled names what is not installed
        fail(str(exc), code=EXIT_USAGE)
    except HalError as exc:
        fail(f"cannot open the CDM: {exc}", code=EXIT_FAILURE)
    except MediaFormatError as exc:
        fail(_locate(exc, inputs), code=EXIT_FAILURE)
    except (MediaError, DrmError) as exc:
        fail(str(exc), code=EXIT_FAILURE)
    except OSError as exc:  # e.g. OUTPUT is a directory, or the disk is full
        fail(f"cannot write {output}: {exc.strerror or exc}", code=EXIT_FAILURE)
    if as_json:
        print(json.dumps(summary.as_dict(), indent=2))
        return
    stdout_console().print(
        f"wrote {summary.output}: {summary.output_bytes} bytes, {summary.protected_samples} of "
        f"{summary.samples} samples decrypted in {len(summary.tracks)} track(s), "
        f"{summary.seconds:.2f} s",
        highlight=False,
    )


def _locate(error: MediaFormatError, inputs: list[Path]) -> str:
    """Name the input file and the offset inside it."""
    spans, pos = [], 0
    for path in inputs:
        size = path.stat().st_size
        spans.append(InputSpan(path, pos, pos + size))
        pos += size
    return MediaInput(memoryview(b""), spans).describe(error)


async def _run(
    settings: Settings,
    inputs: list[Path],
    output: Path,
    keys: dict[bytes, bytes],
    show_progress: bool,
    sessions: int,
) -> DecryptSummary:
    with contextlib.ExitStack() as cleanup:
        if "state_dir" not in settings.model_fields_set:
            # Temporary sessions persist nothing: leave no CDM store behind unless configured.
            temp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="drmkit-decrypt-"))
            settings = settings.model_copy(update={"state_dir": Path(temp)})
        # The container's core providers only (HAL, plugins, factory): none imports the web
        # stack. On exit the factory is closed, then the HAL, before the directory goes.
        container = open_container(settings)
        cleanup.callback(container.shutdown_resources)
        factory = container.media_keys_factory()
        return await _decrypt_with(factory, inputs, output, keys, show_progress, sessions)


async def _decrypt_with(
    factory: MediaKeysFactory,
    inputs: list[Path],
    output: Path,
    keys: dict[bytes, bytes],
    show_progress: bool,
    sessions: int,
) -> DecryptSummary:
    if not show_progress:
        return await decrypt_to_file(factory, inputs, output, keys, sessions=sessions)
    from rich.progress import (  # only long inputs show progress: keep start-up lean
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=True,
    ) as bar:

        def start(total: int) -> ProgressCallback:
            task = bar.add_task("decrypting", total=total)
            return lambda done: bar.advance(task, done)

        return await decrypt_to_file(factory, inputs, output, keys, start, sessions)
