"""Staff pages in real Chromium: sign in -> search -> family page on a phone and a desktop, a village
operator opening another village's family by URL (404 like an unknown id, and audited), a forged form
refused (CSRF), the error pages and the language switch; every page screenshotted at both sizes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from browser_kit import LiveServer, assert_accessible_basics, assert_fits_width
from sqlalchemy import select

from dtsen.store.models import AuditLog


def _families(live_server: LiveServer) -> tuple[Any, Any]:
    from served_city import ranked_families

    target, other = ranked_families(live_server.engine, 2, poorest=True)
    return target, other


def test_staff_sign_in_search_and_family_page(
    live_server: LiveServer,
    phone: Any,
    desktop: Any,
    login: Callable[[Any, str, str], None],
    shoot: Callable[[Any, str], Any],
) -> None:
    target, _other = _families(live_server)
    username, password = live_server.user("operator_desa", (target.kode_desa,))
    for page in (phone, desktop):
        page.goto("/masuk")
        assert_fits_width(page)
        assert_accessible_basics(page)
        shoot(page, "staf-masuk")
        login(page, username, password)
        assert page.url.endswith("/staf")
        assert page.get_by_role("heading", level=1).inner_text().startswith("Selamat datang")
        assert_fits_width(page)
        assert_accessible_basics(page)
        shoot(page, "staf-beranda")

        page.get_by_role("link", name="Cari", exact=True).click()
        page.get_by_label("NIK, nomor KK, atau nama").fill(target.nik or "")
        page.get_by_role("button", name="Cari", exact=True).click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name=re.compile(r"^1 hasil")).is_visible()
        assert target.nik not in page.url  # a NIK never travels in the URL
        assert_fits_width(page)
        assert_accessible_basics(page)
        shoot(page, "staf-cari-hasil")

        page.get_by_role("link", name=re.compile("Buka keluarga")).first.click()
        page.wait_for_load_state()
        assert page.url.endswith(f"/staf/keluarga/{target.id}")
        assert page.get_by_role("heading", level=1).inner_text() == f"Keluarga {target.id}"
        for section in ("Peringkat kesejahteraan", "Riwayat antar snapshot", "Anggota keluarga"):
            assert page.get_by_role("heading", name=section).is_visible()
        assert page.get_by_role("img", name=re.compile(r"^Desil \d+ dari 10")).count() == 3
        assert page.get_by_role("img", name="Desil nasional antar snapshot").is_visible()
        assert target.nik in page.content()  # an operator sees full NIKs of her village
        assert_fits_width(page)
        assert_accessible_basics(page)
        shoot(page, "staf-keluarga")

        assert page.locator("details[open]").count() == 0  # provenance blocks start closed
        page.locator("details summary").first.click()
        assert page.locator("details[open] li.provenance").count() >= 1


def test_operator_opening_another_villages_family_gets_404_and_is_audited(
    live_server: LiveServer,
    phone: Any,
    login: Callable[[Any, str, str], None],
    shoot: Callable[[Any, str], Any],
) -> None:
    target, other = _families(live_server)
    username, password = live_server.user("operator_desa", (target.kode_desa,))
    login(phone, username, password)

    unknown = phone.goto("/staf/keluarga/K999999999999")
    assert unknown is not None
    assert unknown.status == 404
    unknown_heading = phone.get_by_role("heading", level=1).inner_text()

    response = phone.goto(f"/staf/keluarga/{other.id}")
    assert response is not None
    assert response.status == 404
    assert phone.get_by_role("heading", level=1).inner_text() == unknown_heading == "Tidak ditemukan"
    assert other.nik not in phone.content()
    assert_fits_width(phone)
    assert_accessible_basics(phone)
    shoot(phone, "galat-404")

    with live_server.engine.connect() as connection:
        last = connection.execute(
            select(AuditLog).where(AuditLog.actor == f"user:{username}").order_by(AuditLog.id.desc()).limit(1)
        ).one()
    assert last.action == "read_denied"
    assert last.region_kode == other.kode_desa
    assert last.detail["id_keluarga_dtsen"] == other.id


def test_forged_form_is_refused(
    live_server: LiveServer, desktop: Any, login: Callable[[Any, str, str], None]
) -> None:
    target, _other = _families(live_server)
    username, password = live_server.user("operator_desa", (target.kode_desa,))
    login(desktop, username, password)
    desktop.goto("/staf/cari")
    desktop.locator("main input[name=csrf_token]").evaluate("element => element.value = 'palsu'")
    desktop.get_by_label("NIK, nomor KK, atau nama").fill(target.nik or "")
    with desktop.expect_response(
        lambda r: r.url.endswith("/staf/cari") and r.request.method == "POST"
    ) as info:
        desktop.get_by_role("button", name="Cari", exact=True).click()
    assert info.value.status == 403
    assert "Formulir kedaluwarsa atau tidak sah" in desktop.content()
    assert target.id not in desktop.content()


def test_invalid_nik_gets_a_clear_message(
    live_server: LiveServer,
    phone: Any,
    login: Callable[[Any, str, str], None],
    shoot: Callable[[Any, str], Any],
) -> None:
    target, _other = _families(live_server)
    username, password = live_server.user("dinsos", (target.kode_kab,))
    login(phone, username, password)
    phone.goto("/staf/cari")
    phone.get_by_label("NIK, nomor KK, atau nama").fill("12345")
    phone.get_by_role("button", name="Cari", exact=True).click()
    phone.wait_for_load_state()
    field = phone.get_by_label("NIK, nomor KK, atau nama")
    assert field.get_attribute("aria-invalid") == "true"
    assert phone.get_by_text("NIK dan nomor KK terdiri dari 16 angka.").first.is_visible()
    assert_accessible_basics(phone)
    shoot(phone, "staf-cari-galat")


def test_unranked_family_page(
    live_server: LiveServer,
    phone: Any,
    login: Callable[[Any, str, str], None],
    shoot: Callable[[Any, str], Any],
) -> None:
    from served_city import unranked_family

    family_id, _reason = unranked_family(live_server.engine)
    username, password = live_server.user("admin_bps")
    login(phone, username, password)
    phone.goto(f"/staf/keluarga/{family_id}")
    assert phone.get_by_text("Tidak diperingkat.").is_visible()
    assert phone.get_by_role("img", name=re.compile(r"^Desil \d+ dari 10")).count() == 0
    assert_fits_width(phone)
    assert_accessible_basics(phone)
    shoot(phone, "staf-keluarga-tidak-diperingkat")


def test_analyst_sees_masked_niks(
    live_server: LiveServer, desktop: Any, login: Callable[[Any, str, str], None]
) -> None:
    target, _other = _families(live_server)
    username, password = live_server.user("analis_bps")
    login(desktop, username, password)
    desktop.goto(f"/staf/keluarga/{target.id}")
    assert desktop.get_by_text("NIK disamarkan untuk peran Anda.").is_visible()
    assert target.nik not in desktop.content()
    assert f"{(target.nik or '')[:6]}********{(target.nik or '')[-2:]}" in desktop.content()


def test_skip_link_language_switch_and_sign_out(
    live_server: LiveServer, phone: Any, login: Callable[[Any, str, str], None]
) -> None:
    target, _other = _families(live_server)
    username, password = live_server.user("pendamping", (target.kode_desa,))
    login(phone, username, password)
    phone.keyboard.press("Tab")
    skip = phone.get_by_role("link", name="Langsung ke isi")
    assert skip.evaluate("element => element === document.activeElement")
    assert skip.is_visible()

    phone.get_by_role("link", name="English").click()
    phone.wait_for_load_state()
    assert phone.locator("html").get_attribute("lang") == "en"
    assert phone.get_by_role("heading", level=1).inner_text().startswith("Welcome")
    phone.goto("/staf/cari")  # the choice is remembered
    assert phone.get_by_role("heading", level=1).inner_text() == "Search families or people"

    phone.get_by_role("button", name="Sign out").click()
    phone.wait_for_load_state()
    assert "/masuk" in phone.url
    phone.goto(f"/staf/keluarga/{target.id}")
    assert "/masuk" in phone.url  # the session is gone
