"""Wire models of the SRM HTTP API (request validation and the OpenAPI document)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr

ContentField = Annotated[StrictStr, Field(min_length=1, max_length=256)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Content(_Wire):
    """What the client wants to play."""

    contentID: ContentField = Field(description="Content identifier (VOD: the CMS origin key).")
    contentType: Annotated[StrictStr, Field(min_length=1, max_length=64)] = Field(
        description="Content type, e.g. ``COD`` or ``LIVE``."
    )


class SetupRequest(_Wire):
    """Body of ``POST /srm/sessions``."""

    content: Content


class SuccessResponse(_Wire):
    """A granted session."""

    sessionId: uuid.UUID = Field(description="The session's id (UUID).")
    timeout: int = Field(
        ge=1, description="Seconds within which a keep-alive must arrive for the session."
    )


class SuccessEnvelope(_Wire):
    """Setup succeeded."""

    successResponse: SuccessResponse


class ErrorBody(_Wire):
    """An error or a business denial."""

    code: str = Field(description="The HTTP status as text (``200`` for denials).")
    status: str = Field(description="``ERROR`` or ``DENIED``.")
    errorCode: str = Field(description="``SRM-00NN``; see the code table in docs/srm.md.")
    errorMessage: str = Field(description="Human-readable message.")


class ErrorEnvelope(_Wire):
    """Every error and denial the SRM answers with."""

    errorResponse: ErrorBody


class OperatorSession(_Wire):
    """A live session as the operator API lists it."""

    sessionId: uuid.UUID
    account: str
    device: str
    contentID: str
    contentType: str
    created: datetime
    lastKeepAlive: datetime
    expires: datetime


class OperatorSessionList(_Wire):
    """Live sessions of one account."""

    account: str
    limit: int = Field(description="The account's stream limit (0 = unlimited).")
    sessions: list[OperatorSession]
