"""The public citizen pages in real Chromium at a phone's size: Cek Status found and not found, an
objection with a photo and its tracking, "who read my data" after a staff read, and the rate limit.

The proof of work runs in the page's own script (at 14 bits here, so a loaded CI machine stays fast;
production's 18 only changes how long the loop runs). Screenshots go to docs/screenshots/ with
DTSEN_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import delete, select

from dtsen.api import challenge, ratelimit


def assert_fits_width(page: Any) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the phone"


@pytest.fixture(autouse=True)
def public_guards(live_server: Any) -> Iterator[None]:
    """A cheaper challenge and fresh rate-limit counters for each test (restored afterwards)."""
    from dtsen.store.intake import RateLimitCounter

    state = live_server.app.state
    saved = getattr(state, "challenge_settings", None), getattr(state, "public_rate_limits", None)
    state.challenge_settings = challenge.ChallengeSettings(14, 900)
    state.public_rate_limits = dict(ratelimit.DEFAULT_LIMITS)
    with live_server.engine.begin() as connection:
        connection.execute(delete(RateLimitCounter))
    yield
    state.challenge_settings, state.public_rate_limits = saved


def citizen(live_server: Any, *, ranked: bool = True) -> Any:
    """A person of the current snapshot whose family is ranked, with NIK, name, birth date and KK."""
    from dtsen.store.served import ServedFamily, ServedPerson, ServedSnapshot

    with live_server.engine.connect() as connection:
        current = connection.scalar(select(ServedSnapshot.id).where(ServedSnapshot.is_current))
        query = (
            select(ServedPerson, ServedFamily.id_keluarga_dtsen.label("family"))
            .join(
                ServedFamily,
                (ServedFamily.snapshot_id == ServedPerson.snapshot_id)
                & (ServedFamily.id_keluarga_dtsen == ServedPerson.id_keluarga_dtsen),
            )
            .where(
                ServedPerson.snapshot_id == current,
                ServedPerson.nik.is_not(None),
                ServedPerson.nama.is_not(None),
                ServedPerson.tanggal_lahir.is_not(None),
                ServedPerson.no_kk.is_not(None),
                ServedFamily.desil_nasional.is_not(None) if ranked else ServedFamily.desil_nasional.is_(None),
            )
            .order_by(ServedPerson.id_dtsen)
            .limit(1)
        )
        return connection.execute(query).one()


def solve_and_submit(page: Any, button: str) -> None:
    """Submit a form guarded by the proof-of-work challenge and wait for the answer page.

    The page starts solving on load; a click before the solution is found is held back and the form is
    submitted by script later, so waiting for the current page's load state would return at once (and a
    following ``goto`` would race the late submission). Every submit of these forms navigates.
    """
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def test_cek_status_found_and_not_found(
    phone: Any, live_server: Any, shoot: Callable[[Any, str], Any]
) -> None:
    person = citizen(live_server)
    phone.goto("/cek-status")
    shoot(phone, "cek-status")
    phone.get_by_label("NIK (Nomor Induk Kependudukan)").fill(person.nik)
    phone.get_by_label("Nama lengkap").fill(person.nama.lower())
    solve_and_submit(phone, "Cek status")
    result = phone.locator("[data-hasil]")
    assert result.get_attribute("data-hasil") == "ditemukan"
    text = result.inner_text()
    assert re.search(r"Desil \d+ dari 10", text)
    assert person.nik not in phone.content()
    assert person.nama not in text  # only the masked name
    assert_fits_width(phone)
    shoot(phone, "cek-status-ditemukan")

    phone.goto("/cek-status")
    phone.get_by_label("NIK (Nomor Induk Kependudukan)").fill(person.nik)
    phone.get_by_label("Nama lengkap").fill("NAMA YANG SALAH")
    solve_and_submit(phone, "Cek status")
    assert phone.locator("[data-hasil]").get_attribute("data-hasil") == "tidak_ditemukan"
    shoot(phone, "cek-status-tidak-ditemukan")

    # Malformed NIK: a message next to the field, focus moved to the summary.
    phone.goto("/cek-status")
    phone.get_by_label("NIK (Nomor Induk Kependudukan)").fill("1234")
    phone.get_by_label("Nama lengkap").fill("Siti")
    solve_and_submit(phone, "Cek status")
    assert "harus 16 angka" in phone.locator("#galat-nik").inner_text()
    assert phone.evaluate("document.activeElement.id") == "ringkasan-galat"


def test_cek_status_by_region_with_the_cascading_selects(phone: Any, live_server: Any) -> None:
    person = citizen(live_server)
    phone.goto("/cek-status?cara=wilayah")
    phone.get_by_label("Provinsi").select_option(person.kode_prov)
    phone.get_by_label("Kabupaten/kota").select_option(person.kode_kab)  # waits for the fetched options
    phone.get_by_label("Kecamatan").select_option(person.kode_kec)
    phone.get_by_label("Desa/kelurahan").select_option(person.kode_desa)
    phone.get_by_label("Nama lengkap").fill(person.nama)
    solve_and_submit(phone, "Cek status")
    assert phone.locator("[data-hasil]").get_attribute("data-hasil") in {"ditemukan", "tidak_ditemukan"}


def _photo() -> bytes:
    image = Image.new("RGB", (640, 400), (230, 230, 210))
    exif = Image.Exif()
    exif[0x8825] = {1: "S", 2: (7.0, 48.0, 0.0), 3: "E", 4: (110.0, 22.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_objection_with_an_upload_and_its_tracking(
    phone: Any, live_server: Any, shoot: Callable[[Any, str], Any], tmp_path: Any
) -> None:
    person = citizen(live_server)
    live_server.app.state.upload_dir = tmp_path / "uploads"
    phone.goto("/sanggah")
    phone.get_by_label("Data keluarga tidak benar").check()
    phone.get_by_label("NIK Anda").fill(person.nik)
    phone.get_by_label("Nama lengkap Anda").fill(person.nama)
    phone.get_by_label("Nomor telepon/WhatsApp (tidak wajib)").fill("0812 3456 7890")
    phone.get_by_label("Nomor Kartu Keluarga (KK)").fill(person.no_kk)
    phone.get_by_label("Provinsi").select_option(person.kode_prov)
    phone.get_by_label("Kabupaten/kota").select_option(person.kode_kab)
    phone.get_by_label("Kecamatan").select_option(person.kode_kec)
    phone.get_by_label("Desa/kelurahan").select_option(person.kode_desa)
    phone.get_by_label("Alasan").fill("Jumlah anggota keluarga kami tercatat salah: anak kedua sudah pindah.")
    phone.get_by_label("Foto KTP").set_input_files(
        {"name": "ktp.jpg", "mimeType": "image/jpeg", "buffer": _photo()}
    )
    shoot(phone, "sanggah")
    solve_and_submit(phone, "Kirim sanggahan")
    assert phone.locator("[data-hasil]").get_attribute("data-hasil") == "diterima"
    number = phone.locator("[data-nomor-lacak]").inner_text().strip()
    assert re.fullmatch(r"DTSEN-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", number)
    shoot(phone, "sanggah-diterima")

    stored = [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()]
    assert len(stored) == 1
    assert not Image.open(stored[0]).getexif()  # GPS gone

    phone.goto("/lacak")
    phone.get_by_label("Nomor pelacakan").fill(number.lower())
    phone.get_by_label("NIK pelapor").fill(person.nik)
    solve_and_submit(phone, "Lacak")
    card = phone.locator("[data-hasil]")
    assert card.get_attribute("data-hasil") == "ditemukan"
    assert "Diterima, menunggu ditanggapi" in card.inner_text()
    assert "Foto KTP" in card.inner_text()
    shoot(phone, "lacak")


def test_who_read_my_data_after_a_staff_read(
    phone: Any, desktop: Any, live_server: Any, login: Callable[..., None], shoot: Callable[[Any, str], Any]
) -> None:
    person = citizen(live_server)
    username, password = live_server.user("operator_desa", (person.kode_desa,))
    login(desktop, username, password)
    desktop.goto(f"/staf/keluarga/{person.family}")
    assert desktop.locator("h1").count() == 1

    phone.goto("/data-saya")
    phone.get_by_label("NIK").fill(person.nik)
    phone.get_by_label("Nama lengkap").fill(person.nama)
    phone.get_by_label("Tanggal lahir").fill(person.tanggal_lahir.isoformat())
    phone.get_by_label("Nomor Kartu Keluarga (KK)").fill(person.no_kk)
    solve_and_submit(phone, "Tampilkan riwayat akses")
    card = phone.locator("[data-hasil]")
    assert card.get_attribute("data-hasil") == "ditemukan"
    text = card.inner_text()
    assert "Operator desa/kelurahan" in text
    assert username not in text  # role and region, not the officer's username
    shoot(phone, "data-saya")


def test_rate_limit_page(phone: Any, live_server: Any, shoot: Callable[[Any, str], Any]) -> None:
    live_server.app.state.public_rate_limits = {
        **ratelimit.DEFAULT_LIMITS,
        "cek_ip": ratelimit.Limit("cek_ip", 2, 3600),
    }
    for attempt in range(3):
        phone.goto("/cek-status")
        phone.get_by_label("NIK (Nomor Induk Kependudukan)").fill(f"347101550580{attempt + 1:04d}")
        phone.get_by_label("Nama lengkap").fill("Tebakan Acak")
        solve_and_submit(phone, "Cek status")
    assert phone.locator("[data-hasil]").get_attribute("data-hasil") == "dibatasi"
    assert "Terlalu banyak permintaan" in phone.locator("h1").inner_text()
    shoot(phone, "batas-permintaan")
