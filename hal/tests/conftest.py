"""Fixtures of the HAL tests: the real binding over a real OCDM library.

By default the library is the bundled reference CDM. ``--hal-library`` (or ``DRMKIT_HAL_LIBRARY``,
or the settings' ``DRMKIT_HAL__LIBRARY_PATH`` with ``DRMKIT_HAL__LIBRARY_SEARCH_PATH``) selects
another: a sanitizer build of the reference CDM (``scripts/hal-sanitizers``) or a platform library
such as Thunder's ``libClientOCDM.so`` (``scripts/real-stack-tests``). On a platform library the
tests marked ``refcdm`` (they need the reference CDM's control API or its simulated key systems)
are skipped and counted; every other test runs against it, Clear Key through the library's
``org.w3.clearkey`` CDM.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from drmkit_hal import DecryptVariant, Hal, HalConfig, bundled_library_path
from hal_testsupport import Recorder

REPO_ROOT = Path(__file__).resolve().parents[2]
REFCDM_REASON = "needs drmkit's reference CDM (its control API or simulated key systems)"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--hal-library",
        default=None,
        help="OCDM library the HAL tests load (default: $DRMKIT_HAL_LIBRARY or the bundled CDM)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"refcdm: the test {REFCDM_REASON}")


def _chosen_library(config: pytest.Config) -> Path:
    chosen = (
        config.getoption("--hal-library")
        or os.environ.get("DRMKIT_HAL_LIBRARY")
        or os.environ.get("DRMKIT_HAL__LIBRARY_PATH")
    )
    return Path(chosen) if chosen else bundled_library_path()


def _search_path() -> tuple[Path, ...]:
    raw = os.environ.get("DRMKIT_HAL__LIBRARY_SEARCH_PATH")
    return tuple(Path(p) for p in json.loads(raw)) if raw else ()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    ours = [i for i in items if Path(str(i.path)).is_relative_to(here)]
    if not ours or not any(i.get_closest_marker("refcdm") for i in ours):
        return
    with Hal.open(HalConfig(_chosen_library(config), library_search_path=_search_path())) as hal:
        reference = hal.is_reference
    if not reference:
        skip = pytest.mark.skip(reason=REFCDM_REASON)
        for item in ours:
            if item.get_closest_marker("refcdm"):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def search_path() -> tuple[Path, ...]:
    """Where the library's dependencies are (``DRMKIT_HAL__LIBRARY_SEARCH_PATH``)."""
    return _search_path()


@pytest.fixture(scope="session")
def library_path(request: pytest.FixtureRequest, search_path: tuple[Path, ...]) -> Path:
    path = _chosen_library(request.config)
    if not path.is_file():
        pytest.fail(f"OCDM library {path} does not exist (was `uv sync` run?)")
    return path


@pytest.fixture(scope="session")
def is_reference(library_path: Path, search_path: tuple[Path, ...]) -> bool:
    """Whether the library under test is the reference CDM."""
    with Hal.open(HalConfig(library_path, library_search_path=search_path)) as hal:
        return hal.is_reference


@pytest.fixture(scope="session", autouse=True)
def _restore_reference_cdm_configuration(
    library_path: Path, search_path: tuple[Path, ...], is_reference: bool
) -> Iterator[None]:
    # The reference CDM's configuration (store_dir, challenge format) is process-wide and these
    # tests change it: give later tests in the same process what they had.
    if not is_reference:
        yield
        return
    with Hal.open(HalConfig(library_path=library_path)) as hal:
        before = hal.configure({})
    yield
    with Hal.open(HalConfig(library_path=library_path)) as hal:
        hal.configure(before)


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The test vectors (``testdata/vectors``; ``DRMKIT_VECTORS_DIR`` overrides), or fail."""
    path = Path(os.environ.get("DRMKIT_VECTORS_DIR") or REPO_ROOT / "testdata" / "vectors")
    if not path.is_dir():
        pytest.fail(f"the test vectors are missing: {path} is not a directory")
    return path


def _open(library_path: Path, store_dir: Path, **kwargs: object) -> Hal:
    kwargs.setdefault("library_search_path", _search_path())
    hal = Hal.open(HalConfig(library_path=library_path, store_dir=store_dir, **kwargs))  # type: ignore[arg-type]
    if hal.is_reference:
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
            if opened.is_reference:
                opened.test_control({"op": "reset"})
            opened.close()


@pytest.fixture
def baseline(hal: Hal) -> dict[str, object]:
    """The CDM's live objects before the test (other HALs in the process may hold some)."""
    if not hal.is_reference:
        pytest.skip(REFCDM_REASON)
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
