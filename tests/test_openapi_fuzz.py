"""schemathesis against the app's own OpenAPI schema, in-process (ASGI), on SQLite and PostgreSQL: whatever
the schema allows a client to send, and whatever it does not (negative examples), the app answers
without a 5xx. Each generated request is sent twice: as the anonymous public and as a signed-in admin
BPS (with the session's CSRF token), so the staff routes are fuzzed behind their gates too.

Examples are bounded and derandomized (the same cases every run), so the test is repeatable and its
cost fixed. The operations are walked in a loop rather than through ``schema.parametrize`` /
``from_fixture``: schemathesis' lazy fixture loader touches a pytest internal that pytest 9 removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

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
        user = create_user(
            db,
            username="fuzz.admin",
            full_name="Fuzz Admin",
            role="admin_bps",
            regions=(),
            password=PASSWORD,
            now=now,
            actor={"actor": "system:test", "actor_role": None},
        )
        created = create_session(db, user, now=now, policy=DEFAULT_POLICY)
        admin = {
            "cookies": {SESSION_COOKIE: created.token},
            "headers": {"x-csrf-token": created.row.csrf_token},
        }
    try:
        yield {"app": app, "admin": admin}
    finally:
        engine.dispose()


def test_openapi_schema_lists_the_staff_api(fuzz_world: dict[str, Any]) -> None:
    paths = fuzz_world["app"].openapi()["paths"]
    assert "/api/staf/cari" in paths
    assert "/api/staf/keluarga/{family_id}" in paths


def _fuzz(operation: Any, mode: Any, identities: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """Run ``MAX_EXAMPLES`` generated requests of one operation; (requests sent, 5xx answers)."""
    sent = 0
    failures: list[str] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failures are reported as found
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal sent
        for identity in identities:
            response = case.call(headers=identity["headers"], cookies=identity["cookies"])
            sent += 1
            if response.status_code >= 500 or "Traceback" in response.text:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                )

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # An operation with no parameters has no invalid input to generate.
    return sent, failures


def test_no_server_errors(fuzz_world: dict[str, Any]) -> None:
    """Every operation of the schema, positive and negative examples, anonymous and as admin BPS."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", fuzz_world["app"])
    identities = [{"cookies": {}, "headers": {}}, fuzz_world["admin"]]
    total = 0
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            sent, found = _fuzz(operation, mode, identities)
            total += sent
            failures.extend(found)
    assert total >= len(operations) * 2
    assert not failures, "\n".join(failures[:20])
