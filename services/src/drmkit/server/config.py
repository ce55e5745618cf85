"""Settings section ``[server]``: the per-application session server (``drmkit serve``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def default_runtime_dir() -> Path:
    """Return the per-user runtime directory sockets go in (``$XDG_RUNTIME_DIR/drmkit``)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or str(
        Path(tempfile.gettempdir()) / f"drmkit-{os.getuid()}"
    )
    return Path(base) / "drmkit"


class ServerSettings(BaseModel):
    """The session server of one application: its sockets, app state, limits and client timeout."""

    model_config = ConfigDict(extra="forbid")

    socket_path: Path | None = Field(
        default=None,
        description="Client socket; unset: ``$XDG_RUNTIME_DIR/drmkit/session.sock``.",
    )
    control_socket_path: Path | None = Field(
        default=None,
        description="Control socket (app state, stats, health); unset: ``<socket_path>.control``.",
    )
    socket_mode: int = Field(
        default=0o600, ge=0, le=0o777, description="Permission bits of both sockets."
    )
    initial_state: Literal["active", "inactive"] = Field(
        default="active", description="App state the server starts in."
    )
    max_media_keys: int = Field(
        default=16, ge=1, description="Most MediaKeys the application may hold at once."
    )
    max_key_sessions: int = Field(
        default=2048, ge=1, description="Most key sessions the application may hold at once."
    )
    max_connections: int = Field(
        default=256, ge=1, description="Most client connections served at once."
    )
    shared_memory_size: int = Field(
        default=8 * 1024 * 1024,
        ge=4096,
        le=1 << 31,
        description="Bytes of sample shared memory per connection (allocated on request).",
    )
    max_frame_size: int = Field(
        default=1024 * 1024,
        ge=4096,
        le=64 * 1024 * 1024,
        description="Largest JSON-RPC frame accepted or sent (bytes); larger drops the connection.",
    )
    max_in_flight: int = Field(
        default=64,
        ge=1,
        le=4096,
        description="Requests of one connection handled at once; more wait (backpressure).",
    )
    call_timeout_s: float = Field(
        default=3.0, gt=0, description="Default time a client waits for a reply (seconds)."
    )
    metrics_address: str = Field(
        default="",
        description=(
            "Prometheus metrics endpoint: ``127.0.0.1:PORT`` (loopback only) or"
            " ``unix:/path``; empty disables it."
        ),
    )
    test_control: bool = Field(
        default=False,
        description="Expose the reference CDM's test control on the control socket (tests only).",
    )

    def resolved_socket_path(self) -> Path:
        """Return the client socket path (the default under the runtime dir when unset)."""
        return self.socket_path or default_runtime_dir() / "session.sock"

    def resolved_control_path(self) -> Path:
        """Return the control socket path."""
        if self.control_socket_path is not None:
            return self.control_socket_path
        path = self.resolved_socket_path()
        return path.with_name(path.name + ".control")
