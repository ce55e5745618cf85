"""Every exception class drmkit defines derives from ``drmkit.errors.DrmkitError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import drmkit
import pytest
from drmkit.errors import (
    ConfigurationError,
    DrmError,
    DrmkitError,
    FailError,
    InvalidLicenseError,
    MediaKeyErrorStatus,
)
from drmkit.ipc.jsonrpc import RpcError
from drmkit.license_server.errors import LicenseServerError, bad_request
from drmkit.media.errors import MediaFormatError
from drmkit.sdk import DemoCheckError, TestChallengeError
from drmkit.srm.devservers import ServerUnavailableError
from drmkit.srm.errors import SrmErrorCode, SrmProblem


def _drmkit_exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(drmkit.__path__, "drmkit."):
        leaf = module_info.name.rpartition(".")[2]
        if leaf.startswith("test_") or leaf in ("conftest", "__main__"):  # kit tests; entry scripts
            continue
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("drmkit."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def test_every_drmkit_exception_class_has_the_root() -> None:
    classes = _drmkit_exception_classes()
    names = {cls.__name__ for cls in classes}
    # The walk reaches both distributions (the core and the services).
    assert {"DrmError", "ConfigurationError", "LicenseServerError", "MediaError"} <= names
    assert {"SrmProblem", "SrmClientError", "FrameError", "DemoSetupError"} <= names
    strays = [f"{cls.__module__}.{cls.__qualname__}" for cls in classes
              if not issubclass(cls, DrmkitError)]  # fmt: skip
    assert strays == []


def test_the_root_changes_no_status_message_or_base() -> None:
    assert issubclass(DrmError, DrmkitError) and issubclass(ConfigurationError, DrmkitError)
    assert not issubclass(ConfigurationError, DrmError)
    error = InvalidLicenseError("not JSON")
    assert isinstance(error, FailError) and isinstance(error, ValueError)
    assert error.status is MediaKeyErrorStatus.FAIL and str(error) == "not JSON"
    refused = bad_request("no kids")
    assert isinstance(refused, LicenseServerError) and isinstance(refused, DrmkitError)
    assert refused.to_json() == {"error": {"code": "invalid_request", "message": "no kids"}}
    assert refused.status == 400
    problem = SrmProblem(SrmErrorCode.MALFORMED)
    assert isinstance(problem, DrmkitError) and problem.code is SrmErrorCode.MALFORMED
    assert str(problem) == SrmErrorCode.MALFORMED.value.message
    media = MediaFormatError("truncated box", 12)
    assert str(media) == "truncated box (at offset 12)" and media.offset == 12
    # Classes that were also built-in exceptions still are.
    assert issubclass(TestChallengeError, ValueError)
    assert issubclass(ServerUnavailableError, RuntimeError)
    assert issubclass(DemoCheckError, DrmkitError) and issubclass(RpcError, DrmkitError)


def test_hal_errors_stay_the_hals_own() -> None:
    hal = pytest.importorskip("drmkit_hal")
    assert not issubclass(hal.HalError, DrmkitError)
