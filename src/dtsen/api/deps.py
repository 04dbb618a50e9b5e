"""Request-scoped dependencies shared by every router: the database session of one request.

The app keeps its engine on ``app.state.engine`` (set by :func:`dtsen.api.app.create_app`), so a test can
build an app on its own database URL; the session commits when the handler returns without error and
rolls back otherwise, so a request never leaves half its writes behind.

The unit of work is a *function-scoped* dependency: it commits when the handler returns, before the
response is sent. FastAPI runs the exit code of ordinary (request-scoped) ``yield`` dependencies only
after the response has gone out, so a client acting on an answer at once (a browser following the
redirect after login, a citizen looking up the tracking number just shown) could arrive before the
commit and not find what the answer promised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dtsen.store.db import finish, has_work, session_factory


async def unit_of_work(request: Request) -> AsyncIterator[Session]:
    """One unit of work per request: commit on success, roll back on any error, always close.

    An async dependency, so it costs the request no worker thread: opening a session touches no
    database, and ending one that has already committed (Cek Status commits before rendering) needs
    none either. Only a commit or rollback still to do goes to a worker thread. Each thread hop was a
    wait for the GIL under load, and the dependency used to take two.
    """
    session = session_factory(request.app.state.engine)()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(finish, session, commit=False)
        raise
    if has_work(session):
        await run_in_threadpool(finish, session, commit=True)
    else:
        session.close()


async def db_session(session: Session = Depends(unit_of_work, scope="function")) -> Session:
    """The request's session (``Depends(db_session)``), committed before the response is sent."""
    return session
