"""The Social Registry endpoints' logic, independent of the web framework: admit a message, answer a sync
search or txn/status at once, or accept an async one (ACK with our ``correlation_id``) and answer it later
through the outbox.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.logs import get_logger
from dtsen.sharing.dci import outbox, spec
from dtsen.sharing.dci.envelope import DciKey, envelope, header_for_reply, our_key, remember_message, verify
from dtsen.sharing.dci.errors import HEADER_REASON_CODES, DciError
from dtsen.store import audit
from dtsen.store.dci import DciClientKey, DciOutbox, DciSeenMessage, DciTransaction
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
ACTIONS = {SYNC_SEARCH: "search", ASYNC_SEARCH: "search", SYNC_TXN_STATUS: "txn-status",
           ASYNC_TXN_STATUS: "txn-status"}  # fmt: skip
REPLY_ACTIONS = {"search": "on-search", "txn-status": "txn-on-status"}
MESSAGE_KEYS = {"search": "search_request", "txn-status": "txnstatus_request"}
CALLBACK_PATHS = {"on-search": ON_SEARCH, "txn-on-status": ON_TXN_STATUS}
PROTOCOL_VERSION = "1.0.0"
CORRELATION_ALPHABET = "abcdefghijkmnpqrstuvwxyz"  # letters only: safe in audit details (no NIK shape)
MAX_ERRORS_LISTED = 5
TXN_LOOKBACK = 500  # a client's most recent transactions searched by reference_id_list
RETENTION_DAYS = 7  # finished transactions, delivered pushes and seen message ids are kept this long


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
    return {"transaction_id": transaction_id, "correlation_id": search["correlation_id"],
            "txnstatus_response": {"txn_type": "search", "txn_status": search}}  # fmt: skip


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


def _timestamp(now: datetime) -> str:
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
    from dtsen.sharing.dci.search import plan, rejected

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


def _search(
    session: Session, principal: Principal, grant: Any, items: list[dict[str, Any]], *, now: datetime,
    page_size_max: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every item answered in order: rejected ones from the pre-check, the rest by the batched search."""
    from dtsen.sharing.dci.search import run_search_many

    prechecked = _prechecked(grant, items, now=now, page_size_max=page_size_max)
    runnable = [item for item, answer in zip(items, prechecked, strict=True) if answer is None]
    found = (
        run_search_many(session, principal, grant, runnable, now=now, max_page_size=page_size_max)
        if runnable
        else []
    )
    if len(found) != len(runnable):
        raise RuntimeError("the search answered a different number of items than it was given")
    answers = iter(found)
    return [answer if answer is not None else next(answers) for answer in prechecked]


def _header_status(answers: list[dict[str, Any]]) -> tuple[str, int]:
    completed = sum(1 for answer in answers if answer.get("status") in {"succ", "rjct"})
    if answers and all(answer.get("status") == "rjct" for answer in answers):
        return "rjct", completed
    return "succ", completed


def reply(call: Call, request_header: dict[str, Any], message: dict[str, Any], *, action: str,
          status: str, total: int, completed: int, reason: DciError | None = None,
          reason_message: str | None = None) -> dict[str, Any]:  # fmt: skip
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


def _audit_accepted(call: Call, header: dict[str, Any], *, path: str, items: int, **extra: Any) -> None:
    audit.record(
        call.session,
        **call.actor,
        action="dci_request",
        resource="dci",
        detail={"path": path, "action": header.get("action"), "items": items, "client_id": call.client.client_id,
                **extra},
        occurred_at=call.now,
    )  # fmt: skip


