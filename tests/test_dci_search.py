"""DCI search semantics over the served test city, on SQLite and PostgreSQL: what each grant level sees,
the query forms (idtype-value, predicate, expression) against direct SQL counts, the refusals with the
spec's reason codes, region scoping with its audit, batching, and the spec's SearchResponse schema."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.cycle import snapshot as snapshots
from dtsen.sharing import extracts
from dtsen.sharing.dci import grant as grants
from dtsen.sharing.dci import search, spec
from dtsen.sharing.dci.errors import DciError
from dtsen.store.audit import subject_ref
from dtsen.store.dci import DciGrant
from dtsen.store.identity import ApiClient
from dtsen.store.models import AuditLog
from dtsen.store.served import ServedEligibility, ServedFamily, ServedPerson, ServedSnapshot
from dtsen.store.sharing import AccessRequest

NOW = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)
KAB = "3471"
SECRET = "uji-rahasia-deployment"  # noqa: S105
CLIENT = Principal("client", "dtsen-ujiklien", Role.KLIEN_INSTANSI, (KAB,))
BYNAME_FIELDS = frozenset(
    {
        "nik",
        "no_kk",
        "nama",
        "jenis_kelamin",
        "hubungan",
        "desil_nasional",
        "jumlah_anggota",
        "kode_kec",
        "tanggal_lahir",
    }
)
BYNAME = grants.Grant(
    client_id="dtsen-ujiklien",
    request_id=1,
    nomor="AKSES-2026-000001",
    level="byname",
    regions=(KAB,),
    fields=BYNAME_FIELDS,
    programs=("pkh",),
    periode="2026Q2",
    valid_from=date(2026, 1, 1),
    valid_until=date(2026, 12, 31),
    k_min=10,
    token_salt=None,
)


@dataclass(frozen=True)
class City:
    engine: Engine
    data_dir: Path
    nik: str
    no_kk: str
    family: str
    kode_kec: str
    other_kec: str
    niks: tuple[str, ...]  # 60 NIKs of the current snapshot


@pytest.fixture(scope="module")
def city(db_factory: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    from dtsen.store.db import make_engine
    from served_city import city_data_dir, served_database

    data_dir = city_data_dir(tmp_path_factory.getbasetemp())
    url = db_factory()
    served_database(url, data_dir)
    engine = make_engine(url)
    with Session(engine) as session:
        current = session.scalar(select(ServedSnapshot.id).where(ServedSnapshot.is_current))
        person = session.execute(
            select(
                ServedPerson.nik, ServedPerson.no_kk, ServedPerson.id_keluarga_dtsen, ServedFamily.kode_kec
            )
            .join(
                ServedFamily,
                (ServedFamily.snapshot_id == ServedPerson.snapshot_id)
                & (ServedFamily.id_keluarga_dtsen == ServedPerson.id_keluarga_dtsen),
            )
            .where(
                ServedPerson.snapshot_id == current,
                ServedPerson.nik.is_not(None),
                ServedPerson.no_kk.is_not(None),
                ServedFamily.no_kk == ServedPerson.no_kk,
                ServedFamily.desil_nasional.is_not(None),
                ServedFamily.jumlah_anggota >= 3,
            )
            .order_by(ServedPerson.id_dtsen)
            .limit(1)
        ).one()
        other = session.scalar(
            select(ServedFamily.kode_kec)
            .where(ServedFamily.snapshot_id == current, ServedFamily.kode_kec != person.kode_kec)
            .order_by(ServedFamily.kode_kec)
            .limit(1)
        )
        niks = session.scalars(
            select(ServedPerson.nik)
            .where(ServedPerson.snapshot_id == current, ServedPerson.nik.is_not(None))
            .order_by(ServedPerson.id_dtsen)
            .limit(60)
        ).all()
    yield City(
        engine,
        data_dir,
        person.nik,
        person.no_kk,
        person.id_keluarga_dtsen,
        person.kode_kec,
        str(other),
        tuple(niks),
    )
    engine.dispose()


@pytest.fixture
def session(city: City) -> Iterator[Session]:
    with Session(city.engine) as s:
        yield s
        s.rollback()


def item(query_type: str, query: Any, **criteria: Any) -> dict[str, Any]:
    return {
        "reference_id": "ref-1",
        "timestamp": NOW.isoformat(),
        "search_criteria": {"version": "1.0.0", "query_type": query_type, "query": query, **criteria},
        "locale": "eng",
    }


def by_nik(nik: str, entity: str = "Group") -> dict[str, Any]:
    return item("idtype-value", {"type": "NIK", "value": nik}, response_entity=entity)


def last_id(session: Session) -> int:
    return session.scalar(select(func.max(AuditLog.id))) or 0


def appended(session: Session, since: int) -> list[AuditLog]:
    session.flush()
    return list(session.scalars(select(AuditLog).where(AuditLog.id > since).order_by(AuditLog.id)))


def valid(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer item validates against the spec's SearchResponse item schema (H1a's spec module)."""
    message = {"transaction_id": "t-1", "correlation_id": "c-1", "search_response": [answer]}
    spec.validate_schema("social", "SearchResponse", message)
    return answer


