"""Property-based checks of the API against its own OpenAPI schema: no server error, ever.

Every operation of `/api/v1/openapi.json` (the event stream excepted: it does not end,
and the reports: drawing figures is slow) is called with about 20 generated requests,
valid and invalid, against the app over a real SQLiteStore. Responses must not be 5xx,
must have the status codes and bodies the schema declares, and every answer must use
the documented content type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from apidata import NOW, fill, make_config
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
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
    app.state.admin.close()
    asyncio.run(store.close())


@pytest.fixture(scope="module")
def api_schema(api_app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", api_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.exclude(path="/api/v1/stream").exclude(path_regex=r"report").parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_api_never_fails_with_a_server_error(case: Any) -> None:
    if case.path.startswith("/api/v1/admin"):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN['value']}"}
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
