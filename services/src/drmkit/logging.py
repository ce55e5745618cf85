"""Logging set-up for drmkit's entry points (CLI commands and services).

Library code (framework, HAL, plugins) logs through the standard library
(``logging.getLogger(__name__)``) and never configures anything. Entry points call
:func:`configure` once: it routes stdlib records (including uvicorn's and plugins') and structlog
events through one structlog processor chain via ``structlog.stdlib.ProcessorFormatter``, rendered
for people on a terminal and as JSON lines otherwise. Fields passed with ``extra=`` appear as keys.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Protocol, TextIO

import structlog
from drmkit.logging_config import LoggingSettings
from structlog.typing import EventDict, Processor

_HANDLER_NAME = "drmkit"


class HasLogging(Protocol):
    """Settings that carry a ``[logging]`` section (``drmkit.settings.Settings``)."""

    @property
    def logging(self) -> LoggingSettings:
        """The ``[logging]`` section."""
        ...


def _drop_color_message(_: Any, __: str, event: EventDict) -> EventDict:
    # uvicorn adds an ANSI-coloured duplicate of its message; the renderers colour on their own.
    event.pop("color_message", None)
    return event


def _shared_processors() -> list[Processor]:
    """Processors run on every record, stdlib or structlog, before rendering."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def _wants_console(section: LoggingSettings, stream: TextIO) -> bool:
    if section.format == "auto":
        return _isatty(stream)
    return section.format == "console"


def build_formatter(section: LoggingSettings, stream: TextIO) -> logging.Formatter:
    """Return the ``ProcessorFormatter`` that renders records for ``stream``."""
    renderer: Processor
    final: list[Processor]
    if _wants_console(section, stream):
        renderer = structlog.dev.ConsoleRenderer(colors=_isatty(stream))
        final = [structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]
    else:
        final = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(default=str),
        ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=final,
    )


def configure(settings: HasLogging | LoggingSettings, *, stream: TextIO | None = None) -> None:
    """Configure structlog and the stdlib root logger from ``settings`` (idempotent).

    ``stream`` defaults to standard error, so standard output stays free for ``--json`` output.
    """
    section = settings if isinstance(settings, LoggingSettings) else settings.logging
    target = stream if stream is not None else sys.stderr
    level = logging.getLevelNamesMapping()[section.level]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )

    handler = logging.StreamHandler(target)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(build_formatter(section, target))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn installs its own handlers and levels only when given a log config; drmkit passes
    # none, but an earlier uvicorn in the same process may have, so undo that: its records then
    # propagate to the root handler above at the root's level.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.setLevel(logging.NOTSET)
        uvicorn_logger.disabled = False
        uvicorn_logger.propagate = True


def get_logger(name: str, **initial_values: Any) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger for entry-point code (libraries use ``logging.getLogger``)."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name, **initial_values)
    return logger
