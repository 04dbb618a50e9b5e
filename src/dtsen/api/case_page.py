"""The case page: a case's data, steps and documents, and the moves the principal's role may make on it
(with the fields each needs). A move goes through :mod:`dtsen.workflows.moves`, which checks and audits it;
this module only shapes the view and settles a refused move's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dtsen.api.case_queue import ORIGIN_LABELS, STEP_LABELS, case_row, state_label
from dtsen.auth.permissions import role_has
from dtsen.auth.scope import Principal, Role
from dtsen.store.cases import WorkflowCase, WorkflowStep
from dtsen.web import i18n
from dtsen.web.i18n import N_
from dtsen.workflows import cases, moves
from dtsen.workflows.machine import WORKFLOWS, Transition

VISIT_FORM = "/staf/kunjungan/{id}"  # the field form that records a visit's `hasil` and `perubahan`


# Fields a page form carries as text (the visit's `hasil` and `perubahan` come from the field form).
FORM_FIELDS = ("pendamping", "kasus_induk", "musdes", "nomor_keputusan", "alasan")

FIELD_LABELS: dict[str, str] = {
    "pendamping": N_("Pendamping yang ditugaskan"),
    "kasus_induk": N_("Nomor kasus induk"),
    "musdes": N_("Nomor berita acara musyawarah desa"),
    "nomor_keputusan": N_("Nomor surat keputusan"),
    "alasan": N_("Alasan"),
    "hasil": N_("Hasil kunjungan"),
    "perubahan": N_("Perubahan data"),
    "snapshot": N_("Snapshot"),
    "catatan": N_("Catatan"),
    "version": N_("Versi kasus"),
    "formulir": N_("Formulir"),
}

STALE_FORM = N_("Formulir ini tidak lengkap. Muat ulang halaman kasus lalu ulangi.")


# -- the case page -------------------------------------------------------------------------------------------
def may_act(principal: Principal) -> bool:
    return role_has(principal.role, "case.act") and (
        principal.kind != "client" or "case.act" in principal.scopes
    )


def actions_for(principal: Principal, case_: WorkflowCase) -> list[Transition]:
    """The actions of the case's state this principal may take (the service checks again on submit)."""
    if not may_act(principal) or case_.jenis not in WORKFLOWS:
        return []
    return [
        transition
        for transition in WORKFLOWS[case_.jenis].available(case_.state)
        if principal.role in transition.roles
        and (not transition.assigned_only or principal.name == case_.assigned_to)
    ]


def fields_of(action: str) -> tuple[str, ...]:
    """The text fields a page form for ``action`` may carry (what the action requires, in any workflow)."""
    required = {
        name
        for workflow in WORKFLOWS.values()
        for t in workflow.transitions
        if t.action == action
        for name in t.requires
    }
    return tuple(name for name in FORM_FIELDS if name in required)


def pendamping_of(session: Session, case_: WorkflowCase) -> list[str]:
    """Usernames of the active pendamping who may see the case's village (those it can be assigned to)."""
    from dtsen.store.identity import StaffUser, StaffUserRegion

    codes = [case_.kode_prov, case_.kode_kab, case_.kode_kec, case_.kode_desa]
    return list(
        session.scalars(
            select(StaffUser.username)
            .join(StaffUserRegion, StaffUserRegion.user_id == StaffUser.id)
            .where(
                StaffUser.role == Role.PENDAMPING.value,
                StaffUser.active.is_(True),
                StaffUserRegion.kode.in_(codes),
            )
            .distinct()
            .order_by(StaffUser.username)
            .limit(500)
        )
    )


def _action_view(
    transition: Transition, case_: WorkflowCase, lang: str, pendamping: list[str]
) -> dict[str, Any]:
    fields = []
    for name in transition.requires:
        label = i18n.gettext(lang, FIELD_LABELS.get(name, name))
        if name in FORM_FIELDS:
            kind = (
                "select"
                if name == "pendamping" and pendamping
                else ("textarea" if name == "alasan" else "text")
            )
            fields.append({"name": name, "label": label, "kind": kind, "options": pendamping})
    visit = transition.action == "laporkan_kunjungan"
    return {
        "aksi": transition.action,
        "label": i18n.gettext(lang, transition.label),
        "wajib": list(transition.requires),
        "fields": fields,
        "formulir_lapangan": VISIT_FORM.format(id=case_.id) if visit else None,
        "form": not visit and all(name in FORM_FIELDS for name in transition.requires),
    }


