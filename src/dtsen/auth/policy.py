"""Session, lock-out and token lifetimes, and the clock they are measured by.

One frozen :class:`AuthPolicy` per app (``app.state.auth_policy``, default :data:`DEFAULT_POLICY`) and one
clock (``app.state.clock``, default the system's UTC time), so tests move time forward instead of
sleeping. ``DTSEN_COOKIE_SECURE=1`` marks every cookie ``Secure`` even when the request reached the app
over plain HTTP (a TLS-terminating proxy that does not forward ``X-Forwarded-Proto``); otherwise cookies
are ``Secure`` exactly when the request is HTTPS, which keeps the demo on http://127.0.0.1 working.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Clock = Callable[[], datetime]

SESSION_COOKIE = "dtsen_session"
CSRF_COOKIE = "dtsen_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def system_clock() -> datetime:
    return datetime.now(UTC)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class AuthPolicy:
    """How long things live and how many failures an account takes (OWASP ASVS level 2 values)."""

    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=8)
    # last_seen_at is written at most this often, so a page with many requests costs one UPDATE
    session_touch_interval: timedelta = timedelta(seconds=60)
    max_failed_logins: int = 5
    lockout: timedelta = timedelta(minutes=15)
    token_lifetime: timedelta = timedelta(minutes=15)
    # Per client network and hour (the lock-out is per account; this slows one network guessing across
    # accounts). Generous: a village office or a carrier-grade NAT puts many people behind one address.
    login_attempts_per_network: int = 60
    token_requests_per_network: int = 600
    cookie_secure: bool = False


DEFAULT_POLICY = AuthPolicy()


def policy_of(app: Any) -> AuthPolicy:
    """The app's policy (``app.state.auth_policy``), else the default with ``DTSEN_COOKIE_SECURE`` applied."""
    policy = getattr(app.state, "auth_policy", None)
    if isinstance(policy, AuthPolicy):
        return policy
    if _env_flag("DTSEN_COOKIE_SECURE"):
        return AuthPolicy(cookie_secure=True)
    return DEFAULT_POLICY


def clock_of(app: Any) -> Clock:
    """The app's clock (``app.state.clock``), else the system clock."""
    clock = getattr(app.state, "clock", None)
    return clock if callable(clock) else system_clock
