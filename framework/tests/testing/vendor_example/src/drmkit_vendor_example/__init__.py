"""A vendor's key-system plugin, as the plugin guide describes, outside drmkit's tree."""
