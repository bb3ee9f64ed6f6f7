"""Property-based checks of the API against its own OpenAPI schema: no server error, ever.

Every operation of `/api/v1/openapi.json` (the event stream excepted: it does not end,
and the reports: drawing figures is slow) is called with up to 20 generated valid and
20 invalid requests, against the app over a real SQLiteStore. No answer may be a 5xx or
have an undocumented content type; answers to valid requests must have the status codes
and bodies the schema declares.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from apidata import NOW, fill, make_config
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.tokens import create_admin_token

TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("schemathesis") / "st.db"

    async def open_filled() -> SQLiteStore:
        store = await SQLiteStore.open(path)
        await fill(store)
        return store

    store = asyncio.run(open_filled())
    TOKEN["value"] = create_admin_token(store, "fuzzer")
    app = create_app(store, make_config(), now=lambda: NOW)
    yield app
    asyncio.run(store.close())


SKIPPED = ("/api/v1/stream", "report")
MAX_EXAMPLES = 20


def check_operation(operation: Any, mode: GenerationMode, token: str) -> None:
    """Call `operation` with up to MAX_EXAMPLES generated requests; raise on a failed check."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        if case.path.startswith("/api/v1/admin"):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        checks = [not_a_server_error, content_type_conformance]
        if mode is GenerationMode.POSITIVE:
            checks += [status_code_conformance, response_schema_conformance]
        case.call_and_validate(checks=checks)

    try:
        run()
    except Unsatisfiable:
        # No invalid request exists for an operation without parameters or body.
        assert mode is GenerationMode.NEGATIVE, operation.path


def test_api_never_fails_with_a_server_error(api_app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api_app)
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if any(part in operation.path for part in SKIPPED):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            check_operation(operation, mode, TOKEN["value"])
        tested += 1
    assert tested >= 20
