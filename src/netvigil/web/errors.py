"""The API's one error shape, and the handlers that put every error into it.

Every error the web app answers with, whether raised by netvigil (IngestError), by
FastAPI's request validation, by routing (404, 405), by the store (503) or by a bug (500),
is a JSON object

    {"ok": false, "error": "<one line>", "errors": ["<where>: <problem>", ...], "status": N}

with `status` equal to the HTTP status code. A client that goes away before its request
has arrived whole is logged in one line, without a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from netvigil.errors import IngestError, StoreError

__all__ = [
    "MAX_ERROR_LINES",
    "capped",
    "error_response",
    "format_loc",
    "install_error_handlers",
    "validation_messages",
]

log = logging.getLogger(__name__)

MAX_ERROR_LINES = 50
"""An answer lists at most this many problems, then says how many more there were."""


def capped(lines: list[str]) -> list[str]:
    """`lines`, cut to MAX_ERROR_LINES with a last line counting the rest."""
    if len(lines) <= MAX_ERROR_LINES:
        return lines
    return [*lines[:MAX_ERROR_LINES], f"... and {len(lines) - MAX_ERROR_LINES} more"]


def error_response(
    status: int,
    error: str,
    errors: Sequence[str] = (),
    *,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON response in the one error shape."""
    body = {"ok": False, "error": error, "errors": list(errors), "status": status}
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


def format_loc(loc: Iterable[int | str]) -> str:
    """('measurements', 3, 'outcome') -> 'measurements[3].outcome'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_messages(errors: Iterable[Mapping[str, Any]], *, skip: int = 0) -> list[str]:
    """Pydantic error dicts as `loc: message` lines; `skip` drops leading loc parts."""
    lines: list[str] = []
    for err in errors:
        loc = format_loc(tuple(err.get("loc", ()))[skip:])
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        msg = msg.removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return lines


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


async def _on_ingest_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IngestError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, str(exc), exc.errors, headers=headers)


async def _on_store_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("store error serving %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, f"the store is unavailable: {exc}")


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _status_phrase(exc.status_code)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = f"method {request.method} is not allowed on {request.url.path}"
    return error_response(exc.status_code, detail, headers=exc.headers)


async def _on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lines = validation_messages(exc.errors())
    return error_response(422, "invalid request", lines)


async def _on_client_gone(request: Request, exc: Exception) -> JSONResponse:
    client = request.client.host if request.client is not None else "a client"
    log.info("%s went away during %s %s", client, request.method, request.url.path)
    return error_response(400, "the client closed the connection before the request ended")


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error serving %s %s", request.method, request.url.path)
    return error_response(500, "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the app can produce through the one error shape."""
    app.add_exception_handler(IngestError, _on_ingest_error)
    app.add_exception_handler(StoreError, _on_store_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(ClientDisconnect, _on_client_gone)
    app.add_exception_handler(Exception, _on_unexpected)
