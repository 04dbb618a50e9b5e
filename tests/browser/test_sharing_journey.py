"""Issue 13's access-request journey in real Chromium, on SQLite and PostgreSQL:

an agency (``klien_instansi``) files a by-name request for one kecamatan through the form: first without
its signed security statement (refused in Bahasa, the form kept, nothing stored), then with it -> admin
BPS starts and passes the technical review -> Kemensos approves with a reason -> the agency downloads the
BAST (a PDF naming the request) -> produces a CSV extract and downloads it (exactly the persons of the
kecamatan, exactly the approved columns) -> the validity ends (``valid_until`` moved into the past in the
database: no waiting) -> the next download is refused with 410 and the Bahasa message on a proper page,
the request page shows it ended, and the auditor finds the refusal in the trail and the extract with its
request.

One journey per backend (each step needs the one before). Screenshots go to docs/screenshots/akses-*.png
with DTSEN_UPDATE_SCREENSHOTS=1 (SQLite run only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_kit import LiveServer, assert_accessible_basics, assert_fits_width
from sharing_world import (
    AGENCY_KAB,
    BYNAME_FIELDS,
    STATEMENT_PDF,
    Asked,
    asked,
    csv_rows,
    download,
    pdf_strings,
    serving_city_files,
    signed_in,
    today_wib,
    validity,
)
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dtsen.store.models import AuditLog
from dtsen.store.sharing import AccessExtract, AccessRequest

MISSING_STATEMENT = "Unggah surat pernyataan keamanan data yang sudah ditandatangani."
EXPIRED = "Masa berlaku akses permintaan ini sudah berakhir pada"


@pytest.fixture(scope="module")
def sharing(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving_city_files(live_server, tmp_path_factory.mktemp("akses")) as live:
        yield live


def agency(live: LiveServer) -> tuple[str, str]:
    return live.user("klien_instansi", (AGENCY_KAB,))


def requests_of(live: LiveServer, username: str) -> list[AccessRequest]:
    with Session(live.engine) as session:
        rows = list(session.scalars(select(AccessRequest).where(AccessRequest.pemohon == f"user:{username}")))
        session.expunge_all()
        return rows


def fill_request(page: Any, want: Asked) -> None:
    """The filing form as an agency officer types it (everything but the statement)."""
    start, until = validity()
    page.get_by_label("Nama instansi").fill("Dinas Sosial Kota Yogyakarta")
    page.get_by_label("Tujuan penggunaan (KAK)").fill("Pemutakhiran sasaran bantuan pangan kecamatan")
    page.get_by_label("Dasar hukum").fill("Inpres 4/2025; Permen PPN 7/2025")
    page.get_by_label("Kode wilayah (dipisah koma)").fill(want.kode_kec)
    page.get_by_label("Kolom yang diminta (dipisah koma)").fill(", ".join(BYNAME_FIELDS))
    page.get_by_label("Kode program (dipisah koma)").fill(want.program)
    page.get_by_label("Periode data (misalnya 2026Q2)").fill("2026Q2")
    page.get_by_label("Berlaku mulai").fill(start)
    page.get_by_label("Berlaku sampai").fill(until)
    page.get_by_label("Tingkat data").select_option("byname")


def press(page: Any, name: str) -> Any:
    """Click a form's button and wait for the page it leads to; the last response of the navigation."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=name, exact=True).click()
    return navigation.value


def review_step(page: Any, action: str, button: str, note: str | None = None) -> None:
    if note is not None:
        page.locator(f"#{action}-{'alasan' if action in ('setujui', 'tolak') else 'catatan'}").fill(note)
    press(page, button)
    assert page.get_by_role("status").inner_text() == "Langkah telaah dicatat."


