"""The committed protobuf module is what protoc makes of the committed ``.proto``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PROTOS = sorted((SRC / "drmkit_widevine" / "proto").glob("*.proto"))
GENERATED = SRC / "drmkit_widevine" / "_generated"


def test_generated_module_is_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (root dev group) regenerates the module")
    assert len(PROTOS) == 2
    for proto in PROTOS:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{SRC}",
                f"--python_out={tmp_path}",
                f"--pyi_out={tmp_path}",
                str(proto),
            ],
            check=True,
            capture_output=True,
        )
    names = [f"{p.stem}_pb2{suffix}" for p in PROTOS for suffix in (".py", ".pyi")]
    for name in names:
        fresh = (tmp_path / "drmkit_widevine" / "proto" / name).read_text()
        assert (GENERATED / name).read_text() == fresh, (
            f"{name} is stale: run `sh plugins/widevine/scripts/regenerate`"
        )
