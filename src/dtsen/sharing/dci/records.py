"""Served rows as the DCI Social Registry's records: ``Group``, ``Member`` and ``SRPerson``.

The shapes follow ``schemas/extensions/social/v1/data/{Group,Member,SRPerson}.jsonld`` and the example
record of the spec's ``SearchResponse.reg_records`` (``group_identifier``, ``group_size``,
``poverty_score``, ``group_head_info``, ``member_list``; ``member_identifier``, ``demographic_info``;
``identifier``, ``name``, ``sex``, ``birth_date``, ``address``). What a record carries is decided by the
client's :class:`~dtsen.sharing.dci.grant.Grant`, never by the query:

* **byname**: exactly the approved fields of :data:`dtsen.sharing.requests.FIELDS` (an identifier only
  when the grant approved it), plus one ``layak_<program>`` per approved program;
* **deidentified**: tokens instead of NIK, KK and the family id (``sha256(salt || value)`` hex, the
  formula and salt of the request's de-identified extract, so both give the same token for a person),
  the birth year instead of the date, and never a name, address, birth place or birth date.

Mappings to the spec's vocabulary: ``poverty_score`` is the national desil (1 = poorest tenth;
``poverty_score_type`` says so), ``sex`` is ``male``/``female`` (cd.com.03), ``marital_status`` and
``relationship_head`` are the code-directory words of the Regsosek codes; Indonesian names are not
split, so the whole name is ``given_name``. Everything else approved goes into
``additional_attributes`` as ``{name: value}`` pairs, as the spec's example does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from dtsen.sharing.dci.grant import Grant
from dtsen.sharing.requests import DIRECT_IDENTIFIERS

CONTEXT: dict[str, str] = {
    "spdci": "https://schema.spdci.org/extensions/social/v1/data",
    "spdcicore": "https://schema.spdci.org/core/v1/data",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
}
SEX = {1: "male", 2: "female"}
MARITAL = {1: "single", 2: "married", 3: "divorced", 4: "widowed"}
RELATIONSHIP = {
    1: "self",
    2: "spouse",
    3: "child",
    4: "child_in_law",
    5: "grandchild",
    6: "parent",
    7: "domestic_worker",
    8: "other",
}
# Person fields stored in the served person's ``atribut`` object rather than as columns.
PERSON_ATTRIBUTES = (
    "tempat_lahir",
    "status_kawin",
    "pendidikan_siak",
    "pekerjaan_siak",
    "bekerja",
    "penyakit_kronis",
    "jaminan_kesehatan",
)
REGION_FIELDS = ("kode_kab", "kode_kec", "kode_desa")


@dataclass(frozen=True)
class View:
    """What a grant shows, worked out once per search call (records are built for thousands of people)."""

    shown: frozenset[str]  # the fields that may appear
    salt: str | None  # de-identified: the token salt
    programs: tuple[str, ...]
    member_extras: tuple[str, ...]  # atribut fields that go into a member's additional_attributes
    regions: tuple[str, ...]  # region code fields shown

    @classmethod
    def of(cls, grant: Grant) -> View:
        deidentified = grant.level == "deidentified"
        shown = frozenset(f for f in grant.fields if not (deidentified and f in DIRECT_IDENTIFIERS))
        extras = ("pendidikan_siak", "pekerjaan_siak", "penyakit_kronis", "jaminan_kesehatan")
        return cls(
            shown=shown,
            salt=grant.token_salt if deidentified and grant.token_salt else None,
            programs=tuple(grant.programs),
            member_extras=tuple(name for name in extras if name in shown),
            regions=tuple(name for name in REGION_FIELDS if name in shown),
        )


def token(salt: str, value: str | None) -> str | None:
    """The de-identification token of a value: ``sha256(salt || value)`` as lowercase hex (DuckDB's
    ``sha256(salt || value)`` in :func:`dtsen.sharing.extracts.person_sql`); None stays None."""
    if value is None:
        return None
    return hashlib.sha256((salt + value).encode("utf-8")).hexdigest()


def _identifier(kind: str, value: str | None) -> list[dict[str, Any]]:
    return (
        [] if value is None else [{"@type": "Identifier", "identifier_type": kind, "identifier_value": value}]
    )


def person_identifiers(view: View, person: Mapping[str, Any]) -> list[dict[str, Any]]:
    """NIK (byname, if approved) or its token (deidentified)."""
    if view.salt is not None:
        return _identifier("TOKEN_NIK", token(view.salt, person.get("nik")))
    return _identifier("NIK", person.get("nik")) if "nik" in view.shown else []


def group_identifiers(view: View, family: Mapping[str, Any]) -> list[dict[str, Any]]:
    """KK (byname, if approved) or the KK and family tokens (deidentified)."""
    if view.salt is not None:
        return _identifier("TOKEN_KK", token(view.salt, family.get("no_kk"))) + _identifier(
            "TOKEN_KELUARGA", token(view.salt, family.get("id_keluarga_dtsen"))
        )
    return _identifier("KK", family.get("no_kk")) if "no_kk" in view.shown else []


def sr_person(view: View, person: Mapping[str, Any]) -> dict[str, Any]:
    """The person's ``SRPerson`` (demographic_info) with only what the grant shows."""
    shown = view.shown
    extra: Mapping[str, Any] = person.get("atribut") or {}
    out: dict[str, Any] = {"@type": "SRPerson", "identifier": person_identifiers(view, person)}
    if "nama" in shown and person.get("nama"):
        out["name"] = {"@type": "Name", "given_name": person["nama"]}
    if "jenis_kelamin" in shown and person.get("jenis_kelamin") in SEX:
        out["sex"] = SEX[person["jenis_kelamin"]]
    born = person.get("tanggal_lahir")
    if "tanggal_lahir" in shown and isinstance(born, date):
        out["birth_date"] = born.isoformat()
    if "tempat_lahir" in shown and extra.get("tempat_lahir"):
        out["birth_place"] = extra["tempat_lahir"]
    if "alamat" in shown and person.get("alamat"):
        out["address"] = {"@type": "Address", "street_address": person["alamat"]}
    if view.salt is not None and isinstance(born, date):
        out["additional_attributes"] = [{"birth_year": born.year}]
    return out