def flat(values: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: value for pair in values for key, value in pair.items()}


# -- idtype-value --------------------------------------------------------------------------------------------
def test_nik_gives_the_family_with_only_the_approved_fields_and_audits_each_member(
    city: City, session: Session
) -> None:
    start = last_id(session)
    answer = valid(search.run_search(session, CLIENT, BYNAME, by_nik(city.nik), now=NOW))
    assert answer["status"] == "succ"
    assert answer["reference_id"] == "ref-1"
    assert answer["locale"] == "eng"
    assert answer["pagination"] == {"page_size": 100, "page_number": 1, "total_count": 1}
    [group] = answer["data"]["reg_records"]
    assert group["@type"] == "spdci:Group"
    assert group["group_identifier"][0] == {
        "@type": "Identifier",
        "identifier_type": "KK",
        "identifier_value": city.no_kk,
    }
    family = session.execute(
        select(ServedFamily).where(
            ServedFamily.id_keluarga_dtsen == city.family,
            ServedFamily.snapshot_id
            == select(ServedSnapshot.id).where(ServedSnapshot.is_current).scalar_subquery(),
        )
    ).scalar_one()
    assert group["poverty_score"] == family.desil_nasional
    assert group["group_size"] == family.jumlah_anggota
    assert flat(group["additional_attributes"])["kode_kec"] == city.kode_kec
    assert "layak_pkh" in flat(group["additional_attributes"])
    members = group["member_list"]
    niks = [m["member_identifier"][0]["identifier_value"] for m in members if m["member_identifier"]]
    assert city.nik in niks
    person = members[niks.index(city.nik)]["demographic_info"]
    assert set(person) <= {"@type", "identifier", "name", "sex", "birth_date"}
    for absent in ("place", "address", "birth_place", "marital_status"):  # alamat, status_kawin not granted
        assert all(absent not in m and absent not in m["demographic_info"] for m in members)
    entries = appended(session, start)
    assert [e.action for e in entries] == ["read"] * len(members)
    assert subject_ref(city.nik) in {e.subject_ref for e in entries}
    assert all(e.actor == "client:dtsen-ujiklien" and e.resource == "dci_search" for e in entries)
    assert all(city.nik not in str(e.detail) and e.detail["nomor"] == BYNAME.nomor for e in entries)


def test_nik_as_member_and_kk_as_family(city: City, session: Session) -> None:
    answer = valid(search.run_search(session, CLIENT, BYNAME, by_nik(city.nik, "Member"), now=NOW))
    [person] = answer["data"]["reg_records"]
    assert person["@type"] == "spdci:Member"
    assert person["member_identifier"][0]["identifier_value"] == city.nik
    assert "poverty_score" in flat(person["additional_attributes"])
    kk = item(
        "idtype-value",
        {"type": "KK", "value": city.no_kk},
        response_entity="Member",
        pagination={"page_size": 50, "page_number": 1},
    )
    members = valid(search.run_search(session, CLIENT, BYNAME, kk, now=NOW))["data"]["reg_records"]
    assert city.nik in [m["member_identifier"][0]["identifier_value"] for m in members]
    nid = item("idtype-value", {"type": "NID", "value": city.nik})  # the spec samples' name for a national id
    assert search.run_search(session, CLIENT, BYNAME, nid, now=NOW)["pagination"]["total_count"] == 1


def test_out_of_region_answers_like_unknown_and_is_audited_denied(city: City, session: Session) -> None:
    elsewhere = replace(BYNAME, regions=(city.other_kec,))
    start = last_id(session)
    answer = valid(search.run_search(session, CLIENT, elsewhere, by_nik(city.nik), now=NOW))
    unknown = search.run_search(session, CLIENT, BYNAME, by_nik("3471999999999999"), now=NOW)
    assert answer["data"]["reg_records"] == unknown["data"]["reg_records"] == []
    assert answer["pagination"]["total_count"] == 0
    entries = appended(session, start)
    assert [(e.action, e.subject_ref) for e in entries] == [("read_denied", subject_ref(city.nik))]
    # The client's own regions limit too: a grant for the whole city, a client bound elsewhere.
    narrow_client = replace(CLIENT, regions=(city.other_kec,))
    assert (
        search.run_search(session, narrow_client, BYNAME, by_nik(city.nik), now=NOW)["data"]["reg_records"]
        == []
    )


