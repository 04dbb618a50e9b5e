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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dtsen.api.deps import db_session
from dtsen.auth.deps import require_authenticated, require_user, requires
from dtsen.auth.permissions import ROLE_LABELS
from dtsen.auth.scope import Principal, Role
from dtsen.web import i18n, svg
from dtsen.web.i18n import N_
from dtsen.web.templating import render

router = APIRouter(tags=["staf"])

SEARCH_LIMIT = 50
FAMILY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
FULL_NIK_ROLES = frozenset(
    {Role.ADMIN_BPS, Role.DINSOS, Role.OPERATOR_DESA, Role.PENDAMPING, Role.KLIEN_INSTANSI}
)
NAME_RE = re.compile(r"^[A-Za-z\u00c0-\u024f' .,\-]{3,100}$")
PURPOSE_SEARCH = "pencarian_staf"
PURPOSE_FAMILY = "halaman_keluarga"

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
SEARCH_KINDS = ("nik", "kk", "nama")
LEVELS = (
    ("desil_nasional", N_("Nasional")),
    ("desil_provinsi", N_("Provinsi")),
    ("desil_kabkota", N_("Kabupaten/kota")),
)
RANK_REASONS: dict[str, str] = {
    "tanpa_anggota": N_("Tidak ada anggota yang masih hidup dan tinggal bersama."),
    "tanpa_kepala_dewasa": N_(
        "Tidak ada anggota berumur 15 tahun ke atas; kemungkinan bagian dari keluarga lain, perlu diperiksa "
        "di lapangan."
    ),
    "tanpa_observasi": N_(
        "Belum ada data kondisi rumah dan aset dari pendataan lapangan (Regsosek, DTKS atau P3KE); perlu "
        "pendataan."
    ),
}
UNSEARCHABLE_NAME = N_("Nama ini tidak dapat dicari: tulis nama orangnya tanpa gelar.")
RANK_REASON_DEFAULT = N_("Data keluarga ini belum cukup untuk menghitung peringkat.")


# -- small helpers ----------------------------------------------------------------------------------------
def field(obj: Any, name: str, default: Any = None) -> Any:
    """An attribute of a registry answer, whether it is an object or a mapping."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def mask_identifier(value: str | None) -> str | None:
    """``3401012345670012`` -> ``340101********12``: the kecamatan of registration and two digits."""
    if not value:
        return value
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 8) + value[-2:]


def shows_full_nik(principal: Principal) -> bool:
    return principal.role in FULL_NIK_ROLES


def region_name(kode: str | None) -> str | None:
    if not kode:
        return None
    from dtsen.reference.regions import lookup

    region = lookup(kode)
    return region.nama if region is not None else kode


def code_label(code_list: Any, value: Any, lang: str) -> str | None:
    if value is None:
        return None
    try:
        member = code_list(int(value))
    except (ValueError, TypeError):
        return str(value)
    return member.label_en if lang == "en" else member.label


# The program decision's reason codes (dtsen.programs.decide): fixed codes, and prefixes followed by the
# code of a component, exclusion or retention rule from the program definitions.
DECISION_REASONS: dict[str, str] = {
    "desil_masuk": N_("desil dalam sasaran"),
    "desil_di_luar": N_("desil di luar sasaran"),
    "tanpa_desil": N_("belum diperingkat"),
    "tanpa_komponen": N_("tidak ada anggota yang memenuhi komponen"),
    "di_luar_kuota": N_("di luar kuota"),
    "tanpa_anggota_hidup": N_("tidak ada anggota yang masih hidup"),
}
DECISION_PREFIXES: dict[str, str] = {
    "komponen_": N_("komponen: %(kode)s"),
    "pertahankan_": N_("dipertahankan: %(kode)s"),
    "kecuali_": N_("dikecualikan: %(kode)s"),
    "tinjau_": N_("perlu ditinjau: %(kode)s"),
}


def reason_text(code: str, lang: str) -> str:
    """A program decision's reason code in words (unknown codes shown with spaces for underscores)."""
    if code in DECISION_REASONS:
        return i18n.gettext(lang, DECISION_REASONS[code])
    for prefix, template in DECISION_PREFIXES.items():
        if code.startswith(prefix):
            return i18n.gettext(lang, template) % {"kode": code[len(prefix) :].replace("_", " ")}
    return code.replace("_", " ")


def percent(probability: float | None) -> str:
    return "–" if probability is None else f"{round(probability * 100)}%"


