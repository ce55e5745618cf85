"""The SRM HTTP API (FastAPI): client endpoints with and without ``/v1``, and the operator API."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from drmkit.srm.errors import SrmErrorCode, SrmProblem
from drmkit.srm.models import (
    ErrorEnvelope,
    OperatorSession,
    OperatorSessionList,
    SetupRequest,
)
from drmkit.srm.service import SrmService
from fastapi import APIRouter, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

ClientToken = Annotated[
    str | None,
    Header(alias="Client-Token", description="Token identifying the account and device."),
]
SessionIdPath = Annotated[
    uuid.UUID, Path(alias="sessionId", description="The id returned by session setup.")
]
AccountPath = Annotated[str, Path(min_length=1, max_length=256, description="Account id.")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e]{1,128}$",
        description=(
            "Optional; 1-128 visible ASCII characters. A setup repeated with the same key while "
            "its session is live returns that session instead of taking another slot."
        ),
    ),
]
Authorization = Annotated[
    str | None, Header(alias="Authorization", description="``Bearer <operator token>``.")
]

_ERROR: dict[str, Any] = {"model": ErrorEnvelope}


def error_response(code: SrmErrorCode, message: str | None = None) -> JSONResponse:
    """Return the ``errorResponse`` of ``code`` with its HTTP status."""
    return JSONResponse(code.body(message), status_code=code.spec.http_status)


_JSON = b"application/json"


def _content_type(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value)
    return None


def _is_json(content_type: bytes) -> bool:
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == _JSON or media_type.endswith(b"+json")


class BodyLimitMiddleware:
    """Reject request bodies over ``max_bytes`` with 413 ``SRM-0009`` before the app reads them.

    The body is buffered (SRM bodies are tiny) so a chunked upload without ``Content-Length`` is
    bounded as well as one that declares its size. A body without a ``Content-Type`` is JSON (the
    seed's clients send none); one declared as anything but JSON is 415 ``SRM-0013``.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer and bound the body, then replay it to the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(SrmErrorCode.BODY_TOO_LARGE)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await error_response(SrmErrorCode.MALFORMED)(scope, receive, send)
                    return
                if declared > self.max_bytes:
                    await too_large(scope, receive, send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # client went away; let the app see the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            content_type = _content_type(scope)
            if content_type is None:
                # The seed's clients send JSON without a Content-Type: read it as JSON.
                scope = {**scope, "headers": [*scope["headers"], (b"content-type", _JSON)]}
            elif not _is_json(content_type):
                await error_response(SrmErrorCode.UNSUPPORTED_MEDIA_TYPE)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _client_router(service: SrmService) -> APIRouter:
    router = APIRouter(tags=["sessions"])

    @router.post(
        "/sessions",
        summary="Set up a session",
        response_class=JSONResponse,
        responses={
            200: {
                "description": "Granted (``successResponse``) or denied for business reasons "
                "(``errorResponse`` with ``status: DENIED``: SRM-0004, SRM-0006).",
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/SuccessEnvelope"},
                                {"$ref": "#/components/schemas/ErrorEnvelope"},
                            ]
                        }
                    }
                },
            },
            400: _ERROR,
            401: _ERROR,
            413: _ERROR,
            500: _ERROR,
            503: _ERROR,
        },
    )
    async def setup(
        body: SetupRequest,
        client_token: ClientToken = None,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        try:
            admitted = await service.setup(
                client_token, body.content.contentID, body.content.contentType, idempotency_key
            )
        except SrmProblem as problem:
            return error_response(problem.code, problem.message)
        return JSONResponse(
            {
                "successResponse": {
                    "sessionId": str(admitted.session_id),
                    "timeout": admitted.timeout_s,
                }
            }
        )

    @router.put(
        "/sessions/{sessionId}",
        summary="Keep a session alive",
        response_class=Response,
        responses={
            200: {"description": "Kept alive; no body."},
            400: _ERROR,
            401: _ERROR,
            403: _ERROR,
            404: _ERROR,
            503: _ERROR,
        },
    )
    async def keepalive(session_id: SessionIdPath, client_token: ClientToken = None) -> Response:
        try:
            await service.keepalive(client_token, session_id)
        except SrmProblem as problem:
            return error_response(problem.code, problem.message)
        return Response(status_code=200)

    @router.delete(
        "/sessions/{sessionId}",
        summary="Tear a session down",
        response_class=Response,
        responses={
            200: {"description": "Torn down; no body."},
            400: _ERROR,
            401: _ERROR,
            403: _ERROR,
            404: _ERROR,
            503: _ERROR,
        },
    )
    async def teardown(session_id: SessionIdPath, client_token: ClientToken = None) -> Response:
        try:
            await service.teardown(client_token, session_id)
        except SrmProblem as problem:
            return error_response(problem.code, problem.message)
        return Response(status_code=200)

    return router


def _operator_router(service: SrmService, operator_token: str | None) -> APIRouter:
    from drmkit.srm.auth import operator_token_matches

    router = APIRouter(prefix="/srm/operator", tags=["operator"])

    def check(authorization: str | None) -> None:
        if operator_token is None:
            raise SrmProblem(SrmErrorCode.OPERATOR_DISABLED)
        if not operator_token_matches(operator_token, authorization):
            raise SrmProblem(SrmErrorCode.OPERATOR_UNAUTHENTICATED)

    @router.get(
        "/accounts/{account}/sessions",
        summary="List an account's live sessions",
        response_model=OperatorSessionList,
        responses={400: _ERROR, 401: _ERROR, 403: _ERROR, 503: _ERROR},
    )
    async def list_sessions(
        account: AccountPath, authorization: Authorization = None
    ) -> OperatorSessionList | JSONResponse:
        try:
            check(authorization)
            records = await service.list_sessions(account)
            limit = await service.limit_of(account)
        except SrmProblem as problem:
            return error_response(problem.code, problem.message)
        return OperatorSessionList(
            account=account,
            limit=limit,
            sessions=[
                OperatorSession(
                    sessionId=r.session_id,
                    account=r.account,
                    device=r.device,
                    contentID=r.content_id,
                    contentType=r.content_type,
                    created=r.created_at,
                    lastKeepAlive=r.last_keepalive,
                    expires=r.expires_at,
                )
                for r in records
            ],
        )

    @router.delete(
        "/accounts/{account}/sessions/{sessionId}",
        summary="Tear down any session of an account",
        response_class=Response,
        responses={
            200: {"description": "Torn down; the client's next keep-alive gets SRM-0008."},
            400: _ERROR,
            401: _ERROR,
            403: _ERROR,
            404: _ERROR,
            503: _ERROR,
        },
    )
    async def operator_teardown(
        account: AccountPath, session_id: SessionIdPath, authorization: Authorization = None
    ) -> Response:
        try:
            check(authorization)
            await service.operator_teardown(account, session_id)
        except SrmProblem as problem:
            return error_response(problem.code, problem.message)
        return Response(status_code=200)

    return router


def _install_error_handlers(app: FastAPI) -> None:
    async def on_validation_error(request: Request, exc: Exception) -> Response:
        return error_response(SrmErrorCode.MALFORMED)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        if status == 404:
            return error_response(SrmErrorCode.UNKNOWN_RESOURCE)
        if status == 405:
            return error_response(SrmErrorCode.METHOD_NOT_ALLOWED)
        if 400 <= status < 500:
            return error_response(SrmErrorCode.MALFORMED)
        return error_response(SrmErrorCode.INTERNAL)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("srm request failed", exc_info=exc)
        return error_response(SrmErrorCode.INTERNAL)

    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def _drop_default_422(app: FastAPI) -> None:
    """Remove FastAPI's generic 422 entries: validation errors are answered 400 ``SRM-0002``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for path_item in schema.get("paths", {}).values():
                for operation in path_item.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operation_ids(prefix: str) -> Callable[[APIRoute], str]:
    """Give the routes under each prefix their own OpenAPI operation ids."""
    suffix = prefix.strip("/").replace("/", "_")

    def operation_id(route: APIRoute) -> str:
        return f"{route.name}_{suffix}"

    return operation_id


def create_app(
    service: SrmService,
    *,
    operator_token: str | None = None,
    max_body_bytes: int = 4096,
    manage_service: bool = True,
) -> FastAPI:
    """Build the SRM ASGI app around ``service``.

    Args:
        service: the SRM service (store, verifier, hooks).
        operator_token: bearer token of the operator API; ``None`` disables it.
        max_body_bytes: largest accepted request body.
        manage_service: start and stop the service in the app's lifespan.

    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_service:
            await service.start()
        try:
            yield
        finally:
            if manage_service:
                await service.stop()

    app = FastAPI(
        title="drmkit session resource manager",
        version="1",
        summary="Per-account limits on concurrent streams (setup, keep-alive, teardown).",
        lifespan=lifespan,
    )
    for prefix in ("/srm", "/srm/v1"):
        app.include_router(
            _client_router(service),
            prefix=prefix,
            generate_unique_id_function=_operation_ids(prefix),
        )
    app.include_router(_operator_router(service, operator_token))
    _install_error_handlers(app)
    _drop_default_422(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    return app
