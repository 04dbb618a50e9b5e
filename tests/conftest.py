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

The suite runs on several pytest-xdist workers (scripts/test.sh: ``-n 2 --dist loadfile``), so every test
also keeps to itself what a worker process shares: ``DTSEN_DATA_DIR`` is a temp dir of the worker (never
the working tree's ``./data``), and the environment a test changed without ``monkeypatch`` is put back
after it (with the cached settings forgotten), so no test sees another's leftovers whatever the order.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from dtsen.config import reset_settings
from dtsen.store.db import make_engine, upgrade

PG_ADMIN_URL = os.environ.get(
    "DTSEN_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TERMINAL_SIZE_ENV = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist loadfile`` the workers take the longest test files first (tests/heaviest_first.py)."""
    from heaviest_first import make_scheduler

    return make_scheduler(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand each xdist worker the terminal size variables of the run (see :func:`pytest_configure`)."""
    node.workerinput["terminal_size_env"] = {name: os.environ.get(name) for name in TERMINAL_SIZE_ENV}


def pytest_configure(config: pytest.Config) -> None:
    """An xdist worker starts with ``COLUMNS=80``/``LINES=24`` that the run never had (GNU readline, once
    loaded in the main process without a terminal, sets them in the C environment that child processes
    inherit, unseen by ``os.environ``): put back the run's, so a Rich console built at import is as wide
    in a worker as in one process (CLI tests give ``COLUMNS`` to commands whose tables must not be cut)."""
    given = getattr(config, "workerinput", {}).get("terminal_size_env")
    for name, value in (given or {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session", autouse=True)
def _worker_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Settings that default to ``./data`` (the secret key file, uploads, the SQLite serving database)
    point at this worker's temp dir: tests never write a developer's data or race another worker's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DTSEN_DATA_DIR", str(tmp_path_factory.mktemp("data-dir")))
        reset_settings()
        yield
    reset_settings()


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Put back the environment a test changed directly (the CLI's ``--config``/``--log-level`` and
    ``serve --url`` set variables for the rest of the process), so tests do not depend on their order."""
    before = dict(os.environ)
    yield
    after = dict(os.environ)
    if after == before:
        return
    for name in after.keys() - before.keys():  # key by key: server threads may read it meanwhile
        del os.environ[name]
    for name, value in before.items():
        if after.get(name) != value:
            os.environ[name] = value
    reset_settings()


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


@pytest.fixture(scope="module")
def spark_engine() -> Any:
    """The Spark engine (a local session) for a parity test; skipped without Java or pyspark, except in
    CI, where a skipped parity test would pass unseen."""
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("CI") == "true":
            pytest.fail("no Java: CI=true, the Spark parity test may not be skipped", pytrace=False)
        pytest.skip("no Java for Spark")
    pytest.importorskip("pyspark")
    from dtsen.engine import get_engine

    return get_engine("spark")
