"""Listening Unix sockets: restrictive permissions from the start, stale-socket recovery."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from pathlib import Path

from drmkit.errors import DrmkitError


class SocketInUseError(DrmkitError):
    """Another live server answers on the path, or the path is not a socket."""


def _is_live(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:
        return True  # e.g. a full backlog: somebody is listening
    finally:
        probe.close()
    return True


def bind_unix_socket(path: Path, mode: int, backlog: int = 128) -> socket.socket:
    """Listen on ``path`` with permission bits ``mode``.

    Refuses (``SocketInUseError``) when a live server answers on the path or the path is not a
    socket; removes a stale socket file left by a server that died. The socket is bound under a
    umask that already gives ``mode``, so it is never reachable with looser permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.is_symlink() or path.exists():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise SocketInUseError(f"{path} exists and is not a socket")
        if _is_live(path):
            raise SocketInUseError(f"a server is already listening on {path}")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o777 & ~mode)
    try:
        sock.bind(str(path))
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(previous)
    os.chmod(path, mode)
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def remove_socket_file(path: Path) -> None:
    """Remove ``path`` if it is a socket (never another kind of file)."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()
