"""The case queue and the case dashboard as the staff pages and their JSON twins show them: the filters a
role may use (its own region only), one row per case with its SLA state, and the counts by workflow, state
and village. Every read is scoped by :func:`dtsen.auth.scope.region_clause`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from dtsen.api.display import region_name
from dtsen.auth.scope import Principal, Role, region_clause
from dtsen.store.cases import WorkflowCase
from dtsen.web import i18n, svg
from dtsen.web.i18n import N_
from dtsen.workflows import cases
from dtsen.workflows.machine import WORKFLOWS

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
DASHBOARD_CHART_VILLAGES = 40  # the villages with the most cases get a bar; the table lists them all

STEP_LABELS: dict[str, str] = {
    "buka": N_("Kasus dibuka"),
    "gabung_masuk": N_("Usulan lain digabungkan ke kasus ini"),
}

ORIGIN_LABELS: dict[str, str] = {
    "publik": N_("Warga (daring)"),
    "desa": N_("Desa/kelurahan"),
    "dinsos": N_("Dinas sosial"),
    "sistem": N_("Sistem"),
}


# Every state of every workflow once, in workflow order (the filter's choices).
STATE_LABELS: dict[str, str] = {
    state.name: state.label for workflow in WORKFLOWS.values() for state in workflow.states
}

VERIFICATION_STATES = ("verifikasi", "dikonfirmasi", "dikunjungi")
VISIT_STATES = ("kunjungan", "ditugaskan")
BAD_FILTER_DESA = N_("Desa/kelurahan ini di luar wilayah Anda.")
BAD_FILTER_STATE = N_("Status ini tidak dikenal.")


# -- the queue -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueQuery:
    """The queue's filters as sent (validated by :func:`queue_filter`)."""

    jenis: str = ""
    state: str = ""
    desa: str = ""
    terlambat: bool = False
    semua: bool = False
    limit: int = PAGE_SIZE
    offset: int = 0

    def params(self, **changes: Any) -> str:
        """The query string of this queue (with ``changes``), for pagination links."""
        query = replace(self, **changes)
        pairs = {
            "jenis": query.jenis,
            "state": query.state,
            "desa": query.desa,
            "terlambat": "1" if query.terlambat else "",
            "semua": "1" if query.semua else "",
            "offset": str(query.offset) if query.offset else "",
        }
        return urlencode({key: value for key, value in pairs.items() if value})


def default_queue(principal: Principal) -> tuple[str, cases.QueueFilter]:
    """What a role works on first: (the queue's title msgid, its filter)."""
    if principal.role is Role.PENDAMPING:
        return N_("Kunjungan hari ini"), cases.QueueFilter(states=VISIT_STATES, assigned_to=principal.name)
    if principal.role is Role.DINSOS:
        return N_("Antrean verifikasi"), cases.QueueFilter(states=VERIFICATION_STATES)
    if principal.role is Role.OPERATOR_DESA:
        return N_("Usulan dan sanggahan terbuka di desa/kelurahan Anda"), cases.QueueFilter()
    return N_("Semua kasus terbuka"), cases.QueueFilter()


def queue_filter(
    principal: Principal, query: QueueQuery, now: datetime
) -> tuple[str, cases.QueueFilter, dict[str, str]]:
    """(title msgid, the service's filter, errors by field as msgids) for a queue request."""
    errors: dict[str, str] = {}
    if query.state and query.state not in STATE_LABELS:
        errors["state"] = BAD_FILTER_STATE
    if query.desa and not principal.may_see_region(query.desa):
        errors["desa"] = BAD_FILTER_DESA
    title, filters = default_queue(principal)
    if query.semua:
        title, filters = N_("Semua kasus terbuka"), cases.QueueFilter()
    if query.jenis:
        filters = replace(filters, jenis=query.jenis)
    if query.state:
        filters = replace(filters, states=(query.state,))
    if query.desa:
        filters = replace(filters, kode_desa=query.desa)
    if query.terlambat:
        title, filters = N_("Kasus yang lewat tenggat"), replace(filters, overdue_at=now)
    return title, filters, errors


def state_label(jenis: str, state: str, lang: str) -> str:
    try:
        return i18n.gettext(lang, cases.workflow_of(jenis).state(state).label)
    except (KeyError, ValueError):
        return state


def case_row(case_: WorkflowCase, lang: str, now: datetime) -> dict[str, Any]:
    """A case as one line of a queue (and the head of its page)."""
    open_ = case_.closed_at is None
    late_ack = bool(open_ and case_.acknowledged_at is None and case_.ack_due_at and case_.ack_due_at < now)
    workflow = WORKFLOWS.get(case_.jenis)
    return {
        "id": case_.id,
        "nomor": case_.nomor,
        "jenis": case_.jenis,
        "jenis_label": i18n.gettext(lang, workflow.label) if workflow else case_.jenis,
        "kategori": case_.kategori,
        "state": case_.state,
        "state_label": state_label(case_.jenis, case_.state, lang),
        "kode_desa": case_.kode_desa,
        "desa": region_name(case_.kode_desa),
        "subject_nama": case_.subject_nama,
        "assigned_to": case_.assigned_to,
        "priority": case_.priority,
        "version": case_.version,
        "opened_at": case_.opened_at,
        "ack_due_at": case_.ack_due_at,
        "due_at": case_.due_at,
        "closed_at": case_.closed_at,
        "terlambat_tanggap": late_ack,
        "terlambat": bool(open_ and case_.due_at and case_.due_at < now),
        "href": f"/staf/kasus/{case_.id}",
    }


