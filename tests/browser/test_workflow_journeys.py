"""Issue 12's journeys end to end in real Chromium, on SQLite and PostgreSQL, from a citizen's form to the
next quarter's snapshot and back to the citizen's tracking page:

* **usulan**: a resident proposes their family on /usul; the desa operator confirms it and assigns a home
  visit; the pendamping opens the field form, loses the signal, fills it (poorer housing than the registry
  says) and submits: the page keeps it in IndexedDB; back online the page sends it; the same form sent
  again moves nothing (one workflow step). The operator holds the musyawarah desa (agree, berita acara
  PDF, signed scan, close), the dinsos approves with a decision number.
* **sanggahan** (``included_not_eligible``): a neighbour objects that the poorest recipient family of the
  desa is better off; the operator confirms, the dinsos sends the pendamping for a ground check (better
  housing and assets found), then accepts the objection.

Then the next quarter's cycle runs (``dtsen cycle run`` with the serving database configured): the
approved changes are exported into the corrections inbox at freeze, applied, the snapshot is published
and loaded, and the outcomes recorded. Both families carry the corrected values and a desil in the new
snapshot, both cases are ``selesai`` and Lacak tells each citizen so.

Both journeys share one server and one cycle per backend (the cycle is the slow part). Screenshots of each
role's main page go to docs/screenshots/ with DTSEN_UPDATE_SCREENSHOTS=1 (SQLite run only).
"""

from __future__ import annotations

import io
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_kit import LiveServer, assert_fits_width
from journey_world import Cast, Resident, base_data_dir, cast, now_wib, periods, run_cycle, serve
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from dtsen.store.cases import ApprovedChange, WorkflowCase, WorkflowStep
from dtsen.store.intake import CitizenRequest
from dtsen.store.served import ServedFamily, ServedPerson, ServedSnapshot

PHONE = {"width": 390, "height": 844}
# What the pendamping finds: a poorer house for the proposed family, a better-off one for the family the
# objection is about (codes of dtsen.canonical's code lists; the first choice that differs from the
# registry's value is used).
POORER = {"lantai": (8, 7), "dinding": (6, 4), "luas_lantai": (18, 21)}
BETTER_OFF = {
    "lantai": (1, 2),
    "dinding": (1, 3),
    "atap": (1, 2),
    "sumber_air_minum": (3, 4),
    "sumber_penerangan": (1, 2),
    "daya_listrik": (5, 4),
    "bahan_bakar_masak": (3, 1),
    "fasilitas_bab": (1, 2),
    "luas_lantai": (160, 150),
}
BETTER_OFF_ASSETS = ("Mobil", "Air conditioner (AC)", "Lemari es/kulkas", "Komputer/laptop/tablet")
HOUSING_LABELS = {
    "lantai": "Jenis lantai terluas",
    "dinding": "Jenis dinding terluas",
    "atap": "Jenis atap terluas",
    "sumber_air_minum": "Sumber air minum utama",
    "sumber_penerangan": "Sumber penerangan utama",
    "daya_listrik": "Daya listrik terpasang",
    "bahan_bakar_masak": "Bahan bakar utama untuk memasak",
    "fasilitas_bab": "Fasilitas buang air besar",
    "luas_lantai": "Luas lantai (m²)",
}
SAVED_OFFLINE = "Tersimpan di perangkat, akan dikirim saat ada sinyal."
SENT_FROM_QUEUE = "Kiriman tersimpan di perangkat berhasil dikirim."
DONE_ON_LACAK = "Selesai: hasilnya sudah terbit"

