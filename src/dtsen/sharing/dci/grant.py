"""What a DCI client may see: the approved access request an administrator linked to it.

A machine client searches the registry only through the one approved, currently valid access request it is
linked to (``dtsen clients grant CLIENT AKSES-...``). :class:`Grant` is that request frozen for one call:
level, regions, fields, programs and the de-identification salt, which is exactly the one
:mod:`dtsen.sharing.extracts` uses, so a token from a search equals the token of the same person in the
request's de-identified extract.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dtsen.sharing import requests as service
from dtsen.sharing.dci.errors import DciError
from dtsen.sharing.extracts import token_salt
from dtsen.store.dci import DciGrant
from dtsen.store.identity import ApiClient
from dtsen.store.sharing import AccessRequest


@dataclass(frozen=True)
class Grant:
    """The approved request behind a client's DCI calls (built by :func:`grant_for`)."""

    client_id: str
    request_id: int
    nomor: str
    level: str  # aggregate | deidentified | byname
    regions: tuple[str, ...]
    fields: frozenset[str]
    programs: tuple[str, ...]
    periode: str
    valid_from: date
    valid_until: date
    k_min: int
    token_salt: str | None  # de-identified grants only: the salt of the request's extract tokens


def grant_from_request(client_id: str, req: AccessRequest, *, secret: str) -> Grant:
    """The grant of one access request (no checks: :func:`grant_for` decides whether it is usable)."""
    salt = token_salt(secret, req.tautan or req.nomor) if req.level == "deidentified" else None
    return Grant(
        client_id=client_id,
        request_id=req.id,
        nomor=req.nomor,
        level=req.level,
        regions=tuple(req.regions or ()),
        fields=frozenset(req.fields or ()),
        programs=tuple(req.programs or ()),
        periode=req.periode,
        valid_from=req.valid_from,
        valid_until=req.valid_until,
        k_min=int(req.k_min),
        token_salt=salt,
    )


def linked_request_query(client_pk: Any) -> Select[tuple[AccessRequest]]:
    """The access request linked to the client ``client_pk`` (a value or a column to join on)."""
    return (
        select(AccessRequest)
        .join(DciGrant, DciGrant.request_id == AccessRequest.id)
        .where(DciGrant.client_pk == client_pk)
    )


def grant_of_link(client: ApiClient, req: AccessRequest | None, *, secret: str, now: datetime) -> Grant:
    """The grant of the request linked to ``client`` (``None``: no link) if it is approved and valid
    today (WIB); else DciError 403. For a caller that fetched the link along with the client."""
    if req is None:
        raise DciError("err.request.forbidden", "client is not linked to an approved access request", 403)
    day = service.today(now)
    if req.state != "disetujui" or not (req.valid_from <= day <= req.valid_until):
        raise DciError(
            "err.request.forbidden", f"access request {req.nomor} is not approved or not valid today", 403
        )
    return grant_from_request(client.client_id, req, secret=secret)


def grant_for(session: Session, client: ApiClient, *, secret: str, now: datetime) -> Grant:
    """The client's linked request if it is approved and valid today (WIB); else DciError 403."""
    req = session.scalar(linked_request_query(client.id))
    return grant_of_link(client, req, secret=secret, now=now)
