"""Staff users, their sessions and machine clients (OAuth2 client credentials)."""

from __future__ import annotations

from dtsen.store.models import Base  # noqa: F401
