"""Settings sections of the core: ``[hal]``, ``[plugins]`` and ``[core]``.

``drmkit.settings.Settings`` holds one field per section; ``drmkit.container`` wires them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HalSettings(BaseModel):
    """Which OpenCDM library the HAL loads and how it calls it."""

    model_config = ConfigDict(extra="forbid")

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


class PluginSettings(BaseModel):
    """Which key-system plugins (entry points of group ``drmkit.keysystems``) are enabled."""

    model_config = ConfigDict(extra="forbid")

    enabled: list[str] = Field(
        default_factory=lambda: ["clearkey"],
        description="Entry-point names of the enabled key-system plugins.",
    )
    disabled: list[str] = Field(
        default_factory=list,
        description="Plugins never loaded, even when listed in ``enabled`` (blocklist).",
    )
    trace: bool = Field(default=False, description="Log every hook call with its arguments.")


class CoreSettings(BaseModel):
    """Limits and timeouts of the media-key-session core."""

    model_config = ConfigDict(extra="forbid")

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
