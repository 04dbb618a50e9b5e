"""Every page a visitor can open without a form submission, at phone and desktop size: it fits the
viewport (no sideways scrolling), passes the accessibility basics, keeps the keyboard focus visible,
and speaks English after the switch. Desktop screenshots of the public pages (the citizen-page tests
take the phone ones)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from browser_kit import LiveServer, assert_accessible_basics, assert_fits_width

PAGES = {
    "cek-status": "/cek-status",
    "usul": "/usul",
    "sanggah": "/sanggah",
    "lacak": "/lacak",
    "data-saya": "/data-saya",
    "masuk": "/masuk",
    "galat-404-publik": "/halaman-yang-tidak-ada",
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_public_page_layout(
    name: str, live_server: LiveServer, phone: Any, desktop: Any, shoot: Callable[[Any, str], Any]
) -> None:
    for page in (phone, desktop):
        response = page.goto(PAGES[name])
        assert response is not None
        assert response.status == (404 if name.startswith("galat") else 200)
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert_fits_width(page)
        assert_accessible_basics(page)
    if name != "masuk":  # the staff tests take the sign-in page
        shoot(desktop, name)


def test_keyboard_focus_is_visible_and_language_switch_keeps_the_page(
    live_server: LiveServer, phone: Any
) -> None:
    phone.goto("/cek-status")
    for _ in range(3):
        phone.keyboard.press("Tab")
    outline = phone.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "the focused element shows no outline"
    phone.get_by_role("link", name="English").click()
    phone.wait_for_load_state()
    assert phone.url.endswith("/cek-status?lang=en")
    assert phone.locator("html").get_attribute("lang") == "en"
    assert phone.get_by_role("link", name="Check status").first.is_visible()
    phone.get_by_role("link", name="Bahasa Indonesia").click()
    phone.wait_for_load_state()
    assert phone.locator("html").get_attribute("lang") == "id"
