"""The review of an agency's access request (:mod:`dtsen.sharing.requests`): each step of its declared
workflow, the BAST (berita acara serah terima) on approval, and the end of its validity.

Approval renders the BAST as a PDF (WeasyPrint, as the musyawarah desa minutes) and keeps its hash. An
approved request is usable only from ``valid_from`` through ``valid_until`` (dates in WIB);
:func:`expire_due` moves past-due requests to ``kedaluwarsa`` and every extract or download checks the
dates itself (:func:`check_usable`), so access ends on the day even before that runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.sharing.requests import (
    AKSES,
    FIELDS,
    LEVEL_LABELS,
    RESOURCE,
    AccessConflictError,
    get_request,
    now_utc,
    today,
)
from dtsen.store import audit
from dtsen.store.sharing import AccessRequest
from dtsen.web.i18n import N_
from dtsen.workflows.cases import CaseError, CaseInvalidError, CaseRefusedError, CaseStateError

TEMPLATE = "sharing/bast.html"
SYSTEM = Principal(kind="system", name="akses", role=Role.ADMIN_BPS)


# -- errors -----------------------------------------------------------------------------------------------
class AccessExpiredError(CaseError):
    status = 410

    def __init__(self, until: str) -> None:
        super().__init__(
            N_(
                "Masa berlaku akses permintaan ini sudah berakhir pada %(tanggal)s: data tidak dapat diunduh "
                "lagi. Ajukan permintaan baru bila masih diperlukan."
            ),
            tanggal=until,
        )


class AccessInactiveError(CaseError):
    status = 403

    def __init__(self) -> None:
        super().__init__(N_("Permintaan ini belum disetujui atau belum berlaku: data belum dapat diambil."))


# -- the review -------------------------------------------------------------------------------------------
def act(
    session: Session,
    principal: Principal,
    request_id: int,
    action: str,
    *,
    version: int,
    fields: Mapping[str, Any] | None = None,
    root: Path | None = None,
    lang: str = "id",
    now: datetime | None = None,
) -> AccessRequest:
    """Take one review step: the role, the required fields and the version checked; audited. Approval
    renders the BAST (stored content-addressed under ``root``) and keeps its hash."""
    row = get_request(session, principal, request_id, purpose="telaah_akses", audited=False)
    try:
        transition = AKSES.transition(action)
    except KeyError:
        raise CaseStateError(N_("Tindakan ini tidak dikenal.")) from None
    if row.state not in transition.sources:
        raise CaseStateError(
            N_("Tindakan ini tidak dapat dilakukan pada permintaan berstatus %(state)s."), state=row.state
        )
    if principal.role not in transition.roles:
        audit.record(
            session,
            **principal.audit_fields(),
            action="access_denied",
            resource=RESOURCE,
            purpose="telaah_akses",
            detail={"nomor": row.nomor, "action": action},
        )
        raise CaseRefusedError(N_("Langkah telaah ini bukan wewenang peran Anda."))
    given = {name: str((fields or {}).get(name) or "").strip()[:4000] for name in transition.requires}
    missing = {name: (N_("Wajib diisi."), {}) for name, value in given.items() if not value}
    if missing:
        raise CaseInvalidError(missing)
    moment = now_utc(now)
    step = {
        "action": action,
        "from": row.state,
        "to": transition.target,
        "actor": principal.name,
        "role": principal.role.value if principal.role else None,
        "at": moment.isoformat(),
        "catatan": given.get("catatan") or given.get("alasan") or "",
    }
    values: dict[str, Any] = {
        "state": transition.target,
        "updated_at": moment,
        "reviews": [*list(row.reviews or []), step],
    }
    if "alasan" in given:
        values["alasan"] = given["alasan"]
    with session.begin_nested():
        moved = session.execute(
            update(AccessRequest)
            .where(AccessRequest.id == row.id, AccessRequest.version == version)
            .values(version=AccessRequest.version + 1, **values)
        )
        if moved.rowcount != 1:
            raise AccessConflictError
        session.flush()
        session.refresh(row)
        if transition.target == "disetujui" and root is not None:
            from dtsen.api import uploads

            pdf = render_bast(session, row, lang=lang)
            row.bast_sha256 = uploads.store_bytes(pdf, root)
            session.flush()
        audit.record(
            session,
            **principal.audit_fields(),
            action="transition",
            resource=RESOURCE,
            purpose="telaah_akses",
            occurred_at=moment,
            detail={"nomor": row.nomor, "action": action, "to": transition.target, "bast": row.bast_sha256},
        )
    return row


def expire_due(session: Session, now: datetime | None = None) -> int:
    """Move every approved request whose validity has ended to ``kedaluwarsa`` (one audited step each, as
    the system actor); the number moved.

    Run by ``dtsen sharing expire`` (cron) and lazily by the request lists and pages, so two runs may meet:
    a request another run moved first (version or state changed) is skipped, not an error. Access never
    waits for this: every extract and download checks the dates itself (:func:`check_usable`)."""
    day = today(now)
    due = list(
        session.scalars(
            select(AccessRequest.id).where(
                AccessRequest.state == "disetujui", AccessRequest.valid_until < day
            )
        )
    )
    moved = 0
    for request_id in due:
        row = session.get(AccessRequest, request_id)
        if row is None or row.state != "disetujui":
            continue
        try:
            act(session, SYSTEM, row.id, "kedaluwarsa", version=row.version, now=now)
        except (AccessConflictError, CaseStateError):
            session.expire(row)  # moved by a concurrent run: its savepoint is rolled back, nothing written
            continue
        moved += 1
    return moved


def check_usable(
    session: Session, principal: Principal, row: AccessRequest, what: str, now: datetime | None = None
) -> None:
    """Refuse (audited, nothing else written) an extract or download outside the approved validity."""
    day = today(now)
    error: CaseError | None = None
    if row.state == "kedaluwarsa" or (row.state == "disetujui" and day > row.valid_until):
        error = AccessExpiredError(row.valid_until.isoformat())
    elif row.state != "disetujui" or day < row.valid_from:
        error = AccessInactiveError()
    if error is None:
        return
    audit.record(
        session,
        **principal.audit_fields(),
        action="access_denied",
        resource=RESOURCE,
        purpose=what,
        occurred_at=now_utc(now),
        detail={"nomor": row.nomor, "reason": "expired" if error.status == 410 else "inactive"},
    )
    raise error


# -- the BAST ---------------------------------------------------------------------------------------------
def bast_html(session: Session, row: AccessRequest, *, lang: str = "id") -> str:
    """The handover record as HTML: what was approved, by whom, for how long; no time of printing."""
    from dtsen.web.templating import templates

    context = {
        "lang": lang,
        "req": row,
        "level_label": LEVEL_LABELS.get(row.level, row.level),
        "field_labels": [FIELDS.get(name, name) for name in row.fields or []],
        "reviews": list(row.reviews or []),
    }
    return templates.env.get_template(TEMPLATE).render(context)


def render_bast(session: Session, row: AccessRequest, *, lang: str = "id") -> bytes:
    """The BAST as PDF."""
    from dtsen.web.documents import render_pdf

    return render_pdf(bast_html(session, row, lang=lang))


def bast_pdf(
    session: Session, principal: Principal, request_id: int, *, root: Path, lang: str = "id"
) -> tuple[AccessRequest, bytes]:
    """The stored BAST of an approved request (re-rendered if the file is gone); audited as ``export``."""
    from dtsen.api import uploads

    row = get_request(session, principal, request_id, purpose="bast", audited=False)
    if not row.bast_sha256:
        raise CaseStateError(N_("BAST baru tersedia setelah permintaan disetujui."))
    path = uploads.path_of(root, row.bast_sha256)
    pdf = path.read_bytes() if path.exists() else render_bast(session, row, lang=lang)
    audit.record(
        session,
        **principal.audit_fields(),
        action="export",
        resource=RESOURCE,
        purpose="bast",
        detail={"nomor": row.nomor, "sha256": hashlib.sha256(pdf).hexdigest()},
    )
    return row, pdf