# The page's IndexedDB queue (static/js/kunjungan.js): what is kept, and a copy in the page for a replay.
READ_QUEUE = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("dtsen-kunjungan", 1);
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains("kiriman")) { db.close(); resolve([]); return; }
    const read = db.transaction("kiriman", "readonly").objectStore("kiriman").getAll();
    read.onsuccess = () => {
      db.close();
      if (read.result.length) { window.__salinan = read.result; }
      resolve(read.result.map((r) => ({ kunci: r.kunci, url: r.url, berkas: r.files.length })));
    };
    read.onerror = () => reject(read.error);
  };
})"""
# The kept form sent again exactly as the page sends it (a retry after a lost answer).
REPLAY = """async () => {
  const record = window.__salinan[0];
  const data = new FormData();
  record.fields.forEach((pair) => data.append(pair[0], pair[1]));
  record.files.forEach((item) => data.append(item[0], item[1], item[2]));
  const response = await fetch(record.url, { method: "POST", body: data, credentials: "same-origin",
                                              headers: { accept: "application/json" } });
  return { status: response.status, body: await response.json() };
}"""


# -- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def journey_base(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The published quarter before today's (built once; ``browser`` first, so no Chromium skips it)."""
    return base_data_dir(tmp_path_factory.getbasetemp())


@pytest.fixture
def journey(journey_base: Path, db_factory: Callable[[], str], tmp_path: Path) -> Iterator[LiveServer]:
    """A copy of the data dir (the cycle publishes into it) served from a new database of the backend."""
    data = tmp_path / "data"
    shutil.copytree(journey_base, data)
    with serve(db_factory(), data, tmp_path / "uploads") as live:
        yield live


@contextmanager
def phone_of(browser: Any, live: LiveServer) -> Iterator[Any]:
    """A fresh phone-sized context (no cookies, its own IndexedDB) and its page."""
    context = browser.new_context(
        base_url=live.url,
        viewport=PHONE,
        locale="id-ID",
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        accept_downloads=True,
    )
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


# -- helpers -----------------------------------------------------------------------------------------------
def press(page: Any, name: str) -> None:
    """Click a form's button and wait for the page it leads to (POST, redirect, GET)."""
    with page.expect_navigation():
        page.get_by_role("button", name=name, exact=True).click()


