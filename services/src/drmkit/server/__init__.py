"""The session server: the MKS API of the core over JSON-RPC 2.0 on a Unix socket, per application.

``drmkit serve`` runs one :class:`~drmkit.server.app.SessionServer`; ``docs/session-server.md``
describes the protocol. This package's ``__init__`` imports nothing so that ``drmkit.settings``
can import :mod:`drmkit.server.config` cheaply.
"""
