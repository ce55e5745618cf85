"""drmkit key-system plugin for W3C Clear Key (``org.w3.clearkey``)."""
