"""Database fixtures shared by all test files: every backend, a fresh database per test module.

* ``db_backend``: ``"sqlite"`` or ``"postgresql"`` (session-scoped parameter, so each backend's tests run
  together; PostgreSQL tests carry the ``postgres`` marker).
* ``db_factory``: a callable returning the URL of a new, empty database on that backend; all of them are
  dropped at the end of the session.
* ``db_url``: one new, empty (unmigrated) database per test module.
* ``engine``: an engine on ``db_url``, migrated to head.

PostgreSQL is the server at 127.0.0.1:5432 (override the maintenance URL with
``DTSEN_TEST_PG_ADMIN_URL``). Databases get unique names, so parallel and repeated runs never collide.
If the server is unreachable, PostgreSQL tests are skipped, except with ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from dtsen.store.db import make_engine, upgrade

PG_ADMIN_URL = os.environ.get(
    "DTSEN_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_admin() -> Engine:
    """An autocommit engine on the maintenance database (CREATE/DROP DATABASE refuse transactions)."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # ImportError of the driver included: either way there is no PostgreSQL
        message = f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()} is not usable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: PostgreSQL tests may not be skipped)", pytrace=False)
        pytest.skip(message)
    return admin


@pytest.fixture(
    scope="session",
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def db_factory(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    if db_backend == "sqlite":
        directory: Path = tmp_path_factory.mktemp("sqlite")
        yield lambda: f"sqlite:///{directory / f'{uuid.uuid4().hex}.db'}"
        return

    admin = _postgres_admin()
    created: list[str] = []

    def create() -> str:
        name = f"dtsen_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    try:
        yield create
    finally:
        with admin.connect() as connection:
            for name in created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def db_url(db_factory: Callable[[], str]) -> str:
    return db_factory()


@pytest.fixture(scope="module")
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    created = make_engine(db_url)
    try:
        yield created
    finally:
        created.dispose()
