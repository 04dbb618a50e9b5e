"""What the sharing journey and the dashboard test need beside the shared live server
(tests/browser/conftest.py): the server pointed at the served city's snapshot files, a security statement
to upload, the people of the journey, and small readers of what the browser downloads.

The live server is shared by every browser test of a backend, so :func:`serving_city_files` changes its
settings only for the duration of a module and puts them back: ``data_dir`` becomes the served city's (the
dashboard and the extracts read the snapshot's Parquet files from there) with the same secret key (the
audit chain and the keyed references must not change under the other tests), and uploads and extracts go
to a temporary folder instead of the city's data dir.
"""

from __future__ import annotations

import csv
import io
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from browser_kit import LiveServer
from pydantic import SecretStr
from sqlalchemy import func, select

# A signed statement as an agency would scan it is a PDF; the upload checks read its signature and end.
STATEMENT_PDF = b"%PDF-1.4\n1 0 obj<</Type /Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
WIB = ZoneInfo("Asia/Jakarta")
AGENCY_KAB = "3471"  # Kota Yogyakarta, the served city
BYNAME_FIELDS = ("nama", "jenis_kelamin", "kode_desa", "desil_nasional")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@contextmanager
def serving_city_files(live: LiveServer, work: Path) -> Iterator[LiveServer]:
    """The live server reading the served city's snapshot files, writing uploads and extracts under
    ``work``; its settings and overrides restored afterwards."""
    state = live.app.state
    settings = state.settings
    secret = SecretStr(settings.resolved_secret_key())
    saved = {name: getattr(state, name, None) for name in ("upload_dir", "extract_dir", "snapshot_data_dir")}
    state.settings = settings.model_copy(update={"data_dir": live.data_dir, "secret_key": secret})
    state.upload_dir = work / "uploads"
    state.extract_dir = work / "extracts"
    state.snapshot_data_dir = live.data_dir
    try:
        yield live
    finally:
        state.settings = settings
        for name, value in saved.items():
            if value is None:
                if hasattr(state, name):
                    delattr(state, name)
            else:
                setattr(state, name, value)


@contextmanager
def signed_in(
    browser: Any, live: LiveServer, role: str, regions: tuple[str, ...] = (), *, phone: bool = False
) -> Iterator[Any]:
    """A page (desktop, or phone-sized) signed in as a staff account of ``role``: the session is opened as
    the login form opens it (:func:`dtsen.auth.sessions.create_session`) and handed to the browser as its
    cookie, so a journey of several officers pays for one argon2 check (the agency's real sign-in), not
    one per officer. The form itself is tested by test_staff_browser.py."""
    from dtsen.auth.policy import SESSION_COOKIE, policy_of
    from dtsen.auth.sessions import create_session
    from dtsen.store.db import session_scope
    from dtsen.store.identity import StaffUser

    username, _password = live.user(role, regions)
    with session_scope(engine=live.engine) as db:
        user = db.scalars(select(StaffUser).where(StaffUser.username == username)).one()
        token = create_session(db, user, now=datetime.now(UTC), policy=policy_of(live.app)).token
    size = (
        {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
        if phone
        else {"viewport": DESKTOP}
    )
    context = browser.new_context(base_url=live.url, locale="id-ID", **size)
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": live.url}])
    try:
        yield context.new_page()
    finally:
        context.close()


def today_wib() -> date:
    return datetime.now(WIB).date()


@dataclass(frozen=True)
class Asked:
    """What the agency asks for: persons by name in one kecamatan of the city, with one program."""

    kode_kec: str
    program: str
    persons: int  # how many persons the served snapshot has there (what the extract must carry)


def asked(live: LiveServer) -> Asked:
    """The smallest kecamatan of the city that has persons, and the first program served."""
    from dtsen.store.served import ServedPerson, ServedSnapshot

    with live.engine.connect() as connection:
        current, programs = connection.execute(
            select(ServedSnapshot.id, ServedSnapshot.programs).where(ServedSnapshot.is_current)
        ).one()
        kode_kec, persons = connection.execute(
            select(ServedPerson.kode_kec, func.count())
            .where(ServedPerson.snapshot_id == current, ServedPerson.kode_kec.startswith(AGENCY_KAB))
            .group_by(ServedPerson.kode_kec)
            .order_by(func.count(), ServedPerson.kode_kec)
            .limit(1)
        ).one()
        in_villages = connection.scalar(
            select(func.count()).where(
                ServedPerson.snapshot_id == current, ServedPerson.kode_desa.startswith(kode_kec)
            )
        )
    assert persons
    assert in_villages == persons, "the kecamatan's persons live in its villages"
    return Asked(kode_kec=str(kode_kec), program=sorted(programs)[0], persons=int(persons))


def validity(days_back: int = 7, days_ahead: int = 30) -> tuple[str, str]:
    """A validity that began a week ago (WIB) and runs a month on."""
    today = today_wib()
    return (today - timedelta(days=days_back)).isoformat(), (today + timedelta(days=days_ahead)).isoformat()


def csv_rows(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(content.decode("utf-8")))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def pdf_strings(pdf: bytes) -> bytes:
    """The PDF's bytes with every Flate stream inflated: the document information (title, subject) that
    WeasyPrint keeps in a compressed object stream becomes searchable."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def download(page: Any, link: Any) -> tuple[str, bytes]:
    """Click a download link; (the suggested file name, the bytes)."""
    with page.expect_download() as info:
        link.click()
    got = info.value
    path = got.path()
    assert path is not None, got.failure()
    return str(got.suggested_filename), Path(path).read_bytes()
