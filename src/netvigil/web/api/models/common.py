"""What every API answer shares: the base models, the one error shape, the JSON response."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

__all__ = [
    "ERROR_RESPONSES",
    "ErrorOut",
    "RequestModel",
    "ResponseModel",
    "json_response",
]


class ResponseModel(BaseModel):
    """The base of every response body: immutable."""

    model_config = ConfigDict(frozen=True)


class RequestModel(BaseModel):
    """The base of every request body: immutable, and an unknown field is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorOut(ResponseModel):
    """The one error shape: what went wrong, where, and the HTTP status."""

    ok: Literal[False] = False
    error: str
    errors: list[str]
    status: int


def json_response(model: BaseModel | list[Any]) -> Response:
    """`model` as a JSON response, serialised once by pydantic (FastAPI's response
    validation is skipped: the route's `response_model` still documents the shape)."""
    if isinstance(model, list):
        body = b"[" + b",".join(m.model_dump_json().encode() for m in model) + b"]"
    else:
        body = model.model_dump_json().encode()
    return Response(body, media_type="application/json")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request"},
    404: {"model": ErrorOut, "description": "No such thing"},
    422: {"model": ErrorOut, "description": "Invalid parameters or body"},
    503: {"model": ErrorOut, "description": "The store is unavailable"},
}
"""Error answers every API route may give, for the OpenAPI schema."""