def overdue_clause(now: datetime) -> Any:
    """Open and past the acknowledgement (unacknowledged) or the resolution deadline."""
    return and_(
        WorkflowCase.closed_at.is_(None),
        or_(
            and_(WorkflowCase.acknowledged_at.is_(None), WorkflowCase.ack_due_at < now),
            WorkflowCase.due_at < now,
        ),
    )


def load_queue(
    session: Session, principal: Principal, query: QueueQuery, lang: str, now: datetime
) -> dict[str, Any]:
    """The queue's rows (one page, and whether more follow) and, for a dinsos, its count of SLA breaches."""
    title, filters, errors = queue_filter(principal, query, now)
    rows: list[dict[str, Any]] = []
    more = False
    if not errors:
        found = cases.queue(session, principal, filters, limit=query.limit + 1, offset=query.offset)
        more = len(found) > query.limit
        rows = [case_row(item, lang, now) for item in found[: query.limit]]
    breaches = None
    if principal.role is Role.DINSOS and not query.terlambat:
        breaches = session.scalar(
            select(func.count())
            .select_from(WorkflowCase)
            .where(region_clause(principal, cases.CASE), overdue_clause(now))
        )
    session.commit()
    return {"title": title, "rows": rows, "more": more, "errors": errors, "breaches": breaches}


# -- the dashboard -------------------------------------------------------------------------------------------
def dashboard(session: Session, principal: Principal, lang: str, now: datetime) -> dict[str, Any]:
    """Counts by workflow and state, by village (with progress and breaches) and the SLA breaches."""
    scope = region_clause(principal, cases.CASE)
    by_state = [
        {
            "jenis": jenis,
            "jenis_label": i18n.gettext(lang, WORKFLOWS[jenis].label) if jenis in WORKFLOWS else jenis,
            "state": state,
            "state_label": state_label(jenis, state, lang),
            "jumlah": int(count),
        }
        for jenis, state, count in session.execute(
            select(WorkflowCase.jenis, WorkflowCase.state, func.count())
            .where(scope)
            .group_by(WorkflowCase.jenis, WorkflowCase.state)
            .order_by(WorkflowCase.jenis, WorkflowCase.state)
        )
    ]
    overdue = case((overdue_clause(now), 1), else_=0)
    closed = case((WorkflowCase.closed_at.is_not(None), 1), else_=0)
    villages = []
    for kode, total, done, late in session.execute(
        select(WorkflowCase.kode_desa, func.count(), func.sum(closed), func.sum(overdue))
        .where(scope)
        .group_by(WorkflowCase.kode_desa)
        .order_by(func.count().desc(), WorkflowCase.kode_desa)
        .limit(1000)
    ):
        total, done, late = int(total), int(done or 0), int(late or 0)
        villages.append(
            {
                "kode": kode,
                "nama": region_name(kode),
                "jumlah": total,
                "selesai": done,
                "terbuka": total - done,
                "terlambat": late,
                "kemajuan": done / total if total else 0.0,
            }
        )

    def count(*conditions: Any) -> int:
        return int(
            session.scalar(select(func.count()).select_from(WorkflowCase).where(scope, *conditions)) or 0
        )

    breaches = {
        "tanggap_terbuka": count(
            WorkflowCase.closed_at.is_(None),
            WorkflowCase.acknowledged_at.is_(None),
            WorkflowCase.ack_due_at < now,
        ),
        "tanggap_terlambat": count(WorkflowCase.acknowledged_at > WorkflowCase.ack_due_at),
        "selesai_terbuka": count(WorkflowCase.closed_at.is_(None), WorkflowCase.due_at < now),
        "selesai_terlambat": count(WorkflowCase.closed_at > WorkflowCase.due_at),
    }
    session.commit()
    for village in villages[:DASHBOARD_CHART_VILLAGES]:
        share = village["kemajuan"]
        village["chart"] = svg.probability_bar(
            share,
            i18n.say(lang, N_("Kemajuan %(desa)s"), {"desa": str(village["nama"] or village["kode"])}),
            i18n.say(
                lang,
                N_("%(selesai)s dari %(jumlah)s kasus selesai"),
                {"selesai": str(village["selesai"]), "jumlah": str(village["jumlah"])},
            ),
            f"kemajuan-{village['kode']}",
        )
    return {
        "by_state": by_state,
        "villages": villages,
        "breaches": breaches,
        "total": sum(row["jumlah"] for row in by_state),
        "regions": [{"kode": kode, "nama": region_name(kode)} for kode in principal.regions],
    }
