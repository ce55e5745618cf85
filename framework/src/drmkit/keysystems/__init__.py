"""Plugin management: entry-point discovery, per-key-system routing, cross-cutting plugins."""
