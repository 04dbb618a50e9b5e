"""The Social Registry endpoints' logic, independent of the web framework: admit a message, answer a sync
search at once, or accept an async one (ACK with our ``correlation_id``) for
:mod:`dtsen.sharing.dci.background` to answer later through the outbox. txn/status is
:mod:`dtsen.sharing.dci.txn_status`, admitted the same way.

What a message goes through, in order (the first refusal wins; nothing is stored for a refused message):

1. the envelope (:func:`dtsen.sharing.dci.envelope.verify`): shape (err.request.bad), version
   (err.version.not_supported), sender and receiver ids, signature (err.signature.missing / .invalid);
2. the action the endpoint serves (rjct.action.invalid);
3. the spec's request schema (err.request.bad naming the failing places, never the values);
4. ``header.total_count`` against the items (rjct.total_count.invalid) and our limits
   (rjct.total_count.limit_exceeded), and ``search_criteria.version`` (rjct.version.invalid);
5. the client's access request (:func:`dtsen.sharing.dci.grant.grant_for`: err.request.forbidden, 403);
6. for async calls, ``header.sender_uri`` registered for the client (err.sender_uri.invalid);
7. the message id, remembered in the same transaction as what the message causes
   (rjct.message_id.duplicate, 409).

Transport errors (``err.*``) are answered with the spec's HttpErrorResponse; whole-message business
rejections (``rjct.*``) with a signed envelope whose header says ``rjct`` and why (sync) or an ``ERR``
acknowledgement (async); rejections of single search items inside the answer (``status: rjct`` with a
SearchStatusReasonCode). A sync search whose every item is rejected is answered 400, so a client's bad
input always gets a 4xx.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.logs import get_logger
from dtsen.sharing.dci import outbox, spec
from dtsen.sharing.dci.envelope import DciKey, envelope, header_for_reply, remember_message, verify
from dtsen.sharing.dci.errors import HEADER_REASON_CODES, DciError
from dtsen.store import audit
from dtsen.store.dci import DciClientKey, DciTransaction
from dtsen.store.identity import ApiClient
from dtsen.store.sharing import AccessRequest

log = get_logger(__name__)

SPEC = "social"
SYNC_SEARCH = "/registry/sync/search"
ASYNC_SEARCH = "/registry/search"
SYNC_TXN_STATUS = "/registry/sync/txn/status"
ASYNC_TXN_STATUS = "/registry/txn/status"
ON_SEARCH = "/registry/on-search"
ON_TXN_STATUS = "/registry/txn/on-status"
# The action each endpoint serves, and the action of its answer (the spec's header enums).
ACTIONS = {
    SYNC_SEARCH: "search",
    ASYNC_SEARCH: "search",
    SYNC_TXN_STATUS: "txn-status",
    ASYNC_TXN_STATUS: "txn-status",
}
REPLY_ACTIONS = {"search": "on-search", "txn-status": "txn-on-status"}
MESSAGE_KEYS = {"search": "search_request", "txn-status": "txnstatus_request"}
PROTOCOL_VERSION = "1.0.0"
CORRELATION_ALPHABET = "abcdefghijkmnpqrstuvwxyz"  # letters only: safe in audit details (no NIK shape)
MAX_ERRORS_LISTED = 5


@dataclass(frozen=True)
class Limits:
    page_size_max: int = 1000
    batch_max: int = 10_000
    sync_batch_max: int = 100


@dataclass(frozen=True)
class Call:
    """One incoming request: who (the bearer token's client and principal), when, and our settings."""

    session: Session
    client: ApiClient
    principal: Principal
    now: datetime
    secret: str  # the deployment secret (de-identification salts)
    receiver_id: str
    key: DciKey
    limits: Limits
    # What the caller fetched together with the client (one query instead of three, see api/dci.py):
    # the client's key rows by key id (None: looked up, not there) and its linked access request.
    keys: Mapping[str, DciClientKey | None] | None = None
    linked: AccessRequest | None = None
    linked_fetched: bool = False
    # The snapshot served now as (id, ref, created_at), read with the client (None: look it up).
    snapshot: Any = None

    @property
    def actor(self) -> dict[str, Any]:
        return self.principal.audit_fields()


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


class Refused(Exception):  # noqa: N818 - a refusal, not an error of ours
    """A message refused with a complete signed answer (every search item rejected): the caller rolls
    back what the message did and audits the refusal like a :class:`DciError`."""

    def __init__(self, answer: Answer, code: str) -> None:
        super().__init__(code)
        self.answer = answer
        self.code = code


def rejection_message(path: str, body: Any) -> dict[str, Any]:
    """The message of a whole-message rejection: an empty answer of the endpoint's kind (the spec's
    answer schemas require one)."""
    message = body.get("message") if isinstance(body, dict) else None
    transaction_id = str(message.get("transaction_id", ""))[:99] if isinstance(message, dict) else ""
    search = {"transaction_id": transaction_id, "correlation_id": new_correlation_id(), "search_response": []}
    if ACTIONS[path] == "search":
        return search
    return {
        "transaction_id": transaction_id,
        "correlation_id": search["correlation_id"],
        "txnstatus_response": {"txn_type": "search", "txn_status": search},
    }


def new_correlation_id() -> str:
    return "dci-" + "".join(secrets.choice(CORRELATION_ALPHABET) for _ in range(24))


def client_principal(client: ApiClient) -> Principal:
    """The principal a client's stored async request runs as (what its token said when it was sent)."""
    return Principal(
        kind="client",
        name=client.client_id,
        role=Role(client.role),
        regions=client.region_codes,
        scopes=client.scope_set,
    )


def message_timestamp(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def spec_problems(path: str, body: dict[str, Any]) -> list[str]:
    """Where ``body`` breaks the spec's request schema of ``path``: instance paths and the kind of each
    problem, never the offending value (it may be a NIK)."""
    problems: list[str] = []
    validator = spec._validator(SPEC, spec.request_pointer(SPEC, path))
    for error in validator.iter_errors(body):
        where = "/" + "/".join(str(part) for part in error.instance_path)
        kind = type(error.kind).__name__.removeprefix("ValidationErrorKind_").lower()
        problems.append(f"{where} ({kind})")
        if len(problems) >= MAX_ERRORS_LISTED:
            break
    return problems


def admit(call: Call, body: Any, *, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Steps 1-3 of the module docstring: (header, message) of an admissible message."""
    verify(call.session, body, client=call.client, now=call.now, receiver_id=call.receiver_id, keys=call.keys)
    header, message = body["header"], body["message"]
    if header.get("action") != ACTIONS[path]:
        raise DciError("rjct.action.invalid", f"{path} serves action {ACTIONS[path]!r}", 400)
    problems = spec_problems(path, body)
    if problems:
        raise DciError.transport(
            "err.request.bad", "the message does not follow the DCI schema at " + "; ".join(problems)
        )
    if MESSAGE_KEYS[ACTIONS[path]] not in message:  # the spec's other alternative: an EncryptedMessage
        raise DciError.transport("err.encryption.invalid", "encrypted messages are not accepted")
    return header, message


def _check_items(call: Call, header: dict[str, Any], items: list[Any], *, most: int) -> None:
    if header.get("total_count") != len(items):
        raise DciError("rjct.total_count.invalid", "header.total_count must equal the number of items", 400)
    if not items:
        raise DciError("rjct.total_count.invalid", "a search needs at least one search_request item", 400)
    if len(items) > most:
        raise DciError(
            "rjct.total_count.limit_exceeded", f"at most {most} items in one message to this endpoint", 400
        )
    for item in items:
        version = (item.get("search_criteria") or {}).get("version", PROTOCOL_VERSION)
        if version != PROTOCOL_VERSION:
            raise DciError("rjct.version.invalid", f"search_criteria.version must be {PROTOCOL_VERSION}", 400)


def _grant(call: Call) -> Any:
    from dtsen.sharing.dci.grant import grant_for, grant_of_link

    if call.linked_fetched:
        return grant_of_link(call.client, call.linked, secret=call.secret, now=call.now)
    return grant_for(call.session, call.client, secret=call.secret, now=call.now)


def _prechecked(grant: Any, items: list[dict[str, Any]], *, now: datetime, page_size_max: int) -> list[Any]:
    """Per item: None if it parses, else its rjct answer (bad criteria, a duplicate reference_id)."""
    from dtsen.sharing.dci.criteria import plan
    from dtsen.sharing.dci.search import rejected

    answers: list[Any] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        reference = str(item.get("reference_id", ""))
        if reference and reference in seen:
            answers.append(
                rejected(item, DciError("rjct.reference_id.duplicate", "reference_id repeats"), now=now)
            )
            continue
        seen.add(reference)
        try:
            plan(grant, index, item, max_page_size=page_size_max)
        except DciError as error:
            answers.append(rejected(item, error, now=now))
            continue
        answers.append(None)
    return answers


def search_items(
    session: Session,
    principal: Principal,
    grant: Any,
    items: list[dict[str, Any]],
    *,
    now: datetime,
    page_size_max: int,
    snapshot: Any = None,
    audit_into: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Every item answered in order: rejected ones from the pre-check, the rest by the batched search."""
    from dtsen.sharing.dci.search import run_search_many

    prechecked = _prechecked(grant, items, now=now, page_size_max=page_size_max)
    runnable = [item for item, answer in zip(items, prechecked, strict=True) if answer is None]
    found = (
        run_search_many(
            session,
            principal,
            grant,
            runnable,
            now=now,
            max_page_size=page_size_max,
            snapshot=snapshot,
            audit_into=audit_into,
        )
        if runnable
        else []
    )
    if len(found) != len(runnable):
        raise RuntimeError("the search answered a different number of items than it was given")
    answers = iter(found)
    return [answer if answer is not None else next(answers) for answer in prechecked]


def header_status(answers: list[dict[str, Any]]) -> tuple[str, int]:
    completed = sum(1 for answer in answers if answer.get("status") in {"succ", "rjct"})
    if answers and all(answer.get("status") == "rjct" for answer in answers):
        return "rjct", completed
    return "succ", completed


def reply(
    call: Call,
    request_header: dict[str, Any],
    message: dict[str, Any],
    *,
    action: str,
    status: str,
    total: int,
    completed: int,
    reason: DciError | None = None,
    reason_message: str | None = None,
) -> dict[str, Any]:
    """A signed envelope answering ``request_header`` (``reason``: a header-level rejection)."""
    header = header_for_reply(
        request_header,
        action=action,
        status=status,
        now=call.now,
        reason_code=reason.code if reason is not None and reason.code in HEADER_REASON_CODES else None,
        reason_message=reason.message if reason is not None else reason_message,
        total_count=total,
        completed_count=completed,
        sender_id=call.receiver_id,
    )
    return envelope(header, message, call.key, now=call.now)


def _accepted_entry(
    call: Call, header: dict[str, Any], *, path: str, items: int, **extra: Any
) -> dict[str, Any]:
    """The ``dci_request`` audit entry of an accepted message."""
    detail = {
        "path": path,
        "action": header.get("action"),
        "items": items,
        "client_id": call.client.client_id,
    }
    return audit.entry(
        **call.actor,
        action="dci_request",
        resource="dci",
        detail={**detail, **extra},
        occurred_at=call.now,
    )


def remember(call: Call, header: dict[str, Any]) -> None:
    """Record the message id (the replay guard) once the message is known to be acted on."""
    remember_message(
        call.session,
        sender_id=call.client.client_id,
        message_id=header["message_id"],
        action=header["action"],
        now=call.now,
    )


def audit_accepted(call: Call, header: dict[str, Any], *, path: str, items: int, **extra: Any) -> None:
    audit.record_entries(call.session, [_accepted_entry(call, header, path=path, items=items, **extra)])


# -- search ------------------------------------------------------------------------------------------------
def sync_search(call: Call, body: Any) -> Answer:
    header, message = admit(call, body, path=SYNC_SEARCH)
    items = message["search_request"]
    _check_items(call, header, items, most=min(call.limits.sync_batch_max, call.limits.batch_max))
    grant = _grant(call)
    remember(call, header)
    entries: list[dict[str, Any]] = []  # the persons read, then the request: appended in one round trip
    answers = search_items(
        call.session,
        call.principal,
        grant,
        items,
        now=call.now,
        page_size_max=call.limits.page_size_max,
        snapshot=call.snapshot,
        audit_into=entries,
    )
    status, completed = header_status(answers)
    correlation_id = new_correlation_id()
    response = {
        "transaction_id": message["transaction_id"],
        "correlation_id": correlation_id,
        "search_response": answers,
    }
    entries.append(
        _accepted_entry(
            call,
            header,
            path=SYNC_SEARCH,
            items=len(items),
            correlation_id=correlation_id,
            rejected=sum(1 for a in answers if a.get("status") == "rjct"),
        )
    )
    audit.record_entries(call.session, entries)
    body_out = reply(
        call,
        header,
        response,
        action="on-search",
        status=status,
        total=len(items),
        completed=completed,
        reason_message="every search_request item was rejected" if status == "rjct" else None,
    )
    if status == "rjct":  # nothing to answer: a refusal like any other (rolled back, audited as refused)
        raise Refused(Answer(400, body_out), str(answers[0].get("status_reason_code", "rjct")))
    return Answer(200, body_out)


def callback_uri(call: Call, header: dict[str, Any]) -> str:
    uri = header.get("sender_uri")
    if not isinstance(uri, str) or not uri:
        raise DciError.transport("err.sender_uri.invalid", "an async request needs header.sender_uri")
    if not outbox.allowed_uri(call.session, call.client.id, uri):
        raise DciError.transport(
            "err.sender_uri.invalid", "header.sender_uri is not registered for this client"
        )
    return uri


def ack(
    call: Call, correlation_id: str, *, status: str = "ACK", error: DciError | None = None
) -> dict[str, Any]:
    """The spec's acknowledgement (``Response``) of an async request."""
    message: dict[str, Any] = {
        "ack_status": status,
        "timestamp": message_timestamp(call.now),
        "correlation_id": correlation_id,
    }
    if error is not None:
        code = error.code if error.code.startswith("err.") else "err.request.bad"
        text = error.message if error.code.startswith("err.") else f"{error.code}: {error.message}"
        message["error"] = {"code": code, "message": text[:999]}
    return {"message": message}


def _store(
    call: Call,
    header: dict[str, Any],
    message: dict[str, Any],
    *,
    action: str,
    uri: str,
    references: list[str],
) -> DciTransaction:
    row = DciTransaction(
        correlation_id=new_correlation_id(),
        client_pk=call.client.id,
        transaction_id=str(message.get("transaction_id", ""))[:99],
        action=action,
        state="pdng",
        sender_uri=uri,
        request_header=header,
        request_message=message,
        reference_ids=references,
        response_header=None,
        response_message=None,
        created_at=call.now,
        completed_at=None,
    )
    call.session.add(row)
    call.session.flush()
    return row


def async_search(call: Call, body: Any) -> Answer:
    header, message = admit(call, body, path=ASYNC_SEARCH)
    items = message["search_request"]
    _check_items(call, header, items, most=call.limits.batch_max)
    grant = _grant(call)
    uri = callback_uri(call, header)
    prechecked = _prechecked(grant, items, now=call.now, page_size_max=call.limits.page_size_max)
    if all(answer is not None for answer in prechecked):
        first = prechecked[0]
        raise DciError(
            first["status_reason_code"],
            "every search_request item was rejected; the first: " + first.get("status_reason_message", ""),
            400,
        )
    remember(call, header)
    references = [str(item.get("reference_id", "")) for item in items]
    row = _store(call, header, message, action="search", uri=uri, references=references)
    audit_accepted(call, header, path=ASYNC_SEARCH, items=len(items), correlation_id=row.correlation_id)
    return Answer(200, ack(call, row.correlation_id))