# -- search ------------------------------------------------------------------------------------------------
def sync_search(call: Call, body: Any) -> Answer:
    header, message = admit(call, body, path=SYNC_SEARCH)
    items = message["search_request"]
    _check_items(call, header, items, most=min(call.limits.sync_batch_max, call.limits.batch_max))
    grant = _grant(call)
    remember_message(call.session, sender_id=call.client.client_id, message_id=header["message_id"],
                     action=header["action"], now=call.now)  # fmt: skip
    answers = _search(call.session, call.principal, grant, items, now=call.now,
                      page_size_max=call.limits.page_size_max)  # fmt: skip
    status, completed = _header_status(answers)
    correlation_id = new_correlation_id()
    response = {"transaction_id": message["transaction_id"], "correlation_id": correlation_id,
                "search_response": answers}  # fmt: skip
    _audit_accepted(call, header, path=SYNC_SEARCH, items=len(items), correlation_id=correlation_id,
                    rejected=sum(1 for a in answers if a.get("status") == "rjct"))  # fmt: skip
    body_out = reply(call, header, response, action="on-search", status=status, total=len(items),
                     completed=completed,
                     reason_message="every search_request item was rejected" if status == "rjct" else None)  # fmt: skip
    if status == "rjct":  # nothing to answer: a refusal like any other (rolled back, audited as refused)
        raise Refused(Answer(400, body_out), str(answers[0].get("status_reason_code", "rjct")))
    return Answer(200, body_out)


def _callback_uri(call: Call, header: dict[str, Any]) -> str:
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
        "timestamp": _timestamp(call.now),
        "correlation_id": correlation_id,
    }
    if error is not None:
        code = error.code if error.code.startswith("err.") else "err.request.bad"
        text = error.message if error.code.startswith("err.") else f"{error.code}: {error.message}"
        message["error"] = {"code": code, "message": text[:999]}
    return {"message": message}


def _store(call: Call, header: dict[str, Any], message: dict[str, Any], *, action: str, uri: str,
           references: list[str]) -> DciTransaction:  # fmt: skip
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
    uri = _callback_uri(call, header)
    prechecked = _prechecked(grant, items, now=call.now, page_size_max=call.limits.page_size_max)
    if all(answer is not None for answer in prechecked):
        first = prechecked[0]
        raise DciError(first["status_reason_code"], "every search_request item was rejected; the first: "
                       + first.get("status_reason_message", ""), 400)  # fmt: skip
    remember_message(call.session, sender_id=call.client.client_id, message_id=header["message_id"],
                     action=header["action"], now=call.now)  # fmt: skip
    references = [str(item.get("reference_id", "")) for item in items]
    row = _store(call, header, message, action="search", uri=uri, references=references)
    _audit_accepted(call, header, path=ASYNC_SEARCH, items=len(items), correlation_id=row.correlation_id)
    return Answer(200, ack(call, row.correlation_id))


# -- txn/status --------------------------------------------------------------------------------------------
def _find(call: Call, request: dict[str, Any]) -> list[DciTransaction]:
    kind, value = request["attribute_type"], request["attribute_value"]
    mine = select(DciTransaction).where(DciTransaction.client_pk == call.client.id)
    if kind == "correlation_id" and isinstance(value, str):
        return list(call.session.scalars(mine.where(DciTransaction.correlation_id == value)))
    if kind == "transaction_id" and isinstance(value, str):
        latest = (
            mine.where(DciTransaction.transaction_id == value).order_by(DciTransaction.id.desc()).limit(1)
        )
        return list(call.session.scalars(latest))
    if kind == "reference_id_list" and isinstance(value, list):
        wanted = {str(reference) for reference in value}
        recent = mine.order_by(DciTransaction.id.desc()).limit(TXN_LOOKBACK)
        return [row for row in call.session.scalars(recent) if wanted & set(row.reference_ids or [])]
    raise DciError.transport("err.request.bad", f"attribute_value does not fit attribute_type {kind!r}")


def _status_of(row: DciTransaction, *, now: datetime, only: set[str] | None) -> dict[str, Any]:
    """A transaction's search status (the spec's SearchResponse shape), limited to ``only`` references."""
    if row.state != "pdng" and row.response_message is not None:
        answers = list(row.response_message.get("search_response", []))
    else:
        answers = [{"reference_id": reference, "timestamp": _timestamp(row.created_at), "status": "pdng"}
                   for reference in row.reference_ids]  # fmt: skip
    if only is not None:
        answers = [answer for answer in answers if answer.get("reference_id") in only]
    return {
        "transaction_id": row.transaction_id,
        "correlation_id": row.correlation_id,
        "search_response": answers,
    }


