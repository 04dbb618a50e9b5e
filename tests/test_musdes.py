"""Musyawarah desa on SQLite and PostgreSQL: who may open one, its agenda, decisions moving the cases, the
berita acara PDF, the signed scan, closing; then the same through the staff pages."""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.store.cases import MusdesItem, MusdesSession, WorkflowCase
from dtsen.store.models import AuditLog
from dtsen.workflows import berita_acara, cases, moves, musdes
from workflow_world import add_pendamping

START = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
DAY = date(2026, 7, 3)
HADIR = [{"nama": "Sutrisno", "unsur": "Kepala Desa"}, {"nama": "Wahyuni", "unsur": "BPD"}]
PASSWORD = "Musdes-uji-2026!kata"  # noqa: S105 - throwaway accounts on a test database


def operator(desa: str) -> Principal:
    return Principal(kind="user", name=f"op_{desa}", role=Role.OPERATOR_DESA, regions=(desa,))


PENDAMPING = Principal(kind="user", name="pendamping1", role=Role.PENDAMPING, regions=("3471",))
DINSOS = Principal(kind="user", name="dinsos_kota", role=Role.DINSOS, regions=("3471",))


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.rollback()


@pytest.fixture(scope="module", autouse=True)
def _pendamping_account(engine: Engine) -> None:
    add_pendamping(engine, "pendamping1", "3471")


def visited(session: Session, desa: str, nama: str, jenis: str = "usulan") -> WorkflowCase:
    """A case of the village walked to ``dikunjungi`` (a proposal through the desa, an objection through
    the dinsos' ground check)."""
    op = operator(desa)
    case = cases.open_case(
        session, op, cases.CaseInput(jenis, "2026Q3", desa, "desa", subject_nama=nama), now=START
    )
    path = (
        [(op, "konfirmasi"), (op, "tugaskan_kunjungan")]
        if jenis == "usulan"
        else [(op, "konfirmasi"), (DINSOS, "periksa_lapangan")]
    )
    path.append((PENDAMPING, "laporkan_kunjungan"))
    fields = {"pendamping": "pendamping1", "hasil": {"hadir": True}}
    for actor, action in path:
        case = moves.act(session, actor, case.id, action, version=case.version, fields=fields, now=START)
    assert case.state == "dikunjungi"
    return case


