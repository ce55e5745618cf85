"""Settings of the session resource manager (the ``[srm]`` section of drmkit's configuration)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SrmSettings(BaseModel):
    """The session resource manager (``drmkit srm serve``): API, limits, auth and store."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address the SRM HTTP API listens on.")
    port: int = Field(default=8470, ge=0, le=65535, description="TCP port of the SRM HTTP API.")
    store_url: str | None = Field(
        default=None,
        description=(
            "Session store: ``sqlite:///path``, ``redis://host:port/db`` or "
            "``postgresql://user@host:port/db``; unset means ``sqlite:///<state_dir>/srm.sqlite3``."
        ),
    )
    session_timeout_s: int = Field(
        default=30,
        ge=1,
        le=86400,
        description="Seconds a session lives without a keep-alive (the ``timeout`` of setup).",
    )
    default_limit: int = Field(
        default=2,
        ge=0,
        description="Concurrent sessions per account without an own limit; 0 means unlimited.",
    )
    token_verifier: Literal["table", "jwt"] = Field(
        default="table",
        description=(
            "How ``Client-Token`` is checked: ``table`` (tokens issued by "
            "``drmkit srm tokens add``, stored hashed) or ``jwt`` (signed tokens)."
        ),
    )
    jwt_key: SecretStr | None = Field(
        default=None,
        description=(
            "JWT verification key: an HMAC secret (at least 32 bytes for HS256, 48 for HS384, "
            "64 for HS512; RFC 7518) or a PEM public key (RSA of at least 2048 bits, EC, EdDSA)."
        ),
    )
    jwt_key_file: Path | None = Field(
        default=None, description="File holding the JWT verification key (instead of ``jwt_key``)."
    )
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["HS256"], description="Accepted JWT signature algorithms."
    )
    jwt_account_claim: str = Field(default="sub", description="JWT claim naming the account.")
    jwt_device_claim: str = Field(default="device", description="JWT claim naming the device.")
    jwt_audience: str | None = Field(default=None, description="Required JWT ``aud``, when set.")
    jwt_issuer: str | None = Field(default=None, description="Required JWT ``iss``, when set.")
    jwt_leeway_s: float = Field(
        default=5.0,
        ge=0,
        description="Clock skew tolerated when checking JWT ``exp``/``nbf`` (seconds).",
    )
    operator_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token of the operator API (``Authorization: Bearer <token>``); "
            "unset disables the operator API."
        ),
    )
    max_body_bytes: int = Field(
        default=4096, ge=256, le=1024 * 1024, description="Largest accepted request body (bytes)."
    )
    sweep_interval_s: float = Field(
        default=10.0,
        gt=0,
        description="Period of the background sweeper that deletes expired sessions (seconds).",
    )
    store_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Longest wait for the store per request before answering 503 (seconds).",
    )
    store_pool_size: int = Field(
        default=10, ge=1, le=1000, description="Connections per SRM process to Redis or PostgreSQL."
    )


class SrmSettingsSource(Protocol):
    """What the SRM reads of the application's settings (``drmkit.settings.Settings`` has it).

    A protocol rather than the settings class itself: the SRM sits below the settings aggregate
    and must not import it.
    """

    @property
    def srm(self) -> SrmSettings:
        """The ``[srm]`` section."""
        ...

    @property
    def state_dir(self) -> Path:
        """Where drmkit keeps its state (the default SQLite store lives under it)."""
        ...
