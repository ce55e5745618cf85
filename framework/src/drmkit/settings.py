"""drmkit's settings: one pydantic-settings model with a nested section per component.

Values come, highest priority first, from keyword arguments, the environment (``DRMKIT_`` prefix,
``__`` between nested names, JSON for lists and tables), and a TOML file (``DRMKIT_CONFIG``, else
``drmkit.toml`` in the working directory when present). Every option has a default that works on a
fresh machine. ``docs/configuration.md`` documents every option; a test keeps the two in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from drmkit.core.config import CoreSettings, HalSettings, PluginSettings
from drmkit.server.config import ServerSettings
from drmkit.srm.config import SrmSettings

CONFIG_ENV_VAR = "DRMKIT_CONFIG"
DEFAULT_CONFIG_FILE = "drmkit.toml"


def default_state_dir() -> Path:
    """Return the per-user directory drmkit keeps its state in (stores, persisted sessions)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "drmkit"


class Section(BaseModel):
    """Base of every settings section: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def config_file_path() -> Path | None:
    """Return the TOML file to read: ``$DRMKIT_CONFIG`` (must exist), else ``./drmkit.toml``."""
    explicit = os.environ.get(CONFIG_ENV_VAR)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"{CONFIG_ENV_VAR} names {path}, which is not a file")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


class LicenseServerSettings(Section):
    """The license server (``drmkit license-server``) for ClearKey and the simulated key systems."""

    host: str = Field(default="127.0.0.1", description="Address the license server listens on.")
    port: int = Field(default=8787, ge=0, le=65535, description="TCP port; 0 picks a free port.")
    db_path: Path | None = Field(
        default=None,
        description="SQLite key store; unset means ``<state_dir>/license-server/keys.sqlite3``.",
    )
    max_body_bytes: int = Field(
        default=65536,
        ge=256,
        le=16 * 1024 * 1024,
        description="Largest accepted request body (bytes).",
    )
    token: SecretStr | None = Field(
        default=None, description="When set, requests must carry ``Authorization: Bearer <token>``."
    )


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


class Settings(BaseSettings):
    """The root of drmkit's configuration.

    Sections are added by the components that own them; each is documented in
    ``docs/configuration.md``.
    """

    model_config = SettingsConfigDict(
        env_prefix="DRMKIT_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="Directory for drmkit's state (stores, persisted sessions).",
    )
    hal: HalSettings = Field(default_factory=HalSettings, description="The OpenCDM binding.")
    plugins: PluginSettings = Field(
        default_factory=PluginSettings, description="Enabled key-system plugins."
    )
    core: CoreSettings = Field(default_factory=CoreSettings, description="Core limits, timeouts.")
    srm: SrmSettings = Field(
        default_factory=SrmSettings, description="Session resource manager (``drmkit srm``)."
    )
    license_server: LicenseServerSettings = Field(default_factory=LicenseServerSettings)
    server: ServerSettings = Field(
        default_factory=ServerSettings, description="Session server (``drmkit serve``)."
    )
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: init kwargs, environment, then the TOML file (lowest)."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file_path()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path, deep_merge=True))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from keyword overrides, the environment and the TOML file."""
    return Settings(**overrides)
