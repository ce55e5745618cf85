"""Fixtures of the core tests: temporary installed distributions with entry points."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

MakeDist = Callable[[str, dict[str, str], dict[str, str]], None]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Install throwaway distributions (a dist-info on ``sys.path``) with real entry points."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    created: list[str] = []

    def make(dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            created.append(module)
        info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        lines = ["[drmkit.keysystems]", *(f"{k} = {v}" for k, v in entry_points.items())]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        importlib.invalidate_caches()

    yield make
    for module in created:
        sys.modules.pop(module, None)


@pytest.fixture
def drmkit_key_system() -> str:
    """The core's own tests run on Clear Key."""
    return "org.w3.clearkey"


@pytest.fixture(scope="session")
def drmkit_plugins() -> list[str]:
    """Enable only the Clear Key plugin (other installed plugins have their own runs)."""
    return ["clearkey"]
