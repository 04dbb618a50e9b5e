"""Published snapshots as served to people: one row set per loaded snapshot, switched in one transaction."""

from __future__ import annotations

from dtsen.store.models import Base  # noqa: F401
