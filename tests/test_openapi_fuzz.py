"""schemathesis against the app's own OpenAPI schema, in-process (ASGI), on SQLite and PostgreSQL: whatever
the schema allows a client to send, and whatever it does not (negative examples), the app answers
without a 5xx. Each generated request is sent twice: as the anonymous public and as a signed-in admin
BPS (with the session's CSRF token), so the staff routes are fuzzed behind their gates too.

Examples are bounded and derandomized (the same cases every run), so the test is repeatable and its
cost fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

MAX_EXAMPLES = 20
PASSWORD = "Fuzz-uji-2026!kata"  # noqa: S105 - a throwaway account on a test database


@pytest.fixture(scope="module")
def fuzz_world(
    db_factory: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from dtsen.api.app import create_app
    from dtsen.auth.accounts import create_user
    from dtsen.auth.policy import DEFAULT_POLICY, SESSION_COOKIE
    from dtsen.auth.sessions import create_session
    from dtsen.store.db import make_engine, session_scope
    from served_city import city_data_dir, served_database

    url = db_factory()
    served_database(url, city_data_dir(tmp_path_factory.getbasetemp()))
    app = create_app(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    with session_scope(engine=engine) as db:
        user = create_user(db, username="fuzz.admin", full_name="Fuzz Admin", role="admin_bps", regions=(),
                           password=PASSWORD, now=now, actor={"actor": "system:test", "actor_role": None})  # fmt: skip
        created = create_session(db, user, now=now, policy=DEFAULT_POLICY)
        admin = {
            "cookies": {SESSION_COOKIE: created.token},
            "headers": {"x-csrf-token": created.row.csrf_token},
        }
    try:
        yield {"app": app, "admin": admin}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_world: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_asgi("/api/openapi.json", fuzz_world["app"])


schema = schemathesis.pytest.from_fixture("fuzz_schema")


def test_openapi_schema_lists_the_staff_api(fuzz_world: dict[str, Any]) -> None:
    paths = fuzz_world["app"].openapi()["paths"]
    assert "/api/staf/cari" in paths
    assert "/api/staf/keluarga/{family_id}" in paths


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: Any, fuzz_world: dict[str, Any]) -> None:
    for identity in ({"cookies": {}, "headers": {}}, fuzz_world["admin"]):
        response = case.call(headers=identity["headers"], cookies=identity["cookies"])
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text[:500]}"
        )
        assert "Traceback" not in response.text
