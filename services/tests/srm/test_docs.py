"""docs/srm.md documents every error code exactly as the API sends it."""

from __future__ import annotations

from pathlib import Path

import pytest
from drmkit.srm.errors import SrmErrorCode

DOC = Path(__file__).resolve().parents[3] / "docs" / "srm.md"


@pytest.mark.parametrize("code", list(SrmErrorCode), ids=lambda c: c.spec.error_code)
def test_every_error_code_is_documented(code: SrmErrorCode) -> None:
    spec = code.spec
    row = f"| {spec.error_code} | {spec.http_status} | {spec.status} | {spec.message} |"
    assert row in DOC.read_text(), row
