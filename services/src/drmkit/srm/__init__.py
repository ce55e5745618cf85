"""Session resource manager (SRM): per-account limits on concurrent streams.

The SRM is independent of the DRM core. A client sets up a session before playback, keeps it alive
while playing and tears it down at the end; the SRM admits a new session only while the account has
fewer live sessions than its limit. Admission is one atomic step per account in every store
(SQLite, Redis, PostgreSQL). See ``docs/srm.md``.

Importing this package is cheap: the HTTP app, the stores and the client live in submodules.
"""
