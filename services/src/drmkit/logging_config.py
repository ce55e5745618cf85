"""Settings section ``[logging]``: logging of drmkit's entry points (CLI commands and services)."""

from __future__ import annotations

from typing import Literal

from drmkit.config import Section
from pydantic import Field, field_validator


class LoggingSettings(Section):
    """Logging of drmkit's entry points (CLI commands and services)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Lowest level that is emitted (case-insensitive)."
    )
    format: Literal["auto", "console", "json"] = Field(
        default="auto",
        description="``auto``: console renderer on a terminal, JSON lines otherwise.",
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
