"""Staff search by NIK, KK number or name within a village: the form's checks (a submitted value is never
echoed in a message) and the registry's scoped, audited search shaped for the page and the JSON answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from dtsen.api.display import code_label, field, mask_identifier, region_name, shows_full_nik
from dtsen.auth.scope import Principal
from dtsen.web.i18n import N_

SEARCH_LIMIT = 50
NAME_RE = re.compile(r"^[A-Za-z\u00c0-\u024f' .,\-]{3,100}$")
PURPOSE_SEARCH = "pencarian_staf"
SEARCH_KINDS = ("nik", "kk", "nama")
UNSEARCHABLE_NAME = N_("Nama ini tidak dapat dicari: tulis nama orangnya tanpa gelar.")


# -- search --------------------------------------------------------------------------------------------------
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
