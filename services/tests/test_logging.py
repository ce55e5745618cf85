"""drmkit.logging: stdlib and structlog records share one processor chain and renderer."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from drmkit import logging as drmkit_logging
from drmkit.logging_config import LoggingSettings


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_stdlib_and_structlog_records_render_as_json_lines_with_extras() -> None:
    stream = io.StringIO()
    drmkit_logging.configure(LoggingSettings(format="json"), stream=stream)
    logging.getLogger("drmkit.some.library").info(
        "decrypt %s failed", "sample", extra={"session_id": 7}
    )
    drmkit_logging.get_logger("drmkit.cli").warning("bound event", key_system="org.w3.clearkey")
    first, second = lines(stream)
    assert first["event"] == "decrypt sample failed"
    assert first["session_id"] == 7
    assert first["level"] == "info" and first["logger"] == "drmkit.some.library"
    assert "timestamp" in first
    assert second["event"] == "bound event"
    assert second["key_system"] == "org.w3.clearkey"
    assert second["level"] == "warning" and second["logger"] == "drmkit.cli"


def test_level_filters_both_kinds_of_records() -> None:
    stream = io.StringIO()
    drmkit_logging.configure(LoggingSettings(level="warning", format="json"), stream=stream)
    logging.getLogger("x").info("hidden")
    drmkit_logging.get_logger("y").info("hidden too")
    logging.getLogger("x").error("shown")
    assert [r["event"] for r in lines(stream)] == ["shown"]


def test_exceptions_become_structured_tracebacks_in_json() -> None:
    stream = io.StringIO()
    drmkit_logging.configure(LoggingSettings(format="json"), stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")
    [record] = lines(stream)
    assert record["exception"][0]["exc_type"] == "ValueError"  # type: ignore[index]


def test_auto_format_is_console_on_a_tty_and_json_otherwise() -> None:
    tty = FakeTty()
    drmkit_logging.configure(LoggingSettings(format="auto"), stream=tty)
    logging.getLogger("x").info("hello", extra={"k": "v"})
    text = tty.getvalue()
    assert "hello" in text and "k" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])

    pipe = io.StringIO()
    drmkit_logging.configure(LoggingSettings(format="auto"), stream=pipe)
    logging.getLogger("x").info("hello")
    assert lines(pipe)[0]["event"] == "hello"


def test_configure_twice_keeps_one_handler_and_drops_uvicorn_color_message() -> None:
    stream = io.StringIO()
    drmkit_logging.configure(LoggingSettings(format="json"), stream=stream)
    drmkit_logging.configure(LoggingSettings(format="json"), stream=stream)
    logging.getLogger("uvicorn.error").info("started", extra={"color_message": "\x1b[1mstarted"})
    [record] = lines(stream)
    assert record["logger"] == "uvicorn.error"
    assert "color_message" not in record


def test_configure_after_an_earlier_uvicorn_log_config_still_routes_uvicorn_records() -> None:
    import uvicorn

    # uvicorn.Config applies uvicorn's own dictConfig (level ERROR, own handlers, no propagation).
    uvicorn.Config(lambda *args: None, log_level="error")
    stream = io.StringIO()
    drmkit_logging.configure(LoggingSettings(format="json"), stream=stream)
    logging.getLogger("uvicorn.error").info("started")
    [record] = lines(stream)
    assert record["event"] == "started"
