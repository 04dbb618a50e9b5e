"""Server-side staff sessions: the cookie holds a random token, the database only its SHA-256.

A session dies when it has been idle too long, when it reaches its absolute lifetime, when it is revoked
(logout, a new login in the same browser, an administrator) or when its user is disabled. Each has its
own CSRF token, derived from its cookie token (:func:`dtsen.auth.csrf.session_token_csrf`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, joinedload

from dtsen.auth.csrf import session_token_csrf
from dtsen.auth.policy import AuthPolicy
from dtsen.store.identity import StaffSession, StaffUser

TOKEN_BYTES = 32
KEEP_ENDED = timedelta(days=7)


def session_id(token: str) -> str:
    """The stored id of a cookie token (hex SHA-256): a database copy alone cannot ride a session."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewSession:
    token: str  # goes into the cookie, never stored
    row: StaffSession


def _summary(value: str | None, length: int) -> str | None:
    if not value:
        return None
    return value.replace("\n", " ").replace("\r", " ")[:length]


def create_session(
    db: Session,
    user: StaffUser,
    *,
    now: datetime,
    policy: AuthPolicy,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> NewSession:
    """A new session for ``user`` (the caller revokes the browser's previous one: rotation on login).

    The user's sessions that ended more than :data:`KEEP_ENDED` ago are deleted here, so the table stays
    the size of the active staff (the audit log keeps every login and logout)."""
    db.execute(
        delete(StaffSession).where(
            StaffSession.user_id == user.id, StaffSession.expires_at < now - KEEP_ENDED
        )
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = StaffSession(
        id=session_id(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.session_absolute,
        csrf_token=session_token_csrf(token),
        ip_address=_summary(ip_address, 64),
        user_agent=_summary(user_agent, 200),
        revoked=False,
    )
    db.add(row)
    db.flush()
    return NewSession(token=token, row=row)


def session_is_live(row: StaffSession, *, now: datetime, policy: AuthPolicy) -> bool:
    """Not revoked, not past its absolute expiry, not idle too long, and its user still active."""
    return (
        not row.revoked
        and now < row.expires_at
        and now < row.last_seen_at + policy.session_idle
        and row.user.active
    )


def find_session(db: Session, token: str | None, *, now: datetime, policy: AuthPolicy) -> StaffSession | None:
    """The live session of a cookie token, or ``None`` (no token, unknown, expired, revoked, disabled)."""
    if not token or len(token) > 256:
        return None
    # The user comes in the same query: every signed-in request asks for both.
    row = db.get(StaffSession, session_id(token), options=[joinedload(StaffSession.user)])
    if row is None or not session_is_live(row, now=now, policy=policy):
        return None
    return row


def touch_session(row: StaffSession, *, now: datetime, policy: AuthPolicy) -> None:
    """Record activity (at most once per ``session_touch_interval``, to spare the database)."""
    if now - row.last_seen_at >= policy.session_touch_interval:
        row.last_seen_at = now


def revoke_session(db: Session, token: str | None) -> StaffSession | None:
    """Revoke the session of a cookie token; returns it if it existed and was not yet revoked."""
    if not token or len(token) > 256:
        return None
    row = db.get(StaffSession, session_id(token))
    if row is None or row.revoked:
        return None
    row.revoked = True
    db.flush()
    return row


def revoke_user_sessions(db: Session, user_id: int) -> int:
    """Revoke every session of a user (disabled, password reset); returns how many were live."""
    result = db.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked.is_(False))
        .values(revoked=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)