def jpeg(width: int, height: int, lines: int = 0) -> bytes:
    image = Image.new("RGB", (width, height), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    for row in range(lines):  # a "scanned page": lines of text as grey bars
        draw.rectangle((40, 60 + row * 36, width - 40 - (row % 3) * 90, 72 + row * 36), fill=(60, 60, 60))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def request_case(live: LiveServer, tracking: str) -> WorkflowCase:
    with Session(live.engine) as session:
        request_id = session.scalar(
            select(CitizenRequest.id).where(CitizenRequest.tracking_number == tracking)
        )
        case = session.scalars(select(WorkflowCase).where(WorkflowCase.request_id == request_id)).one()
        session.expunge(case)
        return case


def actions_of(live: LiveServer, case_id: int) -> list[str]:
    with Session(live.engine) as session:
        return list(
            session.scalars(
                select(WorkflowStep.action).where(WorkflowStep.case_id == case_id).order_by(WorkflowStep.id)
            )
        )


def served_family(live: LiveServer, family: str, ref: str | None = None) -> ServedFamily:
    with Session(live.engine) as session:
        snapshot = (ServedSnapshot.ref == ref) if ref else ServedSnapshot.is_current.is_(True)
        row = session.scalars(
            select(ServedFamily)
            .join(ServedSnapshot, ServedSnapshot.id == ServedFamily.snapshot_id)
            .where(snapshot, ServedFamily.id_keluarga_dtsen == family)
        ).one()
        session.expunge(row)
        return row


def member_of(live: LiveServer, family: str) -> tuple[str, str]:
    """(NIK, name) of a member of the family in the current snapshot (what a neighbour would know)."""
    with Session(live.engine) as session:
        current = session.scalar(select(ServedSnapshot.id).where(ServedSnapshot.is_current))
        nik, nama = session.execute(
            select(ServedPerson.nik, ServedPerson.nama)
            .where(
                ServedPerson.snapshot_id == current,
                ServedPerson.id_keluarga_dtsen == family,
                ServedPerson.nik.is_not(None),
                ServedPerson.nama.is_not(None),
            )
            .order_by(ServedPerson.id_dtsen)
            .limit(1)
        ).one()
        return str(nik), str(nama)


def planned(current: ServedFamily, wanted: dict[str, tuple[int, int]]) -> dict[str, int]:
    """The values the pendamping enters: the first choice unless it is what the registry already says."""
    return {
        name: first if getattr(current, name) != first else second for name, (first, second) in wanted.items()
    }


def state_on_page(page: Any) -> str:
    return str(page.locator("main p.big").first.inner_text())


# -- the citizen -------------------------------------------------------------------------------------------
def send_request(page: Any, jenis: str, reporter: Resident, subject: tuple[str, str], alasan: str) -> str:
    """The public form (usulan or sanggahan), proof of work solved by the page; the tracking number."""
    page.goto("/usul" if jenis == "usulan" else "/sanggah")
    if jenis == "sanggahan":
        page.get_by_label("Keluarga terdaftar sebagai penerima tetapi tidak layak").check()
    page.get_by_label("NIK Anda").fill(reporter.nik)
    page.get_by_label("Nama lengkap Anda").fill(reporter.nama)
    page.get_by_label("NIK anggota keluarga").fill(subject[0])
    page.get_by_label("Nama kepala keluarga (tidak wajib)").fill(subject[1])
    page.get_by_label("Provinsi").select_option(reporter.kode_prov)
    page.get_by_label("Kabupaten/kota").select_option(reporter.kode_kab)  # waits for the fetched options
    page.get_by_label("Kecamatan").select_option(reporter.kode_kec)
    page.get_by_label("Desa/kelurahan").select_option(reporter.kode_desa)
    page.get_by_label("Alasan").fill(alasan)
    page.get_by_role("button", name="Kirim usulan" if jenis == "usulan" else "Kirim sanggahan").click()
    assert page.locator("[data-hasil]").get_attribute("data-hasil") == "diterima"
    number = str(page.locator("[data-nomor-lacak]").inner_text()).strip()
    assert re.fullmatch(r"DTSEN-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", number)
    return number


def track(page: Any, number: str, nik: str) -> str:
    page.goto("/lacak")
    page.get_by_label("Nomor pelacakan").fill(number)
    page.get_by_label("NIK pelapor").fill(nik)
    press(page, "Lacak")
    card = page.locator("[data-hasil]")
    assert card.get_attribute("data-hasil") == "ditemukan"
    return str(card.inner_text())


# -- the pendamping's form ---------------------------------------------------------------------------------
def fill_visit(page: Any, values: dict[str, int], assets: tuple[str, ...] = ()) -> None:
    for name, value in values.items():
        field = page.get_by_label(HOUSING_LABELS[name], exact=True)
        if name == "luas_lantai":
            field.fill(str(value))
        else:
            field.select_option(str(value))
    for label in assets:
        page.get_by_label(label, exact=True).check()


@dataclass
class Timer:
    marks: dict[str, float]
    start: float = 0.0

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.marks[name] = round(now - self.start, 1)
        self.start = now


# -- the journeys ------------------------------------------------------------------------------------------
def test_usulan_and_sanggahan_reach_the_next_snapshot_and_lacak(
    browser: Any,
    journey: LiveServer,
    login: Callable[[Any, str, str], None],
    shoot: Callable[[Any, str], Any],
    db_backend: str,
) -> None:
    live = journey
    timer = Timer({}, time.perf_counter())
    served_period, next_period = periods()
    who: Cast = cast(live.engine)
    desa, kab = who.kode_desa, who.kode_desa[:4]
    operator = live.user("operator_desa", (desa,))
    pendamping = live.user("pendamping", (desa,))
    dinsos = live.user("dinsos", (kab,))
    proposed_before = served_family(live, who.proposed)
    objected_before = served_family(live, who.objected)
    poorer = planned(proposed_before, POORER)
    better = planned(objected_before, BETTER_OFF)

    with (
        phone_of(browser, live) as citizen,
        phone_of(browser, live) as desk,
        phone_of(browser, live) as field,
        phone_of(browser, live) as office,
    ):
        # 1. The citizen proposes their family; a neighbour objects to a recipient family.
        proposal = send_request(
            citizen,
            "usulan",
            who.proposer,
            (who.proposer.nik, who.proposer.nama),
            "Suami kami kehilangan pekerjaan, rumah kami berlantai tanah dan berdinding bambu.",
        )
        objection = send_request(
            citizen,
            "sanggahan",
            who.objector,
            member_of(live, who.objected),
            "Keluarga ini punya mobil dan rumah bertembok keramik, tidak layak menerima bantuan.",
        )
        usulan, sanggahan = request_case(live, proposal), request_case(live, objection)
        assert (usulan.jenis, usulan.state, usulan.periode, usulan.id_keluarga_dtsen) == (
            "usulan",
            "diterima",
            next_period,
            who.proposed,
        )
        assert (sanggahan.jenis, sanggahan.kategori, sanggahan.id_keluarga_dtsen) == (
            "sanggahan",
            "included_not_eligible",
            who.objected,
        )
        timer("warga")

        # 2. The desa operator's queue: confirm both, send the pendamping to the proposed family.
        login(desk, *operator)
        desk.goto("/staf/kasus")
        assert desk.get_by_role("link", name=usulan.nomor).is_visible()
        assert desk.get_by_role("link", name=sanggahan.nomor).is_visible()
        assert_fits_width(desk)
        shoot(desk, "kasus-antrean-operator-desa")
        desk.get_by_role("link", name=usulan.nomor).click()
        desk.wait_for_url(f"**/staf/kasus/{usulan.id}")
        press(desk, "Konfirmasi diterima")
        assert state_on_page(desk).startswith("Dikonfirmasi desa")
        desk.get_by_label("Pendamping yang ditugaskan").select_option(pendamping[0])
        press(desk, "Tugaskan kunjungan rumah")
        assert request_case(live, proposal).state == "kunjungan"
        desk.goto(f"/staf/kasus/{sanggahan.id}")
        press(desk, "Konfirmasi diterima")
        assert request_case(live, objection).state == "dikonfirmasi"

        # 3. The dinsos orders a ground check of the objection.
        login(office, *dinsos)
        office.goto("/staf/kasus")
        office.get_by_role("link", name=sanggahan.nomor).click()
        office.wait_for_url(f"**/staf/kasus/{sanggahan.id}")
        office.get_by_label("Pendamping yang ditugaskan").select_option(pendamping[0])
        press(office, "Periksa di lapangan")
        assert request_case(live, objection).state == "kunjungan"
        timer("desa+dinsos")

        # 4. The pendamping: the visit form opened with signal, filled and sent without.
        login(field, *pendamping)
        field.goto("/staf/kasus")
        assert field.get_by_role("heading", level=1).inner_text() == "Kunjungan hari ini"
        shoot(field, "kasus-antrean-pendamping")
        field.get_by_role("link", name=usulan.nomor).click()
        field.get_by_role("link", name="Isi formulir kunjungan").click()
        field.wait_for_url(f"**/staf/kunjungan/{usulan.id}")
        assert field.get_by_label("Jenis lantai terluas").input_value() == str(proposed_before.lantai or "")
        field.context.set_offline(True)
        assert field.evaluate("navigator.onLine") is False
        fill_visit(field, poorer)
        field.get_by_label("Catatan").fill("Rumah berlantai tanah, dinding bambu, satu kamar.")
        field.get_by_label("Foto (paling banyak 3, masing-masing 5 MB)").set_input_files(
            {"name": "rumah.jpg", "mimeType": "image/jpeg", "buffer": jpeg(800, 600)}
        )
        shoot(field, "kunjungan-formulir-pendamping")
        field.get_by_role("button", name="Kirim hasil kunjungan").click()
        field.get_by_text(SAVED_OFFLINE).wait_for()
        assert field.locator("#form-kunjungan").is_hidden()
        kept = field.evaluate(READ_QUEUE)
        assert [(item["url"].endswith(f"/staf/kunjungan/{usulan.id}"), item["berkas"]) for item in kept] == [
            (True, 1)
        ]
        assert request_case(live, proposal).state == "kunjungan"  # nothing reached the server
        assert_fits_width(field)
        shoot(field, "kunjungan-offline-pendamping")

        field.context.set_offline(False)  # the signal is back: the page sends what it kept
        field.get_by_text(SENT_FROM_QUEUE).wait_for()
        assert field.evaluate(READ_QUEUE) == []
        visited = request_case(live, proposal)
        assert visited.state == "dikunjungi"
        recorded = {c["atribut"]: c["nilai_baru"] for c in visited.data["perubahan"]}
        assert {name: recorded.get(name) for name in poorer} == {k: str(v) for k, v in poorer.items()}
        assert len(visited.data["foto"]) == 1

        # the same form once more (a retry after a lost answer): the case as it is, no second step
        again = field.evaluate(REPLAY)
        assert again["status"] == 200, again
        assert (again["body"]["status"], again["body"]["versi"]) == ("dikunjungi", visited.version)
        assert actions_of(live, usulan.id).count("laporkan_kunjungan") == 1
        assert request_case(live, proposal).version == visited.version

        # the objection's ground check, with signal
        field.goto(f"/staf/kunjungan/{sanggahan.id}")
        fill_visit(field, better, BETTER_OFF_ASSETS)
        field.get_by_role("button", name="Kirim hasil kunjungan").click()
        field.get_by_text("Hasil kunjungan terkirim.").wait_for()
        checked = request_case(live, objection)
        assert checked.state == "dikunjungi"
        recorded = {c["atribut"]: c["nilai_baru"] for c in checked.data["perubahan"]}
        assert {name: recorded.get(name) for name in better} == {k: str(v) for k, v in better.items()}
        assert recorded["aset_mobil"] == "ya"
        timer("pendamping")

        # 5. The musyawarah desa decides the visited proposal.
        desk.goto("/staf/musdes")
        desk.get_by_label("Tanggal musyawarah").fill(now_wib().date().isoformat())
        desk.get_by_label("Tempat", exact=True).fill("Balai Kelurahan")
        desk.get_by_label("Pimpinan musyawarah").fill("Sutrisno")
        for n, (nama, unsur) in enumerate(
            [("Sutrisno", "Lurah"), ("Wahyuni", "LPMK"), ("Bambang Riyadi", "Tokoh masyarakat")], start=1
        ):
            desk.get_by_label(f"Nama peserta {n}", exact=True).fill(nama)
            desk.get_by_label(f"Unsur peserta {n}", exact=True).fill(unsur)
        press(desk, "Buka musyawarah desa")
        assert desk.get_by_text("Musyawarah desa dibuka.").is_visible()
        musdes_url = desk.url.split("?")[0]
        decision = desk.get_by_role("group", name=f"Keputusan untuk {usulan.nomor}")
        decision.get_by_label("Setuju", exact=True).check()
        press(desk, "Simpan keputusan")
        assert desk.get_by_text("Keputusan dicatat.").is_visible()
        with desk.expect_download() as download:
            desk.get_by_role("link", name="Unduh berita acara (PDF)").click()
        pdf = Path(download.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF")
        assert len(pdf) > 1000
        desk.goto(musdes_url)  # the page now knows the minutes to sign
        desk.get_by_label(re.compile("^Pindaian berita acara yang sudah ditandatangani")).set_input_files(
            {"name": "berita-acara-ttd.jpg", "mimeType": "image/jpeg", "buffer": jpeg(1240, 1754, 30)}
        )
        press(desk, "Unggah pindaian")
        assert desk.get_by_text("Pindaian berita acara diunggah.").is_visible()
        press(desk, "Tutup musyawarah desa")
        assert desk.get_by_text("Musyawarah desa ditutup.").is_visible()
        assert_fits_width(desk)
        shoot(desk, "musdes-sesi")
        assert request_case(live, proposal).state == "verifikasi"
        timer("musdes")

        # 6. The dinsos approves both, then looks at the kab/kota board.
        office.goto("/staf/kasus")
        assert office.get_by_role("link", name=usulan.nomor).is_visible()
        office.goto(f"/staf/kasus/{usulan.id}")
        office.get_by_label("Nomor surat keputusan").fill("400.9/112/DINSOS/2026")
        press(office, "Setujui (verifikasi dinas sosial)")
        assert state_on_page(office).startswith("Disetujui")
        office.goto(f"/staf/kasus/{sanggahan.id}")
        office.locator("#setujui-nomor_keputusan").fill("400.9/113/DINSOS/2026")
        office.locator("#setujui-alasan").fill(
            "Hasil kunjungan lapangan: rumah dan aset keluarga menunjukkan tidak layak."
        )
        press(office, "Terima sanggahan")
        assert state_on_page(office).startswith("Disetujui")
        office.goto("/staf/kasus/dasbor")
        assert_fits_width(office)
        shoot(office, "kasus-dasbor-dinsos")
        with Session(live.engine) as session:
            approved = set(session.scalars(select(ApprovedChange.case_id).distinct()))
        assert approved == {usulan.id, sanggahan.id}
        timer("dinsos")

        # 7. The next quarter's cycle, with the serving database configured.
        summary = run_cycle(live.data_dir, live.db_url, next_period, now_wib())
        assert summary["snapshot"] == f"{next_period}/v1"
        assert summary["previous"] == f"{served_period}/v1"
        assert summary["serving"]["status"] == "loaded", summary
        assert summary["kasus"]["status"] == "ok", summary
        assert (summary["kasus"]["cases_closed"], summary["kasus"]["failed"]) == (2, []), summary
        timer("siklus")
        # the footer caches the served snapshot's name for 30 s: as if that time had passed
        live.app.state.snapshot_ref_cache = None

        # 8. The families changed in the new snapshot, each with a desil; the cases are closed.
        proposed_after = served_family(live, who.proposed, f"{next_period}/v1")
        objected_after = served_family(live, who.objected, f"{next_period}/v1")
        assert {name: getattr(proposed_after, name) for name in poorer} == poorer
        assert {name: getattr(objected_after, name) for name in better} == better
        assert proposed_after.desil_nasional is not None
        assert objected_after.desil_nasional is not None
        assert objected_after.desil_nasional > who.objected_desil, "better off, yet not ranked higher"
        assert proposed_before.desil_nasional is not None
        assert proposed_after.desil_nasional <= proposed_before.desil_nasional, "poorer, yet ranked higher"
        with Session(live.engine) as session:
            assert (
                session.scalar(select(ServedSnapshot.ref).where(ServedSnapshot.is_current))
                == f"{next_period}/v1"
            )
            statuses = set(session.scalars(select(ApprovedChange.status)))
            assert statuses == {"diterapkan"}, statuses
        for number, family in ((proposal, who.proposed), (objection, who.objected)):
            closed = request_case(live, number)
            assert closed.state == "selesai"
            assert closed.outcome is not None
            assert closed.outcome["id_keluarga_dtsen"] == family
            assert closed.outcome["snapshot"] == f"{next_period}/v1"
            assert closed.outcome["desil_nasional"] is not None
            assert list(closed.outcome["perubahan"]) == ["diterapkan"]
            assert actions_of(live, closed.id)[-1] == "catat_hasil"

        # 9. Lacak tells each citizen.
        assert DONE_ON_LACAK in track(citizen, objection, who.objector.nik)
        assert DONE_ON_LACAK in track(citizen, proposal, who.proposer.nik)
        assert_fits_width(citizen)
        shoot(citizen, "lacak-selesai")
        timer("hasil")

    print(
        f"\n[{db_backend}] journey seconds per phase: {timer.marks}; desil of the proposed family "
        f"{proposed_before.desil_nasional} -> {proposed_after.desil_nasional}, of the objected one "
        f"{objected_before.desil_nasional} -> {objected_after.desil_nasional}"
    )