def certainty_sentence(p4: float | None, desil: int | None, lang: str) -> str:
    """How sure the rank is, in words, from P(desil <= 4) (the programs' usual cut-off)."""
    if p4 is None or desil is None:
        return i18n.gettext(lang, N_("Tingkat keyakinan belum dapat dihitung."))
    if p4 >= 0.9 or p4 <= 0.1:
        return i18n.gettext(
            lang, N_("Sangat yakin: kecil kemungkinan keluarga ini di sisi lain batas desil 4.")
        )
    if p4 >= 0.7 or p4 <= 0.3:
        return i18n.gettext(lang, N_("Cukup yakin, tetapi perubahan data bisa menggeser desil keluarga ini."))
    return i18n.gettext(
        lang, N_("Kurang pasti: keluarga ini dekat batas desil 4; layak diverifikasi di lapangan.")
    )


# -- search -----------------------------------------------------------------------------------------------
@dataclass
class SearchForm:
    jenis: str = "nik"
    q: str = ""
    desa: str = ""


def validate_search(form: SearchForm, principal: Principal) -> tuple[dict[str, Any], dict[str, str]]:
    """(registry arguments, errors by field with Bahasa msgids); the submitted value is never echoed in a
    message."""
    from dtsen.reference.nik import check_kk, check_nik

    errors: dict[str, str] = {}
    query = form.q.strip()
    if form.jenis not in SEARCH_KINDS:
        errors["jenis"] = N_("Pilih cara pencarian: NIK, nomor KK, atau nama dan desa.")
        return {}, errors
    if form.jenis in {"nik", "kk"}:
        check = check_nik(query) if form.jenis == "nik" else check_kk(query)
        label = N_("NIK") if form.jenis == "nik" else N_("Nomor KK")
        if not query:
            errors["q"] = N_("Isi NIK atau nomor KK yang dicari.")
        elif check.digits is None and any(code.endswith("not_numeric") for code in check.codes):
            errors["q"] = N_("NIK dan nomor KK hanya berisi angka.")
        elif check.digits is None:
            errors["q"] = N_("NIK dan nomor KK terdiri dari 16 angka.")
        elif not check.valid:
            errors["q"] = (
                N_("NIK ini tidak mungkin benar: kode wilayah atau tanggal lahirnya tidak sah.")
                if label == N_("NIK")
                else N_("Nomor KK ini tidak mungkin benar: kode wilayah atau tanggalnya tidak sah.")
            )
        if errors:
            return {}, errors
        return ({"nik": check.digits} if form.jenis == "nik" else {"no_kk": check.digits}), errors
    name = " ".join(query.split())
    words = re.findall(r"[^\W\d_]+", name)
    if not NAME_RE.match(name) or max((len(word) for word in words), default=0) < 3:
        errors["q"] = N_(
            "Tulis nama paling sedikit 3 huruf (huruf, spasi, titik, koma, apostrof, tanda hubung)."
        )
    desa = re.sub(r"\D", "", form.desa)
    if len(desa) != 10:
        errors["desa"] = N_("Pilih desa/kelurahan (kode 10 angka) untuk mencari dengan nama.")
    elif not principal.may_see_region(desa):
        errors["desa"] = N_("Desa/kelurahan ini di luar wilayah Anda.")
    if errors:
        return {}, errors
    return {"nama": name, "kode_desa": desa}, errors


def search_rows(
    session: Session, principal: Principal, criteria: dict[str, Any], lang: str
) -> list[dict[str, Any]]:
    """The registry's scoped, audited search, shaped for the page and the JSON answer."""
    from dtsen.reference.codes import HubunganKeluarga
    from dtsen.store import registry

    found = registry.search_persons(
        session, principal, limit=SEARCH_LIMIT + 1, purpose=PURPOSE_SEARCH, **criteria
    )
    session.commit()  # the audit chain lock is held until commit: release it before rendering
    full = shows_full_nik(principal)
    rows = []
    for person in found:
        nik = field(person, "nik")
        rows.append(
            {
                "id_dtsen": field(person, "id_dtsen"),
                "nama": field(person, "nama"),
                "nik": nik if full else mask_identifier(nik),
                "hubungan": code_label(HubunganKeluarga, field(person, "hubungan"), lang),
                "umur": field(person, "umur"),
                "kode_desa": field(person, "kode_desa"),
                "desa": region_name(field(person, "kode_desa")),
                "id_keluarga": field(person, "id_keluarga_dtsen"),
            }
        )
    return rows


