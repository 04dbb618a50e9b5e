"""The web shell: one layout, languages, security headers, error pages and the translation catalogs.

These tests build the app on a SQLite URL that is never connected to (no handler here reads the
database), so they do not need the two-backend fixtures.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi import FastAPI, Form, HTTPException
from fastapi.testclient import TestClient

from dtsen.api.app import CONTENT_SECURITY_POLICY, create_app
from dtsen.web import i18n
from dtsen.web.i18n import N_
from dtsen.web.templating import STATIC_DIR, TEMPLATES_DIR

ROOT = Path(__file__).resolve().parents[1]
NIK = "3302011203850001"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    app = create_app(f"sqlite:///{tmp_path_factory.mktemp('shell') / 'unused.db'}", max_body_bytes=1000)

    # Routes that exist only in this test, to reach each error path.
    @app.post("/uji/formulir")
    def form_route(nik: str = Form(..., pattern=r"^\d{16}$"), umur: int = Form(...)) -> dict[str, str]:
        return {"ok": "ya"}

    @app.get("/uji/galat")
    def crash() -> None:
        raise RuntimeError(f"boom with {NIK}")

    @app.get("/uji/sibuk")
    def busy() -> None:
        raise HTTPException(429, headers={"Retry-After": "30"})

    @app.get("/uji/pesan")
    def specific() -> None:
        raise HTTPException(404, detail=N_("Keluarga tidak ditemukan."))

    @app.get("/api/uji/galat")
    def api_crash() -> None:
        raise RuntimeError("boom")

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def csrf(client: TestClient) -> dict[str, str]:
    """The anonymous CSRF token (the cookie a page with a form hands out) as a header for unsafe requests."""
    client.get("/masuk")
    return {"x-csrf-token": client.cookies["dtsen_csrf"]}


def h1(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert match, html[:500]
    return match.group(1).strip()


def test_healthz_is_a_plain_no_op(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/healthz", "/tidak-ada", "/static/dtsen.css"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in headers  # plain HTTP (the demo on 127.0.0.1)
    # Pages may hold personal data: never cached; static files may be.
    assert client.get("/tidak-ada").headers["cache-control"] == "no-store"
    assert client.get("/static/dtsen.css").headers["cache-control"] == "public, max-age=86400"


def test_https_adds_strict_transport_security_and_secure_language_cookie(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as secure:
        response = secure.get("/tidak-ada?lang=en")
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert "Secure" in response.headers["set-cookie"]


def test_not_found_page_is_bahasa_html_with_the_layout(client: TestClient) -> None:
    response = client.get("/tidak-ada", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="id">' in html
    assert h1(html) == "Tidak ditemukan"
    assert 'name="viewport"' in html
    assert 'href="#isi"' in html
    assert 'id="isi"' in html
    assert "<main" in html
    assert "<footer" in html
    assert 'href="/static/dtsen.css' in html
    assert "http://" not in html
    assert "https://" not in html


def test_language_by_parameter_cookie_and_header(client: TestClient) -> None:
    response = client.get("/tidak-ada?lang=en")
    assert h1(response.text) == "Not found"
    assert '<html lang="en">' in response.text
    assert "lang=en" in response.headers["set-cookie"]
    # The cookie is remembered by the browser (the test client keeps it).
    assert h1(client.get("/tidak-ada").text) == "Not found"
    client.cookies.clear()
    assert h1(client.get("/tidak-ada").text) == "Tidak ditemukan"
    english = client.get("/tidak-ada", headers={"accept-language": "en-US,en;q=0.9,id;q=0.8"})
    assert h1(english.text) == "Not found"
    indonesian = client.get("/tidak-ada", headers={"accept-language": "id-ID,id;q=0.9,en;q=0.8"})
    assert h1(indonesian.text) == "Tidak ditemukan"
    old_phone = client.get("/tidak-ada", headers={"accept-language": "in-ID"})
    assert h1(old_phone.text) == "Tidak ditemukan"
    unknown = client.get("/tidak-ada?lang=xx", headers={"accept-language": "fr"})
    assert h1(unknown.text) == "Tidak ditemukan"
    assert "set-cookie" not in unknown.headers


def test_language_switch_links_keep_the_page(client: TestClient) -> None:
    html = client.get("/tidak-ada?q=1").text
    assert 'href="/tidak-ada?q=1&amp;lang=en"' in html


@pytest.mark.parametrize(
    ("path", "status", "kode"),
    [("/api/tidak-ada", 404, "tidak_ditemukan"), ("/api/uji/galat", 500, "kesalahan_sistem")],
)
def test_api_errors_are_json_in_bahasa(client: TestClient, path: str, status: int, kode: str) -> None:
    response = client.get(path)
    assert response.status_code == status
    body = response.json()
    assert body["kode"] == kode
    assert body["status"] == status
    assert "Traceback" not in response.text
    assert "boom" not in response.text


def test_json_for_machine_clients_anywhere(client: TestClient) -> None:
    response = client.get("/tidak-ada", headers={"accept": "application/json"})
    assert response.json()["detail"] == "Halaman atau data yang Anda cari tidak ditemukan."


def test_method_not_allowed_page(client: TestClient) -> None:
    response = client.post("/healthz", headers=csrf(client))
    assert response.status_code == 405
    assert h1(response.text) == "Cara akses tidak didukung"


def test_server_error_shows_no_trace_and_logs_no_nik(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get("/uji/galat")
    assert response.status_code == 500
    assert h1(response.text) == "Terjadi kesalahan"
    assert "Traceback" not in response.text
    assert "boom" not in response.text
    assert NIK not in response.text
    assert NIK not in caplog.text


def test_specific_detail_and_headers_are_kept(client: TestClient) -> None:
    busy = client.get("/uji/sibuk")
    assert busy.status_code == 429
    assert busy.headers["retry-after"] == "30"
    assert h1(busy.text) == "Terlalu banyak permintaan"
    specific = client.get("/uji/pesan")
    assert "Keluarga tidak ditemukan." in specific.text


def test_form_validation_error_is_readable_and_does_not_echo_the_value(client: TestClient) -> None:
    response = client.post(
        "/uji/formulir",
        data={"nik": "12<script>34", "umur": "dua"},
        headers={"accept": "text/html", **csrf(client)},
    )
    assert response.status_code == 422
    html = response.text
    assert h1(html) == "Isian belum benar"
    assert "<strong>NIK</strong>: formatnya tidak sesuai" in html
    assert "<strong>Umur</strong>: harus berupa bilangan bulat" in html
    assert "<script>" not in html
    assert "12&lt;script&gt;34" not in html
    missing = client.post("/uji/formulir", data={}, headers={"accept": "text/html", **csrf(client)})
    assert "<strong>NIK</strong>: wajib diisi" in missing.text


def test_form_validation_error_in_english(client: TestClient) -> None:
    response = client.post("/uji/formulir?lang=en", data={"umur": "1"}, headers=csrf(client))
    assert "is required" in response.text


def test_oversized_body_is_refused_with_413(client: TestClient) -> None:
    response = client.post("/uji/formulir", data={"nik": "1" * 2000, "umur": "1"}, headers=csrf(client))
    assert response.status_code == 413
    assert h1(response.text) == "Terlalu besar"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it arrives
        yield b"nik=" + b"1" * 600
        yield b"&umur=" + b"1" * 600

    streamed = client.post(
        "/uji/formulir",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded", **csrf(client)},
    )
    assert streamed.status_code == 413


def test_unsafe_request_without_csrf_token_is_refused_in_bahasa(client: TestClient) -> None:
    response = client.post(
        "/uji/formulir", data={"nik": "1" * 16, "umur": "1"}, headers={"accept": "text/html"}
    )
    assert response.status_code == 403
    assert "Formulir kedaluwarsa" in response.text
    assert h1(response.text) == "Tidak berwenang"


def test_back_link_is_never_an_open_redirect(client: TestClient) -> None:
    own = client.get("/tidak-ada", headers={"referer": "http://testserver/staf/cari?q=1"})
    assert 'href="/staf/cari?q=1"' in own.text
    other = client.get("/tidak-ada", headers={"referer": "https://jahat.example/x"})
    assert "jahat.example" not in other.text


def test_openapi_schema_is_served_and_no_cdn_docs(client: TestClient) -> None:
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


def test_static_assets_have_no_external_references() -> None:
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in {".css", ".js", ".svg"}:
            text = path.read_text(encoding="utf-8")
            assert "@import" not in text, path
            assert not re.search(r"url\(\s*['\"]?(https?:)?//", text), path


def test_templates_have_no_inline_script_or_style() -> None:
    """The CSP forbids inline scripts and styles; a template using them would break silently."""
    for path in TEMPLATES_DIR.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert "<style" not in text, path
        assert not re.search(r"\sstyle=", text), path
        assert not re.search(r"\son[a-z]+=", text), path
        assert "cdn" not in text.lower(), path
        assert "googleapis" not in text, path


def _extracted() -> dict[str, set[tuple[str, int]]]:
    """Every translatable string of the web stack, extracted with the repository's babel.cfg mapping."""
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str, set[tuple[str, int]]] = {}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=keywords
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, set()).add((filename, lineno))
    return found


