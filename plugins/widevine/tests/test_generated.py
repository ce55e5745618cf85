"""The committed protobuf module is what protoc makes of the committed ``.proto``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PROTO = "drmkit_widevine/proto/widevine_pssh_data.proto"
GENERATED = SRC / "drmkit_widevine" / "_generated"


def test_generated_module_is_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (root dev group) regenerates the module")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{SRC}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            str(SRC / PROTO),
        ],
        check=True,
        capture_output=True,
    )
    for name in ("widevine_pssh_data_pb2.py", "widevine_pssh_data_pb2.pyi"):
        fresh = (tmp_path / "drmkit_widevine" / "proto" / name).read_text()
        assert (GENERATED / name).read_text() == fresh, (
            f"{name} is stale: run `sh plugins/widevine/scripts/regenerate`"
        )