@lru_cache(maxsize=256)
def _village_option_tags(regions: tuple[str, ...]) -> str:
    import polars as pl

    from dtsen.reference.regions import villages

    inside = pl.any_horizontal([pl.col("kode").str.starts_with(region) for region in regions])
    rows = villages().filter(inside).sort("nama").select("kode", "nama").iter_rows()
    tags = [f'<option value="{escape(kode)}">{escape(nama)} ({escape(kode)})</option>' for kode, nama in rows]
    return "".join(tags) if len(tags) <= 500 else ""


def desa_options(principal: Principal, selected: str = "") -> Markup | None:
    """The ``<option>`` tags of the villages a regional user may search by name (``selected`` marked),
    or None for a free code field (national users; more than 500 villages).

    Built once per set of regions: a kab/kota has a few hundred villages, and reading the region list
    and rendering them per request was most of a staff search's time.
    """
    if principal.national or not principal.regions:
        return None
    tags = _village_option_tags(tuple(sorted(principal.regions)))
    if not tags:
        return None
    if selected.isdigit():
        tags = tags.replace(f'<option value="{selected}">', f'<option value="{selected}" selected>', 1)
    return Markup(tags)  # noqa: S704 - every value in it was escaped above; ``selected`` is digits


# -- family page --------------------------------------------------------------------------------------------
def _provenance_rows(mapping: Any) -> list[dict[str, Any]]:
    """``{atribut: {sumber, batch_id, tanggal_data}}`` (or a list of rows) as sorted table rows."""
    if not mapping:
        return []
    if isinstance(mapping, Mapping):
        items: Iterable[Any] = ({"atribut": name, **(value or {})} for name, value in mapping.items())
    else:
        items = mapping
    rows = [
        {
            "atribut": field(item, "atribut"),
            "sumber": field(item, "sumber"),
            "batch_id": field(item, "batch_id"),
            "tanggal_data": field(item, "tanggal_data"),
        }
        for item in items
    ]
    return sorted(rows, key=lambda row: str(row["atribut"]))


def _provenance_groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attributes grouped by where they came from (source, batch, data date): a family has a handful of
    sources and dozens of attributes, so a phone shows a few short blocks instead of a long table."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (str(row["sumber"] or ""), str(row["batch_id"] or ""), str(row["tanggal_data"] or ""))
        group = groups.setdefault(
            key,
            {
                "sumber": row["sumber"],
                "batch_id": row["batch_id"],
                "tanggal_data": row["tanggal_data"],
                "atribut": [],
            },
        )
        group["atribut"].append(str(row["atribut"]))
    return sorted(
        groups.values(), key=lambda g: (str(g["tanggal_data"] or ""), str(g["sumber"] or "")), reverse=True
    )


def _reported_death(reported: Mapping[str, Any] | None, nik: Any, alive: Any) -> str | None:
    """The date (ISO) of a death Dukcapil pushed for a member the snapshot still shows alive."""
    day = (reported or {}).get(nik) if nik and alive is not False else None
    return day.isoformat() if day is not None else None


