"""Hook implementations of the Clear Key plugin (filled in by the core framework work)."""