# -- predicate and expression ------------------------------------------------------------------------------
def _count(session: Session, *conditions: Any) -> int:
    current = select(ServedSnapshot.id).where(ServedSnapshot.is_current).scalar_subquery()
    return int(
        session.scalar(
            select(func.count())
            .select_from(ServedFamily)
            .where(ServedFamily.snapshot_id == current, ServedFamily.kode_kab == KAB, *conditions)
        )
        or 0
    )


def test_predicate_matches_direct_sql_with_sort_and_pages(city: City, session: Session) -> None:
    query = [
        {
            "seq_num": 2,
            "expression1": {"attribute_name": "group_size", "operator": "ge", "attribute_value": 3},
        },
        {
            "seq_num": 1,
            "expression1": {"attribute_name": "poverty_score", "operator": "le", "attribute_value": "4"},
            "condition": "or",
            "expression2": {"attribute_name": "kode_kec", "operator": "eq", "attribute_value": city.kode_kec},
        },
    ]
    expected = _count(
        session,
        ServedFamily.jumlah_anggota >= 3,
        (ServedFamily.desil_nasional <= 4) | (ServedFamily.kode_kec == city.kode_kec),
    )
    assert expected > 20
    pages = []
    for number in (1, 2):
        ask = item(
            "predicate",
            query,
            sort=[{"attribute_name": "poverty_score", "sort_order": "desc"}],
            pagination={"page_size": 10, "page_number": number},
        )
        answer = valid(search.run_search(session, CLIENT, BYNAME, ask, now=NOW))
        assert answer["pagination"] == {"page_size": 10, "page_number": number, "total_count": expected}
        pages += answer["data"]["reg_records"]
    assert len({g["@id"] for g in pages}) == 20
    scores = [g["poverty_score"] for g in pages]
    assert scores == sorted(scores, key=lambda s: -(s if s is not None else -1))
    assert all(g["group_size"] >= 3 for g in pages)
    assert all(
        (g["poverty_score"] or 99) <= 4 or flat(g["additional_attributes"])["kode_kec"] == city.kode_kec
        for g in pages
    )
    # "in" takes a comma-separated scalar (the predicate schema's attribute_value is not a list).
    both = [
        {
            "expression1": {
                "attribute_name": "kode_kec",
                "operator": "in",
                "attribute_value": f"{city.kode_kec},{city.other_kec}",
            }
        }
    ]
    answer = search.run_search(
        session, CLIENT, BYNAME, item("predicate", both, pagination={"page_size": 1}), now=NOW
    )
    assert answer["pagination"]["total_count"] == _count(
        session, ServedFamily.kode_kec.in_([city.kode_kec, city.other_kec])
    )


def test_nosql_expression_with_programs_matches_direct_sql(city: City, session: Session) -> None:
    current = select(ServedSnapshot.id).where(ServedSnapshot.is_current).scalar_subquery()
    eligible = select(ServedEligibility.id_keluarga_dtsen).where(
        ServedEligibility.snapshot_id == current,
        ServedEligibility.program == "pkh",
        ServedEligibility.layak.is_(True),
    )
    expression = {
        "type": "ns:org:QueryType:NoSql",
        "value": {
            "expression": {
                "collection": "Group",
                "query": {
                    "$and": [
                        {"program": {"$in": ["pkh"]}},
                        {"$or": [{"desil_nasional": {"$lt": 3}}, {"group_size": {"$gte": 6}}]},
                        {"$not": {"kode_kec": city.other_kec}},
                    ]
                },
            }
        },
    }
    expected = _count(
        session,
        ServedFamily.id_keluarga_dtsen.in_(eligible),
        (ServedFamily.desil_nasional < 3) | (ServedFamily.jumlah_anggota >= 6),
        ~(ServedFamily.kode_kec == city.other_kec),
    )
    ask = item("expression", expression, pagination={"page_size": 1000})
    answer = valid(search.run_search(session, CLIENT, BYNAME, ask, now=NOW))
    assert answer["pagination"]["total_count"] == expected > 0
    assert len(answer["data"]["reg_records"]) == expected
    assert all(flat(g["additional_attributes"])["layak_pkh"] for g in answer["data"]["reg_records"])
    members = item("expression", expression, response_entity="Member", pagination={"page_size": 5})
    listed = valid(search.run_search(session, CLIENT, BYNAME, members, now=NOW))
    assert listed["pagination"]["total_count"] > expected
    assert len(listed["data"]["reg_records"]) == 5