def pdf_strings(pdf: bytes) -> bytes:
    """Every stream of the PDF decompressed, joined: the document information (title) and bookmarks are
    plain strings there (page text is glyph ids, unreadable without a PDF library, which is no dependency)."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (250, 250, 250)).save(out, format="PNG")
    return out.getvalue()


def audits_since(session: Session, before: int | None) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.id > (before or 0)).order_by(AuditLog.id)))


def last_audit_id(session: Session) -> int | None:
    return session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1))


# -- the service -------------------------------------------------------------------------------------------
def test_only_the_villages_operator_opens_and_the_agenda_holds_its_visited_proposals(
    session: Session,
) -> None:
    desa, other = "3471011001", "3471011002"
    first, second = visited(session, desa, "Siti Aminah"), visited(session, desa, "Budi Santoso")
    objection = visited(session, desa, "Rina Wati", "sanggahan")
    elsewhere = visited(session, other, "Agus Salim")
    fresh = cases.open_case(
        session, operator(desa), cases.CaseInput("usulan", "2026Q3", desa, "desa"), now=START
    )

    before = last_audit_id(session)
    with pytest.raises(musdes.MusdesNotFoundError):  # another village's operator: as if it did not exist
        musdes.open_session(session, operator(other), desa, DAY, "Balai desa", "Sutrisno", HADIR, now=START)
    with pytest.raises(cases.CaseRefusedError) as refused:  # the dinsos sees the village but does not run it
        musdes.open_session(session, DINSOS, desa, DAY, "Balai desa", "Sutrisno", HADIR, now=START)
    assert refused.value.status == 403
    assert [(e.action, e.actor, e.region_kode) for e in audits_since(session, before)] == [
        ("read_denied", f"user:op_{other}", desa),
        ("access_denied", "user:dinsos_kota", desa),
    ]
    with pytest.raises(cases.CaseInvalidError) as invalid:
        musdes.open_session(session, operator(desa), desa, DAY, " ", "", [{"nama": "Tanpa Unsur"}], now=START)
    assert set(invalid.value.errors) == {"tempat", "pimpinan", "hadir_1"}

    opened = musdes.open_session(
        session, operator(desa), desa, DAY, "Balai desa", "Sutrisno", HADIR, now=START
    )
    assert re.fullmatch(rf"MUSDES-{desa}-\d{{4}}Q\d-1", opened.nomor)
    assert (opened.status, opened.version, opened.hadir) == ("dibuka", 1, HADIR)
    on_agenda = {row.case.id for row in musdes.agenda(session, opened)}
    # visited proposals only: not the objection (the dinsos decides it), not another village's, not one
    # still waiting for its visit
    assert on_agenda == {first.id, second.id}
    assert not on_agenda & {objection.id, elsewhere.id, fresh.id}
    with pytest.raises(cases.CaseStateError):  # one open session per village
        musdes.open_session(session, operator(desa), desa, DAY, "Balai desa", "Sutrisno", HADIR, now=START)
    created = audits_since(session, before)[-1]
    assert (created.action, created.resource, created.detail["musdes"]) == (
        "create",
        "musdes_session",
        opened.nomor,
    )
    with pytest.raises(cases.CaseStateError):  # a village with no visited proposal has nothing to decide
        musdes.open_session(
            session, operator("3471011003"), "3471011003", DAY, "Balai", "Ketua", HADIR, now=START
        )


def test_decisions_minutes_scan_and_closing(session: Session, tmp_path: Path) -> None:
    desa = "3471021001"
    op = operator(desa)
    yes, no, later = (
        visited(session, desa, name) for name in ("Siti Aminah", "Budi Santoso", "Dewi Lestari")
    )
    sesi = musdes.open_session(session, op, desa, DAY, "Balai Kelurahan Bumijo", "Sutrisno", HADIR, now=START)

    with pytest.raises(cases.CaseInvalidError) as invalid:  # a rejection needs its reason
        musdes.decide_item(session, op, sesi.id, no.id, "tolak", "", sesi.version, now=START)
    assert set(invalid.value.errors) == {"catatan"}
    with pytest.raises(musdes.MusdesConflictError):  # decided on a page older than the session
        musdes.decide_item(session, op, sesi.id, yes.id, "setuju", "", sesi.version + 5, now=START)
    with pytest.raises(cases.CaseRefusedError):
        musdes.decide_item(session, DINSOS, sesi.id, yes.id, "setuju", "", sesi.version, now=START)

    musdes.decide_item(session, op, sesi.id, yes.id, "setuju", "Layak", sesi.version, now=START)
    musdes.decide_item(session, op, sesi.id, no.id, "tolak", "Sudah mampu", sesi.version, now=START)
    musdes.decide_item(session, op, sesi.id, later.id, "tunda", "Data belum lengkap", sesi.version, now=START)
    for case in (yes, no, later):
        session.refresh(case)
    assert (yes.state, no.state, later.state) == ("verifikasi", "ditolak", "dikunjungi")
    assert yes.data["musdes"] == sesi.nomor
    assert no.data["alasan"] == "Sudah mampu"
    steps = [(s.action, s.fields) for s in cases.steps_of(session, no)]
    assert steps[-1] == ("tolak_musdes", {"musdes": sesi.nomor, "alasan": "Sudah mampu"})
    with pytest.raises(cases.CaseStateError):  # a decided case is not decided twice
        musdes.decide_item(session, op, sesi.id, yes.id, "tolak", "Salah", sesi.version, now=START)

    # Closing: refused until the minutes of these decisions are downloaded and their signed scan uploaded.
    with pytest.raises(musdes.MusdesIncompleteError) as incomplete:
        musdes.close_session(session, op, sesi.id, sesi.version, now=START)
    assert incomplete.value.status == 422
    assert set(incomplete.value.errors) == {"berita_acara", "pindaian"}
    with pytest.raises(cases.CaseStateError):  # no scan before the minutes to sign exist
        berita_acara.upload_scan(session, op, sesi.id, png(), "ba.png", root=tmp_path, version=sesi.version)

    pdf = berita_acara.render_berita_acara(session, op, sesi.id)
    assert pdf.startswith(b"%PDF")
    text = pdf_strings(pdf)
    assert b"Bumijo" in text
    assert sesi.nomor.encode() in text
    session.refresh(sesi)
    assert sesi.berita_acara_sha256 is not None
    version = sesi.version  # rendering is no new version: the officer's open page stays valid

    with pytest.raises(berita_acara.ScanRejectedError) as rejected:  # type by content
        berita_acara.upload_scan(
            session, op, sesi.id, b"MZ\x90\x00 not a scan", "ba.pdf", root=tmp_path, version=version
        )
    assert rejected.value.status == 415
    berita_acara.upload_scan(session, op, sesi.id, png(), "ba.png", root=tmp_path, version=version)
    assert sesi.scan_mime == "image/png"
    assert (tmp_path / sesi.scan_sha256[:2] / sesi.scan_sha256[2:4] / sesi.scan_sha256).exists()

    # The postponed case decided now: the signed minutes no longer match, so they must be signed again.
    musdes.decide_item(session, op, sesi.id, later.id, "setuju", "", sesi.version, now=START)
    assert (sesi.berita_acara_sha256, sesi.scan_sha256) == (None, None)
    with pytest.raises(musdes.MusdesIncompleteError):
        musdes.close_session(session, op, sesi.id, sesi.version, now=START)
    berita_acara.render_berita_acara(session, op, sesi.id)
    session.refresh(sesi)
    berita_acara.upload_scan(session, op, sesi.id, png(), "ba.png", root=tmp_path, version=sesi.version)
    closed = musdes.close_session(session, op, sesi.id, sesi.version, now=START)
    assert (closed.status, closed.closed_by, closed.closed_at) == ("ditutup", op.name, START)

    with pytest.raises(cases.CaseStateError):  # a decision replayed after closing
        musdes.decide_item(session, op, sesi.id, later.id, "tolak", "Terlambat", closed.version, now=START)
    # The minutes of a closed session render to the very document whose hash was kept; the dinsos may read.
    again = berita_acara.render_berita_acara(session, DINSOS, sesi.id)
    assert hashlib.sha256(again).hexdigest() == closed.berita_acara_sha256
    decided = session.scalars(select(MusdesItem).where(MusdesItem.session_id == sesi.id)).all()
    assert all(item.decided for item in decided)


def test_a_half_done_decision_leaves_nothing_behind(session: Session) -> None:
    """The case moved by the dinsos meanwhile: the decision is refused and the session is as it was."""
    desa = "3471011003"
    op = operator(desa)
    case = visited(session, desa, "Siti Aminah")
    sesi = musdes.open_session(session, op, desa, DAY, "Balai", "Ketua", HADIR, now=START)
    moves.act(session, DINSOS, case.id, "tolak", version=case.version, fields={"alasan": "Ganda"}, now=START)
    with pytest.raises(cases.CaseStateError):
        musdes.decide_item(session, op, sesi.id, case.id, "setuju", "", sesi.version, now=START)
    session.refresh(sesi)
    item = session.scalars(select(MusdesItem).where(MusdesItem.session_id == sesi.id)).one()
    assert (sesi.version, item.decided, item.keputusan) == (1, False, None)


# -- the pages ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def web(db_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from fastapi.testclient import TestClient

    from dtsen.api.app import create_app
    from dtsen.auth.accounts import create_user
    from dtsen.auth.policy import DEFAULT_POLICY, SESSION_COOKIE
    from dtsen.auth.sessions import create_session
    from dtsen.store.db import session_scope

    desa = "3471011002"
    now = datetime.now(UTC)
    users = {}
    for name, role, regions in (
        ("operator", "operator_desa", (desa,)),
        ("dinsos", "dinsos", ("3471",)),
        ("lain", "operator_desa", ("3471021001",)),
    ):
        with session_scope(engine=engine) as db:
            user = create_user(
                db,
                username=f"musdes.{name}",
                full_name=name,
                role=role,
                regions=regions,
                password=PASSWORD,
                now=now,
                actor={"actor": "system:test", "actor_role": None},
            )
            created = create_session(db, user, now=now, policy=DEFAULT_POLICY)
            users[name] = ({SESSION_COOKIE: created.token}, created.row.csrf_token)
    with session_scope(engine=engine) as db:
        ids = [visited(db, desa, name).id for name in ("Siti Aminah", "Budi Santoso")]
    app = create_app(db_url)
    app.state.upload_dir = tmp_path_factory.mktemp("uploads")
    with TestClient(app) as client:
        yield {"client": client, "users": users, "desa": desa, "cases": ids, "engine": engine}


def as_user(web: dict[str, Any], name: str) -> tuple[Any, str]:
    client = web["client"]
    client.cookies.clear()
    cookies, csrf = web["users"][name]
    for key, value in cookies.items():
        client.cookies.set(key, value)
    return client, csrf


def test_the_pages_open_decide_download_and_refuse_closing_without_the_scan(web: dict[str, Any]) -> None:
    client, csrf = as_user(web, "operator")
    page = client.get("/staf/musdes")
    assert page.status_code == 200
    assert "Buka musyawarah desa" in page.text
    form = {
        "csrf_token": csrf,
        "desa": web["desa"],
        "tanggal": "2026-07-03",
        "tempat": "Balai Kelurahan",
        "pimpinan": "Sutrisno",
        "hadir_nama": ["Sutrisno", "Wahyuni", ""],
        "hadir_unsur": ["Lurah", "LPMK", ""],
    }
    bad = client.post("/staf/musdes", data={**form, "tanggal": "besok"})
    assert bad.status_code == 422
    assert "Tuliskan tanggal musyawarah" in bad.text
    opened = client.post("/staf/musdes", data=form, follow_redirects=False)
    assert opened.status_code == 303, opened.text
    url = opened.headers["location"].split("?")[0]
    sesi_id = int(url.rsplit("/", 1)[1])
    page = client.get(url)
    assert page.status_code == 200
    assert "Siti Aminah" in page.text
    assert "Karangwaru" in page.text
    version = int(re.search(r'name="version" value="(\d+)"', page.text).group(1))

    first, second = web["cases"]
    decided = client.post(
        f"{url}/keputusan",
        follow_redirects=False,
        data={"csrf_token": csrf, "kasus": first, "keputusan": "setuju", "version": version},
    )
    assert decided.status_code == 303
    stale = client.post(
        f"{url}/keputusan",
        data={"csrf_token": csrf, "kasus": second, "keputusan": "tunda", "version": version},
    )
    assert stale.status_code == 409  # the page this form came from is out of date
    assert "baru saja diubah" in stale.text
    rejected = client.post(
        f"{url}/keputusan",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "kasus": second,
            "keputusan": "tolak",
            "catatan": "Sudah mampu",
            "version": version + 1,
        },
    )
    assert rejected.status_code == 303
    with Session(web["engine"]) as db:
        states = {
            c.id: c.state
            for c in db.scalars(select(WorkflowCase).where(WorkflowCase.id.in_([first, second])))
        }
    assert states == {first: "verifikasi", second: "ditolak"}

    pdf = client.get(f"{url}/berita-acara.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert b"Karangwaru" in pdf_strings(pdf.content)

    refused = client.post(f"{url}/tutup", data={"csrf_token": csrf, "version": version + 2})
    assert refused.status_code == 422
    assert "Pindaian berita acara yang sudah ditandatangani belum diunggah." in refused.text
    with Session(web["engine"]) as db:
        assert db.get(MusdesSession, sesi_id).status == "dibuka"

    # The dinsos reads the session and its minutes, but does not run it; another village's operator
    # finds nothing there.
    dinsos, dinsos_csrf = as_user(web, "dinsos")
    assert dinsos.get(url).status_code == 200
    assert dinsos.get(f"{url}/berita-acara.pdf").content.startswith(b"%PDF")
    assert (
        dinsos.post(f"{url}/tutup", data={"csrf_token": dinsos_csrf, "version": version + 2}).status_code
        == 403
    )
    other, _ = as_user(web, "lain")
    assert other.get(url).status_code == 404
    assert other.get(f"{url}/berita-acara.pdf").status_code == 404

    # The signed scan uploaded: now it closes.
    client, csrf = as_user(web, "operator")
    uploaded = client.post(
        f"{url}/pindaian",
        data={"csrf_token": csrf, "version": str(version + 2)},
        files={"berkas": ("ba.png", png(), "image/png")},
        follow_redirects=False,
    )
    assert uploaded.status_code == 303, uploaded.text
    closed = client.post(
        f"{url}/tutup", data={"csrf_token": csrf, "version": version + 3}, follow_redirects=False
    )
    assert closed.status_code == 303
    replay = client.post(
        f"{url}/keputusan",
        data={
            "csrf_token": csrf,
            "kasus": first,
            "keputusan": "tolak",
            "catatan": "x",
            "version": version + 4,
        },
    )
    assert replay.status_code == 409
    assert "sudah ditutup" in replay.text
