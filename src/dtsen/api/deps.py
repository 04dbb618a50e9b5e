"""Request-scoped dependencies shared by every router: the database session of one request.

The app keeps its engine on ``app.state.engine`` (set by :func:`dtsen.api.app.create_app`), so a test can
build an app on its own database URL; the session commits when the handler returns without error and
rolls back otherwise, so a request never leaves half its writes behind.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from dtsen.store.db import session_factory


def db_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: commit on success, roll back on any error, always close."""
    session = session_factory(request.app.state.engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
