"""``dtsen sharing expire`` on SQLite and PostgreSQL: approved requests past their ``valid_until`` (WIB) move
to ``kedaluwarsa``, one audited step each by the system actor; the last valid day, requests still under
review and requests already ended are left alone; a second run finds nothing to do."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dtsen.cli.main import app
from dtsen.sharing.requests import today
from dtsen.store.models import AuditLog
from dtsen.store.sharing import AccessRequest

runner = CliRunner()


def _request(nomor: str, state: str, valid_until: date) -> AccessRequest:
    moment = datetime.now(UTC)
    return AccessRequest(
        nomor=nomor,
        instansi="Dinas Uji",
        pemohon="user:uji.instansi",
        tujuan="Uji",
        dasar_hukum="Uji",
        level="aggregate",
        regions=["3471"],
        fields=[],
        programs=[],
        periode="2026Q2",
        k_min=10,
        valid_from=valid_until - timedelta(days=30),
        valid_until=valid_until,
        state=state,
        version=3,
        pernyataan_sha256="0" * 64,
        pernyataan_mime="application/pdf",
        reviews=[],
        created_at=moment,
        updated_at=moment,
    )


def _expire(url: str) -> dict[str, int]:
    result = runner.invoke(app, ["sharing", "expire", "--url", url])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def test_expire_moves_past_due_approved_requests_and_audits_each(engine: Engine, db_url: str) -> None:
    day = today()
    rows = {
        "past": _request("AKSES-UJI-000001", "disetujui", day - timedelta(days=1)),
        "last_day": _request("AKSES-UJI-000002", "disetujui", day),
        "in_review": _request("AKSES-UJI-000003", "telaah_substantif", day - timedelta(days=5)),
        "ended": _request("AKSES-UJI-000004", "kedaluwarsa", day - timedelta(days=9)),
    }
    with Session(engine) as session:
        session.add_all(rows.values())
        session.commit()
        ids = {name: row.id for name, row in rows.items()}

    assert _expire(db_url) == {"expired": 1}

    with Session(engine) as session:
        states = {name: session.get(AccessRequest, ids[name]) for name in ids}
        assert {name: (row.state, row.version) for name, row in states.items() if row} == {
            "past": ("kedaluwarsa", 4),
            "last_day": ("disetujui", 3),  # usable through its last day
            "in_review": ("telaah_substantif", 3),
            "ended": ("kedaluwarsa", 3),
        }
        review = states["past"].reviews[-1]
        assert (review["action"], review["from"], review["to"], review["actor"]) == (
            "kedaluwarsa",
            "disetujui",
            "kedaluwarsa",
            "akses",
        )
        entries = list(
            session.scalars(
                select(AuditLog).where(AuditLog.resource == "access_request", AuditLog.action == "transition")
            )
        )
    assert [(e.actor, e.actor_role, e.detail["nomor"], e.detail["to"]) for e in entries] == [
        ("system:akses", "admin_bps", "AKSES-UJI-000001", "kedaluwarsa")
    ]

    assert _expire(db_url) == {"expired": 0}  # nothing left to do, nothing written
    with Session(engine) as session:
        again = session.scalars(select(AuditLog.id).where(AuditLog.action == "transition")).all()
    assert len(again) == 1


def test_expire_refuses_a_database_without_schema(db_factory: Callable[[], str]) -> None:
    url = db_factory()
    result = runner.invoke(app, ["sharing", "expire", "--url", url])
    assert result.exit_code == 1
    assert "no schema yet" in result.output
