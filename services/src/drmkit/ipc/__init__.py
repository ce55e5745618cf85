"""drmkit's IPC building blocks: frames, JSON-RPC 2.0 envelopes, fd passing and shared memory.

The session server (:mod:`drmkit.server`) and its client (:mod:`drmkit.client`) share these small
modules; ``docs/session-server.md`` describes the protocol they implement.
"""
