"""drmkit key-system plugin for Widevine (``com.widevine.alpha``)."""
