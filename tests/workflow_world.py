"""Shared pieces of the workflow tests: staff accounts the service checks (a visit goes only to an active
pendamping of the case's village)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dtsen.store.identity import StaffUser, StaffUserRegion

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def add_pendamping(engine: Engine, username: str, *regions: str) -> None:
    """An active pendamping account bound to ``regions`` (no password: it never signs in)."""
    with Session(engine) as session:
        if session.scalars(select(StaffUser).where(StaffUser.username == username)).one_or_none() is not None:
            return
        user = StaffUser(
            username=username,
            full_name=username,
            role="pendamping",
            password_hash="!",  # noqa: S106
            active=True,
            failed_attempts=0,
            password_changed_at=CREATED,
            must_change_password=False,
            created_at=CREATED,
        )
        user.regions.extend(StaffUserRegion(kode=region) for region in regions)
        session.add(user)
        session.commit()
