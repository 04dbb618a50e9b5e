"""Staff users, their server-side sessions and machine clients (OAuth2 client credentials).

Only hashes of secrets are stored: argon2id for passwords and client secrets, SHA-256 of the session
token for the session id (the cookie holds the token itself, so a copy of the database cannot be used to
ride a live session). Region bindings are child rows, one region code each, because a pendamping has
several assigned desa and a query "who works in desa X" must be an index lookup, not a JSON scan.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dtsen.store.models import Base, UtcDateTime, region_code


class StaffUser(Base):
    """A person who logs in to the staff pages; ``role`` is a :class:`dtsen.auth.scope.Role` value."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    regions: Mapped[list[StaffUserRegion]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="StaffUserRegion.kode", lazy="selectin"
    )

    @property
    def region_codes(self) -> tuple[str, ...]:
        return tuple(region.kode for region in self.regions)


class StaffUserRegion(Base):
    """One region (2, 4, 6 or 10 digit code) a staff user is bound to."""

    __tablename__ = "staff_user_region"

    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    kode: Mapped[str] = mapped_column(region_code(10), primary_key=True, index=True)

    user: Mapped[StaffUser] = relationship(back_populates="regions")


class StaffSession(Base):
    """A login: ``id`` is the SHA-256 (hex) of the random token kept in the ``dtsen_session`` cookie."""

    __tablename__ = "staff_session"
    __table_args__ = (Index("ix_staff_session_user_id_revoked", "user_id", "revoked"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[StaffUser] = relationship(lazy="joined")


class ApiClient(Base):
    """An agency system (klien_instansi, Dukcapil) that gets short-lived JWTs by client credentials."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    scopes: Mapped[str] = mapped_column(Text)  # space-separated, as OAuth2 spells a scope list
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    regions: Mapped[list[ApiClientRegion]] = relationship(
        back_populates="client",
        cascade="all, delete-orphan",
        order_by="ApiClientRegion.kode",
        lazy="selectin",
    )

    @property
    def region_codes(self) -> tuple[str, ...]:
        return tuple(region.kode for region in self.regions)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class ApiClientRegion(Base):
    """One region a machine client may read (the regions its approved data-sharing request names)."""

    __tablename__ = "api_client_region"

    client_pk: Mapped[int] = mapped_column(ForeignKey("api_client.id", ondelete="CASCADE"), primary_key=True)
    kode: Mapped[str] = mapped_column(region_code(10), primary_key=True)

    client: Mapped[ApiClient] = relationship(back_populates="regions")
