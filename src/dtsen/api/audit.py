"""The auditor's pages: search the processing trail, verify its hash chain, export it; JSON twins under
``/api/audit``.

The rules live in :mod:`dtsen.store.audit_search` (filters, scope, keyset pages, the audit entry of each
search and export) and :mod:`dtsen.store.audit` (the chain). This module parses input, renders and
streams.

**A NIK never travels in a URL.** Searching by NIK is a POST (with the CSRF token; the JSON twin takes it
in the body); the answer's links (next page, export) carry the person's keyed reference instead
(``subjek=``), which identifies nobody without the deployment secret. The NIK field is never refilled.

**Times** are typed as dates (``TTTT-BB-HH``) and read as whole days in WIB, or as ISO date-times; the
trail stores UTC. The CSV export keeps each row exactly as it was hashed, so its ``prev_hash`` and
``row_hash`` let anyone re-check the rows (and the links of a contiguous segment) without the database.
Cells are not altered to defuse spreadsheet formulas, since that would break the check: open the file
as text, or import it with every column as text.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dtsen.api.deps import db_session
from dtsen.api.errors import error_response
from dtsen.auth.deps import requires
from dtsen.auth.permissions import ROLE_LABELS, role_has
from dtsen.auth.scope import Principal, Role
from dtsen.store import audit, audit_search
from dtsen.store.audit_search import FilterError, TrailFilter
from dtsen.store.models import AuditLog
from dtsen.store.sharing import AccessExtract, AccessRequest
from dtsen.web import i18n
from dtsen.web.i18n import N_
from dtsen.web.templating import JAKARTA, render

router = APIRouter(tags=["audit"])

PURPOSE = "pengawasan_audit"
EXTRACTS_PER_PAGE = 100
MAX_PROBLEMS_SHOWN = 100
DETAIL_CHARS = 300
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Known resources of the trail (a hint list on the form; any lowercase name may be searched).
KNOWN_RESOURCES = (
    "served_person",
    "served_family",
    "served_family_history",
    "cek_status",
    "audit_trail",
    "citizen_request",
    "workflow_case",
    "approved_change",
    "staff_user",
    "staff_session",
    "api_client",
    "api_token",
    "permission",
    "audit_log",
    "access_request",
    "access_extract",
)
KNOWN_ACTIONS = (
    "read",
    "read_denied",
    "access_denied",
    "export",
    "download",
    "create",
    "update",
    "transition",
    "verify",
)
PROBLEM_LABELS: dict[str, str] = {
    "modified": N_("Isi baris diubah: tidak cocok lagi dengan hash-nya."),
    "broken_link": N_("Mata rantai putus: baris sebelumnya dihapus, disisipkan atau diubah."),
    "head_mismatch": N_("Ujung rantai tidak cocok: baris terbaru dihapus atau kepala rantai diubah."),
    "count_mismatch": N_("Jumlah baris tidak sama dengan jumlah yang pernah dicatat."),
    "unchained": N_("Ada baris yang tidak ditambahkan lewat pencatat audit."),
    "head_missing": N_("Kepala rantai hilang."),
}
# The words of each refusal of :func:`dtsen.store.audit_search.make_filter` (and of a date).
FILTER_MESSAGES: dict[str, str] = {
    "actor_invalid": N_("Nama pelaku terlalu panjang atau berisi tanda yang tidak sah."),
    "actor_nik": N_("Kolom pelaku tidak untuk NIK: cari NIK di kolom NIK."),
    "role_unknown": N_("Peran ini tidak dikenal."),
    "action_invalid": N_("Aksi ditulis dengan huruf kecil, misalnya read atau export."),
    "resource_invalid": N_("Sumber daya ditulis dengan huruf kecil, misalnya served_family."),
    "nik_and_subject": N_("Cari dengan NIK atau dengan rujukan subjek, tidak keduanya."),
    "nik_invalid": N_("Tulis NIK dengan angka saja (biasanya 16 angka)."),
    "subject_invalid": N_("Rujukan subjek terdiri dari 64 huruf heksadesimal."),
    "region_invalid": N_("Kode wilayah terdiri dari 2, 4, 6 atau 10 angka."),
    "region_outside": N_("Wilayah ini di luar wilayah Anda."),
    "range_reversed": N_("Tanggal akhir harus sesudah tanggal awal."),
    "date_invalid": N_("Tulis tanggal sebagai TTTT-BB-HH, misalnya 2026-07-01."),
}


# -- the query --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrailQuery:
    """The search as sent in a URL (never a NIK): checked by :func:`trail_filter`."""

    aktor: str = ""
    peran: str = ""
    aksi: str = ""
    sumber: str = ""
    subjek: str = ""
    wilayah: str = ""
    dari: str = ""
    sampai: str = ""
    sebelum: int | None = None
    batas: int = audit_search.DEFAULT_LIMIT

    def params(self, **changes: Any) -> str:
        """This search's query string (with ``changes``), for the next page and the export."""
        values = asdict(replace(self, **changes))
        if values["batas"] == audit_search.DEFAULT_LIMIT:
            values["batas"] = None
        return urlencode({key: value for key, value in values.items() if value not in (None, "")})

    @property
    def filtered(self) -> bool:
        return any(
            (
                self.aktor,
                self.peran,
                self.aksi,
                self.sumber,
                self.subjek,
                self.wilayah,
                self.dari,
                self.sampai,
            )
        )