@pytest.mark.parametrize(
    ("ask", "code", "named"),
    [
        (
            item(
                "predicate",
                [
                    {
                        "expression1": {
                            "attribute_name": "desil_kabkota",
                            "operator": "eq",
                            "attribute_value": 1,
                        }
                    }
                ],
            ),
            "rjct.filter.invalid",
            "desil_kabkota",
        ),
        (
            item("expression", {"type": "NoSql", "value": {"expression": {"query": {"nama": "SITI"}}}}),
            "rjct.filter.invalid",
            "nama",
        ),
        (
            item(
                "predicate",
                [{"expression1": {"attribute_name": "program", "operator": "eq", "attribute_value": "bpnt"}}],
            ),
            "rjct.filter.invalid",
            "bpnt",
        ),
        (
            item(
                "expression",
                {"type": "NoSql", "value": {"expression": {"query": {"desil": {"$regex": "1"}}}}},
            ),
            "rjct.filter.invalid",
            "$regex",
        ),
        (item("graphql", {"q": 1}), "rjct.search_criteria.invalid", "graphql"),
        (item("idtype-value", {"type": "PASPOR", "value": "1"}), "rjct.search_criteria.invalid", "PASPOR"),
        (item("idtype-value", {"type": "NIK", "value": "123"}), "rjct.search_criteria.invalid", "16 digits"),
        (
            item(
                "predicate",
                [{"expression1": {"attribute_name": "desil", "operator": "eq", "attribute_value": 1}}],
                sort=[{"attribute_name": "nama", "sort_order": "asc"}],
            ),
            "rjct.sort.invalid",
            "nama",
        ),
        (
            item(
                "predicate",
                [{"expression1": {"attribute_name": "desil", "operator": "eq", "attribute_value": 1}}],
                pagination={"page_size": 5000},
            ),
            "rjct.pagination.invalid",
            "page_size",
        ),
        (
            item(
                "predicate",
                [{"expression1": {"attribute_name": "desil", "operator": "le", "attribute_value": 10}}],
            ),
            "rjct.search.too_many_records_found",
            "pagination",
        ),
    ],
)
def test_refusals_carry_the_spec_reason_code(
    session: Session, ask: dict[str, Any], code: str, named: str
) -> None:
    with pytest.raises(DciError) as refused:
        search.run_search(session, CLIENT, BYNAME, ask, now=NOW)
    assert refused.value.code == code
    assert named in refused.value.message
    [answer] = search.run_search_many(session, CLIENT, BYNAME, [ask], now=NOW)
    assert valid(answer)["status"] == "rjct"
    assert answer["status_reason_code"] == code


