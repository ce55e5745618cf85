"""Fixtures of the HAL tests: the real binding over the real reference CDM.

``DRMKIT_HAL_LIBRARY`` (or ``--hal-library``) selects another build of the reference CDM, e.g. the
AddressSanitizer one that ``scripts/hal-sanitizers`` builds.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from drmkit_hal import DecryptVariant, Hal, HalConfig, bundled_library_path
from hal_testsupport import Recorder

REPO_ROOT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--hal-library",
        default=None,
        help="OCDM library the HAL tests load (default: $DRMKIT_HAL_LIBRARY or the bundled CDM)",
    )


@pytest.fixture(scope="session")
def library_path(request: pytest.FixtureRequest) -> Path:
    chosen = request.config.getoption("--hal-library") or os.environ.get("DRMKIT_HAL_LIBRARY")
    path = Path(chosen) if chosen else bundled_library_path()
    if not path.is_file():
        pytest.fail(f"reference CDM library {path} does not exist (was `uv sync` run?)")
    return path


@pytest.fixture(scope="session", autouse=True)
def _restore_reference_cdm_configuration(library_path: Path) -> Iterator[None]:
    # The reference CDM's configuration (store_dir, challenge format) is process-wide and these
    # tests change it: give later tests in the same process what they had.
    with Hal.open(HalConfig(library_path=library_path)) as hal:
        before = hal.configure({})
    yield
    with Hal.open(HalConfig(library_path=library_path)) as hal:
        hal.configure(before)


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    return Path(os.environ.get("DRMKIT_VECTORS_DIR") or REPO_ROOT.parent / "shared" / "vectors")


def _open(library_path: Path, store_dir: Path, **kwargs: object) -> Hal:
    hal = Hal.open(HalConfig(library_path=library_path, store_dir=store_dir, **kwargs))
    hal.test_control({"op": "reset"})
    return hal


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def hal(library_path: Path, store_dir: Path) -> Iterator[Hal]:
    opened = _open(library_path, store_dir)
    try:
        yield opened
    finally:
        if not opened.closed:
            opened.test_control({"op": "reset"})
            opened.close()


@pytest.fixture
def baseline(hal: Hal) -> dict[str, object]:
    """The CDM's live objects before the test (other HALs in the process may hold some)."""
    return hal.test_control({"op": "stats"})


@pytest.fixture
def open_hal(library_path: Path, store_dir: Path) -> Iterator[object]:
    """Factory opening extra HALs (closed at teardown)."""
    opened: list[Hal] = []

    def factory(**kwargs: object) -> Hal:
        hal = _open(library_path, store_dir, **kwargs)
        opened.append(hal)
        return hal

    yield factory
    for hal in opened:
        hal.close()


@pytest.fixture(params=[DecryptVariant.V2, DecryptVariant.TEN_ARG, DecryptVariant.LEGACY])
def variant(request: pytest.FixtureRequest) -> DecryptVariant:
    return DecryptVariant(request.param)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
