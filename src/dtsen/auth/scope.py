"""Who is asking, and the one rule that limits every query to the regions they may see.

Every read of the serving database that can return personal data goes through :func:`apply_scope`; no
endpoint filters by region on its own. A row outside the principal's regions is simply not there, so a
record in another village answers exactly like one that does not exist (the caller turns "no row" into
404 and audits the attempt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, false, or_, true


class Role(StrEnum):
    """Roles bound to regions (issue 11); the value is what is stored and audited."""

    ADMIN_BPS = "admin_bps"
    ANALIS_BPS = "analis_bps"
    KEMENSOS = "kemensos"
    DINSOS = "dinsos"
    OPERATOR_DESA = "operator_desa"
    PENDAMPING = "pendamping"
    KLIEN_INSTANSI = "klien_instansi"
    AUDITOR = "auditor"
    # A civil-registry (Dukcapil) machine client: submits population events; it reads no personal data
    # (no region is bound to it, so the scoping rule below lets it see nothing).
    DUKCAPIL = "dukcapil"


# National roles see every region; the others see only the region codes bound to them.
NATIONAL_ROLES = frozenset({Role.ADMIN_BPS, Role.ANALIS_BPS, Role.KEMENSOS, Role.AUDITOR})
# The region level each regional role is bound to (code length): dinsos one kab/kota, operator one desa,
# pendamping one or more assigned desa, an agency client the regions its approved request names.
REGION_LEVEL = {Role.DINSOS: 4, Role.OPERATOR_DESA: 10, Role.PENDAMPING: 10}
REGION_COLUMN = {2: "kode_prov", 4: "kode_kab", 6: "kode_kec", 10: "kode_desa"}


@dataclass(frozen=True)
class Principal:
    """An authenticated staff user or machine client (or the anonymous public)."""

    kind: str  # "user" | "client" | "public"
    name: str
    role: Role | None
    regions: tuple[str, ...] = ()  # region codes (2, 4, 6 or 10 digits); empty for national roles
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def national(self) -> bool:
        return self.role in NATIONAL_ROLES

    def audit_fields(self) -> dict[str, Any]:
        """The actor fields of an audit entry for this principal."""
        return {"actor": f"{self.kind}:{self.name}", "actor_role": self.role.value if self.role else None}

    def may_see_region(self, kode: str | None) -> bool:
        """Whether a region code (any level) lies inside this principal's regions."""
        if self.national:
            return True
        if not kode:
            return False
        return any(kode.startswith(region) for region in self.regions)


PUBLIC = Principal(kind="public", name="publik", role=None)


def region_clause(principal: Principal, table: FromClause) -> ColumnElement[bool]:
    """The WHERE condition restricting ``table`` (which has kode_prov/kode_kab/kode_kec/kode_desa columns)
    to the principal's regions: true for national roles, false for anyone without regions."""
    if principal.national:
        return true()
    conditions = []
    for region in principal.regions:
        column = REGION_COLUMN.get(len(region))
        if column is None or column not in table.c:
            continue
        conditions.append(table.c[column] == region)
    if not conditions:
        return false()
    return or_(*conditions)


def apply_scope(statement: Select[Any], principal: Principal, *tables: FromClause) -> Select[Any]:
    """``statement`` limited to rows of every given table inside the principal's regions."""
    for table in tables:
        statement = statement.where(region_clause(principal, table))
    return statement