def test_request_journey_to_expiry(
    sharing: LiveServer,
    browser: Any,
    desktop: Any,
    phone: Any,
    login: Callable[[Any, str, str], None],
    shoot: Callable[[Any, str], Path],
) -> None:
    want = asked(sharing)
    username, password = agency(sharing)

    # -- the agency files: first without the security statement (refused, nothing stored), then with it ---
    before = len(requests_of(sharing, username))
    login(desktop, username, password)
    desktop.goto("/akses")
    assert_accessible_basics(desktop)
    shoot(desktop, "akses-ajukan")
    fill_request(desktop, want)
    answer = press(desktop, "Ajukan permintaan")
    assert answer.status == 422
    alert = desktop.get_by_role("alert").inner_text()
    assert "Permintaan belum dapat diajukan" in alert
    assert MISSING_STATEMENT in alert
    assert desktop.locator("#f-pernyataan").get_attribute("aria-invalid") == "true"
    assert desktop.get_by_label("Nama instansi").input_value() == "Dinas Sosial Kota Yogyakarta"  # kept
    assert desktop.get_by_label("Kode wilayah (dipisah koma)").input_value() == want.kode_kec
    assert_fits_width(desktop)
    assert_accessible_basics(desktop)
    shoot(desktop, "akses-galat")
    assert len(requests_of(sharing, username)) == before  # nothing stored

    assert desktop.get_by_label("Tingkat data").input_value() == "byname"
    desktop.get_by_label("Surat pernyataan keamanan data (PDF, JPEG atau PNG)").set_input_files(
        {"name": "pernyataan-keamanan.pdf", "mimeType": "application/pdf", "buffer": STATEMENT_PDF}
    )
    press(desktop, "Ajukan permintaan")
    assert re.search(r"/akses/\d+\?ok=diajukan$", desktop.url), desktop.url
    request_id = int(desktop.url.split("?")[0].rsplit("/", 1)[1])
    nomor = desktop.locator("h1 .mono").inner_text()
    assert re.fullmatch(r"AKSES-\d{4}-\d{6}", nomor)
    assert "Permintaan akses diajukan" in desktop.get_by_role("status").inner_text()
    assert "Diajukan" in desktop.locator("dl").inner_text()

    # -- admin BPS: technical review -----------------------------------------------------------------------
    with signed_in(browser, sharing, "admin_bps") as reviewer:
        reviewer.goto("/staf/akses")
        reviewer.get_by_role("link", name=nomor, exact=True).click()
        reviewer.wait_for_load_state()
        assert reviewer.url.endswith(f"/staf/akses/{request_id}")
        review_step(reviewer, "mulai_telaah", "Mulai telaah teknis")
        review_step(reviewer, "lulus_teknis", "Lulus telaah teknis", "Kolom dan wilayah dapat dilayani.")
        assert "Telaah substantif (Kemensos)" in reviewer.locator("dl").inner_text()
        assert not reviewer.get_by_role("button", name="Setujui permintaan").count()  # Kemensos' step
        assert_accessible_basics(reviewer)
        shoot(reviewer, "akses-telaah")

    # -- Kemensos: substantive approval with a reason -> BAST ----------------------------------------------
    with signed_in(browser, sharing, "kemensos") as approver:
        approver.goto(f"/staf/akses/{request_id}")
        review_step(approver, "setujui", "Setujui permintaan", "Sesuai KAK dan dasar hukum.")
        facts = approver.locator("dl").inner_text()
        assert "Disetujui" in facts
        assert "Sesuai KAK dan dasar hukum." in facts
        history = approver.get_by_role("region", name="Riwayat telaah").inner_text()
        for step in ("Mulai telaah teknis", "Lulus telaah teknis", "Setujui permintaan: Sesuai KAK"):
            assert step in history
        assert approver.get_by_role("link", name="Unduh BAST (PDF)").is_visible()
        shoot(approver, "akses-persetujuan")

    # -- the agency: BAST, extract, download ----------------------------------------------------------------
    desktop.goto(f"/akses/{request_id}")
    name, pdf = download(desktop, desktop.get_by_role("link", name="Unduh BAST (PDF)"))
    assert name == f"BAST-{nomor}.pdf"
    assert pdf.startswith(b"%PDF-")
    assert nomor.encode() in pdf_strings(pdf)  # the document is titled with the request number

    desktop.get_by_label("Format").select_option("csv")
    press(desktop, "Buat ekstrak")
    assert desktop.get_by_role("status").inner_text() == "Ekstrak data dibuat."
    link = desktop.get_by_role("link", name=re.compile(r"^Unduh csv #\d+$"))
    assert link.count() == 1
    name, content = download(desktop, link)
    assert name.startswith(nomor)
    assert name.endswith(".csv")
    header, rows = csv_rows(content)
    assert header == [*BYNAME_FIELDS, f"layak_{want.program}"]  # the approved columns, nothing more
    assert len(rows) == want.persons
    assert all(row["kode_desa"].startswith(want.kode_kec) for row in rows)
    assert all(row["nama"] for row in rows)
    with Session(sharing.engine) as session:
        extract = session.scalars(select(AccessExtract).where(AccessExtract.request_id == request_id)).one()
        assert (extract.rows, extract.downloads, extract.format) == (want.persons, 1, "csv")
        extract_id = extract.id

    desktop.reload()
    assert_fits_width(desktop)
    assert_accessible_basics(desktop)
    shoot(desktop, "akses-permintaan")
    phone.context.add_cookies(desktop.context.cookies())  # the same signed-in officer, on a phone
    phone.goto(f"/akses/{request_id}")
    assert phone.get_by_role("heading", level=1).inner_text() == f"Permintaan akses {nomor}"
    assert_fits_width(phone)
    assert_accessible_basics(phone)
    shoot(phone, "akses-permintaan")

    # -- the validity ends (no waiting: the date moves) -----------------------------------------------------
    yesterday = today_wib() - timedelta(days=1)
    with sharing.engine.begin() as connection:
        connection.execute(
            update(AccessRequest).where(AccessRequest.id == request_id).values(valid_until=yesterday)
        )
    # the page was loaded while the request was valid: its download link is still there
    with desktop.expect_navigation() as navigation:
        desktop.get_by_role("link", name=f"Unduh csv #{extract_id}").click()
    assert navigation.value.status == 410
    assert desktop.get_by_role("heading", level=1).inner_text() == "Masa berlaku akses berakhir"
    message = desktop.locator(".error-page").inner_text()
    assert EXPIRED in message
    assert yesterday.isoformat() in message
    assert_accessible_basics(desktop)
    shoot(desktop, "akses-kedaluwarsa")
    with Session(sharing.engine) as session:
        assert session.get(AccessExtract, extract_id).downloads == 1  # the refused download is not counted

    desktop.get_by_role("link", name="Kembali ke halaman sebelumnya").click()
    desktop.wait_for_load_state()
    assert desktop.url.endswith(f"/akses/{request_id}")
    assert "Kedaluwarsa" in desktop.locator("dl").inner_text()  # expired when the page was built
    assert not desktop.get_by_role("link", name=re.compile(r"^Unduh csv")).count()
    assert not desktop.get_by_role("button", name="Buat ekstrak").count()

    # -- the auditor ---------------------------------------------------------------------------------------
    with signed_in(browser, sharing, "auditor") as page:
        page.goto("/staf/audit")
        page.get_by_text("Saring jejak").click()
        page.get_by_label("Sumber daya").fill("access_request")
        page.get_by_label("Aksi").fill("access_denied")
        press(page, "Cari")
        refusal = page.locator("tbody tr").filter(has_text=nomor).filter(has_text='"expired"')
        assert refusal.count() == 1
        assert f"user:{username}" in refusal.inner_text()
        assert "unduh_ekstrak" in refusal.inner_text()
        assert_accessible_basics(page)
        shoot(page, "akses-audit")

        page.goto("/staf/audit?sumber=access_extract")
        trail = page.locator("tbody tr").filter(has_text=nomor)
        assert sorted(trail.locator("td:nth-child(3)").all_inner_texts()) == ["download", "export"]

        page.get_by_role("link", name="Ekstrak data dan permintaannya").click()
        page.wait_for_load_state()
        listed = page.locator("tbody tr").filter(has_text=nomor)
        assert listed.count() == 1
        text = listed.inner_text()
        assert f"#{extract_id}" in text
        assert "Kedaluwarsa" in text
        assert "Dinas Sosial Kota Yogyakarta" in text
        assert f"{want.persons} baris" in text
        assert_fits_width(page)
        assert_accessible_basics(page)
        shoot(page, "akses-audit-ekstrak")

    with Session(sharing.engine) as session:
        refused = session.scalar(
            select(func.count()).where(
                AuditLog.resource == "access_request",
                AuditLog.action == "access_denied",
                AuditLog.actor == f"user:{username}",
            )
        )
        expired = session.scalar(
            select(func.count()).where(
                AuditLog.resource == "access_request",
                AuditLog.action == "transition",
                AuditLog.actor == "system:akses",
            )
        )
    assert refused == 1
    assert expired >= 1  # the move to kedaluwarsa, by the system
