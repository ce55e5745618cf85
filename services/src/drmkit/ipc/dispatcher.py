"""A generic JSON-RPC 2.0 dispatcher over a method table: typed parameters (pydantic), handlers.

A table is a sequence of :class:`Method` rows (name, parameter model, handler), built with
:func:`method` so that mypy checks each handler against its parameter model; the dispatcher knows
nothing about any particular method. Parameters that do not validate against the model (wrong
types, unknown names, base64 that does not decode) give ``INVALID_PARAMS`` (-32602), an unknown
method ``METHOD_NOT_FOUND`` (-32601), an MKS error ``1000 + status`` with the exception class in
``data`` so clients raise the same exception as in-process code.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from drmkit.errors import DrmError
from drmkit.ipc.jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    MKS_ERROR_BASE,
    Request,
    RpcError,
)
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

C = TypeVar("C")
P = TypeVar("P", bound=BaseModel)

Handler = Callable[[C, Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Method(Generic[C]):
    """One row of a method table: the method's name, its parameter model and its handler."""

    name: str
    params: type[BaseModel]
    handler: Handler[C]


def method(name: str, params: type[P], handler: Callable[[C, P], Awaitable[Any]]) -> Method[C]:
    """Return a table row; typed so that ``handler`` must take ``params``' model."""
    return Method(name, params, handler)


def mks_error(exc: DrmError) -> RpcError:
    """Return the JSON-RPC error for an MKS exception (status code and exception class)."""
    data: dict[str, Any] = {"status": exc.status.name, "error": type(exc).__name__}
    notes = getattr(exc, "__notes__", None)
    if notes:  # e.g. which sample of a batched decrypt failed
        data["notes"] = [str(note) for note in notes]
    return RpcError(MKS_ERROR_BASE + int(exc.status), exc.message, data)


def describe_validation_error(exc: ValidationError) -> str:
    """Return a short, one-line description of what was wrong with the parameters."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "params"
        parts.append(f"{where}: {error['msg']}")
    return "invalid params: " + "; ".join(parts)


class Dispatcher(Generic[C]):
    """Maps method names to handlers ``async handler(context, params_model)``.

    Built from a method table (``Dispatcher(TABLE)``); :meth:`add` and :meth:`method` register
    more rows one by one.
    """

    def __init__(self, table: Iterable[Method[C]] = ()) -> None:
        self._methods: dict[str, Method[C]] = {}
        for row in table:
            self.add(row.name, row.params, row.handler)

    @property
    def methods(self) -> list[str]:
        """Registered method names."""
        return sorted(self._methods)

    def add(self, name: str, params: type[BaseModel], handler: Handler[C]) -> None:
        """Register ``handler`` for ``name`` with the parameter model ``params``."""
        if name in self._methods:
            raise ValueError(f"method {name!r} is already registered")
        self._methods[name] = Method(name, params, handler)

    def method(
        self, name: str, params: type[P]
    ) -> Callable[[Callable[[C, P], Awaitable[Any]]], Callable[[C, P], Awaitable[Any]]]:
        """Register the decorated handler (the decorator form of :meth:`add`)."""

        def register(handler: Callable[[C, P], Awaitable[Any]]) -> Callable[[C, P], Awaitable[Any]]:
            self.add(name, params, handler)
            return handler

        return register

    def has(self, name: str) -> bool:
        """Tell whether ``name`` is registered."""
        return name in self._methods

    def validate(self, request: Request) -> tuple[Method[C], BaseModel]:
        """Return the method and its validated parameters (``RpcError`` if either is wrong)."""
        method = self._methods.get(request.method)
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, f"method not found: {request.method}")
        try:
            params = method.params.model_validate(request.params)
        except ValidationError as exc:
            raise RpcError(INVALID_PARAMS, describe_validation_error(exc)) from None
        return method, params

    async def call(self, context: C, method: Method[C], params: BaseModel) -> Any:
        """Run the handler; map MKS errors and unexpected exceptions to ``RpcError``."""
        try:
            return await method.handler(context, params)
        except RpcError:
            raise
        except DrmError as exc:
            raise mks_error(exc) from None
        except Exception as exc:
            log.exception("method %s failed", method.name)
            raise RpcError(INTERNAL_ERROR, f"internal error: {type(exc).__name__}") from None
