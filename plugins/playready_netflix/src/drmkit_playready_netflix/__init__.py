"""drmkit key-system plugin for PlayReady and Netflix PlayReady (with the Netflix DPI facade)."""
