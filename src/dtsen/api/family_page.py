"""The family page's facts, built from the registry's answers: desil at three levels with how sure the rank
is, the program decisions and their reasons in words, members and their linkage status, history across
snapshots and the provenance of each attribute. The staff router renders them as a page and as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import HTTPException
from sqlalchemy.orm import Session

from dtsen.api.display import code_label, field, mask_identifier, percent, region_name, shows_full_nik
from dtsen.auth.scope import Principal
from dtsen.web import i18n, svg
from dtsen.web.i18n import N_

PURPOSE_FAMILY = "halaman_keluarga"

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

RANK_REASON_DEFAULT = N_("Data keluarga ini belum cukup untuk menghitung peringkat.")


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


# -- family page ---------------------------------------------------------------------------------------------
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
