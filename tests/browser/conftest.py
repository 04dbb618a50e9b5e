"""Browser tests: Debian's Chromium driven by Playwright against a live uvicorn server on 127.0.0.1.

Fixtures (reusable by every browser test file in this folder):

* ``served_data_dir``: a small synthetic city (~3,000 persons, Kota Yogyakarta) run through two quarterly
  cycles (2026Q1, 2026Q2) once per test run (shared by the xdist workers), so family pages have a history.
* ``live_server``: the app on a fresh database of each backend (SQLite, PostgreSQL), migrated, regions
  and both snapshots loaded with the serving loader, served by uvicorn in a thread on a free port.
  ``live_server.url``, ``.engine`` (for direct checks such as audit rows), ``.data_dir``, and
  ``.user(role, regions)`` which creates a staff account and returns ``(username, password)``.
* ``browser``: one Chromium per session; ``phone`` and ``desktop``: a fresh browser context (no cookies)
  at 390x844 or 1280x800, each yielding a page.
* ``shoot(page, name)``: a full-page screenshot into the session's screenshot folder, and into
  ``docs/screenshots/`` when ``DTSEN_UPDATE_SCREENSHOTS=1``.
* ``login(page, username, password)``: signs in through the real login form.

No sleeps: the server's socket is bound and listening before uvicorn's thread starts (connections wait in
the backlog), and Playwright waits on page events, never on time. Without Chromium the tests are skipped
with the reason, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_kit import LiveServer

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DTSEN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS_DIR = ROOT / "docs" / "screenshots"


def _require_chromium() -> None:
    problem = None
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        problem = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium; scripts/test.sh does it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as exc:
            problem = f"the playwright package is missing: {exc}"
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: browser tests may not be skipped)", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def served_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two published snapshots of a small city (built once per run, shared with other test files)."""
    _require_chromium()
    from served_city import city_data_dir

    return city_data_dir(tmp_path_factory.getbasetemp())


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@pytest.fixture(scope="session")
def live_server(served_data_dir: Path, db_factory: Callable[[], str]) -> Iterator[LiveServer]:
    import uvicorn

    from dtsen.api.app import create_app
    from dtsen.store.db import make_engine
    from served_city import served_database

    db_url = db_factory()
    served_database(db_url, served_data_dir)
    engine = make_engine(db_url)

    app = create_app(db_url)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    # The socket already listens, so this first request waits in the backlog until uvicorn accepts it.
    response = httpx.get(f"{url}/healthz", timeout=60)
    assert response.text == "ok"
    try:
        yield LiveServer(url=url, db_url=db_url, engine=engine, data_dir=served_data_dir, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _context(browser: Any, live_server: LiveServer, viewport: dict[str, int], **extra: Any) -> Any:
    context = browser.new_context(
        base_url=live_server.url, viewport=viewport, locale="id-ID", java_script_enabled=True, **extra
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def phone(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = _context(browser, live_server, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def desktop(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = _context(browser, live_server, DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def shoot(screenshot_dir: Path, db_backend: str) -> Callable[[Any, str], Path]:
    """``shoot(page, "staf-keluarga")``: page screenshot named after the viewport (``-ponsel``/``-desktop``).

    Committed screenshots come from the SQLite run only (the pages are the same on both backends)."""

    def take(page: Any, name: str) -> Path:
        width = page.viewport_size["width"] if page.viewport_size else 0
        suffix = "ponsel" if width and width < 600 else "desktop"
        path = screenshot_dir / db_backend / f"{name}-{suffix}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("DTSEN_UPDATE_SCREENSHOTS") == "1" and db_backend == "sqlite":
            SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
            # Copied then renamed: a worker shooting the same page never leaves half a PNG behind.
            partial = SCREENSHOTS_DIR / f".{path.name}.{os.getpid()}.part"
            shutil.copyfile(path, partial)
            partial.replace(SCREENSHOTS_DIR / path.name)
        return path

    return take


@pytest.fixture
def login() -> Callable[[Any, str, str], None]:
    def sign_in(page: Any, username: str, password: str) -> None:
        page.goto("/masuk")
        page.get_by_label("Nama pengguna").fill(username)
        page.get_by_label("Kata sandi").fill(password)
        page.get_by_role("button", name="Masuk", exact=True).click()
        page.wait_for_load_state()

    return sign_in