def member(view: View, person: Mapping[str, Any], *, base: str, regions: bool = True) -> dict[str, Any]:
    """One person as a ``Member`` (``@id`` is the DTSEN person id, or a token for de-identified grants)."""
    shown = view.shown
    extra: Mapping[str, Any] = person.get("atribut") or {}
    ident = person["id_dtsen"] if view.salt is None else token(view.salt, person["id_dtsen"])
    out: dict[str, Any] = {
        "@type": "spdci:Member",
        "@id": f"{base}/member/{ident}",
        "member_identifier": person_identifiers(view, person),
        "demographic_info": sr_person(view, person),
    }
    if "hubungan" in shown and person.get("hubungan") in RELATIONSHIP:
        out["relationship_head"] = RELATIONSHIP[person["hubungan"]]
    if "status_kawin" in shown and extra.get("status_kawin") in MARITAL:
        out["marital_status"] = MARITAL[extra["status_kawin"]]
    if "bekerja" in shown and extra.get("bekerja") is not None:
        out["employment_status"] = "employed" if extra["bekerja"] else "not_employed"
    extras = [{name: extra.get(name)} for name in view.member_extras]
    if regions:
        extras += [{name: person.get(name)} for name in view.regions]
    if extras:
        out["additional_attributes"] = extras
    return out


def family_attributes(
    view: View, family: Mapping[str, Any], eligible: Mapping[str, bool]
) -> list[dict[str, Any]]:
    """Approved family-level values that have no place of their own in a Group (``{name: value}``)."""
    out: list[dict[str, Any]] = []
    if "desil_kabkota" in view.shown:
        out.append({"desil_kabkota": family.get("desil_kabkota")})
    if "perkotaan" in view.shown:
        out.append({"perkotaan": family.get("perkotaan")})
    out += [{name: family.get(name)} for name in view.regions]
    out += [{f"layak_{code}": bool(eligible.get(code, False))} for code in view.programs]
    return out


def group(
    view: View,
    family: Mapping[str, Any],
    members: Sequence[Mapping[str, Any]],
    eligible: Mapping[str, bool],
    *,
    base: str,
    updated: str | None = None,
) -> dict[str, Any]:
    """One family as a ``Group`` with its members (head first when there is one)."""
    ident = family["id_keluarga_dtsen"]
    if view.salt is not None:
        ident = token(view.salt, ident)
    listed = [member(view, person, base=base) for person in members]
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "spdci:Group",
        "@id": f"{base}/group/{ident}",
        "group_identifier": group_identifiers(view, family),
        "group_type": "family",
    }
    if "alamat" in view.shown and family.get("alamat"):
        out["place"] = {"@type": "Place", "address": family["alamat"]}
    if "desil_nasional" in view.shown:
        out["poverty_score"] = family.get("desil_nasional")
        out["poverty_score_type"] = "desil_nasional"
    if "jumlah_anggota" in view.shown:
        out["group_size"] = family.get("jumlah_anggota")
    heads = [item for person, item in zip(members, listed, strict=True) if person.get("hubungan") == 1]
    if heads:
        out["group_head_info"] = heads[0]
    out["member_list"] = listed
    if updated:
        out["last_updated"] = updated
    out["additional_attributes"] = family_attributes(view, family, eligible)
    return out


def member_record(
    view: View,
    person: Mapping[str, Any],
    family: Mapping[str, Any] | None,
    eligible: Mapping[str, bool],
    *,
    base: str,
) -> dict[str, Any]:
    """A person as a stand-alone ``Member`` record (``response_entity`` Member): the member, with the
    approved family-level values (desil, group size, program eligibility) among its attributes."""
    out = member(view, person, base=base, regions=family is None)
    out["@context"] = CONTEXT
    if family is not None:
        extras: list[dict[str, Any]] = list(out.get("additional_attributes", []))
        if "desil_nasional" in view.shown:
            extras.append({"poverty_score": family.get("desil_nasional")})
        if "jumlah_anggota" in view.shown:
            extras.append({"group_size": family.get("jumlah_anggota")})
        extras += family_attributes(view, family, eligible)
        if extras:
            out["additional_attributes"] = extras
    return out