# -- levels ------------------------------------------------------------------------------------------------
def test_deidentified_tokens_equal_the_extracts_and_hide_identifiers(city: City, session: Session) -> None:
    salt = extracts.token_salt(SECRET, "AKSES-2026-000002")
    deid = replace(BYNAME, nomor="AKSES-2026-000002", level="deidentified", token_salt=salt)
    with pytest.raises(DciError) as refused:
        search.run_search(session, CLIENT, deid, by_nik(city.nik), now=NOW)
    assert refused.value.code == "rjct.filter.invalid"
    ask = item(
        "predicate",
        [{"expression1": {"attribute_name": "kode_kec", "operator": "eq", "attribute_value": city.kode_kec}}],
        response_entity="Member",
        pagination={"page_size": 1000},
    )
    answer = valid(search.run_search(session, CLIENT, deid, ask, now=NOW))
    people = answer["data"]["reg_records"]
    text = str(people)
    assert people
    assert city.nik not in text
    assert city.no_kk not in text
    for person in people:
        info = person["demographic_info"]
        assert set(info) <= {"@type", "identifier", "sex", "additional_attributes"}
        assert info["identifier"][0]["identifier_type"] == "TOKEN_NIK" or not info["identifier"]
    # The same token as the request's de-identified extract (DuckDB over the snapshot's files).
    request = AccessRequest(
        nomor=deid.nomor,
        level="deidentified",
        regions=[KAB],
        fields=["jenis_kelamin", "kode_kec"],
        programs=[],
        tautan=None,
    )
    snap = snapshots.open_snapshot("current", city.data_dir)
    con = duckdb.connect()
    for name in ("families", "persons", "scores", "eligibility"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{snap.file(name + '.parquet')}')")  # noqa: S608
    rows = con.execute(extracts.person_sql(request, salt)).fetchall()
    by_token = {row[0]: row for row in rows}
    searched = {p["member_identifier"][0]["identifier_value"]: p for p in people if p["member_identifier"]}
    assert searched
    assert set(searched) <= set(by_token)
    for token_nik, person in searched.items():
        born = flat(person["demographic_info"].get("additional_attributes", [])).get("birth_year")
        assert born == by_token[token_nik][3]  # tahun_lahir
    assert hashlib.sha256((salt + city.nik).encode()).hexdigest() in by_token


def test_aggregate_grants_cannot_search(session: Session, city: City) -> None:
    aggregate = replace(BYNAME, level="aggregate")
    with pytest.raises(DciError) as refused:
        search.run_search_many(session, CLIENT, aggregate, [by_nik(city.nik)], now=NOW)
    assert (refused.value.code, refused.value.http_status) == ("err.request.forbidden", 403)


# -- batching ----------------------------------------------------------------------------------------------
def _statements(engine: Engine) -> tuple[list[str], Callable[[], None]]:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The audit module's own batching is its business (a few entries in one chained append, more in
        # three statements; SQLite inserts its rows one by one).
        if not any(name in statement.lower() for name in ("audit_log", "audit_chain_head", "audit_append(")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    return seen, lambda: event.remove(engine, "before_cursor_execute", listen)


def test_a_batch_of_niks_costs_the_same_statements_as_a_few(city: City, session: Session) -> None:
    counts = []
    for size in (3, 60):
        items = [by_nik(nik) | {"reference_id": f"r{i}"} for i, nik in enumerate(city.niks[:size])]
        items.append(item("idtype-value", {"type": "NIK", "value": "12"}))  # one bad item among them
        seen, stop = _statements(city.engine)
        try:
            answers = search.run_search_many(session, CLIENT, BYNAME, items, now=NOW)
        finally:
            stop()
        counts.append(len(seen))
        assert [a["reference_id"] for a in answers[:-1]] == [f"r{i}" for i in range(size)]
        assert all(a["status"] == "succ" and a["pagination"]["total_count"] == 1 for a in answers[:-1])
        assert answers[-1]["status_reason_code"] == "rjct.search_criteria.invalid"
    assert counts[0] == counts[1]


# -- grants ------------------------------------------------------------------------------------------------
def test_grant_for_needs_a_linked_approved_valid_request(city: City, session: Session) -> None:
    client = ApiClient(
        client_id="dtsen-ujigrant",
        secret_hash="x",  # noqa: S106
        name="Uji",
        organisation=None,
        role="klien_instansi",
        scopes="",
        active=True,
        created_at=NOW,
        revoked_at=None,
    )
    session.add(client)
    session.flush()
    with pytest.raises(DciError) as refused:
        grants.grant_for(session, client, secret=SECRET, now=NOW)
    assert refused.value.http_status == 403
    request = AccessRequest(
        nomor="AKSES-2026-000009",
        instansi="Dinas Uji",
        pemohon="client:dtsen-ujigrant",
        tujuan="uji",
        dasar_hukum="uji",
        level="deidentified",
        regions=[KAB],
        fields=["jenis_kelamin"],
        programs=["pkh"],
        periode="2026Q2",
        k_min=10,
        tautan=None,
        valid_from=date(2026, 1, 1),
        valid_until=date(2026, 12, 31),
        state="disetujui",
        version=3,
        pernyataan_sha256="0" * 64,
        pernyataan_mime="application/pdf",
        reviews=[],
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(request)
    session.flush()
    session.add(DciGrant(client_pk=client.id, request_id=request.id, created_at=NOW, created_by="user:uji"))
    session.flush()
    got = grants.grant_for(session, client, secret=SECRET, now=NOW)
    assert (got.nomor, got.level, got.regions, got.programs) == (
        "AKSES-2026-000009",
        "deidentified",
        (KAB,),
        ("pkh",),
    )
    assert got.token_salt == extracts.token_salt(SECRET, "AKSES-2026-000009")
    with pytest.raises(DciError):
        grants.grant_for(session, client, secret=SECRET, now=NOW + timedelta(days=365))  # expired
    request.state = "kedaluwarsa"
    session.flush()
    with pytest.raises(DciError):
        grants.grant_for(session, client, secret=SECRET, now=NOW)