def _data_rows(
    data: Mapping[str, Any] | None, lang: str
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The fields the steps recorded, as (label, text) rows, and the recorded changes as table rows."""
    rows: list[dict[str, str]] = []
    changes: list[dict[str, Any]] = []
    for name, value in sorted((data or {}).items()):
        if name == "perubahan" and isinstance(value, list):
            changes = [item for item in value if isinstance(item, Mapping)]
            continue
        if value is None or value == "":
            continue
        if isinstance(value, Mapping):
            text = "; ".join(f"{key}: {item}" for key, item in value.items())
        elif isinstance(value, list):
            text = "; ".join(str(item) for item in value)
        else:
            text = str(value)
        rows.append(
            {"label": i18n.gettext(lang, FIELD_LABELS.get(name, name.replace("_", " "))), "text": text[:2000]}
        )
    return rows, changes


def _step_label(step: WorkflowStep, jenis: str, lang: str) -> str:
    if step.action in STEP_LABELS:
        return i18n.gettext(lang, STEP_LABELS[step.action])
    try:
        return i18n.gettext(lang, cases.workflow_of(jenis).transition(step.action).label)
    except (KeyError, ValueError):
        return step.action.replace("_", " ")


def case_view(
    session: Session, principal: Principal, case_: WorkflowCase, lang: str, now: datetime
) -> dict[str, Any]:
    """Everything the case page and its JSON twin show."""
    view = case_row(case_, lang, now)
    actions = actions_for(principal, case_)
    pendamping = pendamping_of(session, case_) if any("pendamping" in t.requires for t in actions) else []
    rows, changes = _data_rows(case_.data, lang)
    parent = session.get(WorkflowCase, case_.duplicate_of) if case_.duplicate_of else None
    view.update(
        {
            "periode": case_.periode,
            "asal": case_.asal,
            "asal_label": i18n.gettext(lang, ORIGIN_LABELS.get(case_.asal, case_.asal)),
            "id_keluarga_dtsen": case_.id_keluarga_dtsen,
            "acknowledged_at": case_.acknowledged_at,
            "updated_at": case_.updated_at,
            "duplicate_of": case_.duplicate_of,
            "duplicate_nomor": parent.nomor if parent is not None else None,
            "data": dict(case_.data or {}),
            "data_rows": rows,
            "perubahan": changes,
            "langkah": [
                {
                    "action": step.action,
                    "label": _step_label(step, case_.jenis, lang),
                    "from_state": step.from_state,
                    "from_label": state_label(case_.jenis, step.from_state, lang)
                    if step.from_state
                    else None,
                    "to_state": step.to_state,
                    "to_label": state_label(case_.jenis, step.to_state, lang),
                    "actor": step.actor,
                    "actor_role": step.actor_role,
                    "at": step.at,
                    "reason": step.reason,
                }
                for step in cases.steps_of(session, case_)
            ],
            "tindakan": [_action_view(t, case_, lang, pendamping) for t in actions],
        }
    )
    return view


def load_case(
    session: Session, principal: Principal, case_id: int, lang: str, now: datetime
) -> dict[str, Any]:
    """The case page's data (an audited read); :class:`~dtsen.workflows.cases.CaseNotFoundError` else."""
    try:
        case_ = cases.get_case(session, principal, case_id)
    except cases.CaseError:
        session.commit()  # the refused read's audit entry stays, although the answer is a 404
        raise
    view = case_view(session, principal, case_, lang, now)
    session.commit()  # the audit chain lock is held until commit: release it before rendering
    return view


@dataclass(frozen=True)
class ActionInput:
    aksi: str
    version: int | None
    fields: dict[str, Any]
    reason: str | None = None
    idempotency_key: str | None = None
    documents: tuple[str, ...] = ()


def take_action(
    session: Session, principal: Principal, case_id: int, action: ActionInput, now: datetime
) -> WorkflowCase:
    """The service's move, after the check a form needs: a version (the service checks the pendamping)."""
    if action.version is None:
        raise cases.CaseInvalidError({"version": (STALE_FORM, {})})
    return moves.act(
        session,
        principal,
        case_id,
        action.aksi,
        version=action.version,
        fields=action.fields,
        documents=action.documents,
        reason=action.reason,
        idempotency_key=action.idempotency_key,
        now=now,
    )


def settle_refusal(session: Session, error: cases.CaseError) -> None:
    """After a refused move: keep what it audited (a denied read or action), drop anything else. Only an
    approval whose changes do not check fails after the move was written, and it raises CaseInvalidError,
    which audits nothing, so that one is rolled back."""
    if isinstance(error, cases.CaseInvalidError):
        session.rollback()
    else:
        session.commit()


def error_fields(error: cases.CaseError, lang: str) -> dict[str, str]:
    if not isinstance(error, cases.CaseInvalidError):
        return {}
    return {name: i18n.say(lang, message, params) for name, (message, params) in error.errors.items()}
