"""Settings section ``[license_server]``: the license server (``drmkit license-server``)."""

from __future__ import annotations

from pathlib import Path

from drmkit.config import Section
from pydantic import Field, SecretStr, field_validator


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
    cors_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Origins of web pages allowed to call the license server from a browser (CORS), as"
            " ``scheme://host[:port]``; ``*`` allows any. Empty (the default): every cross-origin"
            " request is refused with 403 ``cors_origin_refused``."
        ),
    )

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        from drmkit.license_server.cors import check_origin

        return [check_origin(origin) for origin in origins]