def _catalog(language: str) -> dict[str, str | tuple[str, ...]]:
    with i18n.po_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language)
    result: dict[str, str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for msgid in ids:
            result[msgid] = message.string
    return result


def test_every_web_string_has_an_english_translation() -> None:
    extracted = _extracted()
    assert "Tidak ditemukan" in extracted
    assert "Langsung ke isi" in extracted
    english = _catalog("en")
    missing = {
        msgid: sorted(places)[0]
        for msgid, places in extracted.items()
        if not english.get(msgid) or (isinstance(english[msgid], tuple) and not all(english[msgid]))
    }
    assert not missing, (
        "strings without an English translation (run pybabel extract/update, then translate "
        f"src/dtsen/web/translations/en/LC_MESSAGES/messages.po): {missing}"
    )


def test_translations_keep_their_placeholders() -> None:
    for msgid, translated in _catalog("en").items():
        for text in translated if isinstance(translated, tuple) else (translated,):
            if text:
                assert set(re.findall(r"%\(\w+\)s", msgid)) == set(re.findall(r"%\(\w+\)s", text)), msgid


def test_catalogs_compile_and_translate() -> None:
    assert i18n.gettext("en", "Tidak ditemukan") == "Not found"
    assert i18n.gettext("id", "Tidak ditemukan") == "Tidak ditemukan"
    assert i18n.gettext("xx", "Tidak ditemukan") == "Tidak ditemukan"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en", "en"),
        ("en-GB,en;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,en;q=0.5", "en"),
        ("id-ID", "id"),
        ("in", "id"),
        ("fr", None),
        ("", None),
        ("en;q=abc,id", "id"),
        ("id;q=0.1,en;q=0.9", "en"),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert i18n.accept_language(header) == expected


def test_template_strings_write_percent_signs_as_double_percent() -> None:
    """Jinja's new-style gettext always %-formats, so a lone ``%`` in a template string breaks the page."""
    fine = re.compile(r"%%|%\(\w+\)[sd]")
    broken = {
        msgid: sorted(places)[0]
        for msgid, places in _extracted().items()
        if any(name.endswith(".html") for name, _ in places) and "%" in fine.sub("", msgid)
    }
    assert not broken, f"write % as %% in these template strings: {broken}"


def test_numbers_money_and_dates_in_the_page_language() -> None:
    import datetime as dt

    from dtsen.web.templating import templates

    page = templates.env.from_string(
        "{{ d|tanggal }} | {{ x|tanggal }} | {{ 1500000|rupiah }} | {{ 1234567|angka }}"
    )
    moment = dt.datetime(2026, 12, 5, 21, 21, 35, tzinfo=dt.UTC)
    assert page.render(lang="id", d=moment, x=dt.date(2022, 10, 31)) == (
        "6 Des 2026 04.21 WIB | 31 Okt 2022 | Rp 1.500.000 | 1.234.567"
    )
    assert page.render(lang="en", d=moment, x="2022-10-31").startswith("6 Dec 2026 04:21 WIB | 31 Oct 2022")
    # a time the page put in its region's zone keeps that zone, labelled once (Lacak showed "WIB WIB")
    from dtsen.workflows.intake import local_time

    in_bali, _ = local_time(moment, "5171")
    one = templates.env.from_string("{{ d|tanggal }}")
    assert one.render(lang="id", d=in_bali) == "6 Des 2026 05.21 WITA"
    assert templates.env.from_string("{{ none|rupiah }}").render(lang="id", none=None) == "–"


def test_template_output_is_escaped() -> None:
    from dtsen.web.templating import templates

    html = templates.env.from_string("{{ name }} {{ _('Halo %(nama)s', nama=name) }}").render(
        lang="id", name="<script>x</script>"
    )
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") == 2


def test_oversized_json_for_machine_clients_is_refused_with_413(client: TestClient) -> None:
    """Bearer requests skip the CSRF check, so the endpoint's own body parsing meets the cap."""

    def chunks() -> Iterator[bytes]:
        yield b'{"nama": "'
        yield b"a" * 3000
        yield b'"}'

    headers = {"authorization": "Bearer x", "content-type": "application/json"}
    for body in (b'{"nama": "' + b"a" * 3000 + b'"}', chunks()):
        response = client.post("/api/staf/cari", content=body, headers=headers)
        assert response.status_code == 413
        assert response.json()["kode"] == "terlalu_besar"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_palette_meets_wcag_aa_contrast() -> None:
    """Every text colour of the stylesheet against the backgrounds it is used on: at least 4.5:1."""
    css = (STATIC_DIR / "dtsen.css").read_text(encoding="utf-8")
    var = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    pairs = [
        ("ink", "paper"),
        ("ink-soft", "paper"),
        ("ink-soft", "wash"),
        ("brand", "paper"),
        ("brand-dark", "paper"),
        ("ok", "paper"),
        ("warn", "paper"),
        ("bad", "paper"),
        ("ink", "wash"),
    ]
    low = {
        f"{fg} on {bg}": round(_contrast(var[fg], var[bg]), 2)
        for fg, bg in pairs
        if _contrast(var[fg], var[bg]) < 4.5
    }
    assert not low, low
    assert _contrast("#ffffff", var["brand-dark"]) >= 4.5  # header text
    assert _contrast("#ffffff", var["brand"]) >= 4.5  # button text
    assert _contrast(var["warn"], "#fdf3dc") >= 4.5  # warning badge
    assert _contrast(var["ok"], "#e7f4ea") >= 4.5  # ok badge
    assert _contrast(var["bad"], "#fbe9e9") >= 4.5  # error badge
