"""What every ``drmkit`` command shares: settings, the container, error messages, exit codes.

Every command loads its settings with :func:`load_settings` first (so a broken configuration is
the same one-line error with exit code 2 everywhere), applies its options with
:func:`with_section`, gets its objects from the container (:func:`open_container`: the composition
root), and reports errors with :func:`fail`: ``error: MESSAGE`` on standard error, one line.

Exit codes (``docs/cli.md``):

- :data:`EXIT_OK` (0): the command did its work.
- :data:`EXIT_FAILURE` (1): the command ran and its work failed: a decrypt, a demo step, a probe
  that disagrees with the profile, a store or server that cannot be reached or used, a socket in
  use, a key that is not there.
- :data:`EXIT_USAGE` (2): the command was given something it cannot use: bad arguments or options
  (also typer's own usage errors), a broken configuration (invalid TOML, unknown key, bad value,
  ``DRMKIT_CONFIG`` naming a missing file), or, for ``drmkit inspect`` (which only reads its
  input), an input that is not what it should be.

This module imports neither rich nor the settings at import time: ``drmkit --help`` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from drmkit.container import Container
    from drmkit.settings import Settings
    from pydantic import ValidationError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

#: Setting names whose values an error message must not repeat (credentials, URLs with them).
_SECRET_PARTS = ("token", "key", "secret", "password", "url")
_MAX_ERRORS_SHOWN = 3


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``error: MESSAGE`` on standard error and exit with ``code``.

    The message is printed as given (no rich markup is interpreted) and never wrapped: one
    line, whatever the terminal width, so that scripts can match it (line breaks inside the
    message become spaces).
    """
    from drmkit.cli import stderr_console
    from rich.markup import escape

    one_line = " ".join(message.split("\n"))
    stderr_console().print(
        f"[bold red]error:[/] {escape(one_line)}", highlight=False, soft_wrap=True
    )
    raise typer.Exit(code)


def describe_validation_error(exc: ValidationError, what: str = "invalid configuration") -> str:
    """Return a one-line description of what is wrong: ``what: section.key: problem; ...``."""
    parts = []
    for error in exc.errors()[:_MAX_ERRORS_SHOWN]:
        where = ".".join(str(p) for p in error["loc"]) or "settings"
        unknown = error["type"] == "extra_forbidden"
        problem = "unknown setting" if unknown else error["msg"]
        value = error.get("input")
        secret = any(part in where.lower() for part in _SECRET_PARTS)
        if not (unknown or secret) and isinstance(value, str | int | float | bool):
            problem += f" (got {value!r:.60})"
        parts.append(f"{where}: {problem}")
    more = exc.error_count() - _MAX_ERRORS_SHOWN
    if more > 0:
        parts.append(f"and {more} more")
    return f"{what}: " + "; ".join(parts)


def _config_file_note() -> str:
    from drmkit.config import config_file_path

    try:
        path = config_file_path()
    except OSError:
        return ""
    return f" (configuration file {path})" if path is not None else ""


def load_settings(**overrides: Any) -> Settings:
    """Load the settings (keyword overrides, ``DRMKIT_*`` environment, TOML file).

    A broken configuration is a one-line error and exit code 2: ``DRMKIT_CONFIG`` naming a
    missing file, a file that is not TOML, an unknown section or key, a value of the wrong type.
    """
    import tomllib

    from drmkit.settings import load_settings as load
    from pydantic import ValidationError

    try:
        return load(**overrides)
    except ValidationError as exc:
        fail(describe_validation_error(exc) + _config_file_note())
    except tomllib.TOMLDecodeError as exc:
        from drmkit.config import config_file_path

        fail(f"invalid configuration: {config_file_path()} is not valid TOML: {exc}")
    except OSError as exc:  # DRMKIT_CONFIG names a missing file, or the file cannot be read
        fail(f"invalid configuration: {exc}")


def with_section(settings: Settings, section: str, **options: Any) -> Settings:
    """Return ``settings`` with the command's options applied to one section.

    Options that are ``None`` were not given and leave the configured value. A value the section
    refuses is a one-line error naming the option and exit code 2.
    """
    from pydantic import ValidationError

    given = {name: value for name, value in options.items() if value is not None}
    if not given:
        return settings
    current = getattr(settings, section)
    try:
        updated = type(current).model_validate({**current.model_dump(), **given})
    except ValidationError as exc:
        fail(describe_validation_error(exc, "invalid option"))
    return settings.model_copy(update={section: updated})


def open_container(settings: Settings) -> Container:
    """Return the composition root of one command: the container bound to ``settings``."""
    from drmkit.container import build_container

    return build_container(settings)
