"""drmkit's settings: the root every command and service loads.

:class:`Settings` is :class:`drmkit.config.CoreConfig` (``state_dir``, ``[hal]``, ``[plugins]``,
``[core]``, and how values are read: keyword arguments, then ``DRMKIT_*`` environment variables,
then the TOML file) plus the sections of the services: ``[srm]``, ``[license_server]``,
``[server]`` and ``[logging]``. Unknown sections and keys are an error. ``docs/configuration.md``
documents every option; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any

from drmkit.config import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_FILE,
    CoreConfig,
    Section,
    config_file_path,
    default_state_dir,
)
from drmkit.license_server.config import LicenseServerSettings
from drmkit.logging_config import LoggingSettings
from drmkit.server.config import ServerSettings
from drmkit.srm.config import SrmSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_FILE",
    "LicenseServerSettings",
    "LoggingSettings",
    "Section",
    "Settings",
    "config_file_path",
    "default_state_dir",
    "load_settings",
]


class Settings(CoreConfig):
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

    srm: SrmSettings = Field(
        default_factory=SrmSettings, description="Session resource manager (``drmkit srm``)."
    )
    license_server: LicenseServerSettings = Field(default_factory=LicenseServerSettings)
    server: ServerSettings = Field(
        default_factory=ServerSettings, description="Session server (``drmkit serve``)."
    )
    logging: LoggingSettings = Field(default_factory=LoggingSettings)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from keyword overrides, the environment and the TOML file."""
    return Settings(**overrides)
