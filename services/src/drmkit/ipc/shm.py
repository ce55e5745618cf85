"""Shared memory for sample data: a sealed ``memfd`` mapped by the server and one client.

The server creates the region with ``memfd_create`` and seals its size (``F_SEAL_SHRINK``,
``F_SEAL_GROW``, ``F_SEAL_SEAL``): a client holding the descriptor cannot truncate it under the
server's mapping (which would turn the server's next access into ``SIGBUS``). The descriptor goes
to the client with ``SCM_RIGHTS``; both sides ``mmap`` it shared.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import mmap
import os

from drmkit.errors import DrmkitError


class SharedRegionError(DrmkitError):
    """A region cannot be created, attached or addressed as asked."""


class SharedRegion:
    """A mapped shared-memory region (``create`` on the server, ``attach`` on the client)."""

    def __init__(self, fd: int, size: int, mapping: mmap.mmap) -> None:
        self.fd = fd
        self.size = size
        self._map: mmap.mmap | None = mapping
        self._view: memoryview | None = memoryview(mapping)
        self._base = _address_of(self._view)

    @classmethod
    def create(cls, size: int, name: str = "drmkit-samples") -> SharedRegion:
        """Create, size, seal and map a new region of ``size`` bytes."""
        if size <= 0:
            raise SharedRegionError(f"shared memory size must be positive, not {size}")
        fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(fd, size)
            fcntl.fcntl(
                fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
            )
            mapping = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as exc:
            os.close(fd)
            raise SharedRegionError(f"cannot create shared memory of {size} bytes: {exc}") from exc
        return cls(fd, size, mapping)

    @classmethod
    def attach(cls, fd: int, size: int) -> SharedRegion:
        """Map a region received from the server (takes ownership of ``fd``)."""
        try:
            actual = os.fstat(fd).st_size
            if actual < size:
                raise SharedRegionError(f"shared memory is {actual} bytes, expected {size}")
            mapping = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as exc:
            os.close(fd)
            raise SharedRegionError(f"cannot map shared memory: {exc}") from exc
        except SharedRegionError:
            os.close(fd)
            raise
        return cls(fd, size, mapping)

    @property
    def closed(self) -> bool:
        """``True`` once the mapping was closed."""
        return self._map is None

    def view(self, offset: int, length: int) -> memoryview:
        """Return a writable view of ``[offset, offset + length)`` (bounds-checked)."""
        if self._view is None:
            raise SharedRegionError("shared memory is closed")
        if offset < 0 or length < 0 or offset + length > self.size:
            raise SharedRegionError(
                f"range [{offset}, {offset + length}) is outside the {self.size}-byte region"
            )
        return self._view[offset : offset + length]

    def offset_of(self, view: memoryview) -> int | None:
        """Return where ``view`` starts in this region, ``None`` if it is not a view of it."""
        if self._map is None or view.obj is not self._map or view.readonly:
            return None
        if not view.c_contiguous or view.nbytes == 0:
            return None
        offset = _address_of(view) - self._base
        return offset if offset >= 0 and offset + view.nbytes <= self.size else None

    def try_close(self) -> bool:
        """Unmap and close; ``False`` (nothing done) while views of it are still in use.

        A CDM call still decrypting into the region holds a view; unmapping under it would crash,
        so the owner retries later.
        """
        if self._map is None:
            return True
        view = self._view
        self._view = None
        try:
            if view is not None:
                view.release()
            self._map.close()
        except BufferError:
            self._view = memoryview(self._map)
            return False
        self._map = None
        with contextlib.suppress(OSError):
            os.close(self.fd)
        return True


def _address_of(view: memoryview) -> int:
    """Return the address of a writable view's first byte (the ctypes export ends at once)."""
    anchor = ctypes.c_char.from_buffer(view)
    try:
        return ctypes.addressof(anchor)
    finally:
        del anchor
