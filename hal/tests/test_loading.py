"""Library loading: the build products, bad paths, missing symbols, variant selection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import drmkit_hal
import pytest
from drmkit_hal import (
    DecryptVariant,
    Hal,
    HalConfig,
    HalError,
    LibraryLoadError,
    bundled_library_path,
)
from drmkit_hal._library import load_library


def _readelf_needed(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True)
    return [
        line.split("[")[1].rstrip("]") for line in out.stdout.splitlines() if "(NEEDED)" in line
    ]


def test_build_products_are_inside_the_package() -> None:
    package = Path(drmkit_hal.__file__).parent
    assert bundled_library_path() == package / "libdrmkit_refcdm.so"
    assert bundled_library_path().is_file()
    assert list(package.glob("_ocdm*.so")), "the cffi extension is built next to the package"


def test_extension_does_not_link_any_ocdm_library() -> None:
    from drmkit_hal import _ocdm

    needed = _readelf_needed(Path(_ocdm.__file__))
    assert not [n for n in needed if "ocdm" in n.lower() or "refcdm" in n.lower()], needed


@pytest.mark.refcdm
def test_reference_cdm_exports_only_the_abi(library_path: Path) -> None:
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(library_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}
    ours = {n for n in names if not n.startswith("_")}
    assert ours and all(n.startswith(("opencdm_", "drmkit_refcdm_")) for n in ours), ours


@pytest.mark.refcdm
def test_reference_library_loads_with_every_optional_symbol(hal: Hal) -> None:
    assert hal.is_reference
    for symbol in (
        "opencdm_session_decrypt_v2",
        "opencdm_system_teardown",
        "opencdm_dispose",
        "drmkit_refcdm_session_decrypt_legacy",
        "opencdm_session_get_challenge_data",
    ):
        assert hal.exports(symbol), symbol
    assert hal.decrypt_variant is DecryptVariant.V2  # auto picks v2 when it exists


def test_missing_library_reports_dlerror(tmp_path: Path) -> None:
    missing = tmp_path / "libnothere.so"
    with pytest.raises(LibraryLoadError) as caught:
        Hal.open(HalConfig(library_path=missing))
    assert str(missing) in str(caught.value)
    assert "cannot open shared object file" in str(caught.value)


def test_not_a_library_reports_dlerror(tmp_path: Path) -> None:
    bogus = tmp_path / "libbogus.so"
    bogus.write_text("not an ELF file")
    with pytest.raises(LibraryLoadError, match=r"libbogus\.so"):
        Hal.open(HalConfig(library_path=bogus))


def _compile(tmp_path: Path, name: str, source: str) -> Path:
    c_file = tmp_path / f"{name}.c"
    c_file.write_text(source)
    out = tmp_path / f"lib{name}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(c_file)], check=True)
    return out


def test_library_lacking_symbols_lists_them(tmp_path: Path) -> None:
    path = _compile(
        tmp_path,
        "partial",
        "void* opencdm_create_system(const char* k) { (void)k; return 0; }\n"
        "int opencdm_destruct_system(void* s) { (void)s; return 0; }\n",
    )
    with pytest.raises(LibraryLoadError) as caught:
        load_library(path)
    missing = caught.value.missing
    assert "opencdm_construct_session" in missing
    assert "opencdm_session_decrypt" in missing
    assert "opencdm_create_system" not in missing
    assert "opencdm_session_decrypt_v2" not in missing  # optional
    assert "missing required symbols" in str(caught.value)


def test_unknown_variant_and_quirk_are_rejected() -> None:
    with pytest.raises(ValueError, match="decrypt_variant"):
        HalConfig(decrypt_variant="eleven_arg")
    with pytest.raises(ValueError, match="quirks"):
        HalConfig(quirks=frozenset({"inverted_everything"}))


def test_explicit_variants(open_hal: object, is_reference: bool) -> None:
    for variant in DecryptVariant:
        if variant is DecryptVariant.LEGACY and not is_reference:
            # A library exporting decrypt_v2 has the 10-argument opencdm_session_decrypt.
            with pytest.raises(HalError, match="10 arguments"):
                open_hal(decrypt_variant=variant)  # type: ignore[operator]
            continue
        hal = open_hal(decrypt_variant=variant)  # type: ignore[operator]
        # auto: the variant the library's profile names (reference: v2; Thunder: ten_arg).
        expected = (
            hal.profile.default.decrypt_variant if variant is DecryptVariant.AUTO else variant
        )
        assert hal.decrypt_variant is expected


def test_same_library_is_loaded_once(library_path: Path) -> None:
    assert load_library(library_path) is load_library(str(library_path))


def test_env_var_selects_the_default_library(tmp_path: Path) -> None:
    code = (
        "from drmkit_hal import Hal, LibraryLoadError\n"
        "try:\n    Hal.open()\nexcept LibraryLoadError as e:\n    print('ERR', e)\n"
    )
    env = {"DRMKIT_HAL_LIBRARY": str(tmp_path / "libnone.so"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "libnone.so" in out.stdout, out


def test_closed_hal_refuses_calls(hal: Hal) -> None:
    hal.close()
    hal.close()  # idempotent
    assert hal.closed
    with pytest.raises(HalError, match="closed"):
        hal.create_system("org.w3.clearkey")
    with pytest.raises(HalError):
        hal.is_type_supported("org.w3.clearkey")
    with pytest.raises(HalError):
        hal.test_control({"op": "stats"})


def test_typing_stub_lists_every_shim_function() -> None:
    import re

    from drmkit_hal import _ocdm

    stub = (Path(drmkit_hal.__file__).parent / "_ocdm.pyi").read_text()
    stubbed = set(re.findall(r"def (hal_\w+)\(", stub))
    built = {name for name in dir(_ocdm.lib) if name.startswith("hal_")}
    # extern "Python" callbacks are attached with ffi.def_extern, not called from Python.
    built -= {"hal_on_challenge", "hal_on_key_update", "hal_on_error", "hal_on_keys_updated"}
    assert stubbed == built