def family_view(
    detail: Any, history: Any, principal: Principal, lang: str, reported: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the family page and its JSON twin show, from the registry's answers; ``reported``:
    NIK -> date of a death Dukcapil pushed that the served snapshot does not show yet."""
    from dtsen.canonical.model import StatusPadan
    from dtsen.reference.codes import HubunganKeluarga, JenisKelamin

    def _(message: str) -> str:
        return i18n.gettext(lang, message)

    family = field(detail, "family")
    members = list(field(detail, "members", []) or [])
    programs = list(field(detail, "programs", []) or field(detail, "eligibility", []) or [])
    snapshot = field(detail, "snapshot")
    full = shows_full_nik(principal)
    family_id = str(field(family, "id_keluarga_dtsen"))
    ranked = (
        field(family, "status_peringkat") != "tidak_diperingkat"
        and field(family, "desil_nasional") is not None
    )
    reason = field(family, "alasan_tidak_diperingkat")

    desil_levels = []
    for column, label in LEVELS:
        value = field(family, column)
        desil_levels.append(
            {
                "key": column,
                "label": _(label),
                "value": value,
                "chart": svg.desil_strip(
                    value,
                    _("Desil %(desil)s dari 10") % {"desil": value} if value else _("Tidak ada desil"),
                    _("Desil 1 termiskin, desil 10 terkaya; kotak berwarna adalah desil keluarga ini."),
                    f"desil-{column}",
                    poorest=_("termiskin"),
                    richest=_("terkaya"),
                ),
            }
        )
    p4, p5 = field(family, "p_desil_le4"), field(family, "p_desil_le5")
    penjelasan = [
        {
            "faktor": field(item, "faktor"),
            "kontribusi": field(item, "kontribusi"),
            "kalimat": field(item, "kalimat"),
        }
        for item in (field(family, "penjelasan") or [])
    ]
    penjelasan_chart = (
        svg.contributions(
            [
                svg.Contribution(str(item["faktor"] or "").replace("_", " "), float(item["kontribusi"] or 0))
                for item in penjelasan
            ],
            _("Pengaruh tiap faktor"),
            _("Batang ke kiri menurunkan perkiraan kesejahteraan, ke kanan menaikkannya."),
            "penjelasan",
        )
        # An unranked family's "explanation" is its reason, with no factor weights to draw.
        if ranked and any(item["kontribusi"] for item in penjelasan)
        else None
    )

    program_names = field(snapshot, "programs") or {}
    program_rows = []
    total = 0
    for row in sorted(programs, key=lambda r: str(field(r, "program"))):
        code = field(row, "program")
        name = field(row, "nama") or (
            program_names.get(code, code) if isinstance(program_names, Mapping) else code
        )
        layak = bool(field(row, "layak"))
        amount = field(row, "nilai_tahunan")
        if layak and amount:
            total += int(amount)
        program_rows.append(
            {
                "program": code,
                "nama": name,
                "layak": layak,
                "jumlah_penerima": field(row, "jumlah_penerima"),
                "nilai_tahunan": amount,
                "alasan": ", ".join(reason_text(str(a), lang) for a in (field(row, "alasan") or []) if a),
                "alasan_kode": [str(a) for a in (field(row, "alasan") or []) if a],
            }
        )

    member_rows = []
    head_name = None
    family_rows = _provenance_rows(field(detail, "family_provenance") or field(family, "provenance"))
    provenance_blocks = [
        {"title": _("Keluarga"), "rows": family_rows, "groups": _provenance_groups(family_rows)}
    ]
    person_provenance = field(detail, "person_provenance") or {}
    for member in sorted(members, key=lambda m: (field(m, "hubungan") or 99, str(field(m, "id_dtsen")))):
        nik = field(member, "nik")
        padan = field(member, "status_padan")
        if field(member, "hubungan") == 1 and head_name is None:
            head_name = field(member, "nama")
        member_rows.append(
            {
                "id_dtsen": field(member, "id_dtsen"),
                "nama": field(member, "nama"),
                "nik": nik if full else mask_identifier(nik),
                "hubungan": code_label(HubunganKeluarga, field(member, "hubungan"), lang),
                "jenis_kelamin": code_label(JenisKelamin, field(member, "jenis_kelamin"), lang),
                "umur": field(member, "umur"),
                "meninggal": field(member, "status_hidup") is False,
                "dilaporkan_meninggal": _reported_death(reported, nik, field(member, "status_hidup")),
                "status_padan": code_label(StatusPadan, padan, lang) or _("Belum dipadankan"),
                "status_padan_kode": padan,
                "padan_css": "badge-ok"
                if padan == 1
                else ("badge-bad" if padan in {3, 4, 5} else "badge-warn"),
                "bukti_status": field(member, "bukti_status"),
                "di_dukcapil": field(member, "di_dukcapil"),
                "sumber_data": ", ".join(field(member, "sumber_data") or []),
            }
        )
        rows = (
            person_provenance.get(field(member, "id_dtsen"))
            if isinstance(person_provenance, Mapping)
            else None
        )
        provenance_blocks.append(
            {
                "title": str(field(member, "nama") or field(member, "id_dtsen")),
                "rows": _provenance_rows(rows or field(member, "provenance")),
            }
        )

    history_rows = []
    for item in history or []:
        item_family = field(item, "family", item)
        item_snapshot = field(item, "snapshot")
        ref = field(item, "ref") or field(item_snapshot, "ref")
        periode = (
            field(item, "periode")
            or field(item_snapshot, "periode")
            or (str(ref).split("/")[0] if ref else "")
        )
        status = field(item_family, "status_peringkat")
        desil = field(item_family, "desil_nasional")
        item_programs = field(item, "programs") or []
        history_rows.append(
            {
                "ref": ref,
                "periode": periode,
                "desil": desil,
                "status": _("Tidak diperingkat")
                if status == "tidak_diperingkat" or desil is None
                else _("Diperingkat"),
                "programs": ", ".join(
                    str(field(p, "program")).replace("_", " ").upper()
                    for p in item_programs
                    if field(p, "layak")
                ),
            }
        )
    history_rows.sort(key=lambda row: str(row["ref"]))
    history_chart = (
        svg.desil_history(
            [svg.Point(str(row["periode"]), row["desil"]) for row in history_rows],
            _("Desil nasional antar snapshot"),
            _("Garis dari snapshot terlama ke terbaru; desil 1 di bawah."),
            "riwayat",
        )
        if len(history_rows) > 1 and any(row["desil"] for row in history_rows)
        else None
    )
    kode_desa = field(family, "kode_desa")
    wilayah = ", ".join(
        name
        for name in (
            region_name(kode_desa),
            region_name(field(family, "kode_kec")),
            region_name(field(family, "kode_kab")),
            region_name(field(family, "kode_prov")),
        )
        if name
    )
    no_kk = field(family, "no_kk")
    return {
        "id": family_id,
        "snapshot_ref": field(snapshot, "ref"),
        "kepala": head_name,
        "no_kk": no_kk if full else mask_identifier(no_kk),
        "nik_full": full,
        "alamat": field(family, "alamat"),
        "rt": field(family, "rt"),
        "rw": field(family, "rw"),
        "kode_desa": kode_desa,
        "wilayah": wilayah or "–",
        "jumlah_anggota": field(family, "jumlah_anggota"),
        "ranked": ranked,
        "status_peringkat": field(family, "status_peringkat")
        or ("diperingkat" if ranked else "tidak_diperingkat"),
        "alasan_tidak_diperingkat": reason,
        "alasan_teks": _(RANK_REASONS.get(reason or "", RANK_REASON_DEFAULT)),
        "desil": desil_levels,
        "p_desil_le4": p4,
        "p_desil_le5": p5,
        "p4_text": percent(p4),
        "p5_text": percent(p5),
        "p4_chart": svg.probability_bar(p4, _("Peluang desil 1–4"), percent(p4), "p4"),
        "p5_chart": svg.probability_bar(p5, _("Peluang desil 1–5"), percent(p5), "p5"),
        "keyakinan": certainty_sentence(p4, field(family, "desil_nasional"), lang),
        "borderline": bool(field(family, "borderline")),
        "perkiraan_pengeluaran": field(family, "perkiraan_pengeluaran"),
        "batas_bawah": field(family, "batas_bawah"),
        "batas_atas": field(family, "batas_atas"),
        "versi_model": field(family, "versi_model"),
        "penjelasan": penjelasan,
        "penjelasan_chart": penjelasan_chart,
        "history": history_rows,
        "history_chart": history_chart,
        "programs": program_rows,
        "program_total": total,
        "members": member_rows,
        "provenance": provenance_blocks,
    }


CHART_KEYS = ("chart", "p4_chart", "p5_chart", "penjelasan_chart", "history_chart")


def family_json(view: dict[str, Any]) -> dict[str, Any]:
    """The JSON twin of the family page: the same facts without the drawings."""
    data = {key: value for key, value in view.items() if key not in CHART_KEYS}
    data["desil"] = [{k: v for k, v in level.items() if k != "chart"} for level in view["desil"]]
    data["provenance"] = [{"title": block["title"], "rows": block["rows"]} for block in view["provenance"]]
    return data


def load_family(session: Session, principal: Principal, family_id: str, lang: str) -> dict[str, Any]:
    """The family page's data, or 404: unknown and out-of-region look the same (the registry audits)."""
    from dtsen.store import registry

    detail = registry.family_detail(session, principal, family_id, purpose=PURPOSE_FAMILY)
    if detail is None:
        # The registry audited an out-of-region attempt in this unit of work; keep it, although the
        # request ends in an error (which rolls the request's session back).
        session.commit()
        raise HTTPException(404, detail=N_("Keluarga tidak ditemukan."))
    history = registry.family_history(session, principal, family_id)
    from dtsen.sharing.dci.crvs_inbox import reported_deaths  # deaths Dukcapil pushed since the snapshot

    reported = reported_deaths(session, [str(m["nik"]) for m in detail.members if m.get("nik")])
    session.commit()  # the audit chain lock is held until commit: release it before rendering
    return family_view(detail, history, principal, lang, reported)


# -- routes: pages ------------------------------------------------------------------------------------------
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


# -- routes: JSON -------------------------------------------------------------------------------------------
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
