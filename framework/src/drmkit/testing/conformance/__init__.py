"""drmkit's key-system conformance suite (run with ``--drmkit-keysystem=<key system>``)."""
