"""drmkit's configuration model: the core's sections, the settings root, and how values are read.

Values come, highest priority first, from keyword arguments, the environment (``DRMKIT_`` prefix,
``__`` between nested names, JSON for lists and tables), and a TOML file (``DRMKIT_CONFIG``, else
``drmkit.toml`` in the working directory when present). Every option has a default that works on a
fresh machine. ``docs/configuration.md`` documents every option; a test keeps the two in step.

:class:`CoreConfig` holds what the core needs (``state_dir``, ``[hal]``, ``[plugins]``,
``[core]``) and is what core-level code (the conformance kit, :mod:`drmkit.core.wiring`) takes.
The services add their sections in ``drmkit.settings.Settings``, a subclass, which is the one
commands and services load; ``CoreConfig`` on its own leaves their sections to them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

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


class HalSettings(Section):
    """Which OpenCDM library the HAL loads and how it calls it."""

    library_path: Path | None = Field(
        default=None,
        description="Platform OCDM library (libocdm.so); unset: the bundled reference CDM.",
    )
    decrypt_variant: Literal["auto", "v2", "ten_arg", "legacy"] = Field(
        default="auto",
        description="Decrypt entry point; ``auto``: the one the CDM profile names per key system.",
    )
    store_dir: Path | None = Field(
        default=None,
        description="Reference CDM persistent-session store; unset: ``<state_dir>/cdm``.",
    )
    quirks: list[str] = Field(
        default_factory=list,
        description="Return-code quirks of the library, on top of those its CDM profile names.",
    )
    library_search_path: list[Path] = Field(
        default_factory=list,
        description=(
            "Directories holding the library's own dependencies (e.g. Thunder's ``lib/``): loaded"
            " from there, without ``LD_LIBRARY_PATH``."
        ),
    )
    cdm_profile: str = Field(
        default="auto",
        description=(
            "CDM profile of the library: ``auto`` (matched by the library), a profile name, or a"
            " TOML file."
        ),
    )
    cdm_profile_paths: list[Path] = Field(
        default_factory=list,
        description="Extra CDM profile files (a vendor's), tried before the built-in ones.",
    )


class PluginSettings(Section):
    """Which key-system plugins (entry points of group ``drmkit.keysystems``) are enabled.

    As with pytest or tox plugins, an installed plugin is enabled unless ``disabled`` names it;
    ``enabled`` turns that into an explicit allow-list for integrators who want one.
    """

    enabled: list[str] | None = Field(
        default=None,
        description=(
            "Allow-list of entry-point names of the key-system plugins to enable; unset: every"
            " installed plugin."
        ),
    )
    disabled: list[str] = Field(
        default_factory=list,
        description="Plugins never loaded, even when listed in ``enabled`` (blocklist).",
    )
    trace: bool = Field(default=False, description="Log every hook call with its arguments.")

    def enables(self, name: str) -> bool:
        """Tell whether installed plugin ``name`` is enabled by these settings."""
        return self.disabled_reason(name) is None

    def disabled_reason(self, name: str) -> str | None:
        """Return why installed plugin ``name`` is not enabled (``None``: it is)."""
        if name in self.disabled:
            return "blocked by plugins.disabled"
        if self.enabled is not None and name not in self.enabled:
            return "not in plugins.enabled"
        return None


class CoreSettings(Section):
    """Limits and timeouts of the media-key-session core."""

    max_media_keys: int = Field(default=1024, ge=1, description="Most MediaKeys open at once.")
    max_sessions: int = Field(
        default=65536, ge=1, description="Most key sessions open at once, across all MediaKeys."
    )
    operation_timeout_s: float = Field(
        default=30.0, gt=0, description="Seconds one CDM call may take before the call fails."
    )
    worker_threads: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Threads CDM calls run on (sessions run concurrently up to this many).",
    )


class CoreConfig(BaseSettings):
    """The core's part of drmkit's configuration (``drmkit.settings.Settings`` adds the rest).

    Sections the services own (``[server]``, ``[srm]``, ...) are left to ``Settings``: read on its
    own, ``CoreConfig`` ignores them rather than refusing a complete configuration file.
    """

    model_config = SettingsConfigDict(
        env_prefix="DRMKIT_",
        env_nested_delimiter="__",
        extra="ignore",
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
