"""Loading OCDM libraries through the shim: one process-wide ``Library`` per path."""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Sequence
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
    disposed: bool = False

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


def _needed(path: Path) -> list[str]:
    """Return the ``DT_NEEDED`` sonames of the ELF file at ``path`` (none if it is not ELF)."""
    from elftools.common.exceptions import ELFError  # only when a search path is configured
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    try:
        with path.open("rb") as stream:
            elf = ELFFile(stream)
            return [
                str(tag.needed)  # type: ignore[attr-defined]
                for section in elf.iter_sections()
                if isinstance(section, DynamicSection)
                for tag in section.iter_tags("DT_NEEDED")
            ]
    except (OSError, ELFError):
        return []


# Dependencies loaded from a search path: kept (never unloaded) so that later loads reuse them.
_preloaded: dict[str, ctypes.CDLL] = {}


def _preload_dependencies(path: Path, search_path: Sequence[Path], seen: set[str]) -> None:
    """Load the dependencies of ``path`` found in ``search_path``, deepest first.

    The dynamic loader satisfies a ``DT_NEEDED`` entry with an object already loaded under that
    soname, so once they are loaded, ``dlopen`` of ``path`` finds them without ``LD_LIBRARY_PATH``
    (the platform libraries carry no RPATH). Dependencies not in ``search_path`` are left to the
    system's loader.
    """
    for soname in _needed(path):
        if soname in seen:
            continue
        seen.add(soname)
        candidate = next((d / soname for d in search_path if (d / soname).is_file()), None)
        if candidate is None or soname in _preloaded:
            continue
        _preload_dependencies(candidate, search_path, seen)
        try:
            _preloaded[soname] = ctypes.CDLL(str(candidate), mode=os.RTLD_NOW | os.RTLD_LOCAL)
        except OSError as exc:
            raise LibraryLoadError(str(path), f"dependency {candidate}: {exc}") from exc


def _locate(text: str, search_path: Sequence[Path]) -> str:
    """Return ``text``, or its file in ``search_path`` when ``text`` is a bare name."""
    if os.sep in text:
        return text
    for folder in search_path:
        if (folder / text).is_file():
            return str(folder / text)
    return text


def load_library(path: Path | str, search_path: Sequence[Path] = ()) -> Library:
    """Return the ``Library`` for ``path``, loading it on first use.

    ``search_path`` lists directories holding the library's dependencies (and the library, when
    ``path`` is a bare name); they are loaded from there before the library itself.

    Raises:
        LibraryLoadError: the file cannot be loaded (the ``dlerror()`` text is in the message) or
            lacks required OCDM symbols (listed in ``missing``).

    """
    text = _locate(str(path), search_path)
    key = os.path.realpath(text) if os.sep in text else text
    with _libraries_lock:
        loaded = _libraries.get(key)
        if loaded is not None:
            return loaded
        if search_path and os.sep in text:
            _preload_dependencies(Path(text), search_path, set())
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


def dispose_libraries() -> None:
    """Call ``opencdm_dispose`` once on every loaded library (at process exit only).

    In Thunder's client ``opencdm_dispose`` destroys the accessor singleton for good: the next
    ``opencdm_create_system`` in the process crashes. So the HAL never disposes while it may be
    opened again, and disposes at exit, after every ``Hal`` is closed.
    """
    with _libraries_lock:
        libraries = list(_libraries.values())
    for library in libraries:
        with library.lock:
            if library.disposed or library.users:
                continue
            library.disposed = True
        lib.hal_dispose(library.handle)
