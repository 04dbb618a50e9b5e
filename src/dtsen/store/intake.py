"""Citizen requests (usulan, sanggahan) received through the public pages, with their documents and history."""

from __future__ import annotations

from dtsen.store.models import Base  # noqa: F401
