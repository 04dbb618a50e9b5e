"""Engines, sessions and migrations of the serving database (SQLite embedded default, PostgreSQL in
production).

The URL comes from an explicit argument, else ``DTSEN_DATABASE_URL`` / the config file, else a SQLite file
in ``data_dir``. Alembic runs in-process against the migrations shipped inside this package, so an
installed wheel can migrate a database with no ``alembic.ini`` anywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from dtsen.config import get_settings
from dtsen.logs import get_logger

log = get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0

T = TypeVar("T")

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_FACTORY = "_dtsen_session_factory"
_factories_lock = threading.Lock()


def resolve_url(url: str | URL | None = None) -> URL:
    """The URL to use, with ``postgresql://`` / ``postgres://`` mapped to the psycopg 3 driver we ship."""
    parsed = make_url(url if url is not None else get_settings().resolved_database_url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: str | URL | None = None) -> str:
    """The URL with any password masked, for messages and logs."""
    return resolve_url(url).render_as_string(hide_password=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite and the setting is per connection. WAL lets readers run
    # while one writer commits; synchronous=NORMAL is durable across application crashes in WAL mode.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str | URL | None = None, **kwargs: Any) -> Engine:
    """A new engine; SQLite gets its directory created, foreign keys, WAL and a generous busy timeout."""
    resolved = resolve_url(url)
    if resolved.get_backend_name() == "sqlite":
        database = resolved.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, **kwargs.pop("connect_args", {})}
        engine = create_engine(resolved, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(resolved, **kwargs)


def make_tally_engine(url: str | URL | None = None) -> Engine:
    """An engine for the public pages' bookkeeping writes (rate-limit counters, spent challenges).

    On PostgreSQL it runs in autocommit with ``synchronous_commit = off`` and without a pre-ping, so a
    counter is one statement and one round trip: a Cek Status that paid a BEGIN, a COMMIT, a ping and a
    disk flush per counter spent more on bookkeeping than on the registry. A crash loses at most the last
    fraction of a second of counts, which only lets a few more requests through once. A connection the
    server dropped is detected on use; :func:`retry_dropped` runs the write again on a fresh one. SQLite
    gets an ordinary engine (its writes are local and cheap).
    """
    resolved = resolve_url(url)
    if resolved.get_backend_name() != "postgresql":
        return make_engine(resolved)
    return make_engine(
        resolved,
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=False,
        connect_args={"options": "-c synchronous_commit=off"},
    )


def retry_dropped(action: Callable[[], T]) -> T:
    """``action()``, run once more if it failed only because a pooled connection had been dropped (a
    database restart): SQLAlchemy then invalidates the pool, so the second try gets a new connection."""
    try:
        return action()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return action()


def get_engine(url: str | URL | None = None) -> Engine:
    """A process-wide engine per URL, so every caller shares one connection pool."""
    key = resolve_url(url).render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = make_engine(key)
        return engine


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit, so results can be used once the session is gone.

    One factory per engine, made once: a new ``sessionmaker`` makes a new Session subclass, whose event
    dispatch SQLAlchemy then builds on its first statement (~0.3 ms of CPU a request when every request
    made its own; docs/benchmarks.md, DCI section)."""
    bound = engine or get_engine()
    factory = bound.__dict__.get(_FACTORY)  # kept on the engine: it lives and goes with it
    if factory is None:
        with _factories_lock:
            factory = bound.__dict__.setdefault(_FACTORY, sessionmaker(bind=bound, expire_on_commit=False))
    return cast(sessionmaker[Session], factory)


@contextmanager
def session_scope(url: str | URL | None = None, *, engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commit if the block succeeds, roll back if it raises, always close."""
    session = session_factory(engine or get_engine(url))()
    try:
        yield session
    except BaseException:
        finish(session, commit=False)
        raise
    finish(session, commit=True)


def finish(session: Session, *, commit: bool) -> None:
    """End a unit of work: commit (or roll back) what it did, and close it either way."""
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


def has_work(session: Session) -> bool:
    """Whether ending ``session`` needs the database: an open transaction or objects not yet flushed.
    A session that only read and committed can be closed without a round trip (or a worker thread)."""
    return session.in_transaction() or bool(session.new or session.dirty or session.deleted)


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic configuration built in code, pointing at the migrations inside the package."""
    config = Config()
    # ConfigParser interpolates '%', which may appear in a path or a URL-encoded password.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["url"] = resolve_url(url)
    return config


def _run(url: str | URL | None, action: str, revision: str) -> None:
    config = alembic_config(url)
    engine = make_engine(config.attributes["url"])
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, action)(config, revision)
    finally:
        engine.dispose()


def upgrade(url: str | URL | None = None, revision: str = "head") -> None:
    """Migrate the database forward to ``revision`` (default: the newest)."""
    _run(url, "upgrade", revision)
    log.info("database upgraded", url=display_url(url), revision=revision)


def downgrade(url: str | URL | None = None, revision: str = "base") -> None:
    """Migrate the database back to ``revision`` (``base`` drops every table)."""
    _run(url, "downgrade", revision)
    log.info("database downgraded", url=display_url(url), revision=revision)


def current_revision(url: str | URL | None = None) -> str | None:
    """The revision the database is at, or ``None`` if it was never migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with this version of dtsen."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