def _trail_query(
    aktor: str = Query("", max_length=128, description="Pelaku: user:nama, client:id, atau nama saja"),
    peran: str = Query("", max_length=32, description="Peran pelaku"),
    aksi: str = Query("", max_length=32, description="Aksi, misalnya read atau export"),
    sumber: str = Query("", max_length=64, description="Sumber daya, misalnya served_family"),
    subjek: str = Query("", max_length=64, description="Rujukan subjek (HMAC NIK), 64 heksadesimal"),
    wilayah: str = Query("", max_length=13, description="Kode wilayah (awalan): 2, 4, 6 atau 10 angka"),
    dari: str = Query("", max_length=32, description="Sejak tanggal (TTTT-BB-HH, WIB) atau waktu ISO"),
    sampai: str = Query("", max_length=32, description="Sampai tanggal (termasuk) atau waktu ISO (tidak)"),
    sebelum: int | None = Query(None, ge=1, le=2**62, description="Lanjutkan di bawah id ini"),
    batas: int = Query(audit_search.DEFAULT_LIMIT, ge=1, le=audit_search.MAX_LIMIT),
) -> TrailQuery:
    return TrailQuery(
        aktor=aktor,
        peran=peran,
        aksi=aksi,
        sumber=sumber,
        subjek=subjek,
        wilayah=wilayah,
        dari=dari,
        sampai=sampai,
        sebelum=sebelum,
        batas=batas,
    )


def _moment(field: str, text: str, *, end: bool) -> datetime | None:
    """A date as the start of that WIB day (``end``: of the next day, so the day is included), or an ISO
    date-time (WIB when it names no zone)."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FilterError(field, "date_invalid") from exc
    if not 1970 <= moment.year <= 9000:  # nothing was logged before; and far dates overflow in UTC
        raise FilterError(field, "date_invalid")
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=JAKARTA)
    return moment + timedelta(days=1) if end and _DATE_RE.match(text) else moment


def trail_filter(principal: Principal, query: TrailQuery, nik: str = "") -> TrailFilter:
    """The checked filter of a query (and a NIK from a form or body), or :class:`FilterError`."""
    return audit_search.make_filter(
        principal,
        actor=query.aktor,
        actor_role=query.peran,
        action=query.aksi,
        resource=query.sumber,
        nik=nik or None,
        subject=query.subjek or None,
        region=query.wilayah,
        since=_moment("dari", query.dari, end=False),
        until=_moment("sampai", query.sampai, end=True),
    )


def entry_row(entry: AuditLog, lang: str) -> dict[str, Any]:
    """One entry as a line of the results (and of the JSON answer)."""
    detail = None if entry.detail is None else json.dumps(entry.detail, ensure_ascii=False, sort_keys=True)
    return {
        "id": entry.id,
        "occurred_at": entry.occurred_at,
        "actor": entry.actor,
        "actor_role": entry.actor_role,
        "actor_role_label": i18n.gettext(lang, ROLE_LABELS[entry.actor_role])
        if entry.actor_role in ROLE_LABELS
        else entry.actor_role,
        "action": entry.action,
        "resource": entry.resource,
        "subject_ref": entry.subject_ref,
        "region_kode": entry.region_kode,
        "purpose": entry.purpose,
        "detail": entry.detail,
        "detail_text": None
        if detail is None
        else detail[:DETAIL_CHARS] + ("…" if len(detail) > DETAIL_CHARS else ""),
        "prev_hash": entry.prev_hash,
        "row_hash": entry.row_hash,
    }


def run_search(
    session: Session, principal: Principal, query: TrailQuery, lang: str, nik: str = ""
) -> dict[str, Any]:
    """The search (audited, committed) as a page of rows; ``errors`` by field (msgids) if refused. The
    returned ``query`` names a NIK's person by reference, for the links."""
    try:
        filters = trail_filter(principal, query, nik)
    except FilterError as exc:  # the refused value is never echoed (it may be a NIK typed in the wrong box)
        if exc.field in TrailQuery.__dataclass_fields__:
            query = replace(query, **{exc.field: ""})
        return {
            "errors": {exc.field: FILTER_MESSAGES[exc.code]},
            "rows": [],
            "next_before": None,
            "query": query,
        }
    if filters.subject_ref is not None:
        query = replace(query, subjek=filters.subject_ref)
    page = audit_search.search(
        session, principal, filters, limit=query.batas, before_id=query.sebelum, purpose=PURPOSE
    )
    session.commit()  # the audit chain lock is held until commit: release it before rendering
    rows = [entry_row(entry, lang) for entry in page.entries]
    return {"errors": {}, "rows": rows, "next_before": page.next_before, "query": query}


