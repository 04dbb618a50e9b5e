"""The serving-plane database: SQLAlchemy engines and sessions, Alembic migrations, regions, audit log.

SQLite (a file in ``data_dir``) is the zero-configuration default; PostgreSQL (psycopg 3) is production.
See ``docs/store.md``.
"""

from dtsen.store.db import (
    current_revision,
    downgrade,
    get_engine,
    head_revision,
    make_engine,
    session_scope,
    upgrade,
)

__all__ = [
    "current_revision",
    "downgrade",
    "get_engine",
    "head_revision",
    "make_engine",
    "session_scope",
    "upgrade",
]
