"""Build of drmkit-hal: the cffi extension ``drmkit_hal._ocdm`` and the reference CDM library.

pyproject.toml cannot declare ``cffi_modules``, hence this file. ``build_ext`` also compiles
``libdrmkit_refcdm.so`` from ``refcdm/*.c`` into the ``drmkit_hal`` package (next to the extension,
in the wheel and, for editable installs, in ``src/drmkit_hal``), where the HAL finds it at run time.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
REFCDM_LIBRARY = "libdrmkit_refcdm.so"
REFCDM_CFLAGS = [
    "-std=c11",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fvisibility=hidden",
    "-fPIC",
]
REFCDM_LIBS = ["-lcrypto", "-lpthread"]


def refcdm_sources() -> list[Path]:
    """Return the reference CDM's C sources, sorted for a reproducible command line."""
    return sorted((HERE / "refcdm").glob("*.c"))


def refcdm_command(output: Path, sources: list[Path]) -> list[str]:
    """Return the compiler command that links ``output`` from ``sources``."""
    compiler = shlex.split(os.environ.get("CC", "cc"))
    return [
        *compiler,
        *REFCDM_CFLAGS,
        "-shared",
        f"-I{HERE / 'include'}",
        f"-I{HERE / 'refcdm'}",
        *(str(source) for source in sources),
        "-o",
        str(output),
        *REFCDM_LIBS,
    ]


def install_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a rename.

    A process that has the old ``target`` mapped (a running test or service) keeps its inode
    intact; copying over the file in place would change its code under it and crash it.
    """
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, temporary)
    os.chmod(temporary, 0o755)
    os.replace(temporary, target)


class BuildExtWithReferenceCdm(build_ext):
    """``build_ext`` that also links the reference CDM shared library into the package."""

    def copy_extensions_to_source(self) -> None:
        """Install the in-place (editable) extension copies by rename, never over the old file."""
        build_py = self.get_finalized_command("build_py")
        for extension in self.extensions:
            inplace, regular = self._get_inplace_equivalent(build_py, extension)
            if os.path.exists(regular) or not extension.optional:
                install_atomically(Path(regular), Path(inplace))

    def run(self) -> None:
        """Build the extensions, then the reference CDM library."""
        super().run()
        self._build_reference_cdm()

    def _library_paths(self) -> tuple[Path, Path]:
        build_py = self.get_finalized_command("build_py")
        built = Path(self.build_lib) / "drmkit_hal" / REFCDM_LIBRARY
        inplace = Path(build_py.get_package_dir("drmkit_hal")) / REFCDM_LIBRARY
        return built, inplace

    def _build_reference_cdm(self) -> None:
        sources = refcdm_sources()
        if not sources:
            warnings.warn(
                "hal/refcdm has no C sources: libdrmkit_refcdm.so is not built",
                stacklevel=1,
            )
            return
        built, inplace = self._library_paths()
        built.parent.mkdir(parents=True, exist_ok=True)
        command = refcdm_command(built, sources)
        print(" ".join(shlex.quote(part) for part in command), file=sys.stderr)
        subprocess.run(command, check=True)
        if self.inplace:
            install_atomically(built, inplace)

    def get_outputs(self) -> list[str]:
        """Return the built files, the reference CDM library included."""
        outputs = list(super().get_outputs())
        if refcdm_sources():
            built, inplace = self._library_paths()
            outputs.append(str(inplace if self.inplace else built))
        return outputs

    def get_output_mapping(self) -> dict[str, str]:
        """Map build-directory files to their in-place (editable) copies."""
        mapping = dict(super().get_output_mapping())
        if self.inplace and refcdm_sources():
            built, inplace = self._library_paths()
            mapping[str(built)] = str(inplace)
        return mapping


setup(
    cffi_modules=["src/drmkit_hal/_build.py:ffibuilder"],
    cmdclass={"build_ext": BuildExtWithReferenceCdm},
)
