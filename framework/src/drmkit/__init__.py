"""drmkit: one key-system-agnostic media-key-session API over many DRM key systems."""

__version__ = "0.1.0"