# -- routes: pages ----------------------------------------------------------------------------------------
def _search_page(
    request: Request, principal: Principal, result: dict[str, Any], *, nik_search: bool
) -> Response:
    lang = i18n.language_of(request)
    query: TrailQuery = result["query"]
    rows = result["rows"]
    errors = {key: i18n.gettext(lang, message) for key, message in result["errors"].items()}
    context = {
        "nav_current": "audit",
        "query": query,
        "rows": rows,
        "form_errors": errors,
        "nik_search": nik_search,
        "role_choices": [
            (Role(role).value, i18n.gettext(lang, label)) for role, label in ROLE_LABELS.items()
        ],
        "known_resources": KNOWN_RESOURCES,
        "known_actions": KNOWN_ACTIONS,
        "first_href": f"/staf/audit?{query.params(sebelum=None)}" if query.sebelum else None,
        "next_href": f"/staf/audit?{query.params(sebelum=result['next_before'])}"
        if result["next_before"]
        else None,
        "export_href": f"/staf/audit/ekspor?{query.params(sebelum=None, batas=audit_search.DEFAULT_LIMIT)}"
        if role_has(principal.role, "audit.export") and not errors
        else None,
        "subject_clear_href": f"/staf/audit?{query.params(subjek='', sebelum=None)}"
        if query.subjek
        else None,
    }
    return render(request, "staff/audit.html", context, status_code=422 if errors else 200)


@router.get("/staf/audit", response_class=HTMLResponse, summary="Jejak audit: cari")
def audit_page(
    request: Request,
    query: TrailQuery = Depends(_trail_query),
    principal: Principal = Depends(requires("audit.read")),
    session: Session = Depends(db_session),
) -> Response:
    result = run_search(session, principal, query, i18n.language_of(request))
    return _search_page(request, principal, result, nik_search=False)


@router.post("/staf/audit", response_class=HTMLResponse, summary="Jejak audit: cari (dengan NIK)")
async def audit_search_submit(
    request: Request,
    principal: Principal = Depends(requires("audit.read")),
    session: Session = Depends(db_session),
) -> Response:
    data = await request.form(max_files=0, max_fields=20)

    def text(name: str, length: int) -> str:
        return str(data.get(name) or "")[:length]

    query = TrailQuery(
        aktor=text("aktor", 128),
        peran=text("peran", 32),
        aksi=text("aksi", 32),
        sumber=text("sumber", 64),
        subjek=text("subjek", 64),
        wilayah=text("wilayah", 13),
        dari=text("dari", 32),
        sampai=text("sampai", 32),
    )
    nik = text("nik", 40).strip()
    if nik:  # a new person replaces the one the page was showing
        query = replace(query, subjek="")
    lang = i18n.language_of(request)
    # blocking database work off the event loop (the search waits for the audit chain lock)
    result = await run_in_threadpool(run_search, session, principal, query, lang, nik)
    return _search_page(request, principal, result, nik_search=bool(nik))


