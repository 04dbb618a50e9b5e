"""Staff pages and API: the staff home, search within one's region, and the family page (desil at three
levels with the explanation, history across snapshots, programs, members and their linkage status, the
provenance of each attribute), with JSON twins under ``/api/staf/`` for machine clients.

Every personal-data read goes through :mod:`dtsen.store.registry`, which applies the one scoping rule and
writes the audit entry; this module only checks input, decides what a role is shown, and renders. A family
outside the principal's region is answered exactly like an unknown id (the same 404 page).

**NIK on staff pages.** Shown in full to the roles whose work is about identified people in their own
region (operator desa and pendamping verify people in the field, dinsos processes objections, admin BPS
corrects records, an agency client matches its own beneficiaries under an approved request); masked
(``340101********12``: the registration kecamatan and the last two digits) for the national analyst roles
(analis BPS, Kemensos), who work on patterns, not persons, and so need no full identifier (PDP data
minimisation). The KK number follows the same rule.

Search is a POST (with the CSRF token) so that a NIK never travels in a URL, where access logs, browser
history and Referer headers would keep it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dtsen.api.deps import db_session
from dtsen.api.display import desa_options, field, region_name
from dtsen.api.family_page import family_json, load_family
from dtsen.api.staff_search import SEARCH_LIMIT, UNSEARCHABLE_NAME, SearchForm, search_rows, validate_search
from dtsen.auth.deps import require_authenticated, require_user, requires
from dtsen.auth.permissions import ROLE_LABELS
from dtsen.auth.scope import Principal
from dtsen.web import i18n
from dtsen.web.i18n import N_
from dtsen.web.templating import render

router = APIRouter(tags=["staf"])

FAMILY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"

# What each permission lets a person do, and where (for the staff home page).
ACTION_LABELS: dict[str, tuple[str, str | None]] = {
    "person.search": (N_("Mencari individu dan keluarga di wilayah Anda"), "/staf/cari"),
    "family.read": (N_("Membuka halaman keluarga: desil, program, anggota, asal data"), None),
    "family.export": (N_("Mengekspor data keluarga"), None),
    "stats.read": (N_("Melihat statistik ringkas tanpa data perorangan"), "/staf/analisis"),
    "request.read": (N_("Melihat antrean usulan dan sanggahan warga"), None),
    "request.process": (N_("Menindaklanjuti usulan dan sanggahan warga"), None),
    "case.read": (N_("Membuka antrean kasus: usulan, sanggahan dan verifikasi lapangan"), "/staf/kasus"),
    "case.act": (N_("Menindaklanjuti kasus sesuai peran Anda"), None),
    "case.monitor": (
        N_("Melihat dasbor kasus: jumlah, keterlambatan dan kemajuan per desa"),
        "/staf/kasus/dasbor",
    ),
    "musdes.read": (N_("Melihat musyawarah desa dan berita acaranya"), "/staf/musdes"),
    "musdes.manage": (N_("Menyelenggarakan musyawarah desa"), "/staf/musdes"),
    "verval.plan": (
        N_("Merencanakan verifikasi lapangan (keluarga paling tidak pasti lebih dulu)"),
        "/staf/verval/rencana",
    ),
    "access.request": (N_("Mengajukan permintaan akses data dan mengunduh ekstraknya"), "/akses"),
    "access.review": (N_("Menelaah dan memutus permintaan akses data instansi"), "/staf/akses"),
    "access.extract": (N_("Membuat ekstrak data untuk permintaan yang disetujui"), None),
    "audit.read": (N_("Mencari jejak audit"), "/staf/audit"),
    "audit.export": (N_("Mengekspor jejak audit"), "/staf/audit/ekspor"),
    "users.manage": (N_("Mengelola akun petugas"), None),
    "clients.manage": (N_("Mengelola klien API instansi"), None),
    "snapshot.load": (N_("Memuat snapshot ke basis data layanan"), None),
}


# -- routes: pages -------------------------------------------------------------------------------------------
@router.get("/staf", response_class=HTMLResponse, summary="Beranda staf")
def staff_home(
    request: Request, principal: Principal = Depends(require_user), session: Session = Depends(db_session)
) -> HTMLResponse:
    lang = i18n.language_of(request)
    home = home_facts(session, principal, lang)
    actions = [{"label": item["label"], "href": item["href"]} for item in home["izin"]]
    context = {
        "role_label": home["peran_label"],
        "regions": home["wilayah"],
        "snapshot": home["snapshot"],
        "actions": actions,
        "snapshot_ref": (home["snapshot"] or {}).get("ref"),
    }
    return render(request, "staff/home.html", context)


def home_facts(session: Session, principal: Principal, lang: str) -> dict[str, Any]:
    """Who is signed in, where they may look, the served snapshot and what their role may do."""
    from dtsen.auth.permissions import permissions_of
    from dtsen.store import registry

    snapshot = registry.current_snapshot(session)
    counts = field(snapshot, "counts") or {}
    permissions = sorted(permissions_of(principal.role)) if principal.role else []
    if principal.kind == "client":
        permissions = [p for p in permissions if p in principal.scopes]
    return {
        "nama": principal.name,
        "jenis": principal.kind,
        "peran": principal.role.value if principal.role else None,
        "peran_label": i18n.gettext(lang, ROLE_LABELS.get(principal.role, str(principal.role))),
        "wilayah": [{"kode": kode, "nama": region_name(kode)} for kode in principal.regions],
        "snapshot": None
        if snapshot is None
        else {
            "ref": field(snapshot, "ref"),
            "created_at": field(snapshot, "created_at"),
            "loaded_at": field(snapshot, "loaded_at"),
            "versi_model": field(snapshot, "versi_model"),
            "families": counts.get("families", counts.get("served_family")),
            "persons": counts.get("persons", counts.get("served_person")),
        },
        "izin": [
            {
                "izin": permission,
                "label": i18n.gettext(lang, ACTION_LABELS.get(permission, (permission, None))[0]),
                "href": ACTION_LABELS.get(permission, (permission, None))[1],
            }
            for permission in permissions
        ],
    }


@router.get("/staf/cari", response_class=HTMLResponse, summary="Cari: formulir")
def search_form(request: Request, principal: Principal = Depends(requires("person.search"))) -> HTMLResponse:
    context = {
        "form": SearchForm(),
        "form_errors": {},
        "results": None,
        "desa_options": desa_options(principal),
    }
    return render(request, "staff/search.html", context)


@router.post("/staf/cari", response_class=HTMLResponse, summary="Cari: hasil")
async def search_submit(
    request: Request,
    principal: Principal = Depends(requires("person.search")),
    session: Session = Depends(db_session),
) -> HTMLResponse:
    lang = i18n.language_of(request)
    data = await request.form(max_files=0, max_fields=20)
    form = SearchForm(
        jenis=str(data.get("jenis") or "nik")[:8],
        q=str(data.get("q") or "")[:200],
        desa=str(data.get("desa") or "")[:20],
    )
    criteria, errors = validate_search(form, principal)
    results = None
    status = 200
    if errors:
        status = 422
        form.q = "" if form.jenis in {"nik", "kk"} else form.q  # never echo an identifier back
    else:  # blocking database work off the event loop (a blocked loop cannot finish other requests'
        # commits, which hold the audit chain lock this search then waits for: a deadlock under load)
        try:
            results = await run_in_threadpool(search_rows, session, principal, criteria, lang)
        except ValueError:  # e.g. a "name" of titles only, which normalises to nothing
            status, errors = 422, {"q": UNSEARCHABLE_NAME}
    context = {
        "form": form,
        "form_errors": {key: i18n.gettext(lang, message) for key, message in errors.items()},
        "results": results[:SEARCH_LIMIT] if results is not None else None,
        "truncated": results is not None and len(results) > SEARCH_LIMIT,
        "limit": SEARCH_LIMIT,
        "desa_options": desa_options(principal, form.desa),
    }
    return render(request, "staff/search.html", context, status_code=status)


@router.get("/staf/keluarga/{family_id}", response_class=HTMLResponse, summary="Halaman keluarga")
def family_page(
    request: Request,
    family_id: str = Path(..., pattern=FAMILY_ID_PATTERN),
    principal: Principal = Depends(requires("family.read")),
    session: Session = Depends(db_session),
) -> HTMLResponse:
    lang = i18n.language_of(request)
    view = load_family(session, principal, family_id, lang)
    return render(request, "staff/family.html", {"family": view, "snapshot_ref": view["snapshot_ref"]})


# -- routes: JSON --------------------------------------------------------------------------------------------
class SearchRequest(BaseModel):
    """One of: ``nik``; ``no_kk``; ``nama`` with ``kode_desa``."""

    model_config = ConfigDict(extra="forbid")

    nik: str | None = Field(None, pattern=r"^\d{16}$", description="NIK, 16 angka")
    no_kk: str | None = Field(None, pattern=r"^\d{16}$", description="Nomor KK, 16 angka")
    nama: str | None = Field(None, min_length=3, max_length=100, description="Nama (dengan kode_desa)")
    kode_desa: str | None = Field(None, pattern=r"^\d{10}$", description="Kode desa/kelurahan, 10 angka")


class PersonHit(BaseModel):
    id_dtsen: str | None
    nama: str | None
    nik: str | None
    hubungan: str | None
    umur: int | None
    kode_desa: str | None
    desa: str | None
    id_keluarga: str | None


class SearchResponse(BaseModel):
    hasil: list[PersonHit]
    terpotong: bool = Field(description="Lebih dari batas hasil; persempit pencarian")


@router.post("/api/staf/cari", response_model=SearchResponse, summary="Cari individu (JSON)")
def search_api(
    request: Request,
    body: SearchRequest,
    principal: Principal = Depends(requires("person.search")),
    session: Session = Depends(db_session),
) -> SearchResponse:
    lang = i18n.language_of(request)
    if body.nik:
        form = SearchForm(jenis="nik", q=body.nik)
    elif body.no_kk:
        form = SearchForm(jenis="kk", q=body.no_kk)
    else:
        form = SearchForm(jenis="nama", q=body.nama or "", desa=body.kode_desa or "")
    criteria, errors = validate_search(form, principal)
    if errors:
        raise HTTPException(422, detail=next(iter(errors.values())))
    try:
        rows = search_rows(session, principal, criteria, lang)
    except ValueError as exc:
        raise HTTPException(422, detail=UNSEARCHABLE_NAME) from exc
    return SearchResponse(
        hasil=[PersonHit(**row) for row in rows[:SEARCH_LIMIT]], terpotong=len(rows) > SEARCH_LIMIT
    )


@router.get("/api/staf", summary="Siapa saya, wilayah, snapshot yang dilayani dan izin (JSON)")
def home_api(
    request: Request,
    principal: Principal = Depends(require_authenticated),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    home = home_facts(session, principal, i18n.language_of(request))
    for item in home["izin"]:
        item.pop("href")
    return home


@router.get("/api/staf/keluarga/{family_id}", summary="Data keluarga (JSON)")
def family_api(
    request: Request,
    family_id: str = Path(..., pattern=FAMILY_ID_PATTERN),
    principal: Principal = Depends(requires("family.read")),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    lang = i18n.language_of(request)
    return family_json(load_family(session, principal, family_id, lang))