def txn_status(call: Call, message: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    """(HTTP status, TxnStatusResponse message, header status) of a txn/status request."""
    request = message["txnstatus_request"]
    if request["txn_type"] != "search":
        raise DciError.transport("err.request.not_found", "only search transactions have a status here")
    rows = _find(call, request)
    only = (
        {str(v) for v in request["attribute_value"]}
        if request["attribute_type"] == "reference_id_list"
        else None
    )
    if not rows:
        missing = {"transaction_id": message["transaction_id"], "correlation_id": "", "search_response": [{
            "reference_id": str(request["reference_id"]), "timestamp": _timestamp(call.now), "status": "rjct",
            "status_reason_code": "rjct.reference_id.invalid",
            "status_reason_message": "no search transaction of this client matches"}]}  # fmt: skip
        return 404, _txn_message(message, missing), "rjct"
    statuses = [_status_of(row, now=call.now, only=only) for row in rows]
    merged = {**statuses[0], "search_response": [a for status in statuses for a in status["search_response"]]}
    return 200, _txn_message(message, merged), "succ"


def _txn_message(message: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    return {"transaction_id": message["transaction_id"], "correlation_id": status["correlation_id"],
            "txnstatus_response": {"txn_type": "search", "txn_status": status}}  # fmt: skip


def sync_txn_status(call: Call, body: Any) -> Answer:
    header, message = admit(call, body, path=SYNC_TXN_STATUS)
    _check_count(header, 1)
    remember_message(call.session, sender_id=call.client.client_id, message_id=header["message_id"],
                     action=header["action"], now=call.now)  # fmt: skip
    code, answer, status = txn_status(call, message)
    _audit_accepted(call, header, path=SYNC_TXN_STATUS, items=1, found=code == 200)
    out = reply(call, header, answer, action="txn-on-status", status=status, total=1,
                completed=1 if status == "succ" else 0,
                reason_message="no matching transaction" if status == "rjct" else None)  # fmt: skip
    return Answer(code, out)


def _check_count(header: dict[str, Any], count: int) -> None:
    if header.get("total_count") != count:
        raise DciError("rjct.total_count.invalid", f"header.total_count must be {count}", 400)


def async_txn_status(call: Call, body: Any) -> Answer:
    header, message = admit(call, body, path=ASYNC_TXN_STATUS)
    _check_count(header, 1)
    uri = _callback_uri(call, header)
    remember_message(call.session, sender_id=call.client.client_id, message_id=header["message_id"],
                     action=header["action"], now=call.now)  # fmt: skip
    code, answer, status = txn_status(call, message)
    correlation_id = new_correlation_id()
    reply_header = header_for_reply(header, action="txn-on-status", status=status, now=call.now,
                                    total_count=1, completed_count=1 if status == "succ" else 0,
                                    sender_id=call.receiver_id)  # fmt: skip
    outbox.enqueue(call.session, client_pk=call.client.id, uri=uri, action="txn-on-status", header=reply_header,
                   message=answer, correlation_id=correlation_id, now=call.now)  # fmt: skip
    _audit_accepted(
        call, header, path=ASYNC_TXN_STATUS, items=1, correlation_id=correlation_id, found=code == 200
    )
    return Answer(200, ack(call, correlation_id))


# -- background: answer pending async searches, push, prune -----------------------------------------------
def process_pending(
    session_factory: Callable[[], Session],
    *,
    now: datetime,
    secret: str,
    receiver_id: str,
    limits: Limits,
    limit: int = 20,
) -> dict[str, int]:
    """Answer pending async searches (each in its own transaction) and queue their on-search callbacks.
    Two runners may meet: whoever marks a transaction done first wins, the other rolls back."""
    counts = {"answered": 0, "refused": 0, "lost": 0}
    with session_factory() as session:
        pending = list(session.scalars(
            select(DciTransaction.id).where(DciTransaction.state == "pdng", DciTransaction.action == "search")
            .order_by(DciTransaction.id).limit(limit)
        ))  # fmt: skip
    for row_id in pending:
        with session_factory() as session:
            row = session.get(DciTransaction, row_id)
            client = session.get(ApiClient, row.client_pk) if row is not None else None
            if row is None or client is None or row.state != "pdng":
                continue
            principal = client_principal(client)
            header = dict(row.request_header)
            items = list(row.request_message.get("search_request", []))
            try:
                if not client.active or client.revoked_at is not None:
                    raise DciError("err.request.forbidden", "the client has been revoked", 403)
                from dtsen.sharing.dci.grant import grant_for

                grant = grant_for(session, client, secret=secret, now=now)
                answers = _search(
                    session, principal, grant, items, now=now, page_size_max=limits.page_size_max
                )
                status, completed = _header_status(answers)
                reason = None
            except DciError as error:
                session.rollback()
                row = session.get(DciTransaction, row_id)
                assert row is not None
                answers = [{"reference_id": str(item.get("reference_id", ""))[:99], "timestamp": _timestamp(now),
                            "status": "rjct", "status_reason_message": f"{error.code}: {error.message}"[:999]}
                           for item in items]  # fmt: skip
                status, completed, reason = "rjct", len(items), error
            message = {"transaction_id": row.transaction_id, "correlation_id": row.correlation_id,
                       "search_response": answers}  # fmt: skip
            reply_header = header_for_reply(
                header, action="on-search", status=status, now=now, total_count=len(items),
                completed_count=completed, sender_id=receiver_id,
                reason_message=None if reason is None else f"{reason.code}: {reason.message}",
            )  # fmt: skip
            done = session.execute(
                update(DciTransaction)
                .where(DciTransaction.id == row_id, DciTransaction.state == "pdng")
                .values(
                    state=status, response_header=reply_header, response_message=message, completed_at=now
                )
            )
            if getattr(done, "rowcount", 0) != 1:
                session.rollback()
                counts["lost"] += 1
                continue
            if row.sender_uri and outbox.allowed_uri(session, client.id, row.sender_uri):
                outbox.enqueue(session, client_pk=client.id, uri=row.sender_uri, action="on-search",
                               header=reply_header, message=message, correlation_id=row.correlation_id,
                               now=now)  # fmt: skip
            audit.record(
                session,
                **principal.audit_fields(),
                action="dci_answered",
                resource="dci",
                detail={"correlation_id": row.correlation_id, "status": status, "items": len(items),
                        "reason": None if reason is None else reason.code},
                occurred_at=now,
            )  # fmt: skip
            session.commit()
            counts["refused" if reason is not None else "answered"] += 1
    return counts


def prune(
    session_factory: Callable[[], Session], *, now: datetime, days: int = RETENTION_DAYS
) -> dict[str, int]:
    """Forget what is no longer needed: finished transactions (their answers hold personal data),
    delivered or abandoned pushes and seen message ids older than ``days``. A replay older than that is
    refused by its signature's expiry (at most an hour) long before."""
    cutoff = now - timedelta(days=days)
    with session_factory() as session:
        counts = {
            "transactions": session.execute(delete(DciTransaction).where(
                DciTransaction.state != "pdng", DciTransaction.completed_at < cutoff)).rowcount,  # type: ignore[attr-defined]
            "pushes": session.execute(delete(DciOutbox).where(
                DciOutbox.state != "antri", DciOutbox.created_at < cutoff)).rowcount,  # type: ignore[attr-defined]
            "messages": session.execute(delete(DciSeenMessage).where(
                DciSeenMessage.received_at < cutoff)).rowcount,  # type: ignore[attr-defined]
        }  # fmt: skip
        session.commit()
    return counts


def run_once(
    session_factory: Callable[[], Session],
    *,
    now: datetime,
    secret: str,
    receiver_id: str,
    limits: Limits,
    key: DciKey | None = None,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """One delivery round (the app's background task and ``dtsen dci deliver``): answer pending async
    searches, then push what is due, then prune."""
    processed = process_pending(
        session_factory, now=now, secret=secret, receiver_id=receiver_id, limits=limits
    )
    delivered = outbox.deliver_due(session_factory, now=now, transport=transport, key=key or our_key())
    pruned = prune(session_factory, now=now)
    return {"searches": processed, "pushes": delivered, "pruned": pruned}