@router.get("/staf/audit/verifikasi", response_class=HTMLResponse, summary="Jejak audit: periksa rantai")
def verify_page(
    request: Request,
    principal: Principal = Depends(requires("audit.read")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    head = audit.chain_head(session)
    started = time.perf_counter()
    problems = audit.verify_chain(session)  # the whole chain, read in batches (yield_per)
    seconds = time.perf_counter() - started
    audit.record(
        session,
        **principal.audit_fields(),
        action="verify",
        resource=audit_search.RESOURCE,
        purpose=PURPOSE,
        detail={
            "masalah": len(problems),
            "baris": head.row_count if head else None,
            "detik": round(seconds, 3),
        },
    )
    session.commit()
    context = {
        "nav_current": "audit",
        "intact": not problems,
        "head": head,
        "seconds": seconds,
        "rate": (head.row_count / seconds) if head and seconds > 0 else None,
        "problem_count": len(problems),
        "problems": [
            {
                "row_id": problem.row_id,
                "kind": problem.kind,
                "label": i18n.gettext(lang, PROBLEM_LABELS.get(problem.kind, problem.kind)),
                "message": problem.message,
                "href": f"/staf/audit?sebelum={problem.row_id + 2}&batas=3" if problem.row_id else None,
            }
            for problem in problems[:MAX_PROBLEMS_SHOWN]
        ],
    }
    return render(request, "staff/audit_verifikasi.html", context)


def _csv_chunks(engine: Engine, principal: Principal, filters: TrailFilter, below_id: int) -> Iterator[str]:
    """The export as CSV text in pieces of about 64 KB, read on a connection of its own: the request's
    session has committed and closed by the time the body is sent."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=audit_search.EXPORT_COLUMNS)
    writer.writeheader()
    with engine.connect() as connection:
        for cells in audit_search.export_rows(connection, principal, filters, below_id=below_id):
            writer.writerow(cells)
            if buffer.tell() > 65_536:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@router.get("/staf/audit/ekspor", summary="Jejak audit: ekspor CSV")
def export_csv(
    request: Request,
    query: TrailQuery = Depends(_trail_query),
    principal: Principal = Depends(requires("audit.export")),
    session: Session = Depends(db_session),
) -> Response:
    try:
        filters = trail_filter(principal, query)
    except FilterError as exc:
        lang = i18n.language_of(request)
        message = FILTER_MESSAGES[exc.code]
        errors = [{"field": exc.field, "message": i18n.gettext(lang, message)}]
        return error_response(request, 422, message, errors=errors)
    below_id = audit_search.record_export(session, principal, filters, fmt="csv", purpose=PURPOSE)
    session.commit()  # the export is on record before a byte of it is sent
    stamp = datetime.now(JAKARTA).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        _csv_chunks(request.app.state.engine, principal, filters, below_id),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="jejak-audit-{stamp}.csv"'},
    )


def extract_rows(
    session: Session, principal: Principal, before_id: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Extracts with their requests, newest first, one keyset page; a regional auditor sees those of
    requests inside its regions only. Returns the rows and the id to continue below, if more remain."""
    statement = (
        select(AccessExtract, AccessRequest)
        .join(AccessRequest, AccessRequest.id == AccessExtract.request_id)
        .order_by(AccessExtract.id.desc())
    )
    if before_id is not None:
        statement = statement.where(AccessExtract.id < before_id)
    if principal.national:
        statement = statement.limit(EXTRACTS_PER_PAGE + 1)
    rows: list[dict[str, Any]] = []
    with session.execute(statement.execution_options(yield_per=EXTRACTS_PER_PAGE)) as result:
        for extract, req in result:
            if not all(principal.may_see_region(code) for code in req.regions or []):
                continue
            rows.append(
                {
                    "id": extract.id,
                    "created_at": extract.created_at,
                    "created_by": extract.created_by,
                    "format": extract.format,
                    "level": extract.level,
                    "rows": extract.rows,
                    "snapshot": extract.snapshot_ref,
                    "sha256": extract.sha256,
                    "downloads": extract.downloads,
                    "last_download_at": extract.last_download_at,
                    "request_id": req.id,
                    "nomor": req.nomor,
                    "instansi": req.instansi,
                    "pemohon": req.pemohon,
                    "state": req.state,
                    "valid_from": req.valid_from,
                    "valid_until": req.valid_until,
                }
            )
            if len(rows) > EXTRACTS_PER_PAGE:
                break
    if len(rows) > EXTRACTS_PER_PAGE:
        rows = rows[:EXTRACTS_PER_PAGE]
        return rows, int(rows[-1]["id"])
    return rows, None


@router.get("/staf/audit/ekstrak", response_class=HTMLResponse, summary="Ekstrak data dan permintaannya")
def extracts_page(
    request: Request,
    sebelum: int | None = Query(None, ge=1, le=2**62, description="Lanjutkan di bawah id ini"),
    principal: Principal = Depends(requires("audit.read")),
    session: Session = Depends(db_session),
) -> Response:
    """Every extract produced for an agency with the request that allowed it (level, validity, state) and
    its downloads; the listing itself is audited."""
    from dtsen.sharing.requests import LEVEL_LABELS, STATE_LABELS

    rows, next_before = extract_rows(session, principal, sebelum)
    audit.record(
        session,
        **principal.audit_fields(),
        action="read",
        resource="access_extract",
        purpose=PURPOSE,
        detail={"ekstrak": len(rows), "sebelum": sebelum},
    )
    session.commit()
    context = {
        "nav_current": "audit",
        "rows": rows,
        "state_labels": STATE_LABELS,
        "level_labels": LEVEL_LABELS,
        "first_href": "/staf/audit/ekstrak" if sebelum else None,
        "next_href": f"/staf/audit/ekstrak?sebelum={next_before}" if next_before else None,
        "can_review": role_has(principal.role, "access.review"),
    }
    return render(request, "staff/audit_ekstrak.html", context)


# -- routes: JSON -----------------------------------------------------------------------------------------
class AuditEntry(BaseModel):
    id: int
    occurred_at: datetime
    actor: str
    actor_role: str | None
    action: str
    resource: str | None
    subject_ref: str | None
    region_kode: str | None
    purpose: str | None
    detail: dict[str, Any] | None
    prev_hash: str
    row_hash: str


class AuditPage(BaseModel):
    entri: list[AuditEntry] = Field(description="Terbaru lebih dulu")
    sebelum: int | None = Field(
        description="Untuk halaman berikutnya: kirim sebagai ?sebelum=; null bila habis"
    )


class AuditSearchRequest(BaseModel):
    """The filters of ``GET /api/audit``, with ``nik`` (kept out of URLs: sent only in a body)."""

    model_config = ConfigDict(extra="forbid")

    nik: str | None = Field(None, max_length=40, description="NIK subjek; diubah menjadi rujukan subjek")
    aktor: str = Field("", max_length=128)
    peran: str = Field("", max_length=32)
    aksi: str = Field("", max_length=32)
    sumber: str = Field("", max_length=64)
    subjek: str = Field("", max_length=64)
    wilayah: str = Field("", max_length=13)
    dari: str = Field("", max_length=32)
    sampai: str = Field("", max_length=32)
    sebelum: int | None = Field(None, ge=1, le=2**62)
    batas: int = Field(audit_search.DEFAULT_LIMIT, ge=1, le=audit_search.MAX_LIMIT)


def _json_answer(request: Request, result: dict[str, Any]) -> Any:
    if result["errors"]:
        lang = i18n.language_of(request)
        errors = [
            {"field": key, "message": i18n.gettext(lang, message)}
            for key, message in result["errors"].items()
        ]
        return error_response(request, 422, errors[0]["message"], errors=errors)
    rows = result["rows"]
    return AuditPage(
        entri=[AuditEntry(**{key: row[key] for key in AuditEntry.model_fields}) for row in rows],
        sebelum=result["next_before"],
    )


@router.get("/api/audit", response_model=AuditPage, summary="Jejak audit: cari (JSON)")
def audit_api(
    request: Request,
    query: TrailQuery = Depends(_trail_query),
    principal: Principal = Depends(requires("audit.read")),
    session: Session = Depends(db_session),
) -> Any:
    return _json_answer(request, run_search(session, principal, query, i18n.language_of(request)))


@router.post("/api/audit/cari", response_model=AuditPage, summary="Jejak audit: cari dengan NIK (JSON)")
def audit_search_api(
    request: Request,
    body: AuditSearchRequest,
    principal: Principal = Depends(requires("audit.read")),
    session: Session = Depends(db_session),
) -> Any:
    fields = body.model_dump()
    nik = fields.pop("nik") or ""
    query = TrailQuery(**fields)
    return _json_answer(request, run_search(session, principal, query, i18n.language_of(request), nik))
