"""The berita acara (signed minutes) of a musyawarah desa (:mod:`dtsen.workflows.musdes`): rendered as a
PDF, printed, signed and scanned back.

* :func:`render_berita_acara`: the minutes as a PDF (WeasyPrint), whose SHA-256 is kept on the session
  while it is open. The PDF has no print time in it, so a closed session's minutes render to the very
  bytes whose hash was kept.
* :func:`upload_scan`: the printed, signed minutes scanned back (PDF/JPEG/PNG, checked and stored as the
  citizens' documents are, :mod:`dtsen.api.uploads`); refused until the minutes of the latest decisions
  were downloaded. A later decision or attendance change clears both (:mod:`dtsen.workflows.musdes`).

Only the village's operator uploads; dinsos and admin BPS may read the minutes.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal
from dtsen.store import audit
from dtsen.store.cases import MusdesSession
from dtsen.web import documents
from dtsen.web.i18n import N_
from dtsen.web.upload_messages import UPLOAD_MESSAGES
from dtsen.workflows.cases import CaseError, CaseStateError
from dtsen.workflows.musdes import (
    DECISION_LABELS,
    DECISIONS,
    MANAGER_ROLES,
    RESOURCE,
    agenda,
    bump,
    check_manager,
    get_session,
    require_open,
)

SCAN_KIND = "berita_acara"
TEMPLATE = "musdes/berita_acara.html"


class ScanRejectedError(CaseError):
    """The uploaded scan is refused (its HTTP status from the upload checks: 400, 413 or 415)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(UPLOAD_MESSAGES.get(reason, UPLOAD_MESSAGES["damaged"]))
        self.status = status
        self.reason = reason


# -- the minutes -------------------------------------------------------------------------------------------
def region_names(session: Session, kode_desa: str) -> dict[str, str]:
    """Names of the village, kecamatan, kabupaten/kota and province: from the region table, else the
    packaged reference list, else the code itself."""
    from dtsen.reference.regions import lookup
    from dtsen.store.models import Region

    codes = {
        "desa": kode_desa,
        "kecamatan": kode_desa[:6],
        "kabupaten": kode_desa[:4],
        "provinsi": kode_desa[:2],
    }
    stored = dict(
        session.execute(select(Region.kode, Region.nama).where(Region.kode.in_(codes.values()))).all()
    )
    names = {}
    for level, kode in codes.items():
        name = stored.get(kode)
        if not name:
            found = lookup(kode)
            name = found.nama if found is not None else kode
        names[level] = str(name)
    return names


def berita_acara_html(session: Session, musdes: MusdesSession, *, lang: str = "id") -> str:
    """The minutes as HTML (the template; its print CSS is added by :func:`render_pdf`): no time of
    printing, no NIK."""
    from dtsen.web.templating import templates

    items = agenda(session, musdes)
    counts = {decision: sum(1 for row in items if row.item.keputusan == decision) for decision in DECISIONS}
    rows = [
        {
            "nomor": row.case.nomor,
            "nama": row.case.subject_nama or "–",
            "keluarga": row.case.id_keluarga_dtsen,
            "keputusan": row.item.keputusan,
            "keputusan_label": DECISION_LABELS.get(row.item.keputusan or ""),
            "catatan": row.item.catatan,
        }
        for row in items
    ]
    context = {
        "lang": lang,
        "musdes": musdes,
        "wilayah": region_names(session, musdes.kode_desa),
        "hadir": list(musdes.hadir or []),
        "items": rows,
        "counts": counts,
    }
    return templates.env.get_template(TEMPLATE).render(context)


def render_berita_acara(
    session: Session, principal: Principal, session_id: int, *, lang: str = "id"
) -> bytes:
    """The minutes as a PDF. While the session is open and its operator renders them, their SHA-256 is
    kept on the session (the document to print and sign); audited as ``export`` after rendering, so the
    audit chain is not held while WeasyPrint works."""
    musdes = get_session(session, principal, session_id, purpose="berita_acara", audited=False)
    seen = musdes.version
    pdf = documents.render_pdf(berita_acara_html(session, musdes, lang=lang))
    digest = hashlib.sha256(pdf).hexdigest()
    if musdes.status == "dibuka" and principal.role in MANAGER_ROLES and musdes.berita_acara_sha256 != digest:
        # Not a new version (the officer's open page stays valid), but only if nothing changed while
        # rendering: minutes of superseded decisions must not become the ones to sign.
        session.execute(
            update(MusdesSession)
            .where(MusdesSession.id == musdes.id, MusdesSession.version == seen)
            .values(berita_acara_sha256=digest)
        )
    audit.record(
        session,
        **principal.audit_fields(),
        action="export",
        resource=RESOURCE,
        region_kode=musdes.kode_desa,
        purpose="berita_acara",
        detail={"musdes": musdes.nomor, "sha256": digest},
    )
    return pdf


def upload_scan(
    session: Session,
    principal: Principal,
    session_id: int,
    data: bytes,
    filename: str | None,
    *,
    root: Path,
    version: int,
) -> MusdesSession:
    """Store the signed minutes' scan (type by content, size limit, image metadata stripped,
    content-addressed under ``root``) and keep its hash on the session."""
    from starlette.datastructures import UploadFile

    from dtsen.api import uploads

    musdes = get_session(session, principal, session_id, purpose="musdes_pindaian", audited=False)
    check_manager(session, principal, musdes.kode_desa, "musdes_pindaian", {"musdes": musdes.nomor})
    require_open(musdes)
    if not musdes.berita_acara_sha256:
        raise CaseStateError(
            N_(
                "Unduh dan cetak berita acara dengan keputusan terakhir terlebih dahulu, lalu unggah "
                "pindaian yang sudah ditandatangani."
            )
        )
    try:
        content, mime, _name = uploads.read_checked(
            UploadFile(io.BytesIO(data), size=len(data), filename=filename or ""), SCAN_KIND
        )
    except uploads.UploadRejectedError as exc:
        raise ScanRejectedError(exc.status, exc.reason) from None
    digest = uploads.store_bytes(content, root)
    with session.begin_nested():
        bump(session, musdes, version, scan_sha256=digest, scan_mime=mime)
        audit.record(
            session,
            **principal.audit_fields(),
            action="upload",
            resource=RESOURCE,
            region_kode=musdes.kode_desa,
            purpose="musdes_pindaian",
            detail={"musdes": musdes.nomor, "sha256": digest, "mime": mime},
        )
    return musdes
