"""The key-system names this distribution serves (each declared by its own plugin class)."""

from __future__ import annotations

from typing import Final

PLAYREADY: Final = "com.microsoft.playready"
"""Standard PlayReady: the generic flow (``PlayReadyPlugin``)."""

YOUTUBE_PLAYREADY: Final = "com.youtube.playready"
"""The reference CDM's alias of :data:`PLAYREADY`; its test challenges may name it."""

NETFLIX: Final = "com.netflix.playready"
"""Netflix PlayReady: the pull-model flow of the Netflix DPI (``NetflixPlugin``)."""
