"""Loading OCDM libraries through the shim: one process-wide ``Library`` per path."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ._cdata import c_text
from ._ocdm import ffi, lib
from .errors import LibraryLoadError

#: File name of the bundled reference CDM inside the ``drmkit_hal`` package.
REFERENCE_LIBRARY_NAME = "libdrmkit_refcdm.so"
#: Environment variable naming the library used when ``HalConfig.library_path`` is ``None``
#: (the sanitizer job points it at the ASan build of the reference CDM).
LIBRARY_ENV_VAR = "DRMKIT_HAL_LIBRARY"

_ERROR_CAPACITY = 4096


def bundled_library_path() -> Path:
    """Return the path of the reference CDM built into this package."""
    return Path(__file__).resolve().parent / REFERENCE_LIBRARY_NAME


def default_library_path() -> Path:
    """Return ``$DRMKIT_HAL_LIBRARY`` when set, else the bundled reference CDM."""
    override = os.environ.get(LIBRARY_ENV_VAR)
    return Path(override) if override else bundled_library_path()


@dataclass(eq=False)
class Library:
    """A dlopen()ed OCDM library and the symbols it exports.

    Libraries stay mapped until the process exits: unloading a CDM whose threads may still run is
    unsafe, and a second ``Hal`` on the same path reuses the mapping.
    """

    path: str
    handle: object  # cdata 'hal_lib *'
    symbols: frozenset[str]
    users: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def exports(self, symbol: str) -> bool:
        """Tell whether the library exports ``symbol`` (any symbol the shim resolves)."""
        return symbol in self.symbols

    @property
    def is_reference(self) -> bool:
        """Whether this is drmkit's reference CDM (or a sanitizer build of it)."""
        return "drmkit_refcdm_test_control" in self.symbols


_libraries: dict[str, Library] = {}
_libraries_lock = threading.Lock()


def _known_symbols() -> list[str]:
    count = lib.hal_lib_symbol_count()
    return [c_text(lib.hal_lib_symbol_name(i)) for i in range(count)]


def load_library(path: Path | str) -> Library:
    """Return the ``Library`` for ``path``, loading it on first use.

    Raises:
        LibraryLoadError: the file cannot be loaded (the ``dlerror()`` text is in the message) or
            lacks required OCDM symbols (listed in ``missing``).

    """
    text = str(path)
    key = os.path.realpath(text) if os.sep in text else text
    with _libraries_lock:
        loaded = _libraries.get(key)
        if loaded is not None:
            return loaded
        reason = ffi.new("int *")
        error = ffi.new("char[]", _ERROR_CAPACITY)
        handle = lib.hal_lib_open(text.encode(), reason, error, _ERROR_CAPACITY)
        if handle == ffi.NULL:
            message = c_text(error)
            if reason[0] == lib.HAL_OPEN_MISSING_SYMBOLS:
                missing = tuple(name.strip() for name in message.split(","))
                raise LibraryLoadError(
                    text, f"missing required symbols: {message}", missing=missing
                )
            if text == str(bundled_library_path()) and not os.path.exists(text):
                message += (
                    " (the bundled reference CDM is not built: rebuild the package with "
                    "`uv sync --reinstall-package drmkit-hal`)"
                )
            raise LibraryLoadError(text, message)
        symbols = frozenset(
            name for name in _known_symbols() if lib.hal_lib_has(handle, name.encode())
        )
        loaded = Library(path=text, handle=handle, symbols=symbols)
        _libraries[key] = loaded
        return loaded
