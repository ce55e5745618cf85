"""cffi out-of-line API-mode build of ``drmkit_hal._ocdm``.

Run by setuptools through ``cffi_modules`` in ``hal/setup.py``. The extension compiles the shim
(``hal/csrc/shim.c``), which ``dlopen``s the configured OCDM library at run time, so the module
links against no OCDM library. CDM callbacks are ``extern "Python"`` functions referenced from one
static ``OpenCDMSessionCallbacks``: no ``ffi.callback`` trampolines (no writable+executable memory).
"""

from __future__ import annotations

import os
from pathlib import Path

from cffi import FFI

HAL_ROOT = Path(__file__).resolve().parents[2]


def _relative(path: Path) -> str:
    # setuptools wants source paths relative to the project directory (the current directory).
    return os.path.relpath(path, Path.cwd())


_PRELUDE = r"""
#include "shim.h"

static void hal_on_challenge(struct OpenCDMSession* session, void* user_data, const char* url,
                             const uint8_t* challenge, uint16_t challenge_length);
static void hal_on_key_update(struct OpenCDMSession* session, void* user_data,
                              const uint8_t* key_id, uint8_t length);
static void hal_on_error(struct OpenCDMSession* session, void* user_data, const char* message);
static void hal_on_keys_updated(const struct OpenCDMSession* session, void* user_data);

/* The library keeps this pointer until destruct: static storage outlives every session. */
static OpenCDMSessionCallbacks hal_callbacks = {
    hal_on_challenge,
    hal_on_key_update,
    hal_on_error,
    hal_on_keys_updated,
};

static OpenCDMSessionCallbacks* hal_session_callbacks(void) { return &hal_callbacks; }
"""


def make_ffibuilder() -> FFI:
    """Return the configured ``FFI`` builder of ``drmkit_hal._ocdm``."""
    builder = FFI()
    for cdef in ("ocdm.cdef.h", "shim.cdef.h"):
        builder.cdef((HAL_ROOT / "cdef" / cdef).read_text(encoding="utf-8"))
    builder.set_source(
        "drmkit_hal._ocdm",
        _PRELUDE,
        sources=[_relative(HAL_ROOT / "csrc" / "shim.c")],
        include_dirs=[_relative(HAL_ROOT / "include"), _relative(HAL_ROOT / "csrc")],
        libraries=["dl"],
        # The cdef must match shim.h: make a mismatched prototype a build error, not a warning.
        extra_compile_args=[
            "-std=gnu11",
            "-Wall",
            "-Wextra",
            "-Werror=incompatible-pointer-types",
            "-Werror=implicit-function-declaration",
            "-Werror=int-conversion",
            "-fvisibility=hidden",
        ],
    )
    return builder


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
