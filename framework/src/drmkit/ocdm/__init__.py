"""The generic OpenCDM mapping key-system plugins build on (see :mod:`drmkit.ocdm.mapping`)."""

from drmkit.ocdm.mapping import OcdmKeySystemPlugin, OcdmSessionState

__all__ = ["OcdmKeySystemPlugin", "OcdmSessionState"]
